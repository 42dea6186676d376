"""Video preprocessing: the sampling plan (a pure function, checked exactly), time parsing,
and reading real files written by OpenCV, checked by the frame numbers drawn in them."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import cv2
import pytest

from glmv_cli.errors import InputError, UsageError
from glmv_cli.inputs.image import target_size
from glmv_cli.inputs.video import (
    MIN_FRAME_TOKENS,
    SEEK_GAP,
    VideoFile,
    VideoInfo,
    format_time,
    parse_time,
    plan_frames,
    video_duration,
)
from tests.videos import (
    make_vfr,
    numbered_frame,
    pair_numbers,
    write_raw_mjpeg,
    write_video,
    write_wav,
)


def info(seconds: float, fps: float = 30.0, size: tuple[int, int] = (1920, 1080),
         times: tuple[float, ...] | None = None) -> VideoInfo:
    count = len(times) if times else round(seconds * fps)
    return VideoInfo("clip.mp4", size[0], size[1], fps, count, seconds, "mp4v", times)


# -- time ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("0", 0), ("45", 45), ("90", 90), ("12.5", 12.5), (".5", 0.5), ("01:20", 80),
    ("1:20.25", 80.25), ("1:02:03", 3723), ("00:00:07.5", 7.5), (" 2:00 ", 120),
])
def test_parse_time(text, seconds):
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "-5", "1:60", "1:75:00", "1::2", "1:2:3:4",
                                  "5s", "1,5", "1:2.5:3"])
def test_parse_time_rejects_bad_syntax(text):
    with pytest.raises(UsageError, match="--start"):
        parse_time(text, "--start")


def test_format_time():
    assert [format_time(s) for s in (0, 7, 80.5, 3725, 59.9996, 61.25)] == [
        "0:00", "0:07", "1:20.5", "1:02:05", "1:00", "1:01.25"]


# -- the plan --------------------------------------------------------------------------


def test_short_video_one_frame_per_second_at_the_frame_on_or_after_each_second():
    plan = plan_frames(info(5.0, fps=30))
    assert [(f.index, f.time) for f in plan.frames] == [(0, 0), (30, 1), (60, 2), (90, 3),
                                                        (120, 4)]
    # Each is the first of a reference pair: 2 fps, so its second frame is 0.5 s later.
    assert [(f.pair_index, f.pair_time) for f in plan.frames] == [
        (15, 0.5), (45, 1.5), (75, 2.5), (105, 3.5), (135, 4.5)]
    assert plan.candidates == 5
    # 5 frames share 4096 tokens, but one frame gets at most 256 (the per-frame cap).
    assert plan.size == target_size(1920, 1080, 256) and plan.tokens_per_frame <= 256


def test_fractional_frame_rate_takes_the_next_frame_like_the_reference():
    # 29.97 fps: second 1 falls between frames 29 (0.968 s) and 30 (1.001 s).
    plan = plan_frames(info(3.0, fps=29.97))
    assert [f.index for f in plan.frames] == [0, 30, 60]
    assert all(f.time >= i for i, f in enumerate(plan.frames))


def test_long_video_is_spread_evenly_within_max_frames():
    plan = plan_frames(info(600.0, fps=24), max_frames=32)
    assert plan.candidates == 600 and len(plan.frames) == 32
    times = [f.time for f in plan.frames]
    assert times[0] == 0 and times[-1] == 599  # first and last candidate kept
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) - min(gaps) <= 1  # even, to the second
    # 4096 tokens over 32 frames: 128 each at most, sized as an image of that budget.
    assert plan.tokens_per_frame == target_tokens(1920, 1080, 128) <= 128
    assert plan.total_tokens <= 4096


def target_tokens(w: int, h: int, budget: int) -> int:
    tw, th = target_size(w, h, budget)
    return (tw // 28) * (th // 28)


def test_spreading_picks_first_last_and_even_positions():
    plan = plan_frames(info(10.0, fps=10), max_frames=4)
    assert [f.time for f in plan.frames] == [0, 3, 6, 9]
    plan = plan_frames(info(10.0, fps=10), max_frames=1)
    assert [f.time for f in plan.frames] == [4]  # the middle one


def test_budget_shrinks_frames_before_dropping_them():
    big = plan_frames(info(60.0), max_frames=32, max_video_tokens=8192, max_frame_tokens=256)
    small = plan_frames(info(60.0), max_frames=32, max_video_tokens=2048)
    assert len(big.frames) == len(small.frames) == 32
    assert big.tokens_per_frame > small.tokens_per_frame >= MIN_FRAME_TOKENS - 8
    assert small.total_tokens <= 2048


def test_budget_drops_frames_below_the_floor_and_spreads_the_rest():
    plan = plan_frames(info(60.0), max_frames=32, max_video_tokens=1024)
    # 1024 / 32 = 32 tokens a frame is below the floor: 1024 / 64 = 16 frames instead.
    assert len(plan.frames) == 16
    assert plan.total_tokens <= 1024 and plan.tokens_per_frame <= MIN_FRAME_TOKENS
    assert plan.frames[0].time == 0 and plan.frames[-1].time == 59


def test_tiny_budget_still_gives_one_frame():
    plan = plan_frames(info(60.0), max_video_tokens=40)
    assert len(plan.frames) == 1 and plan.total_tokens <= 40


def test_range_clips_the_sampling():
    plan = plan_frames(info(120.0, fps=25), start=80, end=90.5)
    # 10.5 s at 2 fps: 21 frames, the last repeated to make 11 pairs, as the reference does.
    assert [f.time for f in plan.frames] == [80 + i for i in range(11)]
    assert [f.index for f in plan.frames] == [2000 + 25 * i for i in range(11)]
    # 80.5 s is frame 2012.5: the next one, 2013.
    assert [f.pair_index for f in plan.frames] == [2013 + 25 * i for i in range(10)] + [2250]
    assert (plan.start, plan.end) == (80, 90.5)


def test_end_past_the_video_is_clipped_to_its_length():
    plan = plan_frames(info(5.0), end=100)
    assert plan.end == 5.0 and len(plan.frames) == 5


def test_range_shorter_than_one_interval_gives_one_frame():
    plan = plan_frames(info(10.0, fps=30), start=2.2, end=2.4)
    assert [(f.index, f.pair_index) for f in plan.frames] == [(66, 66)]


def test_sampling_faster_than_the_video_drops_duplicate_frames():
    # 10 samples a second from a 2 fps video: frames 0 to 3 once each, paired in order.
    plan = plan_frames(info(2.0, fps=2), fps=5)
    assert [(f.index, f.pair_index) for f in plan.frames] == [(0, 1), (2, 3)]


def test_a_video_slower_than_the_sampling_pairs_its_frames_like_the_reference():
    # A 1 fps slideshow: 2 fps sampling meets every frame twice, so after dropping the
    # repeats the pairs are whole seconds apart, and stamped 0, 2, 4.
    plan = plan_frames(info(6.0, fps=1))
    assert [(f.index, f.pair_index) for f in plan.frames] == [(0, 1), (2, 3), (4, 5)]
    assert [f.time for f in plan.frames] == [0, 2, 4]


def test_known_frame_times_are_used_for_variable_frame_rates():
    times = (0.0, 0.1, 0.2, 0.3, 0.6, 0.9, 1.2, 1.5, 1.8)
    plan = plan_frames(info(2.1, fps=9 / 2.1, times=times), fps=2)
    # Every 0.25 s: frames 0, 3, 4, 5, 6, 7, 7, 8; the repeat dropped, 8 repeated to pair.
    assert [(f.index, f.time, f.pair_index, f.pair_time) for f in plan.frames] == [
        (0, 0.0, 3, 0.3), (4, 0.6, 5, 0.9), (6, 1.2, 7, 1.5), (8, 1.8, 8, 1.8)]


def test_start_past_the_end_and_empty_ranges_are_usage_errors():
    with pytest.raises(UsageError, match=r"--start 1:40 is past the end of clip.mp4 \(1:00"):
        plan_frames(info(60.0), start=100)
    with pytest.raises(UsageError, match="not after --start"):
        plan_frames(info(60.0), start=30, end=20)


@pytest.mark.parametrize(("count", "fps", "expected"), [
    (300, 30.0, 10.0), (0, 30.0, None), (-1, 30.0, None), (-192153584101141, 25.0, None),
    (300, 0.0, None), (300, float("nan"), None), (300, -1.0, None),
])
def test_unknown_durations(count, fps, expected):
    assert video_duration(count, fps) == expected




# -- reading real files ----------------------------------------------------------------


@pytest.mark.parametrize(("fourcc", "ext"), [("mp4v", "mp4"), ("MJPG", "avi"), ("FFV1", "mkv")])
def test_reads_the_planned_frames(tmp_path, fourcc, ext):
    path = write_video(tmp_path / f"clip.{ext}", 150, 25, fourcc=fourcc)
    with VideoFile(str(path)) as vf:
        assert (vf.info.frame_count, vf.info.fps, vf.info.duration) == (150, 25, 6)
        assert (vf.info.width, vf.info.height) == (320, 240)
        plan = plan_frames(vf.info, fps=1, start=1)
        frames = list(vf.read(plan))
    assert [f.index for f in frames] == [25, 50, 75, 100, 125]
    assert [f.pair_index for f in frames] == [38, 63, 88, 113, 138]  # 0.5 s on: 12.5 -> 13
    # Each image is the average of its pair: bars in both frames white, in one grey.
    assert [pair_numbers(f.image.rgb, plan.size) for f in frames] == [
        (a & b, a | b) for a, b in [(25, 38), (50, 63), (75, 88), (100, 113), (125, 138)]]
    assert [round(f.time, 3) for f in frames] == [1, 2, 3, 4, 5]
    assert [round(f.pair_time, 3) for f in frames] == [1.52, 2.52, 3.52, 4.52, 5.52]
    assert [f.timestamp for f in frames] == [1, 2, 3, 4, 5]
    assert frames[1].image.source == f"{path}@2.0s"
    assert (frames[0].image.width, frames[0].image.height) == plan.size
    assert frames[0].image.original_size == (320, 240)


class _CountingCapture:
    """A real cv2.VideoCapture that counts the frames it decodes."""

    def __init__(self, cap):
        self.cap, self.decoded = cap, 0

    def grab(self):
        self.decoded += 1
        return self.cap.grab()

    def read(self):
        self.decoded += 1
        return self.cap.read()

    def __getattr__(self, name):
        return getattr(self.cap, name)


def test_sampling_seeks_instead_of_decoding_every_frame(tmp_path):
    path = write_video(tmp_path / "long.mp4", 1500, 25)  # 60 s
    with VideoFile(str(path)) as vf:
        counting = vf._cap = _CountingCapture(vf._cap)
        plan = plan_frames(vf.info, max_frames=4)
        frames = list(vf.read(plan))
    # 60 one-second pairs, 4 kept: seconds 0, 20, 39 and 59, each with the frame 0.5 s on.
    assert [pair_numbers(f.image.rgb, plan.size) for f in frames] == [
        (a & b, a | b) for a in (0, 500, 975, 1475) for b in [a + 13]]
    # Per pair, one read for the first frame and 13 to decode forward to the second: the
    # seeks between pairs decoded the rest natively.
    assert counting.decoded == 4 * (1 + 13)
    assert 13 <= SEEK_GAP < 475  # each gap between pairs is a real seek


def test_variable_frame_rate_goes_by_real_timestamps(tmp_path):
    # 30 frames of 0.1 s, then 30 of 0.3 s: 12 s in all, an average of 5 fps.
    path = make_vfr(write_video(tmp_path / "vfr.mp4", 60, 10), [(30, 0.1), (30, 0.3)])
    real = [i * 0.1 if i < 30 else 3 + (i - 30) * 0.3 for i in range(60)]
    with VideoFile(str(path)) as vf:
        assert vf.info.frame_count == 60 and vf.info.duration == pytest.approx(12)
        plan = plan_frames(vf.info, fps=1)
        frames = list(vf.read(plan))
    # Every half second, the container's average rate (5 fps) names a frame and its time,
    # ceil(s * 5) / 5; the seek lands wrong, so glmv decodes in order and takes the first
    # frame shown at or after that time, by the frames' real times.
    nominal = [math.ceil(k / 2 * 5) / 5 for k in range(24)]
    shown = [next(i for i, t in enumerate(real) if t >= s - 1e-3) for s in nominal]
    assert len(set(shown)) == len(shown) and len(shown) % 2 == 0  # no repeats to drop here
    pairs = list(zip(shown[::2], shown[1::2], strict=True))
    assert [(f.index, f.pair_index) for f in frames] == pairs
    assert [pair_numbers(f.image.rgb, plan.size) for f in frames] == [
        (a & b, a | b) for a, b in pairs]
    assert [f.time for f in frames] == pytest.approx([real[a] for a, _ in pairs], abs=1e-3)
    assert [f.timestamp for f in frames] == [int(real[a] + 1e-9) for a, _ in pairs]


def test_stream_without_frame_count_is_counted_by_decoding(tmp_path):
    path = write_raw_mjpeg(tmp_path / "cam.mjpeg", 20)
    counted = []
    with VideoFile(str(path), on_count=counted.append) as vf:
        assert vf.info.frame_count == 20 and vf.info.frame_times is not None
        assert vf.info.duration == pytest.approx(0.8)  # OpenCV reads raw MJPEG at 25 fps
        plan = plan_frames(vf.info, fps=5)
        frames = list(vf.read(plan))
    # 10 samples a second at 25 fps: frames 0, 3, 5, 8, ... paired.
    assert [(f.index, f.pair_index) for f in frames] == [(0, 3), (5, 8), (10, 13), (15, 18)]
    assert [pair_numbers(f.image.rgb, plan.size) for f in frames] == [
        (a & b, a | b) for a, b in [(0, 3), (5, 8), (10, 13), (15, 18)]]


def test_truncated_avi_gives_the_frames_it_has(tmp_path):
    path = write_video(tmp_path / "cut.avi", 100, 10, fourcc="MJPG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with VideoFile(str(path)) as vf:
        assert vf.info.frame_count == 100  # the header still says so
        plan = plan_frames(vf.info, fps=1)
        frames = list(vf.read(plan))
    assert 0 < len(frames) < len(plan.frames)
    assert [f.index for f in frames] == [f.index for f in plan.frames[: len(frames)]]
    # A pair cut short by the end of the data repeats its first frame.
    assert [f.pair_index for f in frames[:-1]] == [
        f.pair_index for f in plan.frames[: len(frames) - 1]]
    assert frames[-1].pair_index in (frames[-1].index, plan.frames[len(frames) - 1].pair_index)
    assert [pair_numbers(f.image.rgb, plan.size) for f in frames] == [
        (f.index & f.pair_index, f.index | f.pair_index) for f in frames]


@pytest.mark.parametrize(("make", "error", "needle"), [
    (lambda p: p, InputError, "no such file"),
    (lambda p: (p.mkdir(), p)[1], InputError, "is a directory"),
    (lambda p: (p.write_bytes(b""), p)[1], InputError, "file is empty"),
    (lambda p: (p.write_text("not a video at all " * 20), p)[1], InputError,
     "not a video format"),
    (lambda p: _truncated_mp4(p), InputError, "cannot decode video"),
    (lambda p: write_wav(p), InputError, "no video stream"),
    (lambda p: (cv2.imwrite(str(p.with_suffix(".png")), numbered_frame(1)),
                p.with_suffix(".png").rename(p), p)[2], InputError, "is an image"),
    (lambda p: _zero_frames(p), InputError, "no frames"),
])
def test_bad_files(tmp_path, make, error, needle):
    path = make(tmp_path / "input.mp4")
    with pytest.raises(error, match=needle) as e:
        VideoFile(str(path))
    assert str(path) in e.value.message


def test_stdin_is_a_usage_error():
    with pytest.raises(UsageError, match="stdin"):
        VideoFile("-")


def _truncated_mp4(path: Path) -> Path:
    full = write_video(path.with_suffix(".full.mp4"), 50, 10)
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return path


def _zero_frames(path: Path) -> Path:
    avi = path.with_suffix(".avi")
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    writer.release()
    avi.rename(path)
    return path


def test_planning_is_bounded_by_the_frames_not_the_sampling_times():
    """A container that claims a huge duration for few frames (a damaged header): the plan
    must not step through billions of sampling times (the fuzzer found one that took 70 s)."""
    import time

    info = VideoInfo("x.avi", 64, 48, fps=1e-4, frame_count=8, duration=80_000.0)
    t0 = time.monotonic()
    plan = plan_frames(info, fps=1000)  # 160 million sampling times
    assert time.monotonic() - t0 < 1
    assert [f.index for f in plan.frames] == [0, 2, 4, 6]
