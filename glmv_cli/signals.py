"""Ctrl-C and SIGTERM: both stop glmv the same way, by raising Interrupted in the main
thread (every `finally` runs, partial output is shown, temporary files and decoder
processes go); main() then exits with the code of the signal that came."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

from glmv_cli.errors import NATIVE_CALLBACKS, NATIVE_THREAD, ExitCode, Interrupted

_stopped_by: int | None = None  # the signal that stopped glmv, once one has
RESEND_S = 0.02  # how soon a signal that landed in a native callback is sent again


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    global _stopped_by
    if _in_native_callback(frame):
        # Raised here, Interrupted would be dropped by ctypes and the signal lost: send
        # it again, to land once the callback has returned.
        threading.Timer(RESEND_S, os.kill, (os.getpid(), signum)).start()
        return
    _stopped_by = signum
    raise Interrupted()


def _in_native_callback(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code in NATIVE_CALLBACKS:
            return True
        frame = frame.f_back
    return False


def install() -> None:
    """Make Ctrl-C and SIGTERM raise Interrupted (in the main thread)."""
    signal.signal(signal.SIGINT, _on_stop_signal)
    signal.signal(signal.SIGTERM, _on_stop_signal)


def ignore() -> None:
    """From here on glmv is exiting anyway: Ctrl-C and SIGTERM no longer matter."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def outcome() -> tuple[str, ExitCode]:
    """The message and exit code for the signal that stopped glmv."""
    if _stopped_by == signal.SIGTERM:
        return "terminated", ExitCode.TERMINATED
    return "interrupted", ExitCode.INTERRUPTED


def terminated() -> bool:
    """Whether SIGTERM came (Ctrl-C may be caught and carried on from; SIGTERM may not)."""
    return _stopped_by == signal.SIGTERM


def native_work_running() -> bool:
    """Whether native code still computes in a worker that Ctrl-C left behind (an image
    encode cannot be aborted): the process must then leave without freeing its memory."""
    return any(t.name.startswith(NATIVE_THREAD) and t.is_alive()
               for t in threading.enumerate())
