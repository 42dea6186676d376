"""`--json`: one object on stdout when the answer is complete."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, TextIO

from glmv_cli.engine.boxes import to_pixels
from glmv_cli.engine.events import Done, Event, Progress
from glmv_cli.engine.request import Request
from glmv_cli.engine.transcript import Transcript
from glmv_cli.inputs.image import PreparedImage
from glmv_cli.render.progress import StatusLine


def result_object(transcript: Transcript, model: str,
                  images: tuple[PreparedImage, ...],
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The machine-readable result; keys are stable, documented in the README.

    `extra` adds a command's own keys (e.g. `glmv video`'s `frames`).
    """
    done = transcript.done
    usage = asdict(done.usage) if done else {}
    if done:
        usage["prompt_tokens"] = done.usage.prompt_tokens
    boxes = []
    for box in transcript.boxes:
        item: dict[str, Any] = {"text": box.text, "coords": [list(c) for c in box.coords]}
        if len(images) == 1 and box.coords:
            # 0-1000 of the image as the model saw it, which is the original stretched.
            item["pixels"] = [list(to_pixels(c, images[0].original_size)) for c in box.coords]
        boxes.append(item)
    return {
        "model": model,
        "answer": transcript.answer.strip(),
        "thinking": transcript.thinking.strip(),
        "boxes": boxes,
        "truncated": bool(done and done.truncated),
        "finish_reason": done.finish_reason if done else None,
        "inputs": [
            {"source": img.source, "type": "image", "format": img.format,
             "original_size": list(img.original_size), "size": [img.width, img.height],
             "tokens": img.tokens}
            for img in images
        ],
        "usage": usage,
        "timings": _timings(done) if done else {},
        "cache": cache_object(done) if done else None,
        **(extra or {}),
    }


def settings_object(request: Request) -> dict[str, Any]:
    """`--json`'s `settings`: how the answer was generated (sampling after the model's
    recommended values and the user's flags were applied)."""
    return {**asdict(request.sampling), "max_tokens": request.max_tokens,
            "think": request.think, "think_budget": request.think_budget}


def cache_object(done: Done) -> dict[str, Any]:
    """`--json`'s `cache`: what the prefix cache saved this request (see events.CacheUse)."""
    c = done.cache
    return {"prefix": c.prefix, "images": c.images, "images_hit": c.images_hit,
            "saved_s": round(c.saved_s, 3)}


def _timings(done: Done) -> dict[str, Any]:
    t = asdict(done.timings)
    gen = done.timings.generate_s
    t["tokens_per_s"] = round(done.usage.generated_tokens / gen, 2) if gen > 0 else None
    return t


class JsonRenderer:
    def __init__(self, out: TextIO, model: str, images: tuple[PreparedImage, ...],
                 status: StatusLine | None, extra: dict[str, Any] | None = None) -> None:
        self.out, self.model, self.images, self.status = out, model, images, status
        self.extra = extra

    def event(self, event: Event) -> None:
        if self.status and isinstance(event, Progress):
            self.status.update(event.label)

    def close(self, transcript: Transcript) -> None:
        if self.status:
            self.status.stop()
        obj = result_object(transcript, self.model, self.images, self.extra)
        self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.out.flush()
