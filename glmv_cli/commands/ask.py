"""`glmv ask`: questions about one or more images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glmv_cli import options as opt
from glmv_cli.engine.request import Request, Sampling
from glmv_cli.errors import UsageError
from glmv_cli.inputs.image import prepare_image
from glmv_cli.inputs.source import read_source
from glmv_cli.models.resolve import resolve_model
from glmv_cli.run import EngineOptions, OutputMode, pick_renderer, run_request
from glmv_cli.streams import Streams

DEFAULT_QUESTION = "Describe this image."

HELP = """Ask a question about one or more images.

Give the images first and the question last; `-` reads an image from stdin.

\b
  glmv ask photo.png "What is in this picture?"
  glmv ask before.png after.png "What changed between these two?"
  cat scan.jpg | glmv ask - "Read the serial number"
  glmv ask chart.png "Highest bar?" --json | jq .answer
  glmv ask report.pdf "Which quarter had the highest margin?"   # as `glmv pdf`
  glmv ask clip.mp4 "When does the car turn left?"              # as `glmv video`

A PDF or a video (recognised by its bytes, not its name) goes through `glmv pdf` or
`glmv video` with their defaults; use those commands for their own options.

On a terminal the model's thinking streams by in dim text, then the answer is shown as \
Markdown. Piped, stdout gets the answer alone as plain text.
"""


def ask(
    inputs: Annotated[list[str], typer.Argument(
        metavar="IMAGE... QUESTION", show_default=False,
        help="Image files (PNG, JPEG, WebP, GIF, BMP, TIFF, ...) or - for stdin, or one PDF "
             "or video; then the question. With no question, glmv describes the image.")],
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
    max_image_tokens: opt.MaxImageTokens = opt.DEFAULTS["max_image_tokens"],
    threads: opt.Threads = None,
    gpu_layers: opt.GpuLayers = None,
    context: opt.Context = None,
) -> None:
    # Imported here so that `glmv --help` and `--version` do not load llama.cpp.
    from glmv_cli.engine.llama import LlamaEngine

    streams = Streams.from_process()
    paths, question = split_question(inputs)
    if paths.count("-") > 1:
        raise UsageError("stdin (-) can be given only once")
    engine_options = EngineOptions(threads, gpu_layers, context, max_image_tokens, verbose)
    kinds = [sniff_kind(p) for p in paths]
    if "pdf" in kinds or "video" in kinds:
        if len(paths) > 1:
            raise UsageError("a PDF or a video goes to `glmv ask` on its own "
                             "(see `glmv pdf` and `glmv video`)")
        # No question given: a PDF gets summarised, a video described, not "the image".
        asked = None if question == DEFAULT_QUESTION and inputs[-1] == paths[0] else question
        if kinds[0] == "pdf":
            from glmv_cli.commands.pdf import answer_pdf

            return answer_pdf(
                Path(paths[0]), asked, model=model, model_file=model_file, mmproj=mmproj,
                json_out=json_out, hide_thinking=hide_thinking, show_thinking=show_thinking,
                verbose=verbose, max_tokens=max_tokens, think_budget=think_budget,
                no_think=no_think, system=system, temperature=temperature, top_k=top_k,
                top_p=top_p, repeat_penalty=repeat_penalty, seed=seed,
                max_image_tokens=max_image_tokens, threads=threads, gpu_layers=gpu_layers,
                context=context)
        from glmv_cli.commands.video import answer_video

        return answer_video(
            paths[0], asked, model=model, model_file=model_file, mmproj=mmproj,
            mode=OutputMode(json=json_out, hide_thinking=hide_thinking,
                            show_thinking=show_thinking),
            sampling=Sampling(temperature, top_k, top_p, repeat_penalty, seed),
            max_tokens=max_tokens, think_budget=think_budget, think=not no_think,
            system=system, engine=engine_options,
            streams=streams)
    files = resolve_model(model, model_file, mmproj, streams)
    images = tuple(
        prepare_image(read_source(p, streams.stdin), max_image_tokens) for p in paths
    )
    request = Request(
        question=question,
        media=images,
        system=system,
        sampling=Sampling(temperature, top_k, top_p, repeat_penalty, seed),
        max_tokens=max_tokens,
        think_budget=think_budget,
        think=not no_think,
    )
    engine = LlamaEngine(engine_options.settings(files))
    try:
        mode = OutputMode(json=json_out, hide_thinking=hide_thinking, show_thinking=show_thinking)
        run_request(engine, request, pick_renderer(streams, mode, files.name, request))
    finally:
        engine.close()


def sniff_kind(path: str) -> str:
    """'pdf', 'video' or 'image', from a file's first bytes (stdin is always an image)."""
    if path == "-":
        return "image"
    try:
        with Path(path).expanduser().open("rb") as f:
            head = f.read(1024)
    except OSError:
        return "image"  # the image reader reports the problem with the file
    if b"%PDF-" in head:  # the spec allows junk before the header, within 1024 bytes
        return "pdf"
    from glmv_cli.inputs.video import sniff

    return "video" if sniff(head[:512]) == "video" else "image"


def split_question(args: list[str]) -> tuple[list[str], str]:
    """Images first, question last; a last argument that is a file is an image too."""
    if not args:
        raise UsageError("give at least one image, then a question")
    *paths, question = args
    if question == "-" or (not paths and Path(question).is_file()) or (
        paths and Path(question).is_file() and not question.strip().endswith("?")
    ):
        return [*paths, question], DEFAULT_QUESTION
    if not paths:
        raise UsageError(f"no image given (is '{question}' a file that does not exist?)")
    return paths, question
