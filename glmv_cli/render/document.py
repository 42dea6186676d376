"""Output for document runs (`glmv pdf`): progress across steps, then the answer.

Answer runs: map steps show only progress (a bar with ETA); the final step, the one whose
answer is the answer, streams through the single-request renderers (terminal or plain).
Transcription: every page is output as it completes, with a page separator; stdout gets
Markdown when piped. `--json`: one object at the end (document_json.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.markdown import Markdown
from rich.text import Text

from glmv_cli.engine.events import Answer, Progress, Thinking
from glmv_cli.engine.transcript import Transcript
from glmv_cli.render import Renderer
from glmv_cli.render.document_json import DocumentInfo, document_object
from glmv_cli.render.steps import StepProgress
from glmv_cli.tasks.documents import (
    DocumentEvent,
    DocumentTranscript,
    StepEnd,
    StepStart,
    page_span,
)

_KIND_LABEL = {"map": "Reading", "combine": "Combining notes on", "transcribe": "Transcribing",
               "text-layer": "Copying the text of", "skipped": "Copying the text of",
               "answer": "Answering from",
               "reduce": "Answering from notes on"}


def step_label(start: StepStart) -> str:
    """'Reading pages 4-6', 'Transcribing page 3'."""
    span = page_span(start.pages)
    if len(span) > 24:
        span = span[:22].rsplit(",", 1)[0] + ", …"
    noun = "page" if len(start.pages) == 1 else "pages"
    return f"{_KIND_LABEL[start.kind]} {noun} {span}"


def page_header(number: int, mode: str) -> str:
    """The separator line before each page of a transcription (an HTML comment: invisible
    when the Markdown is rendered, easy to split on)."""
    return f"<!-- page {number} ({mode}) -->"


def page_mode(start: StepStart, info: DocumentInfo) -> str:
    """How a transcribed page was made, for its header: 'image', 'text layer', or
    'skipped: rendering took over 30 s' for a page the reader could not render."""
    if start.kind == "skipped":
        reasons = {p.number: p.skipped for p in info.pages}
        return f"skipped: {reasons.get(start.pages[0])}"
    return "text layer" if start.kind == "text-layer" else "image"


def summary_line(info: DocumentInfo, result: DocumentTranscript, took_s: float) -> str:
    n_text = sum(p.mode == "text" for p in info.pages)
    n_img = len(info.pages) - n_text
    steps = len(result.steps)
    return (f"{len(info.pages)} of {info.n_pages} pages: {n_text} as text, {n_img} as images"
            f" · {steps} step{'s' if steps != 1 else ''} · {took_s:.1f}s")


class AnswerRenderer:
    """Progress across map steps, then the final step through `make_final()`'s renderer."""

    def __init__(self, make_final: Callable[[], Renderer], progress_console: Console | None,
                 info: DocumentInfo, summary_console: Console | None = None) -> None:
        self.make_final = make_final
        self.progress_console = progress_console
        self.info = info
        self.summary_console = summary_console
        self._bar: StepProgress | None = None
        self._final: Renderer | None = None
        self._final_transcript = Transcript()
        self._label = ""
        self._t0 = time.monotonic()

    def event(self, event: DocumentEvent) -> None:
        if isinstance(event, StepStart):
            if event.final:
                self._stop_bar()
                self._final = self.make_final()
                return
            if self._bar is None and self.progress_console is not None:
                self._bar = StepProgress(self.progress_console,
                                         sum(p.tokens for p in self.info.pages))
            self._label = step_label(event)
            if self._bar:
                self._bar.step(self._label, event.number, event.total)
        elif isinstance(event, StepEnd):
            if event.start.final and self._final is not None:
                self._final.close(event.transcript)
                self._final = None
            elif self._bar:
                self._bar.advance(event.start.weight)
        elif self._final is not None:
            self._final_transcript.add(event)
            self._final.event(event)
        elif self._bar and isinstance(event, Progress) and event.stage == "encode":
            self._bar.update(f"{self._label}: {event.label.lower()}")
        elif self._bar and isinstance(event, Thinking | Answer):
            self._bar.update(f"{self._label}: taking notes")

    def close(self, result: DocumentTranscript) -> None:
        self._stop_bar()
        if self._final is not None:  # interrupted inside the final step
            self._final.close(self._final_transcript)
            self._final = None
        if self.summary_console is not None and result.steps:
            self.summary_console.print(Text(
                summary_line(self.info, result, time.monotonic() - self._t0), style="dim"))

    def _stop_bar(self) -> None:
        if self._bar:
            self._bar.stop()
            self._bar = None


