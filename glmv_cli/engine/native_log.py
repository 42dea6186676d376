"""llama.cpp's and mtmd's log lines: hidden unless --verbose, but kept for error messages.

Both libraries print through a log callback. We install one callback for llama.cpp,
mtmd and mtmd's helpers that keeps the recent lines (so a failed load can say why) and
only writes them to stderr when verbose.
"""

from __future__ import annotations

import collections
import ctypes
import sys
from typing import Any

import llama_cpp
import llama_cpp.mtmd_cpp as mtmd

from glmv_cli.errors import NATIVE_CALLBACKS

_recent: collections.deque[str] = collections.deque(maxlen=200)
_verbose = False
_partial = ""


def _on_log(level: int, text: bytes | None, user_data: Any) -> None:
    global _partial
    s = (text or b"").decode("utf-8", "replace")
    if _verbose:
        sys.stderr.write(s)
        sys.stderr.flush()
    _partial += s
    *lines, _partial = _partial.split("\n")
    _recent.extend(line for line in lines if line.strip())


# Keep a reference: ctypes callbacks are freed when the Python object is collected.
_callback = llama_cpp.llama_log_callback(_on_log)
NATIVE_CALLBACKS.add(_on_log.__code__)


def install(verbose: bool) -> None:
    """Route native logs through our callback; show them live only when `verbose`."""
    global _verbose
    _verbose = verbose
    llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
    mtmd.mtmd_log_set(_callback, ctypes.c_void_p(0))
    mtmd.mtmd_helper_log_set(_callback, ctypes.c_void_p(0))


def last_error(default: str) -> str:
    """The most telling recent log line, for a one-line message: the last line that says
    'error', else the last that says 'failed', else `default`."""
    for word in ("error", "failed"):
        for line in reversed(_recent):
            if word in line.lower():
                return _clean(line)
    return default


def clear() -> None:
    _recent.clear()


def _clean(line: str) -> str:
    # 'clip_init: failed to load model ...: ...' -> drop the C function name
    head, sep, rest = line.partition(": ")
    if sep and " " not in head.strip():
        line = rest
    line = line.strip()
    return line[len("error: "):] if line.lower().startswith("error: ") else line
