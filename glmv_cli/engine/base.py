"""The engine contract: what commands and tasks may ask of any engine, local or remote."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from glmv_cli.engine.events import Event
from glmv_cli.engine.request import Request
from glmv_cli.errors import UsageError
from glmv_cli.inputs.media import Media


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do beyond answering, so that a command can refuse cleanly what
    the engine in use cannot do, before any work starts."""

    grammar: bool = False  # answers sampled under a GBNF grammar (act, ground --strict)
    think_budget: bool = False  # thinking closed after N tokens, mid-stream
    state_cache: bool = False  # the state after the prompt's prefix saved and restored
    exact_counts: bool = False  # token counts from the model's own tokenizer


class Engine(Protocol):
    """Answers requests as a stream of events, ending with exactly one `Done`.

    Loading is lazy (the first `generate` or count loads the model and reports it as a
    `Progress("load")` event); `load()` does it up front for callers that plan first.
    """

    name: str  # the model, as reports name it
    capabilities: Capabilities
    load_s: float  # seconds the last load took (0 until loaded)

    def load(self) -> None: ...

    @property
    def context_limit(self) -> int:
        """Most tokens one request may hold: the model's window, or the user's cap."""
        ...

    def count_media(self, media: tuple[Media, ...]) -> int:
        """Prompt tokens these media take, in the engine's own layout."""
        ...

    def count_prompt(self, request: Request) -> int:
        """Prompt tokens of the whole request, up to the first generated token."""
        ...

    def generate(self, request: Request) -> Iterator[Event]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None: ...


class UnsupportedError(UsageError):
    """The engine in use cannot do what the command needs."""


def check_request(engine: Engine, request: Request) -> None:
    """Refuse, before any work, a request that needs what the engine cannot do."""
    caps = engine.capabilities
    if request.grammar is not None and not caps.grammar:
        raise UnsupportedError(f"{engine.name} cannot constrain an answer with a grammar "
                               "(needed for `glmv act` and `glmv ground --strict`)")
    if request.think_budget and not caps.think_budget:
        raise UnsupportedError(f"{engine.name} cannot stop the thinking mid-stream "
                               "(--think-budget); use --no-think or leave it out")
