"""Ctrl-C that arrives while llama.cpp is calling back into Python (its log callback):
ctypes drops an exception raised there, so glmv must deliver the signal again."""

from __future__ import annotations

import signal
import sys
import time

from glmv_cli import signals
from glmv_cli.engine import native_log
from glmv_cli.errors import Interrupted


class _PressesCtrlC:
    """A stderr whose write is where the user happens to press Ctrl-C."""

    def write(self, text: str) -> int:
        signal.raise_signal(signal.SIGINT)
        return len(text)

    def flush(self) -> None:
        pass


def test_ctrl_c_inside_the_log_callback_is_not_lost(monkeypatch) -> None:
    previous = signal.signal(signal.SIGINT, signals._on_stop_signal)
    monkeypatch.setattr(native_log, "_verbose", True)
    outcome = "lost"
    try:
        real = sys.stderr
        sys.stderr = _PressesCtrlC()  # type: ignore[assignment]
        try:
            native_log._callback(2, b"llama_context: n_ctx = 512\n", None)  # as C calls it
        finally:
            sys.stderr = real
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            time.sleep(0.01)
    except Interrupted:
        outcome = "interrupted"
    finally:
        signal.signal(signal.SIGINT, previous)
    assert outcome == "interrupted"
