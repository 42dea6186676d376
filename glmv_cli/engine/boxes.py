"""Coordinates inside `<|begin_of_box|>…<|end_of_box|>`, in any bracket style the model uses."""

from __future__ import annotations

import re

_NUM = r"\s*(-?\d+(?:\.\d+)?)\s*"
# [x1,y1,x2,y2], (x1,y1,x2,y2), <x1,y1,x2,y2>, {x1,y1,x2,y2}, and the same nested in
# [[…]] (the inner match suffices): the GLM-V README says the bracket style varies.
_QUAD = re.compile(r"[\[\(<{]" + ",".join([_NUM] * 4) + r"[\]\)>}]")


def parse_coords(text: str) -> tuple[tuple[float, float, float, float], ...]:
    """Every [x1, y1, x2, y2] quadruple in `text`, in order; () when there is none."""
    return tuple(
        (float(a), float(b), float(c), float(d)) for a, b, c, d in _QUAD.findall(text)
    )


NORM = 1000  # the model's coordinate space: thousandths of the image's width and height


def to_pixels(coords: tuple[float, ...], size: tuple[int, int]) -> tuple[int, ...]:
    """Normalised coordinates (x, y pairs in 0-1000) to pixels of an image of `size`.

    The model saw the image stretched to its own size, so thousandths of its view are
    thousandths of the original. Values are rounded and clamped to the image.
    """
    w, h = size
    out: list[int] = []
    for i, v in enumerate(coords):
        side = w if i % 2 == 0 else h
        out.append(min(side, max(0, round(v * side / NORM))))
    return tuple(out)
