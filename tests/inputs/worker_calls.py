"""Functions for tests/inputs/test_worker.py to run in a worker process (a child imports
them by name). Fault injection: each misbehaves the way a native decoder can."""

from __future__ import annotations

import ctypes
import os
import time

from glmv_cli.errors import InputError
from glmv_cli.inputs.worker import report_progress

_state: dict[str, object] = {}


def add(a: int, b: int) -> int:
    return a + b


def remember(value: object) -> int:
    _state["value"] = value
    return os.getpid()


def recall() -> object:
    return _state.get("value")


def refuse(name: str) -> None:
    raise InputError(f"{name}: not an image", hint="try another file")


def buggy() -> None:
    raise KeyError("a bug, not bad input")


def spin(seconds: float) -> None:
    """Busy in C the whole time, as a stuck decoder is (time.sleep would release nothing
    less, but a loop of native calls is the honest likeness)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(10_000))


def hog(megabytes: int) -> int:
    """Allocate and touch `megabytes`, as a decompression bomb does."""
    block = bytearray(megabytes << 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)


def crash(*_args: object) -> None:
    """A segmentation fault, as a decoder with a bug gives."""
    ctypes.string_at(0)


def steps(n: int, each: float) -> int:
    for i in range(n):
        time.sleep(each)
        report_progress(i)
    return n
