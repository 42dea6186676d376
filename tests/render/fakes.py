"""Event sequences as an engine yields them, for driving renderers without a model."""

from __future__ import annotations

from typing import Literal

from glmv_cli.engine.events import Answer, Box, Done, Event, Progress, Thinking, Timings, Usage
from glmv_cli.engine.transcript import Transcript
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


def play(renderer: Renderer, evs: list[Event]) -> Transcript:
    """Feed `evs` to `renderer` as the run loop does, then close it; the transcript."""
    transcript = Transcript()
    for event in evs:
        transcript.add(event)
        renderer.event(event)
    renderer.close(transcript)
    return transcript
