"""A child process for native decoders, where a call can be bounded in time and memory.

MuPDF, FFmpeg (through OpenCV) and Pillow's decoders run in C. A call that never returns
cannot be cancelled from Python, and while it runs in the main thread Python's signal
handlers do not run either, so Ctrl-C waits for it. A thread would not help: a stuck thread
cannot be stopped, and its memory cannot be capped. A child process can be killed at any
moment, its memory is capped by the kernel (and watched from here), and a decoder that
crashes takes only the child down.

`Worker` starts one child and sends it calls, one at a time, each with its own time limit;
the child is reused across calls (a document stays open in it between pages) until a call
goes past a limit, when it is killed and `LimitExceeded` says why. The next call starts a
fresh child; `Worker.generation` tells its owner that what the old child held is gone.

Calls name a module-level function (`module:name`); arguments, results and glmv's own
errors travel pickled over a pipe. While the parent waits, Ctrl-C (or SIGTERM) raises in
the main thread as usual; the child is then killed before the exception goes on.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glmv_cli.errors import GlmvError, InputError

# Memory one child may use, in MiB (GLMV_DECODE_MEMORY overrides it): a 16384-token page
# needs about 40 MB of pixels, a 4K video frame 25 MB; MuPDF and FFmpeg need some hundreds
# more for complex pages and codecs. A decompression bomb or a runaway decoder stops here.
DEFAULT_MEMORY_MB = 2048
# Seconds each step of reading one PDF page (text, layout, rendering) may take:
# --page-timeout. (Here, not in pdf_worker.py, so that the option's default is known
# without loading MuPDF.)
DEFAULT_PAGE_TIMEOUT_S = 30.0
# Seconds to decode one image, to open a video or read one of its frames: a 90-megapixel
# PNG decodes in a few seconds on a slow CPU; a decoder stuck for a minute is not coming back.
DEFAULT_DECODE_TIMEOUT_S = 60.0
# Starting a child (Python, then MuPDF or OpenCV) takes a fraction of a second.
STARTUP_TIMEOUT_S = 60.0
# How often the parent looks at the child's memory while it waits.
POLL_S = 0.05
_FRAME = struct.Struct("<Q")  # the length of each pickled message
_CHUNK = 1 << 20


class LimitExceeded(Exception):
    """A call went past its time or memory limit, or the child died under it (a crash in a
    decoder). `reason` says which, for a message: 'took over 30 s'."""

    def __init__(self, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # "time", "memory" or "crash"


class WorkerError(Exception):
    """An unexpected exception inside the child (a bug, not bad input); carries the child's
    traceback for GLMV_DEBUG."""

    def __init__(self, message: str, remote_traceback: str = "") -> None:
        super().__init__(message)
        self.remote_traceback = remote_traceback


def decode_timeout() -> float:
    """Seconds an image decode, or a video's opening or any one frame, may take:
    GLMV_DECODE_TIMEOUT, else the default."""
    return _env_number("GLMV_DECODE_TIMEOUT", DEFAULT_DECODE_TIMEOUT_S, float)


def memory_limit_mb() -> int:
    """The memory limit of a decoder child: GLMV_DECODE_MEMORY (MiB), else the default."""
    return _env_number("GLMV_DECODE_MEMORY", DEFAULT_MEMORY_MB, int)


def _env_number(name: str, default: Any, kind: Callable[[str], Any]) -> Any:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or number <= 0:
        raise InputError(f"{name}={value!r} is not a positive number")
    return number


class Worker:
    """One child process that runs calls one at a time; use as a context manager.

    `call` waits for the result in the main thread, interruptibly: Ctrl-C raises there
    within a poll (a fraction of a second) and the child is killed.
    """

    def __init__(self, name: str = "decoder", memory_mb: int | None = None,
                 preload: tuple[str, ...] = ()) -> None:
        self.name = name
        self.memory_mb = memory_mb or memory_limit_mb()
        # Modules the child imports before it says it is ready, so that a call's time
        # limit is spent on the call, not on importing MuPDF or OpenCV.
        self.preload = preload
        # Children started so far: a call made when `running` is false starts a new one,
        # which holds nothing the old one held.
        self.generation = 0
        # Whose state the child holds (a reader that opened its document there), for
        # owners that share one worker.
        self.owner: object = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._to_child = -1
        self._from_child = -1

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float,
             on_progress: Callable[[Any], None] | None = None) -> Any:
        """`fn(*args)` in the child; its result, or its GlmvError raised here.

        LimitExceeded when it takes longer than `timeout` seconds, uses more memory than
        the limit or kills the child; the child is then gone, and the next call starts a
        new one. A function that calls `report_progress(value)` in the child has
        `on_progress(value)` called here, and its time limit starts again: the limit is
        then on each step (a video frame), not on the whole call.
        """
        ref = f"{fn.__module__}:{fn.__qualname__}"
        self._ensure_started()
        try:
            self._send(pickle.dumps((ref, args), protocol=pickle.HIGHEST_PROTOCOL))
            reader = _FrameReader(self._from_child)
            while True:
                status, *payload = pickle.loads(self._receive(reader, timeout))
                if status != "progress":
                    break
                if on_progress is not None:
                    on_progress(payload[0])
        except BaseException:
            # Past a limit, Ctrl-C, SIGTERM, a broken pipe: the child's state is unknown.
            self._kill()
            raise
        if status == "ok":
            return payload[0]
        if status == "raise":
            raise payload[0]
        if status == "memory":
            self._kill()
            raise LimitExceeded(f"needed over {self.memory_mb} MB of memory", "memory")
        raise WorkerError(payload[0], payload[1])

    def close(self) -> None:
        """Stop the child (it holds nothing that needs saving)."""
        self._kill()

    # -- the child process -------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self.running:
            return
        self._kill()
        self.generation += 1
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ,
               "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH"))
                                             if p),
               # One thread for numpy's BLAS: the child decodes, it does no algebra.
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        debug = bool(os.environ.get("GLMV_DEBUG"))
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", "from glmv_cli.inputs.worker import serve; serve()",
                 str(to_child_r), str(from_child_w), str(self.memory_mb), *self.preload],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=None if debug else subprocess.DEVNULL,
                env=env, close_fds=True)
        except OSError as e:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise InputError(f"cannot start the {self.name} process ({e.strerror or e})"
                             ) from None
        finally:
            with contextlib.suppress(OSError):
                os.close(to_child_r)
            with contextlib.suppress(OSError):
                os.close(from_child_w)
        self._to_child, self._from_child = to_child_w, from_child_r
        try:
            self._receive(_FrameReader(from_child_r), STARTUP_TIMEOUT_S)  # ("ready",)
        except LimitExceeded as e:
            self._kill()
            raise InputError(f"cannot start the {self.name} process: it {e.reason}"
                             ) from None
        except BaseException:
            self._kill()
            raise

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        for fd in (self._to_child, self._from_child):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._to_child = self._from_child = -1
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.kill()
        # SIGKILL cannot be ignored; reaping takes milliseconds. (Not an endless wait: a
        # child stuck in uninterruptible I/O is left to the kernel.)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)

    def _send(self, data: bytes) -> None:
        view = memoryview(_FRAME.pack(len(data)) + data)
        while view:
            try:
                n = os.write(self._to_child, view[:_CHUNK])
            except BrokenPipeError:
                raise self._died() from None
            view = view[n:]

    def _receive(self, reader: _FrameReader, timeout: float) -> bytes:
        """The child's next message, waiting at most `timeout` seconds for it."""
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + timeout
        next_check = 0.0
        while (frame := reader.frame()) is None:
            now = time.monotonic()
            if now >= deadline:
                raise LimitExceeded(f"took over {timeout:g} s", "time")
            if now >= next_check:
                self._check_memory(proc.pid)
                next_check = now + POLL_S
            ready, _, _ = select.select([reader.fd], [], [], min(POLL_S, deadline - now))
            if ready and not reader.fill():
                raise self._died()
        return frame

    def _check_memory(self, pid: int) -> None:
        """The kernel's cap (RLIMIT_DATA, set in the child) does not exist everywhere, and
        does not count every mapping: watch the resident size too."""
        import psutil

        try:
            rss = psutil.Process(pid).memory_info().rss
        except psutil.Error:
            return  # gone: the read that follows says so
        if rss > self.memory_mb * 1024 * 1024:
            raise LimitExceeded(f"needed over {self.memory_mb} MB of memory", "memory")

    def _died(self) -> LimitExceeded:
        proc = self._proc
        code = None
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = proc.wait(timeout=2)
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return LimitExceeded(f"crashed the {self.name} ({name})", "crash")
        return LimitExceeded(f"crashed the {self.name} (exit {code})", "crash")


