"""`glmv video`: questions about a video, through timestamped frames.

`answer_video` does the work and is what `glmv ask` calls for a file that sniffs as video.
"""

from __future__ import annotations

from typing import Annotated

import typer

from glmv_cli.commands.options import AnswerOptions, shared_options
from glmv_cli.commands.running import engine_for, print_json, resolve, run_request
from glmv_cli.inputs.video import (
    DEFAULT_FPS,
    DEFAULT_MAX_FRAME_TOKENS,
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_VIDEO_TOKENS,
    parse_time,
)
from glmv_cli.inputs.video_worker import VideoReader
from glmv_cli.render.choose import answer_renderer
from glmv_cli.render.progress import StatusLine
from glmv_cli.render.video_plan import estimate_line, plan_text
from glmv_cli.streams import Streams
from glmv_cli.tasks.video import (
    DEFAULT_QUESTION,
    VideoOptions,
    estimate,
    frame_list,
    plan_object,
    read_video,
    video_object,
)

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


@shared_options(exclude=frozenset({"max_image_tokens"}))
def video(
    path: Annotated[str, typer.Argument(metavar="VIDEO", show_default=False,
                                        help="A video file (MP4, MOV, MKV, WebM, AVI, ...).")],
    question: Annotated[str | None, typer.Argument(
        metavar="QUESTION", show_default=False,
        help="The question. With none, glmv describes what happens.")] = None,
    *,
    fps: Fps = DEFAULT_FPS,
    max_frames: MaxFrames = DEFAULT_MAX_FRAMES,
    max_video_tokens: MaxVideoTokens = DEFAULT_MAX_VIDEO_TOKENS,
    max_frame_tokens: MaxFrameTokens = DEFAULT_MAX_FRAME_TOKENS,
    start: Start = None,
    end: End = None,
    dry_run: DryRun = False,
    opts: AnswerOptions,
) -> None:
    sampling = VideoOptions(
        fps=fps, max_frames=max_frames, max_video_tokens=max_video_tokens,
        max_frame_tokens=max_frame_tokens,
        start=parse_time(start, "--start") if start is not None else None,
        end=parse_time(end, "--end") if end is not None else None,
    )
    answer_video(path, question, opts, sampling, dry_run=dry_run)


def answer_video(path: str, question: str | None, opts: AnswerOptions,
                 sampling: VideoOptions | None = None, *, dry_run: bool = False) -> None:
    """Answer `question` about the video at `path`, as `glmv ask` does for an image;
    `sampling` defaults to `glmv video`'s.

    With `dry_run`, print the sampling plan and return without loading the model.
    """
    sampling = sampling or VideoOptions()
    streams = Streams.from_process()
    question = question if question and question.strip() else DEFAULT_QUESTION
    cores = opts.engine.settings().cores
    status = StatusLine(streams.console(stderr=True)) if streams.stderr_isatty else None
    if status:
        status.update(f"Opening {path}")
    try:
        on_count = (lambda n: status.update(
            f"Counting frames (the file has no frame count): {n}")) if status else None
        with VideoReader(path, verbose=opts.output.verbose, on_count=on_count) as vf:
            plan = sampling.plan(vf.info)
            if dry_run:
                if status:
                    status.stop()
                if opts.output.json:
                    print_json(streams, plan_object(vf.info, plan, sampling, cores))
                else:
                    streams.stdout.write(plan_text(vf.info, plan, sampling.fps,
                                                   sampling.max_frames, estimate(plan, cores)))
                return
            model = resolve(opts.model, streams)
            if status:
                status.stop()
                estimate_line(streams.console(stderr=True), plan, estimate(plan, cores))
                status = StatusLine(streams.console(stderr=True))
                status.update("Reading frames")
            on_frame = (lambda i, n: status.update(f"Reading frames: {i + 1}/{n}")
                        ) if status else None
            clip, warning = read_video(vf, plan, on_frame)
    finally:
        if status:
            status.stop()
    if warning:
        streams.stderr.write(f"glmv: warning: {warning}\n")
    request = opts.generation.request(question, (clip,), model.sampling)
    # Frames arrive sized by the plan; mtmd reserves its buffers for that size only.
    with engine_for(opts, model, max(plan.tokens_per_frame, 16)) as engine:
        renderer = answer_renderer(
            streams, opts.output.display, engine.name, request,
            json_extra={"video": video_object(clip, plan), "frames": frame_list(clip.frames)})
        run_request(engine, request, renderer)
