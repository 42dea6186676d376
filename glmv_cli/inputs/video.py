"""Video preprocessing: a video file to timestamped frames, laid out as the reference does.

The reference (transformers' `Glm4vVideoProcessor` and `Glm4vProcessor`) samples frames at
2 fps and feeds them to the vision tower in temporal pairs (temporal patch size 2): each
pair becomes one set of image tokens, followed by the integer timestamp, in seconds, of
the pair's first frame. This module samples and reads the frames; the engine lays them
out in that format (engine/prompt.py).

The two frames of a pair are 0.5 s apart, and the vision tower's 3-D patch embedding sees
both. llama.cpp's GLM4V path has no video input: it encodes each image on its own,
duplicating it into both temporal slots, as the reference does for a still image. So glmv
samples exactly the reference's frames (2 fps by default: `--fps` counts pairs per
second, and a pair spans half the sampling interval), and hands llama.cpp each pair as
the average of its two frames. The patch embedding is linear in its two frames, so the
average errs by (W1 - W2)(b - a) / 2, half the size of the first frame's W2 (b - a) when
the two temporal kernels are unrelated, and less the more alike they are (see the README
for the figures measured against the reference). Each pair is followed by int(the time of
its first frame in seconds), so the layout and the tokens per second of video are the
reference's. Frames are picked like the reference's sampler (the frame at or just after
each sampling time, duplicates dropped, an odd count completed by repeating the last);
timestamps count from the start of the file, also with --start, so that an answer's times
can be looked up in a player.

The reference caps the whole video (about 30000 tokens and 300 s of frames); a CPU cannot
afford that, so glmv caps the frame count and the total tokens (see `plan_frames`): frames
shrink before frames are dropped, down to a floor, then the frames kept are spread evenly.

Frames are read by seeking where the container allows it: a 10-minute 1080p video is not
decoded end to end to take 32 frames. A seek that lands on the wrong time (variable frame
rate, raw streams, damaged indexes) switches the reader to decoding in order, which is
slower but goes by each frame's real timestamp.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmv_cli.errors import InputError, UsageError
from glmv_cli.inputs.image import MIN_BUDGET, TEMPORAL_PATCH, PreparedImage, target_size
from glmv_cli.inputs.sniff import HEAD_BYTES, sniff

if TYPE_CHECKING:
    import cv2

DEFAULT_FPS = 1.0  # pairs per second: the reference's 2 fps, one timestamp per second
DEFAULT_MAX_FRAMES = 32
# 32 frames of 128 tokens (about 448x252 pixels for 16:9). On a 2-core CPU that is roughly
# 3 minutes of encoding and 8 of prefill (GLM41V.md's figures); the reference's 30000 would
# take over an hour there. Raise it on a GPU.
DEFAULT_MAX_VIDEO_TOKENS = 4096
# A frame alone gets at most this many tokens: encoding cost grows faster than linearly,
# and a short clip should not spend the whole budget on a few huge frames.
DEFAULT_MAX_FRAME_TOKENS = 256
# Below this a frame is too blurred to be worth its place (about 308x168 pixels for 16:9);
# the budget then drops frames instead of shrinking them further.
MIN_FRAME_TOKENS = 64

# Longer than any real recording: a container claiming more is damaged (its frames are then
# counted by decoding them).
MAX_DURATION_S = 7 * 24 * 3600

# A forward gap up to this many frames is decoded through rather than sought: a seek lands
# on a keyframe and decodes forward anyway.
SEEK_GAP = 24


# -- time ------------------------------------------------------------------------------

_TIME = re.compile(r"^(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?|\.\d+)$")


def parse_time(text: str, option: str = "time") -> float:
    """Seconds from `SS`, `SS.s`, `MM:SS` or `HH:MM:SS` (a fraction only on the seconds)."""
    m = _TIME.match(text.strip())
    if not m:
        raise UsageError(f"{option} '{text}' is not a time: use SS, SS.s, MM:SS or HH:MM:SS")
    hours, minutes, seconds = m.group(1), m.group(2), float(m.group(3))
    if minutes is not None and (seconds >= 60 or (hours is not None and int(minutes) >= 60)):
        raise UsageError(f"{option} '{text}': minutes and seconds go up to 59")
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + seconds


def format_time(seconds: float) -> str:
    """80.5 -> '1:20.5', 3725 -> '1:02:05'."""
    whole, ms = divmod(round(seconds * 1000), 1000)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    text = f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
    return text + (f".{ms:03d}".rstrip("0") if ms else "")


# -- probing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the video stream.

    `frame_times` is known only when the file had no usable frame count and glmv counted
    the frames by decoding them; it then holds each frame's real time.
    """

    source: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration: float
    codec: str | None = None
    frame_times: tuple[float, ...] | None = None


