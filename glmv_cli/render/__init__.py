"""Renderers turn engine events into output: rich (terminal), plain (pipes), json.

They know nothing about llama.cpp; each takes events one by one, then `close(transcript)`.
"""

from __future__ import annotations

from typing import Protocol

from glmv_cli.engine.events import Event
from glmv_cli.engine.transcript import Transcript


class Renderer(Protocol):
    def event(self, event: Event) -> None: ...

    def close(self, transcript: Transcript) -> None: ...
