"""The one place that picks a renderer for the output a command makes.

Rich on a terminal, plain text when piped (a spinner on stderr if that is still a
terminal), one object with --json.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from glmv_cli.engine.request import Request
from glmv_cli.render import Renderer
from glmv_cli.render.json import JsonRenderer, settings_object
from glmv_cli.render.plain import PlainRenderer
from glmv_cli.render.progress import StatusLine
from glmv_cli.streams import Streams


@dataclass(frozen=True)
class Display:
    """What the user asked of the output."""

    json: bool = False
    hide_thinking: bool = False
    show_thinking: bool = False


def _status(streams: Streams) -> StatusLine | None:
    return StatusLine(streams.console(stderr=True)) if streams.stderr_isatty else None


def answer_renderer(streams: Streams, display: Display, model: str, request: Request,
                    json_extra: dict[str, Any] | None = None) -> Renderer:
    """For a command whose output is the answer (ask, video).

    Boxes are mapped onto the request's images; `json_extra` adds a command's own keys to
    the --json object.
    """
    images = request.images
    if display.json:
        extra = {"settings": settings_object(request), **(json_extra or {})}
        return JsonRenderer(streams.stdout, model, images, _status(streams), extra=extra)
    if not streams.stdout_isatty:
        return PlainRenderer(streams.stdout, streams.stderr, display.show_thinking,
                             _status(streams), images=images)
    from glmv_cli.render.terminal import TerminalRenderer  # Rich Markdown: slow to import

    return TerminalRenderer(streams.console(), hide_thinking=display.hide_thinking,
                            images=images)


def live_renderer(streams: Streams, display: Display) -> Renderer:
    """For a command that turns the answer into something else (boxes, an action, files)
    and prints that itself: on a terminal the answer streams by as with `ask`; piped or
    with --json only the spinner and warnings (and --show-thinking's thinking) reach
    stderr, and nothing reaches stdout."""
    if display.json or not streams.stdout_isatty:
        return PlainRenderer(io.StringIO(), streams.stderr,
                             display.show_thinking and not display.json, _status(streams))
    from glmv_cli.render.terminal import TerminalRenderer

    return TerminalRenderer(streams.console(), hide_thinking=display.hide_thinking)


def document_renderer(streams: Streams, display: Display, *, transcribe: bool, model: str,
                      info: Any) -> Any:
    """For `glmv pdf`: progress across steps, then the answer, or page-by-page Markdown.

    (`info` is a render.document_json.DocumentInfo; both imported here, with Rich Markdown,
    only when a document is read.)
    """
    from glmv_cli.render.document import (
        AnswerRenderer,
        DocumentJsonRenderer,
        TranscribePlainRenderer,
        TranscribeTerminalRenderer,
    )

    err_console = streams.console(stderr=True) if streams.stderr_isatty else None
    if display.json:
        return DocumentJsonRenderer(streams.stdout, model, info, err_console)
    if transcribe:
        if streams.stdout_isatty:
            return TranscribeTerminalRenderer(streams.console(), info)
        return TranscribePlainRenderer(streams.stdout, streams.stderr, display.show_thinking,
                                       err_console, info)
    if streams.stdout_isatty:
        from glmv_cli.render.terminal import TerminalRenderer

        console = streams.console()
        return AnswerRenderer(
            lambda: TerminalRenderer(console, hide_thinking=display.hide_thinking),
            console, info, summary_console=console)
    return AnswerRenderer(
        lambda: PlainRenderer(streams.stdout, streams.stderr, display.show_thinking,
                              _status(streams)),
        err_console, info)
