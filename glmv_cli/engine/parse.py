"""Incremental parser: generated text to thinking, answer and box events.

The model writes `<think>…</think><answer>…</answer>`, with final answers and grounding
boxes wrapped in `<|begin_of_box|>…<|end_of_box|>`. Tags may arrive split across pieces
(a remote engine streams characters, not tokens), so a possible tag prefix is held back
until it is decided.
"""

from __future__ import annotations

from typing import Literal

from glmv_cli.engine.boxes import parse_coords
from glmv_cli.engine.events import Answer, Box, Event, Thinking
from glmv_cli.engine.prompt import (
    ANSWER_CLOSE,
    ANSWER_OPEN,
    BOX_CLOSE,
    BOX_OPEN,
    MEANINGFUL_TAGS,
    THINK_CLOSE,
    THINK_OPEN,
)

State = Literal["start", "think", "between", "answer", "after"]

# Untagged text longer than this at the start is taken as an answer from a model that
# does not think (rather than buffering it all to the end).
UNTAGGED_LIMIT = 64


class StreamParser:
    """Feed text pieces with `feed`, then call `finish`; both return the events produced."""

    def __init__(self) -> None:
        self.state: State = "start"
        self._pending = ""  # text not yet classified (may hold a partial tag)
        self._start_buf = ""  # untagged text seen before any tag
        self._box: list[str] | None = None
        self._answer_started = False
        self._thinking_started = False

    @property
    def in_thinking(self) -> bool:
        return self.state == "think"

    def feed(self, text: str) -> list[Event]:
        self._pending += text
        events: list[Event] = []
        while self._pending:
            lt = self._pending.find("<")
            if lt < 0:
                self._text(self._pending, events)
                self._pending = ""
                break
            if lt > 0:
                self._text(self._pending[:lt], events)
                self._pending = self._pending[lt:]
            tag = next((t for t in MEANINGFUL_TAGS if self._pending.startswith(t)), None)
            if tag:
                self._pending = self._pending[len(tag) :]
                self._tag(tag, events)
            elif any(t.startswith(self._pending) for t in MEANINGFUL_TAGS):
                break  # could still become a tag: wait for more text
            else:
                self._text("<", events)
                self._pending = self._pending[1:]
        return events

    def finish(self) -> list[Event]:
        events: list[Event] = []
        if self._pending:
            self._text(self._pending, events)
            self._pending = ""
        if self.state == "start" and self._start_buf.strip():
            self.state = "answer"  # no tags at all: the whole output is the answer
            self._emit_answer(self._start_buf, events)
        self._start_buf = ""
        if self._box is not None:
            self._close_box(events)
        return events

    # -- internals ---------------------------------------------------------------------

    def _text(self, text: str, events: list[Event]) -> None:
        if self.state == "start":
            self._start_buf += text
            if len(self._start_buf.strip()) > UNTAGGED_LIMIT:
                self.state = "answer"
                self._emit_answer(self._start_buf, events)
                self._start_buf = ""
        elif self.state == "think":
            self._emit_thinking(text, events)
        elif self.state == "between":
            if text.strip():  # answer text without an <answer> wrapper
                self.state = "answer"
                self._emit_answer(text, events)
        elif self.state == "answer":
            self._emit_answer(text, events)
        # "after": text past </answer> is not part of the answer

    def _tag(self, tag: str, events: list[Event]) -> None:
        if tag == THINK_OPEN:
            if self.state == "start":
                self.state = "think"
                self._start_buf = ""
        elif tag == THINK_CLOSE:
            if self.state == "start":  # the template opened <think>: what came was thinking
                self._emit_thinking(self._start_buf, events)
                self._start_buf = ""
            if self.state in ("start", "think"):
                self.state = "between"
        elif tag == ANSWER_OPEN:
            if self.state == "start" and self._start_buf.strip():
                self._emit_thinking(self._start_buf, events)
            self._start_buf = ""
            if self.state in ("start", "think", "between"):
                self.state = "answer"
        elif tag == ANSWER_CLOSE:
            if self.state == "answer":
                if self._box is not None:
                    self._close_box(events)
                self.state = "after"
        elif tag == BOX_OPEN:
            if self.state == "start":  # untagged text so far began the answer: keep it
                self.state = "answer"
                self._emit_answer(self._start_buf, events)
                self._start_buf = ""
            elif self.state == "between":
                self.state = "answer"
            if self.state == "answer":
                self._box = []
        elif tag == BOX_CLOSE and self._box is not None:
            self._close_box(events)

    def _emit_thinking(self, text: str, events: list[Event]) -> None:
        if not self._thinking_started:
            text = text.lstrip()
            self._thinking_started = bool(text)
        if text:
            events.append(Thinking(text))

    def _emit_answer(self, text: str, events: list[Event]) -> None:
        if not self._answer_started:
            text = text.lstrip()
            self._answer_started = bool(text)
        if text:
            if self._box is not None:
                self._box.append(text)
            events.append(Answer(text))

    def _close_box(self, events: list[Event]) -> None:
        text = "".join(self._box or [])
        self._box = None
        events.append(Box(text=text.strip(), coords=parse_coords(text)))
