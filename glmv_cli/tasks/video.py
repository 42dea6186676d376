"""The video task: from a file and sampling options to the frames the model sees, and the
plan and frame lists that reports show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from glmv_cli.engine.cost import CpuEstimate, estimate_cpu
from glmv_cli.errors import InputError
from glmv_cli.inputs.video import (
    DEFAULT_FPS,
    DEFAULT_MAX_FRAME_TOKENS,
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_VIDEO_TOKENS,
    SampledFrame,
    Video,
    VideoFile,
    VideoInfo,
    VideoPlan,
    plan_frames,
)
from glmv_cli.inputs.video_worker import VideoReader

DEFAULT_QUESTION = "Describe what happens in this video."
# Text tokens per frame around its image: the timestamp after it, give or take.
TEXT_TOKENS_PER_FRAME = 3


@dataclass(frozen=True)
class VideoOptions:
    """How to sample a video; the defaults are `glmv video`'s."""

    fps: float = DEFAULT_FPS
    max_frames: int = DEFAULT_MAX_FRAMES
    max_video_tokens: int = DEFAULT_MAX_VIDEO_TOKENS
    max_frame_tokens: int = DEFAULT_MAX_FRAME_TOKENS
    start: float | None = None
    end: float | None = None

    def plan(self, info: VideoInfo) -> VideoPlan:
        return plan_frames(info, self.fps, self.max_frames, self.max_video_tokens,
                           self.max_frame_tokens, self.start, self.end)


def read_video(vf: VideoFile | VideoReader, plan: VideoPlan,
               on_frame: Callable[[int, int], None] | None = None) -> tuple[Video, str | None]:
    """The planned frames as media, and a warning when the file gave fewer than planned."""
    frames = tuple(vf.read(plan, on_frame))
    if not frames:
        raise InputError(f"{vf.path}: no frame could be decoded (corrupt or truncated video)")
    warning = None
    if len(frames) < len(plan.frames):
        warning = (f"read {len(frames)} of {len(plan.frames)} frames from {vf.path} (the file "
                   "may be truncated)")
    return Video(vf.path, frames), warning


def estimate(plan: VideoPlan, cores: int) -> CpuEstimate:
    """Rough CPU time before the answer starts, for the real model."""
    return estimate_cpu([plan.tokens_per_frame] * len(plan.frames),
                        TEXT_TOKENS_PER_FRAME * len(plan.frames), cores)


def frame_list(frames: tuple[SampledFrame, ...]) -> list[dict[str, Any]]:
    """`--json`'s `frames`: each frame used, in prompt order."""
    return [{"index": f.index, "time": round(f.time, 3), "timestamp": f.timestamp,
             "tokens": f.image.tokens, "size": [f.image.width, f.image.height]}
            for f in frames]


def video_object(video: Video, plan: VideoPlan) -> dict[str, Any]:
    """`--json`'s `video`: the range read and what came of it."""
    return {"source": video.source, "start": round(plan.start, 3), "end": round(plan.end, 3),
            "candidates": plan.candidates, "frames": len(video.frames),
            "image_tokens": sum(f.image.tokens for f in video.frames)}


def plan_object(info: VideoInfo, plan: VideoPlan, options: VideoOptions,
                cores: int) -> dict[str, Any]:
    """`--dry-run --json`: the video, the plan, its frames and the CPU estimate."""
    est = estimate(plan, cores)
    return {
        "video": {"source": info.source, "duration": round(info.duration, 3),
                  "fps": round(info.fps, 3), "frame_count": info.frame_count,
                  "size": [info.width, info.height], "codec": info.codec},
        "plan": {"start": round(plan.start, 3), "end": round(plan.end, 3),
                 "fps": options.fps, "candidates": plan.candidates,
                 "size": list(plan.size), "tokens_per_frame": plan.tokens_per_frame,
                 "image_tokens": plan.total_tokens},
        "frames": [{"index": f.index, "time": round(f.time, 3), "timestamp": int(f.time),
                    "tokens": plan.tokens_per_frame} for f in plan.frames],
        "estimate_cpu_s": {"cores": cores, "encode": round(est.encode_s, 1),
                           "prefill": round(est.prefill_s, 1),
                           "generate_tokens_per_s": round(est.generate_tokens_per_s, 2)},
    }