def _cv2(verbose: bool = False) -> Any:
    """Import OpenCV with FFmpeg's and OpenCV's own log lines off (unless verbose): a
    damaged file must give one line of ours, not a screenful of theirs."""
    if not verbose:
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    import cv2

    if not verbose:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    return cv2


def _check_file(path: str) -> str:
    """Fail early, with the file's own name, on what OpenCV would only call 'not opened'."""
    if path == "-":
        raise UsageError("a video cannot come from stdin (-): OpenCV needs a file it can seek in")
    p = Path(path).expanduser()
    try:
        # Unbuffered, and no more than the head: from a pipe, what is read here is gone.
        with p.open("rb", buffering=0) as f:
            head = b""
            while len(head) < HEAD_BYTES and (chunk := f.read(HEAD_BYTES - len(head))):
                head += chunk
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    if not head:
        raise InputError(f"{path}: file is empty")
    kind = sniff(head)
    if kind == "audio":
        raise InputError(f"{path}: no video stream (an audio file?)")
    return kind


def video_duration(frame_count: int, fps: float) -> float | None:
    """Seconds of video from the container's figures, or None when they are unusable
    (OpenCV reports 0, negative or absurd counts for streams without an index, and a
    damaged header can claim years)."""
    if not (math.isfinite(fps) and 0 < fps <= 1000):
        return None
    if not (0 < frame_count < 10**9):
        return None
    duration = frame_count / fps
    return duration if duration <= MAX_DURATION_S else None


