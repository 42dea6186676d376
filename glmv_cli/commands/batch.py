"""`glmv batch`: one question over many images, PDFs and videos, one JSON line each."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from glmv_cli.commands.options import OUTPUT, TASK, AnswerOptions, SchemaOption, shared_options
from glmv_cli.commands.running import engine_for, resolve
from glmv_cli.engine.base import Engine
from glmv_cli.inputs.video import DEFAULT_MAX_FRAME_TOKENS
from glmv_cli.models.ref import RemoteModel
from glmv_cli.render.batch import BatchBar, print_summary
from glmv_cli.render.progress import StatusLine
from glmv_cli.streams import Streams

HELP = """Ask one question about many inputs: one JSON line per input.

\b
  glmv batch "Extract the invoice total" scans/ --jsonl totals.jsonl
  glmv batch "Describe" photos/*.jpg docs/*.pdf --jsonl out.jsonl     # a re-run resumes
  find . -name '*.png' | glmv batch "Any text?" - --jsonl text.jsonl
  glmv batch "Total?" @invoices.txt --schema '{"total": "number"}' --jsonl t.jsonl
  glmv batch "Describe" inputs/ --endpoint http://lb:8000/v1 --parallel 32 --jsonl out.jsonl

Inputs are files, folders (searched recursively for images, PDFs and videos, told apart \
by their bytes), globs, @FILE (a list of paths) and - (paths on stdin). The model is \
loaded once; PDFs and videos go through the `glmv pdf` and `glmv video` pipelines. A bad \
input gets a line with its error and the batch goes on; the exit status is 0 when every \
input has an answer, else the lowest exit code among the failures.

With --jsonl, a re-run with the same question, model and settings skips the inputs that \
already have an answer (by content, so a renamed file is not redone) and retries those \
that failed. Each line is written whole: after a crash every input has at most one line.
"""

NOT_FOR_BATCH = frozenset({"json", "hide_thinking", "show_thinking"})


@shared_options(exclude=NOT_FOR_BATCH)
def batch(
    question: Annotated[str, typer.Argument(metavar="QUESTION", show_default=False,
                                            help="What to ask about every input.")],
    inputs: Annotated[list[str], typer.Argument(
        metavar="INPUT...", show_default=False,
        help="Files, folders, globs, @FILE (one path a line) or - (paths on stdin).")],
    *,
    jsonl: Annotated[Path | None, typer.Option(
        "--jsonl", metavar="FILE", rich_help_panel=OUTPUT, show_default=False,
        help="Append the lines to FILE and resume from it \\[default: stdout, no "
             "resume].")] = None,
    parallel: Annotated[int, typer.Option(
        "--parallel", min=1, max=1024, rich_help_panel=TASK,
        help="Requests in flight at once, for a remote engine (--endpoint); a local "
             "engine answers one at a time.")] = 1,
    thinking: Annotated[bool, typer.Option(
        "--thinking", rich_help_panel=OUTPUT,
        help="Put each answer's thinking in its line.")] = False,
    structured: SchemaOption,
    opts: AnswerOptions,
) -> None:
    from glmv_cli.tasks.batch import (
        BatchJob,
        Journal,
        Summary,
        expand_inputs,
        plan,
        record_unreadable,
        run_batch,
    )
    from glmv_cli.tasks.schema import load_schema

    streams = Streams.from_process()
    schema = load_schema(structured.schema) if structured.schema is not None else None
    paths = expand_inputs(inputs, streams.stdin)
    model = resolve(opts.model, streams)
    remote = isinstance(model, RemoteModel)
    if parallel > 1 and not remote:
        streams.stderr.write(f"glmv: warning: --parallel {parallel}: a local engine answers "
                             "one input at a time\n")
        parallel = 1
    size = max(opts.engine.max_image_tokens, DEFAULT_MAX_FRAME_TOKENS)  # (video frames)
    with ExitStack() as stack:
        # A remote engine connects now and names its model; a local one loads only when
        # there is work left.
        engine = stack.enter_context(engine_for(opts, model, size)) if remote else None
        job = BatchJob(
            question=question, model=engine.name if engine else model.name,
            template=opts.generation.request(question, (), model.sampling, schema=schema),
            max_image_tokens=opts.engine.max_image_tokens, settings={"pdf_vision": "auto"},
            thinking=thinking)
        journal = Journal(jsonl, streams.stdout, job.key)
        journal.open()  # before the model loads: an unwritable file fails at once
        stack.callback(journal.close)
        summary = Summary()
        bar: BatchBar | None = None
        try:
            todo, unreadable = plan(paths, journal, job, summary)
            record_unreadable(unreadable, journal, summary)
            if todo:
                if engine is None:
                    engine = stack.enter_context(engine_for(opts, model, size))
                    _load(streams, engine, model.name)
                # (Not when the lines themselves go to the same terminal.)
                if streams.stderr_isatty and (jsonl or not streams.stdout_isatty):
                    bar = BatchBar(streams.console(stderr=True), len(todo))
                run_batch(engine, todo, job, journal, summary, parallel,
                          on_line=bar.line if bar else None)
        except BaseException:  # Ctrl-C, or a failure no input escapes: say what was done
            _finish(streams, bar, summary, jsonl)
            raise
        _finish(streams, bar, summary, jsonl)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def _load(streams: Streams, engine: Engine, name: str) -> None:
    status = StatusLine(streams.console(stderr=True)) if streams.stderr_isatty else None
    try:
        if status:
            status.update(f"Loading {name}")
        engine.load()
    finally:
        if status:
            status.stop()


def _finish(streams: Streams, bar: BatchBar | None, summary: object,
            jsonl: Path | None) -> None:
    if bar:
        bar.stop()
    print_summary(streams.stderr, summary, str(jsonl) if jsonl else None)
