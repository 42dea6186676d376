"""`glmv video`: questions about a video, through timestamped frames.

`answer_video` does the work and is what `glmv ask` calls for a file that sniffs as video.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from glmv_cli import options as opt
from glmv_cli.engine.base import Engine
from glmv_cli.engine.cost import estimate_cpu, format_duration
from glmv_cli.engine.events import Event, Progress
from glmv_cli.engine.request import Request, Sampling
from glmv_cli.errors import InputError
from glmv_cli.inputs.video import (
    DEFAULT_FPS,
    DEFAULT_MAX_FRAME_TOKENS,
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_VIDEO_TOKENS,
    SampledFrame,
    VideoFile,
    VideoInfo,
    VideoPlan,
    format_time,
    parse_time,
    plan_frames,
    video_media,
)
from glmv_cli.render.json import JsonRenderer
from glmv_cli.render.progress import StatusLine
from glmv_cli.run import EngineOptions, OutputMode, pick_renderer, run_request
from glmv_cli.streams import Streams

DEFAULT_QUESTION = "Describe what happens in this video."
VIDEO = "Video"

HELP = """Ask a question about a video.

glmv samples frames (1 per second by default, as the model's reference does in pairs of \
2 fps), shrinks them to fit a token budget, and gives them to the model with their \
timestamps, so answers can say when things happen.

\b
  glmv video clip.mp4 "When does the car turn left?"
  glmv video lecture.mp4 "Summarise the slides" --fps 0.5 --max-frames 32
  glmv video cam.mp4 "Is anyone at the door?" --start 01:20 --end 02:00 --json
  glmv video clip.mp4 --dry-run        # the frames and tokens it would use, and a time guess

Times are SS, SS.s, MM:SS or HH:MM:SS. On a CPU each frame takes seconds to encode: \
start with the defaults and `--dry-run`.
"""

Fps = Annotated[float, typer.Option(
    "--fps", min=0.001, rich_help_panel=VIDEO,
    help="Frames to sample per second of video; each frame is followed by its timestamp.")]
MaxFrames = Annotated[int, typer.Option(
    "--max-frames", min=1, rich_help_panel=VIDEO,
    help="Most frames to use; a longer range is sampled evenly, first and last included.")]
MaxVideoTokens = Annotated[int, typer.Option(
    "--max-video-tokens", min=16, rich_help_panel=VIDEO,
    help="Image tokens for the whole video. Frames shrink to fit (down to 64 tokens each), "
         "then frames are dropped. Raise it on a GPU (the reference allows about 30000).")]
MaxFrameTokens = Annotated[int, typer.Option(
    "--max-frame-tokens", min=16, max=16384, rich_help_panel=VIDEO,
    help="Most image tokens for one frame (one token = 28x28 pixels).")]
Start = Annotated[str | None, typer.Option(
    "--start", rich_help_panel=VIDEO, help="Begin at this time (SS, MM:SS or HH:MM:SS).",
    show_default=False)]
End = Annotated[str | None, typer.Option(
    "--end", rich_help_panel=VIDEO, help="Stop at this time.", show_default=False)]
DryRun = Annotated[bool, typer.Option(
    "--dry-run", rich_help_panel=VIDEO,
    help="Print the plan (frames, tokens, rough CPU time) and exit without loading the model.")]


@dataclass(frozen=True)
class VideoOptions:
    """How to sample a video; the defaults are `glmv video`'s."""

    fps: float = DEFAULT_FPS
    max_frames: int = DEFAULT_MAX_FRAMES
    max_video_tokens: int = DEFAULT_MAX_VIDEO_TOKENS
    max_frame_tokens: int = DEFAULT_MAX_FRAME_TOKENS
    start: float | None = None
    end: float | None = None



def video(
    path: Annotated[str, typer.Argument(metavar="VIDEO", show_default=False,
                                        help="A video file (MP4, MOV, MKV, WebM, AVI, ...).")],
    question: Annotated[str | None, typer.Argument(
        metavar="QUESTION", show_default=False,
        help="The question. With none, glmv describes what happens.")] = None,
    fps: Fps = DEFAULT_FPS,
    max_frames: MaxFrames = DEFAULT_MAX_FRAMES,
    max_video_tokens: MaxVideoTokens = DEFAULT_MAX_VIDEO_TOKENS,
    max_frame_tokens: MaxFrameTokens = DEFAULT_MAX_FRAME_TOKENS,
    start: Start = None,
    end: End = None,
    dry_run: DryRun = False,
    model: opt.ModelName = None,
    model_file: opt.ModelFile = None,
    mmproj: opt.Mmproj = None,
    json_out: opt.Json = False,
    hide_thinking: opt.HideThinking = False,
    show_thinking: opt.ShowThinking = False,
    verbose: opt.Verbose = False,
    max_tokens: opt.MaxTokens = opt.DEFAULTS["max_tokens"],
    think_budget: opt.ThinkBudget = None,
    no_think: opt.NoThink = False,
    system: opt.System = None,
    temperature: opt.Temperature = 0.0,
    top_k: opt.TopK = 2,
    top_p: opt.TopP = 0.6,
    repeat_penalty: opt.RepeatPenalty = 1.1,
    seed: opt.Seed = None,
    threads: opt.Threads = None,
    gpu_layers: opt.GpuLayers = None,
    context: opt.Context = None,
) -> None:
    sampling_options = VideoOptions(
        fps=fps, max_frames=max_frames, max_video_tokens=max_video_tokens,
        max_frame_tokens=max_frame_tokens,
        start=parse_time(start, "--start") if start is not None else None,
        end=parse_time(end, "--end") if end is not None else None,
    )
    answer_video(
        path, question, model=model, model_file=model_file, mmproj=mmproj,
        mode=OutputMode(json=json_out, hide_thinking=hide_thinking, show_thinking=show_thinking),
        sampling=Sampling(temperature, top_k, top_p, repeat_penalty, seed),
        max_tokens=max_tokens, think_budget=think_budget, think=not no_think, system=system,
        engine=EngineOptions(threads=threads, gpu_layers=gpu_layers, context=context,
                             verbose=verbose),
        video=sampling_options, dry_run=dry_run,
    )


_PLAIN, _GREEDY = OutputMode(), Sampling()
_ENGINE_DEFAULTS, _VIDEO_DEFAULTS = EngineOptions(), VideoOptions()


def answer_video(
    path: str,
    question: str | None,
    *,
    model: str | None = None,
    model_file: Any = None,
    mmproj: Any = None,
    mode: OutputMode = _PLAIN,
    sampling: Sampling = _GREEDY,
    max_tokens: int = opt.DEFAULTS["max_tokens"],
    think_budget: int | None = None,
    think: bool = True,
    system: str | None = None,
    engine: EngineOptions = _ENGINE_DEFAULTS,
    video: VideoOptions = _VIDEO_DEFAULTS,
    dry_run: bool = False,
    streams: Streams | None = None,
) -> None:
    """Answer `question` about the video at `path`, writing to `streams` as `glmv ask` does.

    With `dry_run`, print the sampling plan and return without loading the model.
    """
    streams = streams or Streams.from_process()
    question = question if question and question.strip() else DEFAULT_QUESTION
    status = StatusLine(streams.console(stderr=True)) if streams.stderr_isatty else None
    if status:
        status.update(f"Opening {path}")
    try:
        with VideoFile(path, verbose=engine.verbose,
                       on_count=_counting(status)) as vf:
            plan = plan_frames(vf.info, video.fps, video.max_frames, video.max_video_tokens,
                               video.max_frame_tokens, video.start, video.end)
            if dry_run:
                if status:
                    status.stop()
                _print_plan(streams, vf.info, plan, video, engine, mode.json)
                return
            files = _resolve(model, model_file, mmproj, streams)
            if status:
                status.stop()
                _print_estimate(streams, vf.info, plan, engine)
                status = StatusLine(streams.console(stderr=True))
                status.update("Reading frames")
            frames = list(vf.read(plan, _reading(status, plan)))
    finally:
        if status:
            status.stop()
    if not frames:
        raise InputError(f"{path}: no frame could be decoded (corrupt or truncated video)")
    if len(frames) < len(plan.frames):
        streams.stderr.write(f"glmv: warning: read {len(frames)} of {len(plan.frames)} frames "
                             f"from {path} (the file may be truncated)\n")
    _run(path, question, frames, plan, files, mode, sampling, max_tokens, think_budget, think,
         system, engine, streams)


def _resolve(model: str | None, model_file: Any, mmproj: Any, streams: Streams) -> Any:
    from glmv_cli.models.resolve import resolve_model

    return resolve_model(model, model_file, mmproj, streams)


def _run(path: str, question: str, frames: list[SampledFrame], plan: VideoPlan, files: Any,
         mode: OutputMode, sampling: Sampling, max_tokens: int, think_budget: int | None,
         think: bool, system: str | None, engine_options: EngineOptions,
         streams: Streams) -> None:
    # Imported here so that `--help` and `--dry-run` do not load llama.cpp.
    from glmv_cli.engine.llama import LlamaEngine

    request = Request(
        question=question, media=video_media(frames), system=system, sampling=sampling,
        max_tokens=max_tokens, think_budget=think_budget, think=think,
    )
    # Frames arrive sized by the plan; mtmd reserves its buffers for that size only.
    llama = LlamaEngine(engine_options.settings(files, max(plan.tokens_per_frame, 16)))
    try:
        if mode.json:
            status = StatusLine(streams.console(stderr=True)) if streams.stderr_isatty else None
            renderer: Any = JsonRenderer(streams.stdout, files.name, request.images, status,
                                         extra={"video": _video_object(path, plan, frames),
                                                "frames": frame_list(frames)})
        else:
            renderer = pick_renderer(streams, mode, files.name, request)
        run_request(FrameLabels(llama, frames), request, renderer)
    finally:
        llama.close()


class FrameLabels:
    """The engine, with its 'Encoding image i/n' progress said in frames and timestamps."""

    def __init__(self, engine: Engine, frames: list[SampledFrame]) -> None:
        self.engine, self.frames = engine, frames

    def generate(self, request: Request) -> Iterator[Event]:
        for event in self.engine.generate(request):
            if isinstance(event, Progress) and event.stage == "encode" and event.total:
                f = self.frames[min(event.done, len(self.frames) - 1)]
                event = Progress(
                    "encode", f"Encoding frame {event.done + 1}/{event.total} at "
                    f"{format_time(f.time)} ({f.image.tokens} tokens)", event.done, event.total)
            yield event


def frame_list(frames: list[SampledFrame]) -> list[dict[str, Any]]:
    """`--json`'s `frames`: each frame used, in prompt order."""
    return [{"index": f.index, "time": round(f.time, 3), "timestamp": f.timestamp,
             "tokens": f.image.tokens, "size": [f.image.width, f.image.height]}
            for f in frames]


def _video_object(path: str, plan: VideoPlan, frames: list[SampledFrame] | None = None
                  ) -> dict[str, Any]:
    return {"source": path, "start": round(plan.start, 3), "end": round(plan.end, 3),
            "candidates": plan.candidates,
            "frames": len(frames) if frames is not None else len(plan.frames),
            "image_tokens": (sum(f.image.tokens for f in frames) if frames is not None
                             else plan.total_tokens)}


def _cores(engine: EngineOptions) -> int:
    if engine.threads:
        return engine.threads
    import psutil

    return psutil.cpu_count(logical=False) or 1


def _print_estimate(streams: Streams, info: VideoInfo, plan: VideoPlan,
                    engine: EngineOptions) -> None:
    """One line on a terminal's stderr before the slow part starts."""
    est = estimate_cpu([plan.tokens_per_frame] * len(plan.frames), 3 * len(plan.frames),
                       _cores(engine))
    streams.console(stderr=True).print(
        f"[dim]{len(plan.frames)} frames x {plan.tokens_per_frame} tokens = "
        f"{plan.total_tokens} image tokens from {format_time(plan.start)}-"
        f"{format_time(plan.end)}; on a CPU about {format_duration(est.before_answer_s)} "
        "before the answer starts[/dim]", highlight=False)


def _print_plan(streams: Streams, info: VideoInfo, plan: VideoPlan, video: VideoOptions,
                engine: EngineOptions, as_json: bool) -> None:
    cores = _cores(engine)
    est = estimate_cpu([plan.tokens_per_frame] * len(plan.frames), 3 * len(plan.frames), cores)
    frames = [{"index": f.index, "time": round(f.time, 3), "timestamp": int(f.time),
               "tokens": plan.tokens_per_frame} for f in plan.frames]
    if as_json:
        obj = {
            "video": {"source": info.source, "duration": round(info.duration, 3),
                      "fps": round(info.fps, 3), "frame_count": info.frame_count,
                      "size": [info.width, info.height], "codec": info.codec},
            "plan": {"start": round(plan.start, 3), "end": round(plan.end, 3),
                     "fps": video.fps, "candidates": plan.candidates,
                     "size": list(plan.size), "tokens_per_frame": plan.tokens_per_frame,
                     "image_tokens": plan.total_tokens},
            "frames": frames,
            "estimate_cpu_s": {"cores": cores, "encode": round(est.encode_s, 1),
                               "prefill": round(est.prefill_s, 1),
                               "generate_tokens_per_s": round(est.generate_tokens_per_s, 2)},
        }
        streams.stdout.write(json.dumps(obj) + "\n")
        return
    w, h = plan.size
    kept = len(plan.frames)
    why = "" if kept == plan.candidates else (
        " (--max-frames)" if kept == video.max_frames else " (--max-video-tokens)")
    lines = [
        f"{info.source}: {format_time(info.duration)}, {info.width}x{info.height}, "
        f"{info.fps:.3g} fps, {info.frame_count} frames" + (f", {info.codec}" if info.codec
                                                              else ""),
        f"range {format_time(plan.start)}-{format_time(plan.end)} at {video.fps:g} fps: "
        f"{plan.candidates} frames, {kept} kept{why}",
        f"{kept} frames of {w}x{h} pixels, {plan.tokens_per_frame} tokens each: "
        f"{plan.total_tokens} image tokens",
        f"rough time on a CPU with {cores} cores: encode {format_duration(est.encode_s)}, "
        f"prefill {format_duration(est.prefill_s)}, then about "
        f"{est.generate_tokens_per_s:.1f} tokens/s (a GPU is much faster)",
        "frames (frame number, time, timestamp given to the model):",
        *(f"  {f['index']:>7}  {format_time(f['time']):>9}  {f['timestamp']}" for f in frames),
    ]
    streams.stdout.write("\n".join(lines) + "\n")


def _counting(status: StatusLine | None) -> Any:
    if not status:
        return None
    return lambda n: status.update(f"Counting frames (the file has no frame count): {n}")


def _reading(status: StatusLine | None, plan: VideoPlan) -> Any:
    if not status:
        return None

    def on_frame(i: int, n: int) -> None:
        status.update(f"Reading frames: {i + 1}/{n}")

    return on_frame
