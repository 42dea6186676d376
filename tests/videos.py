"""Real video files for the tests, written with OpenCV.

Each frame carries its own number as a row of black and white bars, so a test can tell
which frame glmv read. OpenCV writes constant frame rates only; `make_vfr` rewrites an
MP4's time-to-sample table to give its frames uneven durations (a variable frame rate).
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import cv2
import numpy as np

BITS = 14  # frame numbers up to 16383


def numbered_frame(i: int, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A BGR frame showing `i` in binary: bar b is white when bit b is set."""
    w, h = size
    frame = np.full((h, w, 3), 30, np.uint8)
    bar = w // BITS
    for b in range(BITS):
        if (i >> b) & 1:
            frame[h // 4 : 3 * h // 4, b * bar : (b + 1) * bar] = 255
    return frame


def frame_number(rgb: bytes, size: tuple[int, int]) -> int:
    """Read back the number of a frame from a PreparedImage's RGB bytes."""
    w, h = size
    a = np.frombuffer(rgb, np.uint8).reshape(h, w, 3)
    bar = w / BITS
    return sum(1 << b for b in range(BITS) if a[h // 2, int((b + 0.5) * bar)].mean() > 127)


def pair_numbers(rgb: bytes, size: tuple[int, int]) -> tuple[int, int]:
    """Read back an averaged pair of numbered frames a and b: (a & b, a | b).

    A bar is white (255) where both frames have it, half-grey (about 142) where one does,
    and background (30) where neither does."""
    w, h = size
    a = np.frombuffer(rgb, np.uint8).reshape(h, w, 3)
    bar = w / BITS
    levels = [a[h // 2, int((b + 0.5) * bar)].mean() for b in range(BITS)]
    both = sum(1 << b for b, v in enumerate(levels) if v > 200)
    either = sum(1 << b for b, v in enumerate(levels) if v > 86)
    return both, either


def write_video(path: Path, frames: int, fps: float, size: tuple[int, int] = (320, 240),
                fourcc: str = "mp4v") -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
    for i in range(frames):
        writer.write(numbered_frame(i, size))
    writer.release()
    return path


_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}


def _find(data: bytearray, kind: bytes, start: int = 0, end: int | None = None,
          parents: tuple[int, ...] = ()) -> tuple[int, tuple[int, ...]] | None:
    end = len(data) if end is None else end
    off = start
    while off < end:
        size, k = struct.unpack(">I4s", data[off : off + 8])
        if k == kind:
            return off, parents
        if k in _CONTAINERS:
            found = _find(data, kind, off + 8, off + size, (*parents, off))
            if found:
                return found
        off += size
    return None


def make_vfr(path: Path, runs: list[tuple[int, float]]) -> Path:
    """Give an OpenCV MP4's frames new durations: `runs` of (frames, seconds per frame).

    Rewrites the `stts` box and the durations in `mdhd`, `tkhd`, `mvhd` and the edit list.
    OpenCV's MP4s keep `moov` after the media data, so growing it moves no sample offsets.
    """
    data = bytearray(path.read_bytes())
    mdhd, _ = _find(data, b"mdhd")
    media_scale = struct.unpack(">I", data[mdhd + 20 : mdhd + 24])[0]
    mvhd, _ = _find(data, b"mvhd")
    movie_scale = struct.unpack(">I", data[mvhd + 20 : mvhd + 24])[0]
    deltas = [(n, round(d * media_scale)) for n, d in runs]
    total = sum(n * d for n, d in deltas)
    movie_total = round(total * movie_scale / media_scale)
    struct.pack_into(">I", data, mdhd + 24, total)
    struct.pack_into(">I", data, mvhd + 24, movie_total)
    tkhd, _ = _find(data, b"tkhd")
    struct.pack_into(">I", data, tkhd + 28, movie_total)
    found = _find(data, b"elst")
    if found:
        struct.pack_into(">I", data, found[0] + 16, movie_total)
    stts, parents = _find(data, b"stts")
    old_size = struct.unpack(">I", data[stts : stts + 4])[0]
    body = struct.pack(">I4sII", 16 + 8 * len(deltas), b"stts", 0, len(deltas))
    body += b"".join(struct.pack(">II", n, d) for n, d in deltas)
    data[stts : stts + old_size] = body
    for p in parents:
        size = struct.unpack(">I", data[p : p + 4])[0]
        struct.pack_into(">I", data, p, size + len(body) - old_size)
    path.write_bytes(bytes(data))
    return path


def write_raw_mjpeg(path: Path, frames: int, size: tuple[int, int] = (320, 240)) -> Path:
    """Concatenated JPEGs: a stream with no frame count, which OpenCV reads at 25 fps."""
    with path.open("wb") as f:
        for i in range(frames):
            f.write(cv2.imencode(".jpg", numbered_frame(i, size))[1].tobytes())
    return path


def write_wav(path: Path, seconds: float = 1.0) -> Path:
    """A silent mono WAV: audio that is not a video."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))
    return path


def write_noisy_avi(path: Path, frames: int = 150, size: tuple[int, int] = (640, 480)) -> Path:
    """An MJPEG AVI of moving noise, about 230 KB a frame (34 MB): large enough that
    FFmpeg opens it from the first half alone. (At 480x360, it does not: it waits for
    more before it will open the stream at all.)"""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for i in range(frames):
        writer.write(np.roll(noise, 7 * i, axis=1))
    writer.release()
    return path


class StallingPipe:
    """A named pipe that serves the first `give` bytes of a video and then stalls, as a
    stream from a dead network mount or a hung recorder does. FFmpeg opens it and reads
    what came; then its next read never returns.

    glmv first reads the head of the file itself (to tell what kind it is), then OpenCV
    opens it again: the head goes out twice. The pipe holds a reading end of its own
    (never read from), so that no data is lost between the two readers.
    """

    def __init__(self, path: Path, data: bytes, give: int) -> None:
        import os
        import threading

        from glmv_cli.inputs.sniff import HEAD_BYTES

        self.path = path
        os.mkfifo(path)
        self._keep = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self._done = threading.Event()
        self._data = data[:HEAD_BYTES] + data[:give]
        self._thread = threading.Thread(target=self._feed, daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        try:
            with self.path.open("wb") as f:
                f.write(self._data)
                f.flush()
                self._done.wait(300)
        except OSError:  # the readers went away
            pass

    def close(self) -> None:
        import os

        self._done.set()
        os.close(self._keep)  # a writer blocked on a full pipe now gets EPIPE and ends
        self._thread.join(5)

    def __enter__(self) -> StallingPipe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
