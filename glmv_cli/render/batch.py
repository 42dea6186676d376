"""`glmv batch` on the terminal: a progress bar (count, rate, ETA) while it runs, and a
summary line at the end. Nothing but the summary when stderr is not a terminal."""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from glmv_cli.render.progress import REFRESH_PER_S


class BatchBar:
    """Inputs done out of those to do, with their rate and the time left."""

    def __init__(self, console: Console, total: int) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=console, transient=True,
            refresh_per_second=REFRESH_PER_S)
        self._task = self._progress.add_task("Answering", total=total, rate="")
        self._failed = 0
        self._progress.start()

    def line(self, record: dict[str, Any]) -> None:
        """One input is done (its line written)."""
        if record.get("error"):
            self._failed += 1
        task = self._progress.tasks[0]
        elapsed = task.elapsed or 0.0
        done = task.completed + 1
        rate = f"{done / elapsed:.2f}/s" if elapsed > 0 else ""
        label = f"Answering ({self._failed} failed)" if self._failed else "Answering"
        self._progress.update(self._task, advance=1, rate=rate, description=label)

    def stop(self) -> None:
        self._progress.stop()


def summary_line(summary: Any, jsonl: str | None) -> str:
    """The end of a run in one line (a tasks.batch.Summary)."""
    where = f" in {jsonl}" if jsonl else ""
    parts = [f"{summary.answered} answered", f"{summary.skipped} skipped (already{where})",
             f"{summary.failed} failed"]
    rate = (f", {summary.answered / summary.seconds:.2f} inputs/s"
            if summary.seconds > 0 and summary.answered else "")
    return (f"glmv: batch: {summary.total} inputs: {', '.join(parts)}; "
            f"{summary.prompt_tokens} prompt and {summary.generated_tokens} generated "
            f"tokens; {summary.seconds:.1f} s{rate}")


def print_summary(err: TextIO, summary: Any, jsonl: str | None) -> None:
    err.write(summary_line(summary, jsonl) + "\n")
    err.flush()