class _FrameReader:
    """Length-prefixed messages from a pipe, read as they arrive."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()

    def fill(self) -> bool:
        """Read what is there; False at the end of the pipe (the child is gone)."""
        chunk = os.read(self.fd, _CHUNK)
        self.buf += chunk
        return bool(chunk)

    def frame(self) -> bytes | None:
        """The next whole message, if it has arrived."""
        if len(self.buf) < _FRAME.size:
            return None
        end = _FRAME.size + _FRAME.unpack_from(self.buf)[0]
        if len(self.buf) < end:
            return None
        data = bytes(self.buf[_FRAME.size:end])
        del self.buf[:end]
        return data


_per_thread = threading.local()


def image_worker() -> Worker:
    """The worker the images of this thread are decoded in (started on first use).

    One per thread: a worker runs one call at a time, and `glmv batch --parallel` decodes
    its inputs in several threads at once.
    """
    worker = getattr(_per_thread, "worker", None)
    if worker is None:
        worker = _per_thread.worker = Worker("image decoder",
                                             preload=("glmv_cli.inputs.image",))
        atexit.register(worker.close)
    return worker


# -- inside the child ----------------------------------------------------------------------

_reply_fd = -1  # where the child writes its messages


def report_progress(value: Any) -> None:
    """In the child: tell the parent the call is making progress (`value` reaches its
    `on_progress`), which starts the call's time limit again."""
    _write_all(_reply_fd, _message(("progress", value)))