class VideoFile:
    """An open video: its `info`, and frames read on demand. Use as a context manager."""

    def __init__(self, path: str, verbose: bool = False,
                 on_count: Callable[[int], None] | None = None) -> None:
        kind = _check_file(path)
        self.path = path
        self._cv = _cv2(verbose)
        self._cap = self._open()
        if not self._cap.isOpened():
            if kind == "video":
                raise InputError(f"{path}: cannot decode video (corrupt, truncated, or a codec "
                                 "OpenCV's FFmpeg lacks)")
            raise InputError(f"{path}: not a video format glmv can read")
        self.info = self._probe(on_count)
        if kind == "image" and self.info.frame_count <= 1:
            # (A raw MJPEG stream starts like a JPEG too, but has many frames.)
            self.close()
            raise InputError(f"{path}: is an image, not a video (ask about it with `glmv ask`)")

    def __enter__(self) -> VideoFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._cap.release()

    def _open(self) -> cv2.VideoCapture:
        return self._cv.VideoCapture(str(Path(self.path).expanduser()), self._cv.CAP_FFMPEG)

    def _probe(self, on_count: Callable[[int], None] | None) -> VideoInfo:
        cv = self._cv
        cap = self._cap
        width = int(cap.get(cv.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv.CAP_PROP_FRAME_HEIGHT))
        if width <= 0 or height <= 0:
            raise InputError(f"{self.path}: no video stream")
        fps = float(cap.get(cv.CAP_PROP_FPS))
        count = int(cap.get(cv.CAP_PROP_FRAME_COUNT))
        fourcc = int(cap.get(cv.CAP_PROP_FOURCC))
        codec = "".join(chr((fourcc >> 8 * i) & 0xFF) for i in range(4)).strip() or None
        codec = codec if codec and codec.isprintable() else None
        duration = video_duration(count, fps)
        times = None
        if duration is None:
            # No usable frame count (raw streams, some live recordings): count by decoding,
            # slow but exact, and keep each frame's real time.
            times = self._count_frames(on_count)
            if not times:
                raise InputError(f"{self.path}: the video has no frames")
            count = len(times)
            if len(times) > 1 and times[-1] > 0:
                step = times[-1] / (len(times) - 1)
                fps = fps if 0 < fps <= 1000 else 1 / step
            elif not 0 < fps <= 1000:
                raise InputError(f"{self.path}: unknown duration (no frame rate, no timestamps)")
            duration = times[-1] + 1 / fps
            if not 0 < duration <= MAX_DURATION_S:  # (damaged timestamps: negative, years)
                raise InputError(f"{self.path}: unknown duration (its frames' timestamps "
                                 "are damaged)")
        return VideoInfo(self.path, width, height, fps, count, duration, codec, times)

    def _count_frames(self, on_count: Callable[[int], None] | None) -> tuple[float, ...]:
        cv = self._cv
        times: list[float] = []
        while self._cap.grab():
            times.append(self._cap.get(cv.CAP_PROP_POS_MSEC) / 1000)
            if on_count and len(times) % 100 == 0:
                on_count(len(times))
        self._cap.release()
        self._cap = self._open()
        return tuple(times)

    def read(self, plan: VideoPlan,
             on_frame: Callable[[int, int], None] | None = None) -> Iterator[SampledFrame]:
        """The planned frames, in order, resized for the model. Frames the file cannot give
        (a truncated end) are skipped; the caller sees fewer frames than planned."""
        reader = _FrameReader(self, plan)
        for i, (first, second, got) in enumerate(reader.pairs()):
            if on_frame:
                on_frame(i, len(plan.frames))
            yield _prepare(self.path, first, second, got, plan, self.info)

    def frames_sequentially(self) -> Iterator[tuple[int, float]]:
        """Every frame's (index, time) by decoding in order; for benchmarks and checks."""
        cv = self._cv
        self._cap.release()
        self._cap = self._open()
        i = 0
        while self._cap.grab():
            yield i, self._cap.get(cv.CAP_PROP_POS_MSEC) / 1000
            i += 1


# -- the sampling plan -----------------------------------------------------------------


@dataclass(frozen=True)
class PlannedFrame:
    """One temporal pair: its first frame, which gives the timestamp, and its second."""

    index: int  # frame number in the file
    time: float  # seconds from the start of the file
    pair_index: int  # the pair's second frame (the first again when there is none)
    pair_time: float


