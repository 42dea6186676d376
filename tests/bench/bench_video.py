#!/usr/bin/env python3
"""Benchmark frame sampling: 32 frame pairs from a 10-minute 1080p video, seek vs decode-all.

    python tests/bench/bench_video.py [--runs 3] [--frames 32] [--cache /tmp/glmv-bench]

The video is written once into the cache directory with OpenCV (MPEG-4 part 2, 24 fps,
14400 frames of 1920x1080): a flat grey background, a moving red block and the frame
number as bars. Such frames are cheap to encode (about 80 s on 2 cores) and to decode, so
decode-all is as fast here as it will ever be: real footage makes the gap wider.

Both ways produce the same frame pairs, resized and averaged for the model as `glmv video`
does:
- seek: glmv's reader (`VideoFile.read`), which seeks to each pair's first frame and
  decodes forward to its second;
- decode-all: grab() every frame in order and convert only the planned ones.
Runs alternate between the two; the figures are medians, taken side by side.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from glmv_cli.inputs.video import (
    PlannedFrame,
    VideoFile,
    _prepare,
    plan_frames,
)

W, H, FPS, SECONDS = 1920, 1080, 24, 600


def make_video(path: Path) -> None:
    """Low-complexity 1080p frames: quick to write, small on disk."""
    tmp = path.with_suffix(".part.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    base = np.full((H, W, 3), 60, np.uint8)
    t0 = time.perf_counter()
    for i in range(FPS * SECONDS):
        frame = base.copy()
        x = (i * 6) % (W - 240)
        frame[420:660, x : x + 240] = (40, 40, 220)
        for b in range(14):  # the frame number, as in tests/videos.py
            if (i >> b) & 1:
                frame[100:200, 100 + b * 120 : 200 + b * 120] = 255
        writer.write(frame)
    writer.release()
    tmp.replace(path)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)


def seek_based(path: Path, frames: int) -> list[int]:
    with VideoFile(str(path)) as vf:
        plan = plan_frames(vf.info, max_frames=frames)
        return [f.index for f in vf.read(plan)]


def decode_all(path: Path, frames: int) -> list[int]:
    with VideoFile(str(path)) as vf:
        plan = plan_frames(vf.info, max_frames=frames)
        wanted = {i for f in plan.frames for i in (f.index, f.pair_index)}
        decoded = {}
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        i = 0
        while cap.grab():
            if i in wanted:
                _, frame = cap.retrieve()
                decoded[i] = frame, cap.get(cv2.CAP_PROP_POS_MSEC) / 1000
            i += 1
        cap.release()
        got = []
        for f in plan.frames:  # each pair: both frames, averaged, as `glmv video` does
            (a, ta), (b, tb) = decoded[f.index], decoded[f.pair_index]
            pair = PlannedFrame(f.index, ta, f.pair_index, tb)
            got.append(_prepare(str(path), a, b, pair, plan, vf.info).index)
        return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/glmv-bench"))
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    video = args.cache / f"video-{SECONDS // 60}min-{H}p-{FPS}fps.mp4"
    if not video.exists():
        make_video(video)

    times: dict[str, list[float]] = {"seek": [], "decode-all": []}
    results: dict[str, list[int]] = {}
    for _ in range(args.runs):
        for name, fn in (("seek", seek_based), ("decode-all", decode_all)):
            t0 = time.perf_counter()
            results[name] = fn(video, args.frames)
            times[name].append(time.perf_counter() - t0)
    assert results["seek"] == results["decode-all"], results
    seek, full = statistics.median(times["seek"]), statistics.median(times["decode-all"])
    print(f"{video.name}: {len(results['seek'])} frames, median of {args.runs} runs")
    print(f"  seek        {seek:7.2f} s")
    print(f"  decode-all  {full:7.2f} s")
    print(f"  ratio       {full / seek:7.1f}x faster with seeking")


if __name__ == "__main__":
    main()
