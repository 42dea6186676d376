"""`glmv ask`: questions about one or more images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from glmv_cli.commands.options import AnswerOptions, SchemaOption, shared_options
from glmv_cli.commands.running import (
    answer,
    engine_for,
    json_result,
    print_json,
    resolve,
    run_request,
    unusable,
)
from glmv_cli.errors import AnswerError, UsageError
from glmv_cli.inputs.image import PreparedImage, prepare_image
from glmv_cli.inputs.sniff import sniff_file
from glmv_cli.inputs.source import read_source
from glmv_cli.models.ref import ModelRef
from glmv_cli.render.choose import answer_renderer
from glmv_cli.render.progress import StatusLine
from glmv_cli.streams import Streams

DEFAULT_QUESTION = "Describe this image."

HELP = """Ask a question about one or more images.

Give the images first and the question last; `-` reads an image from stdin.

\b
  glmv ask photo.png "What is in this picture?"
  glmv ask before.png after.png "What changed between these two?"
  cat scan.jpg | glmv ask - "Read the serial number"
  glmv ask chart.png "Highest bar?" --json | jq .answer
  glmv ask invoice.png "Total and date" --schema '{"total": "number", "date": "string"}'
  glmv ask photo.png "What is it?" --endpoint http://gpu-box:8000/v1
  glmv ask report.pdf "Which quarter had the highest margin?"   # as `glmv pdf`
  glmv ask clip.mp4 "When does the car turn left?"              # as `glmv video`

A PDF or a video (recognised by its bytes, not its name) goes through `glmv pdf` or
`glmv video` with their defaults; use those commands for their own options.

On a terminal the model's thinking streams by in dim text, then the answer is shown as \
Markdown. Piped, stdout gets the answer alone as plain text.
"""


@shared_options()
def ask(
    inputs: Annotated[list[str], typer.Argument(
        metavar="IMAGE... QUESTION", show_default=False,
        help="Image files (PNG, JPEG, WebP, GIF, BMP, TIFF, ...) or - for stdin, or one PDF "
             "or video; then the question. With no question, glmv describes the image.")],
    structured: SchemaOption,
    opts: AnswerOptions,
) -> None:
    streams = Streams.from_process()
    paths, question = split_question(inputs)
    schema = None
    if structured.schema is not None:
        from glmv_cli.tasks.schema import load_schema

        schema = load_schema(structured.schema)
    if paths.count("-") > 1:
        raise UsageError("stdin (-) can be given only once")
    kinds = [sniff_file(p) if p != "-" else "image" for p in paths]
    if "pdf" in kinds or "video" in kinds:
        if len(paths) > 1:
            raise UsageError("a PDF or a video goes to `glmv ask` on its own "
                             "(see `glmv pdf` and `glmv video`)")
        if schema is not None:
            raise UsageError("--schema with a PDF or a video: use `glmv batch`, which takes "
                             "--schema for every kind of input")
        # No question given: a PDF gets summarised, a video described, not "the image".
        asked = None if question == DEFAULT_QUESTION and inputs[-1] == paths[0] else question
        if kinds[0] == "pdf":
            from glmv_cli.commands.pdf import answer_pdf

            return answer_pdf(Path(paths[0]), asked, opts)
        from glmv_cli.commands.video import answer_video

        return answer_video(paths[0], asked, opts)
    model = resolve(opts.model, streams)
    max_image_tokens = opts.engine.max_image_tokens
    status = StatusLine(streams.console(stderr=True)) if streams.stderr_isatty else None
    try:
        images = []
        for p in paths:
            if status:
                status.update(f"Reading {'stdin' if p == '-' else p}")
            images.append(prepare_image(read_source(p, streams.stdin), max_image_tokens))
    finally:
        if status:
            status.stop()
    if schema is not None:
        return _ask_structured(streams, opts, model, question, tuple(images), schema)
    request = opts.generation.request(question, tuple(images), model.sampling)
    with engine_for(opts, model) as engine:
        run_request(engine, request,
                    answer_renderer(streams, opts.output.display, engine.name, request))


def _ask_structured(streams: Streams, opts: AnswerOptions, model: ModelRef, question: str,
                    images: tuple[PreparedImage, ...], schema: dict[str, Any]) -> None:
    """The answer as a JSON value that follows `schema`: validated, then printed as one
    JSON line when piped, or under `structured` in --json."""
    from glmv_cli.tasks.schema import SCHEMA_ANSWER_RESERVE, structured_answer

    request = opts.generation.request(question, images, model.sampling, schema=schema,
                                      answer_reserve=SCHEMA_ANSWER_RESERVE)
    transcript = answer(streams, opts, model, request)
    try:
        value = structured_answer(transcript.answer, schema)
    except AnswerError as e:
        raise unusable(transcript, e.message,
                       f"the answer may need {SCHEMA_ANSWER_RESERVE} tokens after the "
                       "thinking") from None
    if opts.output.json:
        print_json(streams, json_result(transcript, model.name, request,
                                        {"structured": value}))
    elif not streams.stdout_isatty:
        streams.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
        streams.stdout.flush()


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
