"""`glmv video`'s plan, as people read it: `--dry-run`, and the line shown before a run."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from glmv_cli.engine.cost import format_duration
from glmv_cli.inputs.video import VideoInfo, VideoPlan, format_time


def estimate_line(console: Console, plan: VideoPlan, est: Any) -> None:
    """One dim line on a terminal's stderr before the slow part starts."""
    console.print(
        f"[dim]{len(plan.frames)} frames x {plan.tokens_per_frame} tokens = "
        f"{plan.total_tokens} image tokens from {format_time(plan.start)}-"
        f"{format_time(plan.end)}; on a CPU about {format_duration(est.before_answer_s)} "
        "before the answer starts[/dim]", highlight=False)


def plan_text(info: VideoInfo, plan: VideoPlan, fps: float, max_frames: int,
              est: Any) -> str:
    """`--dry-run`'s report: the video, the range, the frames kept and why, a CPU guess."""
    w, h = plan.size
    kept = len(plan.frames)
    why = "" if kept == plan.candidates else (
        " (--max-frames)" if kept == max_frames else " (--max-video-tokens)")
    lines = [
        f"{info.source}: {format_time(info.duration)}, {info.width}x{info.height}, "
        f"{info.fps:.3g} fps, {info.frame_count} frames" + (f", {info.codec}" if info.codec
                                                              else ""),
        f"range {format_time(plan.start)}-{format_time(plan.end)} at {fps:g} fps: "
        f"{plan.candidates} frames, {kept} kept{why}",
        f"{kept} frames of {w}x{h} pixels, {plan.tokens_per_frame} tokens each: "
        f"{plan.total_tokens} image tokens",
        f"rough time on a CPU with {est.cores} cores: encode {format_duration(est.encode_s)}, "
        f"prefill {format_duration(est.prefill_s)}, then about "
        f"{est.generate_tokens_per_s:.1f} tokens/s (a GPU is much faster)",
        "frames (frame number, time, timestamp given to the model):",
        *(f"  {f.index:>7}  {format_time(f.time):>9}  {int(f.time)}" for f in plan.frames),
    ]
    return "\n".join(lines) + "\n"