def _message(value: Any) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _FRAME.pack(len(data)) + data


def serve() -> None:
    """The child's loop: read a call, run it, write its outcome; exit when the parent goes."""
    global _reply_fd
    read_fd, write_fd, memory_mb = (int(a) for a in sys.argv[1:4])
    _reply_fd = write_fd
    # Ctrl-C at a terminal signals the whole process group; the parent decides what it
    # means and kills this process if need be.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    _limit_memory(memory_mb)
    for module in sys.argv[4:]:
        importlib.import_module(module)
    _write_all(write_fd, _message(("ready",)))
    while True:
        request = _read_frame(read_fd)
        if request is None:
            return  # the parent closed the pipe
        try:
            ref, args = pickle.loads(request)
            module, _, name = ref.partition(":")
            fn = importlib.import_module(module)
            for part in name.split("."):
                fn = getattr(fn, part)
            reply: tuple[Any, ...] = ("ok", fn(*args))
        except GlmvError as e:
            reply = ("raise", e)
        except MemoryError:
            reply = ("memory",)
        except Exception as e:
            reply = ("error", f"{type(e).__name__}: {e}", traceback.format_exc())
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            data = pickle.dumps(("memory",))
        except Exception as e:  # an unpicklable result or error
            data = pickle.dumps(("error", f"{type(e).__name__}: {e}", traceback.format_exc()))
        _write_all(write_fd, _FRAME.pack(len(data)) + data)


def _read_frame(fd: int) -> bytes | None:
    head = _read_exactly(fd, _FRAME.size)
    if head is None:
        return None
    return _read_exactly(fd, _FRAME.unpack(head)[0])


def _read_exactly(fd: int, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, min(_CHUNK, n - len(buf)))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view[:_CHUNK]):]
        except BrokenPipeError:
            os._exit(0)  # the parent is gone


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this process when the parent dies (even by SIGKILL),
    so that a decoder stuck in a loop never outlives glmv. Elsewhere the closed pipe ends
    it once its call returns."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the call above
            os._exit(0)


def _limit_memory(memory_mb: int) -> None:
    """Cap the child's data (heap and private mappings) where the kernel supports it; an
    allocation past it fails, which the decoders report as out of memory."""
    try:
        import resource
    except ImportError:  # Windows
        return
    limit = memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError, AttributeError):
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
