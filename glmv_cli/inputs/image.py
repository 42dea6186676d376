"""Image preprocessing: any Pillow format to an RGB bitmap sized the way GLM-4.1V was trained.

The reference processor stretches each side to a multiple of 28 (one image token per
28x28 pixels) with bicubic resampling; llama.cpp would instead keep the aspect ratio and
pad. We resize here, so llama.cpp receives an image it does not need to touch.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from glmv_cli.errors import InputError
from glmv_cli.inputs.source import Source

if TYPE_CHECKING:
    # Pillow is imported where an image is decoded: `glmv --help` does not need it.
    from PIL import Image

PATCH = 28  # pixels per image token side: patch 14, spatial merge 2
# The vision tower's patch embedding spans two frames (temporal patch size 2); a still
# image fills both. The reference's smart_resize counts its pixel limits over both, so an
# image's own area limits are half of the configured figures.
TEMPORAL_PATCH = 2
# The reference's `size.shortest_edge` (112x112), over both temporal slots: an image needs
# 2*h*w >= 12544, i.e. at least 6272 pixels (84x84 is kept as it is, 9 tokens).
MIN_PIXELS = 112 * 112
# The fewest tokens the reference ever gives an image (6272 / 784); also llama.cpp's floor
# for GLM4V, below which mtmd would enlarge and pad the image itself.
MIN_TOKENS = MIN_PIXELS // TEMPORAL_PATCH // (PATCH * PATCH)
# The smallest budget `target_size` takes: room for MIN_TOKENS after any rounding.
MIN_BUDGET = 2 * MIN_TOKENS
DEFAULT_MAX_IMAGE_TOKENS = 1024  # CPU-friendly default; see README "Image size and speed"
MAX_IMAGE_TOKENS_LIMIT = 16384  # llama.cpp's GLM4V path handles more, but memory explodes


@dataclass(frozen=True)
class PreparedImage:
    """An RGB image ready for the model, with where it came from.

    `original_size` is the size after EXIF orientation, i.e. as a viewer shows it; boxes
    the model returns (0-1000 of the model's view) map back onto it. `page` is the PDF page
    (from 1) it was rendered from, if any.
    """

    source: str
    rgb: bytes
    width: int
    height: int
    original_size: tuple[int, int]
    format: str | None
    page: int | None = None

    @property
    def tokens(self) -> int:
        return (self.width // PATCH) * (self.height // PATCH)


def target_size(width: int, height: int, max_tokens: int) -> tuple[int, int]:
    """The reference's smart_resize for one image: each side a multiple of 28.

    transformers' Glm4vImageProcessor runs it with two frames (the image fills both temporal
    slots), so its limits apply to 2*h*w: `max_tokens` is its `size.longest_edge` divided
    by 2*28*28, and the least it keeps is 2*h*w >= 112*112 (MIN_TOKENS, 8 tokens). Sides
    round to the nearest multiple (Python's round, halves to even); an image over the
    budget shrinks (floor), one under the minimum grows (ceil), keeping the aspect ratio
    as 28-pixel steps allow. A side under 28 pixels is first scaled up to 28 (truncating).

    Beyond the reference: it refuses aspect ratios over 200:1 and lets a very thin image
    overshoot its cap, while glmv takes any shape and keeps the budget (the long side
    gives). And with a budget under about 18 tokens the reference's flooring can leave
    fewer than MIN_TOKENS, which llama.cpp would enlarge and pad by itself; glmv then
    widens the narrow side instead, so the model still sees the whole image, stretched.
    """
    if max_tokens < MIN_BUDGET:
        raise ValueError(f"an image needs a budget of at least {MIN_BUDGET} tokens")
    doubled_max = TEMPORAL_PATCH * max_tokens * PATCH * PATCH  # the reference's longest_edge
    if width < PATCH or height < PATCH:  # tiny or very thin: scale up the short side first
        scale = PATCH / min(width, height)
        width, height = int(width * scale), int(height * scale)  # as the reference truncates
    w = max(PATCH, round(width / PATCH) * PATCH)
    h = max(PATCH, round(height / PATCH) * PATCH)
    if TEMPORAL_PATCH * w * h > doubled_max:
        beta = math.sqrt(TEMPORAL_PATCH * width * height / doubled_max)
        w = max(PATCH, math.floor(width / beta / PATCH) * PATCH)
        h = max(PATCH, math.floor(height / beta / PATCH) * PATCH)
    elif TEMPORAL_PATCH * w * h < MIN_PIXELS:
        beta = math.sqrt(MIN_PIXELS / (TEMPORAL_PATCH * width * height))
        w = math.ceil(width * beta / PATCH) * PATCH
        h = math.ceil(height * beta / PATCH) * PATCH
    max_pixels = max_tokens * PATCH * PATCH
    if w * h > max_pixels:
        # A side held at 28 (very thin images) can overshoot a small budget; the budget
        # wins: shorten the longer side.
        if w >= h:
            w = max(PATCH, max_pixels // (h * PATCH) * PATCH)
        else:
            h = max(PATCH, max_pixels // (w * PATCH) * PATCH)
    while (w // PATCH) * (h // PATCH) < MIN_TOKENS:  # at most 7 tokens: stays within 16
        if w <= h:
            w += PATCH
        else:
            h += PATCH
    return w, h


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB, compositing transparency onto white."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # Pillow's own convert('L') clips these at 255; scale the real range instead.
        import numpy as np

        a = np.asarray(img, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        if img.mode.startswith("I;16"):
            lo, hi = 0.0, 65535.0
        scaled = np.zeros_like(a) if hi <= lo else (a - lo) * (255.0 / (hi - lo))
        img = Image.fromarray(scaled.round().clip(0, 255).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def prepare_image(src: Source, max_tokens: int = DEFAULT_MAX_IMAGE_TOKENS) -> PreparedImage:
    """Decode `src`, apply EXIF orientation, convert to RGB and resize for the model.

    The decoding runs in a worker process (inputs/worker.py), within the decode time limit
    (GLMV_DECODE_TIMEOUT) and memory limit: InputError when it goes past either, or when
    a decoder crashes on the file.
    """
    from glmv_cli.inputs.worker import LimitExceeded, decode_timeout, image_worker

    try:
        return image_worker().call(decode_image, src, max_tokens, timeout=decode_timeout())
    except LimitExceeded as e:
        raise InputError(f"{src.name}: decoding the image {e.reason}") from None


def decode_image(src: Source, max_tokens: int = DEFAULT_MAX_IMAGE_TOKENS) -> PreparedImage:
    """`prepare_image` in this process, with no limits: what the worker runs."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Decoder warnings (e.g. TIFF 'Truncated File Read') would land on stderr;
            # Pillow's bomb warning (89 to 179 megapixels) is refused like a bomb.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(src.data))
            fmt = img.format
            # Orientation swaps width and height for 90-degree rotations.
            orientation = img.getexif().get(0x0112, 1)
            w0, h0 = img.size
            shown = (h0, w0) if orientation in (5, 6, 7, 8) else (w0, h0)
            tw, th = target_size(*shown, max_tokens)
            if fmt == "JPEG":
                # Let libjpeg decode at 1/2, 1/4 or 1/8 size when that still covers the target.
                need = (th, tw) if orientation in (5, 6, 7, 8) else (tw, th)
                img.draft("RGB", need)
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb = _to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{src.name}: image is too large to decode safely (possible decompression bomb)"
        ) from None
    except UnidentifiedImageError:
        raise InputError(f"{src.name}: not an image format glmv can read") from None
    except (OSError, SyntaxError, ValueError) as e:
        # Truncated or corrupt data surfaces as OSError ('image file is truncated') or
        # SyntaxError (broken headers) from Pillow's decoders.
        raise InputError(f"{src.name}: cannot decode image ({e})") from None
    if rgb.size != (tw, th):
        rgb = rgb.resize((tw, th), Image.Resampling.BICUBIC)
    return PreparedImage(
        source=src.name, rgb=rgb.tobytes(), width=tw, height=th, original_size=shown, format=fmt
    )
