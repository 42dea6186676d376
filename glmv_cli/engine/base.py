"""The engine contract: small enough for a remote OpenAI-compatible engine to implement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from glmv_cli.engine.events import Event
from glmv_cli.engine.request import Request


class Engine(Protocol):
    """Answers requests as a stream of events, ending with exactly one `Done`."""

    def generate(self, request: Request) -> Iterator[Event]: ...

    def close(self) -> None: ...
