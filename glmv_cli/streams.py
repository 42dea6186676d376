"""All terminal I/O goes through one `Streams` object, which tests can replace."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from rich.console import Console


@dataclass
class Streams:
    stdin: BinaryIO
    stdout: TextIO
    stderr: TextIO

    @classmethod
    def from_process(cls) -> Streams:
        return cls(sys.stdin.buffer, sys.stdout, sys.stderr)

    @property
    def stdin_isatty(self) -> bool:
        return _isatty(self.stdin)

    @property
    def stdout_isatty(self) -> bool:
        return _isatty(self.stdout)

    @property
    def stderr_isatty(self) -> bool:
        return _isatty(self.stderr)

    def console(self, stderr: bool = False) -> Console:
        """A Rich console on stdout or stderr; honours NO_COLOR (Rich reads it itself)."""
        return Console(file=self.stderr if stderr else self.stdout, highlight=False,
                       soft_wrap=False)


def _isatty(stream: TextIO | BinaryIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False
