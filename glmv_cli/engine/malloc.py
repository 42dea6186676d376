"""glibc's malloc: one arena for the whole process, as in a single-threaded program.

glibc gives a thread that allocates while others hold the main arena an arena of its
own, and glmv runs llama.cpp's long calls (model load, image encode, prefill) in worker
threads (LlamaEngine._native) so that Ctrl-C is handled at once. In such a fresh arena
the image encoder ran slower than in llama.cpp's own CLI, which calls it from its main
thread; with one arena (glibc's MALLOC_ARENA_MAX=1) it ran at the same speed. See
tests/bench/bench_mtmd.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys

M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


def use_one_arena() -> None:
    """Ask glibc for one malloc arena; a no-op elsewhere or when the user chose a number.

    Takes effect for threads that allocate afterwards, so it runs before the engine's
    first worker thread."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only (musl's mallopt does nothing)  # noqa: B018
        libc.mallopt(M_ARENA_MAX, 1)
