"""Running a request whose answer a command turns into something else (boxes, an action,
files): the answer streams by on a terminal as with `ask`; piped or with --json, only the
spinner and warnings (and --show-thinking's thinking) reach stderr, and the command prints
its own result afterwards."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from glmv_cli.engine.request import Request
from glmv_cli.engine.transcript import Transcript
from glmv_cli.models.resolve import ModelFiles
from glmv_cli.render import Renderer
from glmv_cli.render.json import result_object
from glmv_cli.render.plain import PlainRenderer
from glmv_cli.render.progress import StatusLine
from glmv_cli.run import EngineOptions, OutputMode, run_request
from glmv_cli.streams import Streams


def live_renderer(streams: Streams, mode: OutputMode) -> Renderer:
    """Terminal: thinking and answer as `ask` shows them. Otherwise: nothing on stdout."""
    if mode.json or not streams.stdout_isatty:
        status = StatusLine(streams.console(stderr=True)) if streams.stderr_isatty else None
        return PlainRenderer(io.StringIO(), streams.stderr, mode.show_thinking and not mode.json,
                             status)
    from glmv_cli.render.terminal import TerminalRenderer  # Rich Markdown: slow to import

    return TerminalRenderer(streams.console(), hide_thinking=mode.hide_thinking)


def answer(streams: Streams, files: ModelFiles, request: Request, opts: EngineOptions,
           mode: OutputMode) -> Transcript:
    """Load the model, answer `request` with a live display, return the transcript."""
    each = answer_each(streams, files, [request], opts, mode)
    try:
        return next(each)
    finally:
        each.close()  # closes the engine


def answer_each(streams: Streams, files: ModelFiles, requests: Iterable[Request],
                opts: EngineOptions, mode: OutputMode,
                before: Callable[[Request], None] | None = None) -> Iterator[Transcript]:
    """Answer each request in turn on one loaded model; `before` runs ahead of each (a
    page heading, say)."""
    from glmv_cli.engine.llama import LlamaEngine

    engine = LlamaEngine(opts.settings(files))
    try:
        for request in requests:
            if before:
                before(request)
            yield run_request(engine, request, live_renderer(streams, mode))
    finally:
        engine.close()


def print_json(streams: Streams, transcript: Transcript, model: str, request: Request,
               extra: dict[str, Any]) -> None:
    """`--json`: ask's result object, with the command's own keys added or replaced."""
    obj = result_object(transcript, model, request.images)
    obj.update(extra)
    streams.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    streams.stdout.flush()
