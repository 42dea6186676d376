"""Media with provenance: what the preprocessors make of inputs and what a request carries.

Each item knows where it came from (a file, a PDF page, a video time) and nothing of the
model's prompt format: the engine alone turns media into the GLM layout (image markers,
`<|begin_of_video|>`, timestamps after frames).
"""

from __future__ import annotations

from dataclasses import dataclass

from glmv_cli.inputs.image import PreparedImage
from glmv_cli.inputs.video import SampledFrame, Video


@dataclass(frozen=True)
class Text:
    """Text among the media, in prompt order: a page's text layer, a label before it.

    It is data: any control-token text in it (`<|user|>`) reaches the model as plain text,
    never as a turn marker.
    """

    text: str


Media = PreparedImage | Text | Video

__all__ = ["Media", "PreparedImage", "SampledFrame", "Text", "Video"]


def images_of(media: tuple[Media, ...]) -> tuple[PreparedImage, ...]:
    """Every image the media hold, in prompt order (a video's frames included)."""
    out: list[PreparedImage] = []
    for item in media:
        if isinstance(item, PreparedImage):
            out.append(item)
        elif isinstance(item, Video):
            out.extend(f.image for f in item.frames)
    return tuple(out)
