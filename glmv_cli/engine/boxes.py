"""Coordinates inside `<|begin_of_box|>…<|end_of_box|>`, in any bracket style the model uses."""

from __future__ import annotations

import re

_NUM = r"\s*(-?\d+(?:\.\d+)?)\s*"
# [x1,y1,x2,y2], (x1,y1,x2,y2), and the same nested in [[…]] (the inner match suffices).
_QUAD = re.compile(r"[\[\(]" + ",".join([_NUM] * 4) + r"[\]\)]")


def parse_coords(text: str) -> tuple[tuple[float, float, float, float], ...]:
    """Every [x1, y1, x2, y2] quadruple in `text`, in order; () when there is none."""
    return tuple(
        (float(a), float(b), float(c), float(d)) for a, b, c, d in _QUAD.findall(text)
    )
