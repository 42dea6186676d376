"""The inputs the parity suite compares on, drawn or written here (nothing binary is kept)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw


def picture(size: tuple[int, int], seed: int, mode: str = "RGB") -> Image.Image:
    """A gradient with a few shapes and a word: detail at every scale, like a photo."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1),
                     (xx + yy) * 200 // max(w + h - 2, 1)], -1).astype(np.uint8)
    img = Image.fromarray(base, "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(5):
        x0, y0 = int(rng.integers(0, max(1, w * 3 // 4))), int(rng.integers(0, max(1, h * 3 // 4)))
        x1 = x0 + int(rng.integers(max(1, w // 8), max(2, w // 2)))
        y1 = y0 + int(rng.integers(max(1, h // 8), max(2, h // 2)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)([x0, y0, x1, y1], fill=colour)
    draw.text((w // 8, h // 2), "GLM", fill=(255, 255, 255))
    if mode == "RGBA":  # a transparent frame around an opaque middle
        alpha = Image.new("L", size, 0)
        ImageDraw.Draw(alpha).rectangle([w // 6, h // 6, 5 * w // 6, 5 * h // 6], fill=255)
        img.putalpha(alpha)
        return img
    return img.convert(mode)


@dataclass(frozen=True)
class ImageCase:
    """One question about one or more image files; `budget` is --max-image-tokens."""

    name: str
    files: tuple[tuple[str, tuple[int, int], str, dict], ...]  # (name, size, mode, save args)
    budget: int = 1024
    question: str = "Describe this image."
    exif_orientation: int | None = None
    group: str = "ordinary"

    def write(self, folder: Path) -> list[Path]:
        paths = []
        for i, (name, size, mode, params) in enumerate(self.files):
            img = picture(size, seed=i + len(self.name), mode=mode)
            params = dict(params)
            if self.exif_orientation:
                exif = Image.Exif()
                exif[0x0112] = self.exif_orientation
                params["exif"] = exif.tobytes()
            path = folder / name
            img.save(path, **params)
            paths.append(path)
        return paths


def _png(name: str, size: tuple[int, int], mode: str = "RGB") -> tuple:
    return (name, size, mode, {})


def _jpeg(name: str, size: tuple[int, int]) -> tuple:
    return (name, size, "RGB", {"quality": 90})


IMAGE_CASES = [
    ImageCase("300x200 PNG", (_png("a.png", (300, 200)),)),
    ImageCase("1000x750 JPEG", (_jpeg("a.jpg", (1000, 750)),)),
    ImageCase("308x196 (aligned)", (_png("a.png", (308, 196)),)),
    ImageCase("200x900 (tall)", (_png("a.png", (200, 900)),)),
    ImageCase("RGBA 320x240", (_png("a.png", (320, 240), "RGBA"),)),
    ImageCase("two images", (_png("a.png", (300, 200)), _png("b.png", (224, 224))),
              question="Compare these two images."),
    ImageCase("12 MP JPEG, 256 tokens", (_jpeg("a.jpg", (4000, 3000)),), budget=256),
    ImageCase("panorama 2400x300", (_png("a.png", (2400, 300)),)),
    ImageCase("grayscale PNG 320x240", (_png("a.png", (320, 240), "L"),)),
    ImageCase("EXIF-rotated JPEG", (_jpeg("a.jpg", (320, 240)),), exif_orientation=6),
    # Small images, at the edges of the reference's rules (2*h*w against 112*112).
    ImageCase("icon 84x84", (_png("a.png", (84, 84)),), group="small"),
    ImageCase("56x168", (_png("a.png", (56, 168)),), group="small"),
    ImageCase("100x70", (_png("a.png", (100, 70)),), group="small"),
    ImageCase("56x112 (the minimum)", (_png("a.png", (56, 112)),), group="small"),
    ImageCase("56x84 (under it)", (_png("a.png", (56, 84)),), group="small"),
    ImageCase("60x40", (_png("a.png", (60, 40)),), group="small"),
    ImageCase("10x10", (_png("a.png", (10, 10)),), group="small"),
    ImageCase("20x300 (side under 28)", (_png("a.png", (20, 300)),), group="small"),
]


# -- video -----------------------------------------------------------------------------

VIDEO_SIZE = (224, 168)  # 8x6 tokens a pair; a size both sides keep as it is
VIDEO_FPS, VIDEO_SECONDS = 10, 4
# How fast the scene moves, in pixels per second: a slow pan of the background and a disc
# crossing the frame in about 10 s, an ordinary handheld clip at this size.
SPEED = 10.0


def scene(t: float) -> np.ndarray:
    """The RGB frame at time t: smooth waves drifting, and a red disc moving."""
    w, h = VIDEO_SIZE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([
        128 + 100 * np.sin((xx + t * SPEED) / 17.0),
        128 + 100 * np.cos((yy - t * SPEED * 0.7) / 13.0),
        128 + 60 * np.sin((xx + yy + t * SPEED * 1.5) / 23.0),
    ], -1)
    disc = (xx - 20 - 2 * SPEED * t) ** 2 + (yy - 40 - SPEED * t) ** 2 < 30**2
    img[disc] = (250, 40, 40)
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class VideoCase:
    """A clip written losslessly (FFV1), so both sides decode the same pixels."""

    name: str
    stepped: bool  # frames change only on whole seconds: a pair's two frames are equal
    question: str = "What happens in the video?"

    def write(self, folder: Path) -> Path:
        path = folder / f"{'stepped' if self.stepped else 'smooth'}.mkv"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), VIDEO_FPS,
                                 VIDEO_SIZE)
        assert writer.isOpened()
        for i in range(VIDEO_FPS * VIDEO_SECONDS):
            t = i / VIDEO_FPS
            writer.write(np.ascontiguousarray(scene(int(t) if self.stepped else t)[:, :, ::-1]))
        writer.release()
        return path


VIDEO_CASES = [VideoCase("smooth motion", stepped=False), VideoCase("stepped motion", stepped=True)]
