"""Output for a terminal: thinking streamed dim, then the answer rendered as Markdown."""

from __future__ import annotations

import re
import time

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

from glmv_cli.engine.events import Answer, Event, Progress, Thinking
from glmv_cli.engine.transcript import Transcript
from glmv_cli.inputs.image import PreparedImage
from glmv_cli.render.progress import StatusLine
from glmv_cli.render.summary import box_lines, stats_line, truncation_warning

# Control characters in model output (an ESC could restyle or move the cursor) are dropped
# on a terminal; newlines and tabs stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# The live display's costs are per redraw, not per token: at the hundreds of tokens a
# second a GPU writes, these keep the renderer well under 2% of a token's time
# (tests/bench/bench_render.py).
REFRESH_PER_S = 4  # redraws of the live answer per second (Rich's own default)
LIVE_LINES = 20  # lines of the answer's end shown live (all of it is printed at the end)
PRINTS_PER_S = 8  # batches of thinking text printed per second


class TerminalRenderer:
    """Thinking scrolls by in dim text (or, with `hide_thinking`, collapses into one
    summary line); the answer is shown live and printed as Markdown when complete.

    Only the tail of the answer is live: Rich's Live breaks once its content is taller
    than the screen, so the full Markdown is printed once, at the end.
    """

    def __init__(self, console: Console, hide_thinking: bool, show_stats: bool = True,
                 images: tuple[PreparedImage, ...] | None = None) -> None:
        self.console = console
        self.images = images  # given: boxes in the answer are listed after it
        self.hide_thinking = hide_thinking
        self.show_stats = show_stats
        self._status: StatusLine | None = StatusLine(console)
        self._thinking_started: float | None = None
        self._thinking_chars = 0
        self._thinking_open = False
        self._held_thinking = ""  # printed at most REFRESH_PER_S times a second
        self._last_print = 0.0
        self._answer = ""
        self._live: Live | None = None

    def event(self, event: Event) -> None:
        if isinstance(event, Progress):
            if self._status:
                self._status.update(event.label)
        elif isinstance(event, Thinking):
            self._on_thinking(_CONTROL.sub("", event.text))
        elif isinstance(event, Answer):
            self._on_answer(_CONTROL.sub("", event.text))

    def _on_thinking(self, text: str) -> None:
        if self._thinking_started is None:
            self._thinking_started = time.monotonic()
            if not self.hide_thinking:
                self._stop_status()
                self.console.print(Text("Thinking", style="bold dim"))
        self._thinking_chars += len(text)
        self._held_thinking += text
        # Printing is the costly part of a token; a GPU writes hundreds a second, so the
        # text is printed in batches, as often as the eye can follow.
        now = time.monotonic()
        if now - self._last_print < 1 / PRINTS_PER_S:
            return
        self._last_print = now
        if self.hide_thinking:
            self._held_thinking = ""
            if self._status:
                self._status.update(f"Thinking ({self._thinking_chars} characters)")
            return
        self._flush_thinking()

    def _flush_thinking(self) -> None:
        if self._held_thinking and not self.hide_thinking:
            self.console.print(Text(self._held_thinking, style="dim"), end="")
            self._thinking_open = True
        self._held_thinking = ""

    def _on_answer(self, text: str) -> None:
        if self._live is None:
            self._stop_status()
            self._end_thinking()
            # The Markdown is built when Live refreshes (REFRESH_PER_S), not per token: a
            # GPU delivers hundreds of tokens a second, and parsing is the costly part.
            self._live = Live(console=self.console, transient=True, auto_refresh=True,
                              refresh_per_second=REFRESH_PER_S, vertical_overflow="crop",
                              get_renderable=self._answer_tail)
            self._live.start()
        self._answer += text

    def _answer_tail(self) -> Markdown:
        """The end of the answer so far, as much as the screen shows."""
        lines = self._answer.splitlines()[-max(3, min(LIVE_LINES, self.console.height - 3)):]
        return Markdown("\n".join(lines))

    def _end_thinking(self) -> None:
        self._flush_thinking()
        if self._thinking_open:
            self.console.print()
            self._thinking_open = False
        if self._thinking_started is not None and self.hide_thinking:
            took = time.monotonic() - self._thinking_started
            self.console.print(Text(f"Thought for {took:.1f}s", style="dim"))
        if self._thinking_started is not None:
            self.console.rule(style="dim")

    def _stop_status(self) -> None:
        if self._status:
            self._status.stop()
            self._status = None

    def close(self, transcript: Transcript) -> None:
        self._stop_status()
        if self._live is not None:
            self._live.stop()
        else:
            self._end_thinking()
        if self._answer.strip():
            self.console.print(Markdown(self._answer.strip()))
        if self.images is not None:
            for line in box_lines(transcript.boxes, self.images):
                self.console.print(Text(line, style="dim"))
        done = transcript.done
        if done is None:
            return
        warning = truncation_warning(done)
        if warning:
            self.console.print(Text(f"warning: {warning}", style="yellow"))
        if done.finish_reason == "interrupted":
            self.console.print(Text("interrupted", style="yellow"))
        if self.show_stats:
            self.console.print(Text(stats_line(done), style="dim"))
