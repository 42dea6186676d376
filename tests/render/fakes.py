"""Event sequences as an engine yields them, for driving renderers without a model."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

from glmv_cli.commands.running import run_request
from glmv_cli.engine.base import Capabilities
from glmv_cli.engine.events import Answer, Box, Done, Event, Progress, Thinking, Timings, Usage
from glmv_cli.engine.request import Request
from glmv_cli.errors import Interrupted
from glmv_cli.render import Renderer


def usage() -> Usage:
    return Usage(prompt_text_tokens=10, image_tokens=256, generated_tokens=30,
                 thinking_tokens=12, n_ctx=4096)


def timings() -> Timings:
    return Timings(load_s=1.5, encode_s=0.5, prefill_s=0.25, generate_s=2.0,
                   per_image_encode_s=[0.5])


def done(finish_reason: Literal["stop", "length", "interrupted"] = "stop") -> Done:
    return Done(finish_reason, usage(), timings())


def events(
    thinking: tuple[str, ...] = ("I look ", "at the image."),
    answer: tuple[str, ...] = ("The answer ", "is 42."),
    boxes: tuple[Box, ...] = (),
    finish_reason: Literal["stop", "length", "interrupted"] = "stop",
) -> list[Event]:
    return [
        Progress("load", "Loading model"),
        Progress("encode", "Encoding image", 1, 1),
        *(Thinking(t) for t in thinking),
        *(Answer(a) for a in answer),
        *boxes,
        done(finish_reason),
    ]


class ScriptedEngine:
    """An engine that yields a fixed list of events: renderers are driven through the
    commands' own run loop, without a model."""

    name = "scripted"
    capabilities = Capabilities(grammar=True, think_budget=True)

    def __init__(self, evs: list[Event]) -> None:
        self.evs = evs

    def generate(self, request: Request) -> Iterator[Event]:
        yield from self.evs


def play(renderer: Renderer, evs: list[Event]) -> None:
    """Run `evs` through the real run loop (`run_request`) into `renderer`; an
    interrupted run raises nothing here, its renderer has been closed all the same."""
    with contextlib.suppress(Interrupted):
        run_request(ScriptedEngine(evs), Request("q"), renderer)
