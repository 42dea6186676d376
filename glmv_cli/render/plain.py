"""Output for pipes and files: the answer alone on stdout, as plain text."""

from __future__ import annotations

from typing import TextIO

from glmv_cli.engine.events import Answer, Event, Progress, Thinking
from glmv_cli.engine.transcript import Transcript
from glmv_cli.inputs.image import PreparedImage
from glmv_cli.render.progress import StatusLine
from glmv_cli.render.summary import box_lines, truncation_warning


class PlainRenderer:
    """Streams the answer to `out`; thinking to `err` only when asked (`--show-thinking`).

    Trailing whitespace is held back so the output ends in exactly one newline. Boxes in
    the answer are listed on `err` (stdout keeps the answer alone) when `images` is given.
    """

    def __init__(self, out: TextIO, err: TextIO, show_thinking: bool,
                 status: StatusLine | None, images: tuple[PreparedImage, ...] | None = None
                 ) -> None:
        self.out, self.err = out, err
        self.images = images
        self.show_thinking = show_thinking
        self.status = status
        self._held = ""
        self._wrote_answer = False
        self._thinking_open = False

    def event(self, event: Event) -> None:
        if isinstance(event, Progress):
            if self.status:
                self.status.update(event.label)
        elif isinstance(event, Thinking):
            if self.show_thinking:
                self._stop_status()
                self.err.write(event.text)
                self.err.flush()
                self._thinking_open = True
            elif self.status:
                self.status.update("Thinking")
        elif isinstance(event, Answer):
            self._stop_status()
            if self._thinking_open:
                self.err.write("\n")
                self.err.flush()
                self._thinking_open = False
            text = self._held + event.text
            body = text.rstrip()
            self._held = text[len(body):]
            if body:
                self.out.write(body)
                self.out.flush()
                self._wrote_answer = True

    def close(self, transcript: Transcript) -> None:
        self._stop_status()
        if self._thinking_open:
            self.err.write("\n")
        if self._wrote_answer:
            self.out.write("\n")
            self.out.flush()
        if self.images is not None:
            for line in box_lines(transcript.boxes, self.images):
                self.err.write(f"glmv: {line}\n")
        warning = transcript.done and truncation_warning(transcript.done)
        if warning:
            self.err.write(f"glmv: warning: {warning}\n")
        self.err.flush()

    def _stop_status(self) -> None:
        if self.status:
            self.status.stop()
            self.status = None
