"""Grounding: the prompt the model was trained on, an optional boxes-only grammar, and the
boxes of an answer mapped to pixels (and to PDF points for a page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from glmv_cli.engine.boxes import parse_coords, to_pixels
from glmv_cli.engine.transcript import Transcript

# The grounding prompt from the GLM-V README ("Help me to locate <expr> in the image and
# give me its bounding boxes.").
PROMPT = "Help me to locate {expr} in the image and give me its bounding boxes."

MAX_BOXES = 20
# `--strict`: the answer is one box span holding 1 to MAX_BOXES boxes, nothing else.
BOXES_GRAMMAR = rf"""
root ::= <|begin_of_box|> "[" box ("," ws box){{0,{MAX_BOXES - 1}}} "]" <|end_of_box|> </answer>
box ::= "[" num "," ws num "," ws num "," ws num "]"
num ::= [0-9] | [1-9] [0-9] | [1-9] [0-9] [0-9] | "1000"
ws ::= " "?
"""
BOXES_RESERVE = MAX_BOXES * 24 + 16


@dataclass(frozen=True)
class FoundBox:
    """One [x1, y1, x2, y2] of the answer: as the model wrote it (0-1000) and in pixels
    of the image as shown (and in PDF points when the image is a page)."""

    normalized: tuple[float, float, float, float]
    pixels: tuple[int, int, int, int]
    text: str
    points: tuple[float, float, float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"box": list(self.pixels), "normalized": list(self.normalized),
                               "text": self.text}
        if self.points is not None:
            out["points"] = list(self.points)
        return out


def find_boxes(transcript: Transcript, size: tuple[int, int],
               page_size: tuple[float, float] | None = None) -> list[FoundBox]:
    """Every box of the answer in order; boxes written without the box tags count too.

    Corners are put in order (x1 <= x2, y1 <= y2) whichever way the model wrote them.
    """
    spans = [(b.text, b.coords) for b in transcript.boxes if b.coords]
    if not spans:
        coords = parse_coords(transcript.answer)
        spans = [(transcript.answer.strip(), coords)] if coords else []
    found = []
    for text, quads in spans:
        for x1, y1, x2, y2 in quads:
            norm = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
            pixels = to_pixels(norm, size)
            points = None
            if page_size is not None:
                pw, ph = page_size
                points = tuple(round(v * (pw if i % 2 == 0 else ph) / 1000, 2)
                               for i, v in enumerate(norm))
            found.append(FoundBox(norm, pixels, text, points))  # type: ignore[arg-type]
    return found
