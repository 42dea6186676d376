"""A transient spinner with elapsed time, for the slow steps (load, encode, prefill)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn

REFRESH_PER_S = 5  # the spinner's redraws per second: smooth enough, and cheap


class StatusLine:
    """One live line on a terminal; disappears when stopped."""

    def __init__(self, console: Console) -> None:
        # Colourless styles: Rich's live display does not strip colour under NO_COLOR.
        self._progress = Progress(
            SpinnerColumn(style="bold"), TextColumn("{task.description}"),
            TextColumn("[dim]{task.elapsed:.0f}s"), console=console, transient=True,
            refresh_per_second=REFRESH_PER_S,
        )
        self._task = self._progress.add_task("Starting", total=None)
        self._progress.start()
        self._running = True

    def update(self, label: str) -> None:
        if self._running:
            self._progress.update(self._task, description=label)

    def stop(self) -> None:
        if self._running:
            self._progress.stop()
            self._running = False