@dataclass(frozen=True)
class VideoPlan:
    """Which frames to take and how large, before anything is decoded."""

    frames: tuple[PlannedFrame, ...]
    size: tuple[int, int]  # model pixels per frame
    start: float
    end: float
    candidates: int  # frames the sampling rate gave before the caps

    @property
    def tokens_per_frame(self) -> int:
        return (self.size[0] // 28) * (self.size[1] // 28)

    @property
    def total_tokens(self) -> int:
        return self.tokens_per_frame * len(self.frames)


def plan_frames(info: VideoInfo, fps: float = DEFAULT_FPS,
                max_frames: int = DEFAULT_MAX_FRAMES,
                max_video_tokens: int = DEFAULT_MAX_VIDEO_TOKENS,
                max_frame_tokens: int = DEFAULT_MAX_FRAME_TOKENS,
                start: float | None = None, end: float | None = None) -> VideoPlan:
    """Pick frame pairs: one every 1/fps seconds of [start, end), then within the caps.

    As the reference's sampler does at 2*fps: each sampling time, every 1/(2*fps) seconds,
    takes the first frame at or after it (`ceil(t * video_fps)`), duplicates dropped, the
    last repeated to make the count even, and consecutive frames form pairs. Then the token
    budget: each pair gets `max_video_tokens / pairs` (at most `max_frame_tokens`); when
    that would fall below MIN_FRAME_TOKENS, fewer pairs are kept instead, spread evenly,
    first and last included. A pure function of its arguments, so the plan can be shown
    before decoding.
    """
    if fps <= 0:
        raise UsageError("--fps must be above 0")
    duration = info.duration
    t0 = 0.0 if start is None else start
    t1 = duration if end is None else min(end, duration)
    if start is None and not duration > 0:  # (not the user's doing: the file's)
        raise InputError(f"{info.source}: unknown duration")
    if t0 >= duration:
        raise UsageError(f"--start {format_time(t0)} is past the end of {info.source} "
                         f"({format_time(duration)} long)")
    if t1 <= t0:
        raise UsageError(f"--end {format_time(t1)} is not after --start {format_time(t0)}")

    rate = TEMPORAL_PATCH * fps  # frames sampled per second, two to a pair
    n = max(1, math.floor((t1 - t0) * rate + 1e-9))
    indices: list[int] = []
    last = info.frame_count - 1
    i = 0
    while i < n:
        index = _frame_at(info, t0 + i / rate)
        if index not in indices[-1:]:  # (indices only grow: a repeat is the last one)
            indices.append(index)
        if index >= last:
            break  # every later time lands on the last frame too
        # Skip the sampling times that land on this same frame (many, when the rate is
        # above the video's, or the container's figures are absurd): the loop is bounded
        # by the frames, not by the sampling times. A time lands on the first frame at or
        # after it, so the times up to this frame's own land here; frames only grow with
        # time, so when the last time before `skip` lands here, all before it do.
        skip = math.floor((_time_of(info, index) - t0) * rate + 1e-9) + 1
        i = skip if skip > i + 1 and _frame_at(info, t0 + (skip - 1) / rate) == index \
            else i + 1
    if len(indices) % TEMPORAL_PATCH:
        indices.append(indices[-1])
    candidates = [
        PlannedFrame(a, _time_of(info, a), b, _time_of(info, b))
        for a, b in zip(indices[::2], indices[1::2], strict=True)
    ]

    keep = min(len(candidates), max_frames)
    per_frame = min(max_frame_tokens, max_video_tokens // keep)
    if per_frame < MIN_FRAME_TOKENS:
        keep = max(1, max_video_tokens // MIN_FRAME_TOKENS)
        per_frame = min(max_frame_tokens, max(MIN_BUDGET, max_video_tokens // keep))
    frames = tuple(candidates[j] for j in _spread(len(candidates), keep))
    size = target_size(info.width, info.height, per_frame)
    return VideoPlan(frames, size, t0, t1, len(candidates))


def _frame_at(info: VideoInfo, t: float) -> int:
    """The first frame shown at or after time t."""
    last = info.frame_count - 1
    if info.frame_times is not None:
        return min(last, bisect.bisect_left(info.frame_times, t - 1e-6))
    return min(last, math.ceil(t * info.fps - 1e-6))


def _time_of(info: VideoInfo, index: int) -> float:
    if info.frame_times is not None:
        return info.frame_times[index]
    return index / info.fps


def _spread(n: int, k: int) -> list[int]:
    """k of range(n), evenly spaced, first and last included (the middle one when k is 1)."""
    if k >= n:
        return list(range(n))
    if k == 1:
        return [(n - 1) // 2]
    return [math.floor(j * (n - 1) / (k - 1) + 0.5) for j in range(k)]  # halves up


# -- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SampledFrame:
    """A pair as the model gets it: the image (the average of the pair's two frames), the
    first frame's number and real time, which give the timestamp, and the second's."""

    index: int
    time: float
    image: PreparedImage
    pair_index: int
    pair_time: float

    @property
    def timestamp(self) -> int:
        """Whole seconds, as the reference writes them after each pair."""
        return int(self.time)


# A decoded BGR frame with its number and real time.
_Decoded = tuple[Any, int, float]


class _FrameReader:
    """Seek to each planned frame; after one seek that lands wrong, decode in order."""

    def __init__(self, video: VideoFile, plan: VideoPlan) -> None:
        self.video, self.plan = video, plan
        self.cv = video._cv
        info = video.info
        # A landed frame more than a frame interval from where it should be: a seek that
        # cannot be trusted (variable frame rate, raw stream, broken index).
        self.tolerance = 1.0 / info.fps + 0.002
        self.seeking = info.frame_times is None
        self.pos = 0  # the frame number the next grab() returns
        self.last_index = -1  # the first frame of the last pair given

    def pairs(self) -> Iterator[tuple[Any, Any, PlannedFrame]]:
        """(first frame, second frame, where they were) for each planned pair, in order.

        A pair whose second frame cannot be read (a truncated end) repeats its first."""
        for target in self.plan.frames:
            first = self._read(target.index, target.time)
            if first is None:
                return  # end of the readable video
            if first[1] <= self.last_index:
                continue  # decoding in order landed on a pair already given
            self.last_index = first[1]
            second = None
            if target.pair_index != target.index:
                second = self._read(target.pair_index, target.pair_time)
            second = second or first
            yield first[0], second[0], PlannedFrame(first[1], first[2], second[1], second[2])

    def _read(self, index: int, time: float) -> _Decoded | None:
        if self.seeking:
            got = self._seek_read(index, time)
            if got is not None:
                return got
            self.seeking = False  # the seek lied: start over, in order, by time
            self._restart()
        return self._scan_to(time)

    def _seek_read(self, index: int, time: float) -> _Decoded | None:
        cap = self.video._cap
        gap = index - self.pos
        if 0 <= gap <= SEEK_GAP:
            for _ in range(gap):
                if not cap.grab():
                    return None
        elif not cap.set(self.cv.CAP_PROP_POS_FRAMES, index):
            return None
        ok, frame = cap.read()
        if not ok or frame is None:
            return None
        t = cap.get(self.cv.CAP_PROP_POS_MSEC) / 1000
        if abs(t - time) > self.tolerance:
            return None
        self.pos = index + 1
        return frame, index, t

    def _restart(self) -> None:
        self.video._cap.release()
        self.video._cap = self.video._open()
        self.pos = 0

    def _scan_to(self, time: float) -> _Decoded | None:
        cap = self.video._cap
        last = self.video.info.frame_count - 1
        # By time, not number: in order, each frame's own timestamp is right.
        while True:
            if not cap.grab():
                return None
            index = self.pos
            self.pos += 1
            t = cap.get(self.cv.CAP_PROP_POS_MSEC) / 1000
            if t >= time - 1e-3 or index >= last:
                ok, frame = cap.retrieve()
                return (frame, index, t) if ok else None


def _resized(frame: Any, size: tuple[int, int]) -> Any:
    """BGR array -> RGB array at `size` (bicubic, as prepare_image)."""
    import numpy as np  # (here: `glmv --help` must not pay for importing either)
    from PIL import Image

    rgb = Image.fromarray(np.ascontiguousarray(frame[:, :, ::-1]))
    if rgb.size != size:
        rgb = rgb.resize(size, Image.Resampling.BICUBIC)
    return np.asarray(rgb)


def _prepare(path: str, first: Any, second: Any, got: PlannedFrame, plan: VideoPlan,
             info: VideoInfo) -> SampledFrame:
    """A pair's two BGR frames -> one RGB PreparedImage at the plan's size: each frame
    resized as the reference does, then their average, rounded half up."""
    import numpy as np

    a = _resized(first, plan.size)
    if second is not first:
        b = _resized(second, plan.size)
        a = ((a.astype(np.uint16) + b + 1) >> 1).astype(np.uint8)
    tw, th = plan.size
    image = PreparedImage(
        source=f"{path}@{got.time:.1f}s", rgb=a.tobytes(), width=tw, height=th,
        original_size=(info.width, info.height), format=None,
    )
    return SampledFrame(got.index, got.time, image, got.pair_index, got.pair_time)


# -- the result ------------------------------------------------------------------------


@dataclass(frozen=True)
class Video:
    """A video as media: its sampled frames in order, each with its time in the file."""

    source: str
    frames: tuple[SampledFrame, ...]
