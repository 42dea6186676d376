"""A progress bar across the requests of a multi-step job (map-reduce, transcription),
with an ETA from the time the steps done so far took per prompt token."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.text import Text


class _EtaColumn(ProgressColumn):
    """Time left, from the work done since the first step started (steps take minutes,
    so Rich's own 30-second speed window would see no progress at all)."""

    def render(self, task: Task) -> Text:
        started = task.fields.get("started")
        if not started or not task.completed or task.total is None:
            return Text("ETA --:--", style="dim")
        left = (time.monotonic() - started) * (task.total - task.completed) / task.completed
        return Text(f"ETA {_clock(max(0.0, left))}", style="dim")


class _ElapsedColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(_clock(task.elapsed or 0.0), style="dim")


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class StepProgress:
    """One transient bar: '⠋ Reading pages 4-6 · step 2/5 ━━━━━━   01:12 ETA 03:40'.

    The bar's units are weights (prompt tokens of each step), so a step over a ten-page
    group counts for more than one over a single page.
    """

    def __init__(self, console: Console, total_weight: int) -> None:
        self._progress = Progress(
            SpinnerColumn(style="bold"), TextColumn("{task.description}"),
            TextColumn("[dim]{task.fields[step]}"), BarColumn(bar_width=24),
            _ElapsedColumn(), _EtaColumn(), console=console, transient=True,
        )
        self._task = self._progress.add_task("Starting", total=max(1, total_weight), step="",
                                             started=None)
        self._progress.start()
        self._running = True

    @property
    def console(self) -> Console:
        return self._progress.console

    def step(self, label: str, number: int, total: int) -> None:
        """Step `number` of `total` starts; the ETA clock starts with the first one."""
        if not self._running:
            return
        fields = self._progress.tasks[0].fields
        self._progress.update(self._task, description=label, step=f"· {number}/{total}",
                              started=fields.get("started") or time.monotonic())

    def update(self, label: str) -> None:
        if self._running:
            self._progress.update(self._task, description=label)

    def advance(self, weight: int) -> None:
        if self._running:
            self._progress.update(self._task, advance=max(0, weight))

    def stop(self) -> None:
        if self._running:
            self._progress.stop()
            self._running = False
