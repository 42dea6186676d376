"""One-line summaries shared by the renderers: stats and the truncation warning."""

from __future__ import annotations

from glmv_cli.engine.boxes import to_pixels
from glmv_cli.engine.events import Box, Done
from glmv_cli.inputs.image import PreparedImage


def stats_line(done: Done) -> str:
    u, t = done.usage, done.timings
    parts = [f"{u.image_tokens} image + {u.prompt_text_tokens} text tokens in"]
    if t.load_s:
        parts.append(f"load {t.load_s:.1f}s")
    reused = {"hit": "cached prefix", "memory": "prefix kept from the last question"}
    if done.cache.prefix in reused:
        parts.append(f"{reused[done.cache.prefix]} (saved {done.cache.saved_s:.1f}s)")
    elif u.image_tokens:
        hits = done.cache.images_hit
        parts.append(f"encode {t.encode_s:.1f}s" + (f" ({hits} cached)" if hits else ""))
    parts.append(f"prefill {t.prefill_s:.1f}s")
    rate = u.generated_tokens / t.generate_s if t.generate_s > 0 else 0.0
    parts.append(f"{u.generated_tokens} tokens out at {rate:.1f}/s")
    return parts[0] + " · " + " · ".join(parts[1:])


def truncation_warning(done: Done) -> str | None:
    if done.finish_reason == "length":
        return ("the answer was cut off: it hit --max-tokens or the context window "
                "(raise --max-tokens, or cap thinking with --think-budget)")
    return None


def box_lines(boxes: list[Box], images: tuple[PreparedImage, ...]) -> list[str]:
    """One readable line per box of the answer: pixels of the image when the question had
    one image (0-1000 of the model's view otherwise)."""
    lines = []
    n = 0
    for box in boxes:
        for coords in box.coords:
            n += 1
            if len(images) == 1:
                x1, y1, x2, y2 = to_pixels(coords, images[0].original_size)
                lines.append(f"box {n}: {x1},{y1},{x2},{y2} px in {images[0].source}")
            else:
                lines.append(f"box {n}: " + ",".join(f"{v:g}" for v in coords)
                             + " (0-1000 of the image)")
    return lines
