"""What an engine is asked: media, a question, and how to generate."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from glmv_cli.inputs.media import Media, PreparedImage, images_of

DEFAULT_MAX_TOKENS = 8192  # the reference scripts' max_new_tokens


@dataclass(frozen=True)
class Sampling:
    """Decoding settings. temperature 0 is greedy, which is what the reference's
    top_p=1e-5 amounts to; top_k and top_p only matter once temperature > 0.

    These are glmv's defaults, the only place they are written; a model's recommended
    settings and the user's flags go over them (`with_overrides`).
    """

    temperature: float = 0.0
    top_k: int = 2
    top_p: float = 0.6
    repeat_penalty: float = 1.1
    seed: int | None = None

    def with_overrides(self, values: dict[str, float | int | None]) -> Sampling:
        """These settings with every non-None value of `values` whose key is a field."""
        names = {f.name for f in fields(self)}
        changes = {k: v for k, v in values.items() if k in names and v is not None}
        return replace(self, **changes)


@dataclass(frozen=True)
class Turn:
    """An earlier question and its answer, in a conversation (`glmv chat`). Its media were
    given with that question; the answer is kept without the thinking."""

    question: str
    answer: str
    media: tuple[Media, ...] = ()


@dataclass(frozen=True)
class Request:
    """One question about some media.

    The prompt is built media-first: everything before `question` depends only on
    `system` and `media`, so the model state after it can be reused for other questions.
    `media` is a sequence of images, texts and videos in prompt order.
    """

    question: str
    media: tuple[Media, ...] = ()
    system: str | None = None
    sampling: Sampling = field(default_factory=Sampling)
    max_tokens: int = DEFAULT_MAX_TOKENS
    think_budget: int | None = None  # thinking tokens before `</think><answer>` is forced
    think: bool = True  # False: open the answer at once (`--no-think`)
    # GBNF (llama.cpp grammar, with a `root` rule) for the answer: the text after
    # `<answer>` is sampled under it, the thinking before it stays free.
    grammar: str | None = None
    # Tokens kept for the answer: with a grammar, thinking is closed (`</think><answer>`
    # forced) once fewer than this many of `max_tokens` are left.
    answer_reserve: int = 0
    # A JSON Schema the answer must follow (`--schema`): the local engine samples the
    # answer under a grammar made from it, a remote one asks for structured output.
    schema: dict[str, Any] | None = None
    # Earlier turns of a conversation, oldest first; `media` belongs to this question.
    history: tuple[Turn, ...] = ()

    @property
    def images(self) -> tuple[PreparedImage, ...]:
        """Every image of the request, a video's frames included, in prompt order."""
        return images_of(self.media)
