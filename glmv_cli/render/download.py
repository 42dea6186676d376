"""A Rich progress bar (bytes, speed, ETA) for downloads, fed by huggingface-hub."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


def download_progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn(), console=console,
    )


class RichBar:
    """Quacks like the tqdm bar huggingface-hub drives: one Rich task per file.

    huggingface-hub passes its own `desc` (a URL or a truncated name); `label` replaces it.
    """

    def __init__(self, progress: Progress, label: str, total: int | None = None,
                 initial: int = 0, **_: Any) -> None:
        self.progress = progress
        self.task = progress.add_task(label, total=total, completed=initial)

    def update(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def close(self) -> None:
        pass

    def __enter__(self) -> RichBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
