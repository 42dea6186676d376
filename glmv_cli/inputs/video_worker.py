"""A video read in a decoder process, so that no file can stall glmv or take Ctrl-C away.

FFmpeg (inside OpenCV) can block for good on some inputs: a named pipe with no writer, a
stream that never yields a frame, a damaged index it keeps searching. `VideoReader` opens
the video in a worker process (inputs/worker.py) and has it read the planned frames, each
of which must arrive within the decode time limit (GLMV_DECODE_TIMEOUT, 60 s by default):
a video whose frames cannot be read in time is refused with an input error, never waited
on. It offers what `VideoFile` does for the commands: `info`, `read(plan)`, `close()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from glmv_cli.errors import InputError
from glmv_cli.inputs.video import SampledFrame, VideoFile, VideoInfo, VideoPlan, format_time
from glmv_cli.inputs.worker import LimitExceeded, Worker, decode_timeout, report_progress


class VideoReader:
    """An open video in a worker process; use as a context manager (it stops the worker)."""

    def __init__(self, path: str, verbose: bool = False,
                 on_count: Callable[[int], None] | None = None,
                 timeout: float | None = None, worker: Worker | None = None) -> None:
        self.path = path
        self.timeout = timeout or decode_timeout()
        # A worker of the caller's (videos read one after another share it) is left
        # running on close; one of our own is stopped.
        self._own_worker = worker is None
        self._worker = worker or Worker("video reader", preload=(__name__, "cv2"))
        self._verbose = verbose
        try:
            self.info = self._open(on_count)
        except LimitExceeded as e:
            self.close()
            raise InputError(f"{path}: cannot read the video: opening it {e.reason}"
                             ) from None
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_worker:
            self._worker.close()

    def _open(self, on_count: Callable[[int], None] | None = None) -> VideoInfo:
        # A stream with no frame count is counted by decoding it, with progress every
        # 100 frames: the limit then applies to each hundred.
        info: VideoInfo = self._worker.call(_open, self.path, self._verbose,
                                            timeout=self.timeout, on_progress=on_count)
        self._worker.owner = self
        return info

    def read(self, plan: VideoPlan,
             on_frame: Callable[[int, int], None] | None = None) -> Iterator[SampledFrame]:
        """The planned frames, as `VideoFile.read` gives them; InputError when one of them
        does not arrive within the time limit."""
        frames: list[SampledFrame] = []

        def arrived(frame: Any) -> None:
            frames.append(frame)
            if on_frame:
                on_frame(len(frames), len(plan.frames))

        try:
            if not (self._worker.running and self._worker.owner is self):
                self._open()  # the worker was shared, or replaced: open the video again
            self._worker.call(_read, plan, timeout=self.timeout, on_progress=arrived)
        except LimitExceeded as e:
            after = f" after {format_time(frames[-1].time)}" if frames else ""
            what = (f"no frame{after} could be read within {self.timeout:g} s "
                    "(GLMV_DECODE_TIMEOUT)" if e.kind == "time"
                    else f"reading the frame{after} {e.reason}")
            raise InputError(f"{self.path}: cannot read the video: {what}") from None
        return iter(frames)


# -- inside the worker ---------------------------------------------------------------------

_video: VideoFile | None = None


def _open(path: str, verbose: bool) -> VideoInfo:
    global _video
    if _video is not None:
        _video.close()
        _video = None
    _video = VideoFile(path, verbose, on_count=report_progress)
    return _video.info


def _read(plan: VideoPlan) -> int:
    assert _video is not None
    n = 0
    for frame in _video.read(plan):
        report_progress(frame)
        n += 1
    return n
