"""Typed events an engine yields while it answers; renderers consume them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Progress:
    """A slow step has started or advanced (loading, encoding an image, prefill)."""

    stage: Literal["load", "encode", "prefill", "generate"]
    label: str
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class Thinking:
    text: str


@dataclass(frozen=True)
class Answer:
    text: str


@dataclass(frozen=True)
class Box:
    """A `<|begin_of_box|>…<|end_of_box|>` span of the answer.

    `coords` holds each [x1, y1, x2, y2] found in it, in the model's 0-1000 space; empty
    when the box wraps a plain answer such as a number.
    """

    text: str
    coords: tuple[tuple[float, float, float, float], ...] = ()


@dataclass
class Usage:
    """True token counts (llama-cpp-python's own `prompt_tokens` counts positions)."""

    prompt_text_tokens: int = 0
    image_tokens: int = 0
    generated_tokens: int = 0
    thinking_tokens: int = 0
    forced_tokens: int = 0  # tokens glmv inserted: `</think><answer>` for --think-budget
    n_ctx: int = 0

    @property
    def prompt_tokens(self) -> int:
        return self.prompt_text_tokens + self.image_tokens


@dataclass
class Timings:
    """Seconds spent per phase."""

    load_s: float = 0.0
    encode_s: float = 0.0
    prefill_s: float = 0.0
    generate_s: float = 0.0
    per_image_encode_s: list[float] = field(default_factory=list)
    # From the start of the request to the first generated token, model loading not counted.
    first_token_s: float = 0.0
    restore_s: float = 0.0  # reading a cached state from disk


@dataclass
class CacheUse:
    """What the caches saved a request.

    `prefix`: the state after the system prompt and media was "hit" (read from the disk
    cache), "memory" (still held from an earlier request of this process), "miss"
    (computed), or "off" (no cache: --no-cache, or an engine without one).
    `images_hit` / `images_encoded`: image encodings read from the cache / computed.
    `saved_s`: the seconds the reused work cost when it was first done, less the restore.
    """

    prefix: Literal["hit", "memory", "miss", "off"] = "off"
    images_hit: int = 0
    images_encoded: int = 0
    saved_s: float = 0.0

    @property
    def images(self) -> str:
        """One word for the image level: none, hit, miss, partial or off."""
        if self.prefix == "off":
            return "off"
        if not (self.images_hit or self.images_encoded):
            return "none"
        if not self.images_encoded:
            return "hit"
        return "partial" if self.images_hit else "miss"


@dataclass(frozen=True)
class Done:
    """The last event: why generation stopped, and what it cost.

    A "length" finish came from --max-tokens, or from the context window when
    `context_full` is set.
    """

    finish_reason: Literal["stop", "length", "interrupted"]
    usage: Usage
    timings: Timings
    context_full: bool = False
    cache: CacheUse = field(default_factory=CacheUse)

    @property
    def truncated(self) -> bool:
        return self.finish_reason != "stop"


Event = Progress | Thinking | Answer | Box | Done