class TranscribePlainRenderer:
    """Markdown on `out`, page by page as it is generated, separated by page headers."""

    def __init__(self, out: TextIO, err: TextIO, show_thinking: bool,
                 progress_console: Console | None, info: DocumentInfo) -> None:
        self.out, self.err = out, err
        self.show_thinking = show_thinking
        self.info = info
        self._bar = (StepProgress(progress_console, _transcribe_weight(info))
                     if progress_console else None)
        self._first = True
        self._held = ""
        self._page_body = False
        self._thinking_open = False
        self._label = ""

    def event(self, event: DocumentEvent) -> None:
        if isinstance(event, StepStart):
            sep = "" if self._first else "\n---\n\n"
            self.out.write(f"{sep}{page_header(event.pages[0], page_mode(event, self.info))}\n\n")
            self.out.flush()
            self._first = False
            self._held = ""
            self._page_body = False
            self._label = step_label(event)
            if self._bar:
                self._bar.step(self._label, event.number, event.total)
        elif isinstance(event, StepEnd):
            self._end_thinking()
            self.out.write("\n")
            self.out.flush()
            done = event.transcript.done
            if done and done.finish_reason == "length":
                self._warn(f"page {event.start.pages[0]}'s transcription was cut off "
                           "(raise --max-tokens)")
            if self._bar:
                self._bar.advance(event.start.weight)
        elif isinstance(event, Thinking) and self.show_thinking:
            self.err.write(event.text)
            self.err.flush()
            self._thinking_open = True
        elif isinstance(event, Answer):
            self._end_thinking()
            # Leading and trailing whitespace of a page is dropped (trailing is held back
            # until more text follows), so each page ends in exactly one newline.
            text = self._held + event.text
            if not self._page_body:
                text = text.lstrip()
            body = text.rstrip()
            self._held = text[len(body):]
            if body:
                self.out.write(body)
                self.out.flush()
                self._page_body = True
        elif isinstance(event, Progress) and self._bar and event.stage == "encode":
            self._bar.update(f"{self._label}: {event.label.lower()}")

    def close(self, result: DocumentTranscript) -> None:
        if self._bar:
            self._bar.stop()
        self._end_thinking()
        self.err.flush()

    def _end_thinking(self) -> None:
        if self._thinking_open:
            self.err.write("\n")
            self._thinking_open = False

    def _warn(self, message: str) -> None:
        if self._bar:
            self._bar.console.print(Text(f"glmv: warning: {message}"))
        else:
            self.err.write(f"glmv: warning: {message}\n")
            self.err.flush()


class TranscribeTerminalRenderer:
    """Each finished page printed as Markdown above a progress bar with ETA."""

    def __init__(self, console: Console, info: DocumentInfo) -> None:
        self.console = console
        self.info = info
        self._bar = StepProgress(console, _transcribe_weight(info))
        self._t0 = time.monotonic()
        self._label = ""

    def event(self, event: DocumentEvent) -> None:
        if isinstance(event, StepStart):
            self._label = step_label(event)
            self._bar.step(self._label, event.number, event.total)
        elif isinstance(event, StepEnd):
            mode = page_mode(event.start, self.info)
            self.console.rule(Text(f"page {event.start.pages[0]} ({mode})", style="dim"),
                              style="dim")
            body = event.transcript.answer.strip()
            if body:
                self.console.print(Markdown(body))
            done = event.transcript.done
            if done and done.finish_reason == "length":
                self.console.print(Text("warning: this page was cut off (raise --max-tokens)",
                                        style="yellow"))
            self._bar.advance(event.start.weight)
        elif isinstance(event, Progress) and event.stage == "encode":
            self._bar.update(f"{self._label}: {event.label.lower()}")

    def close(self, result: DocumentTranscript) -> None:
        self._bar.stop()
        if result.steps:
            self.console.print(Text(
                summary_line(self.info, result, time.monotonic() - self._t0), style="dim"))


class DocumentJsonRenderer:
    """Progress on a terminal's stderr; the object on stdout at the end."""

    def __init__(self, out: TextIO, model: str, info: DocumentInfo,
                 progress_console: Console | None) -> None:
        self.out, self.model, self.info = out, model, info
        self._bar = (StepProgress(progress_console, sum(p.tokens for p in info.pages))
                     if progress_console else None)
        self._t0 = time.monotonic()

    def event(self, event: DocumentEvent) -> None:
        if self._bar is None:
            return
        if isinstance(event, StepStart):
            self._bar.step(step_label(event), event.number, event.total)
        elif isinstance(event, StepEnd):
            self._bar.advance(event.start.weight)
        elif isinstance(event, Progress) and event.stage == "encode":
            self._bar.update(event.label)

    def close(self, result: DocumentTranscript) -> None:
        if self._bar:
            self._bar.stop()
        obj = document_object(result, self.model, self.info,
                              self.info.prepare_s + self.info.load_s + time.monotonic() - self._t0)
        self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.out.flush()


def _transcribe_weight(info: DocumentInfo) -> int:
    # Text-layer pages cost nothing next to a model call; the bar counts model work.
    return sum(p.tokens for p in info.pages if p.mode == "image")
