"""Boxes and points drawn on a copy of the original image (`--draw OUT`).

The copy is the image as a viewer shows it (EXIF orientation applied), which is what the
pixel coordinates refer to; it is written to a temporary file beside OUT and renamed, so
OUT is never half-written and the input is never touched.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from glmv_cli.atomic import write_atomic
from glmv_cli.errors import InputError, UsageError

if TYPE_CHECKING:
    # Pillow is imported where a picture is drawn: `glmv --help` does not need it.
    from PIL import Image

# Distinct, saturated colours that read on photos and on screenshots.
PALETTE = ((255, 40, 40), (40, 200, 40), (40, 120, 255), (255, 170, 0), (220, 40, 220),
           (0, 200, 200))


@dataclass(frozen=True)
class Mark:
    """A box (x1, y1, x2, y2) or a point (x, y) in pixels, with a label."""

    coords: tuple[int, ...]
    label: str = ""


def line_width(size: tuple[int, int]) -> int:
    """Outline width: visible on a phone screenshot and on a 4K photo alike."""
    return max(2, round(max(size) / 300))


def draw_marks(image: Image.Image, marks: Sequence[Mark]) -> Image.Image:
    """A copy of `image` (RGB) with each mark outlined in its own colour and labelled."""
    from PIL import ImageDraw, ImageFont

    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    width = line_width(out.size)
    font = ImageFont.load_default(size=max(12, width * 6))
    for i, mark in enumerate(marks):
        colour = PALETTE[i % len(PALETTE)]
        if len(mark.coords) == 4:
            x1, y1, x2, y2 = mark.coords
            draw.rectangle([x1, y1, x2, y2], outline=colour, width=width)
            anchor = (x1, y1)
        else:
            x, y = mark.coords
            r = width * 5
            draw.ellipse([x - r, y - r, x + r, y + r], outline=colour, width=width)
            draw.line([x - 2 * r, y, x + 2 * r, y], fill=colour, width=width)
            draw.line([x, y - 2 * r, x, y + 2 * r], fill=colour, width=width)
            anchor = (x + r, y - r)
        if mark.label:
            left, top, right, bottom = draw.textbbox((0, 0), mark.label, font=font)
            tw, th = right - left, bottom - top
            # Above the box when there is room, else inside its top edge.
            tx = min(max(0, anchor[0]), max(0, out.width - tw - 4))
            ty = anchor[1] - th - 4 if anchor[1] - th - 4 >= 0 else anchor[1]
            draw.rectangle([tx, ty, tx + tw + 4, ty + th + 4], fill=colour)
            draw.text((tx + 2 - left, ty + 2 - top), mark.label, fill=(255, 255, 255),
                      font=font)
    return out


def open_oriented(data: bytes, name: str) -> Image.Image:
    """The image in `data` as a viewer shows it (EXIF orientation applied)."""
    from PIL import Image, ImageOps

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        return ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(f"{name}: cannot decode image ({e})") from None


def check_draw_path(path: Path) -> str:
    """The Pillow format for `path`, or UsageError before any work is done."""
    from PIL import Image

    ext = path.suffix.lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None or fmt not in Image.SAVE:
        raise UsageError(f"--draw {path}: unknown image type '{ext or '(none)'}'",
                         hint="use .png, .jpg or .webp")
    if path.is_dir():
        raise UsageError(f"--draw {path}: is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"--draw {path}: folder {parent} does not exist")
    return fmt


def save_atomic(image: Image.Image, path: Path) -> None:
    """Write `image` to `path` in the format its suffix names, via a temp file + rename."""
    fmt = check_draw_path(path)
    img = image.convert("RGB") if fmt in ("JPEG", "BMP") else image
    write_atomic(path, lambda f: img.save(f, format=fmt), f"--draw {path}")
