"""Running one request: engine in, renderer out, shared by every answering command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from glmv_cli.engine.base import Engine
from glmv_cli.engine.request import Request
from glmv_cli.engine.transcript import Transcript
from glmv_cli.errors import Interrupted, OutputClosed
from glmv_cli.render import Renderer
from glmv_cli.render.json import JsonRenderer
from glmv_cli.render.plain import PlainRenderer
from glmv_cli.render.progress import StatusLine
from glmv_cli.streams import Streams

if TYPE_CHECKING:
    from glmv_cli.engine.llama import EngineSettings
    from glmv_cli.models.resolve import ModelFiles


@dataclass(frozen=True)
class EngineOptions:
    """The performance options every answering command takes."""

    threads: int | None = None
    gpu_layers: int | None = None
    context: int | None = None
    max_image_tokens: int = 1024
    verbose: bool = False

    def settings(self, files: ModelFiles, max_image_tokens: int | None = None
                 ) -> EngineSettings:
        """How to run `files`; `max_image_tokens` overrides the per-image budget."""
        # Imported here so that `glmv --help` and `--version` do not load llama.cpp.
        from glmv_cli.engine.llama import EngineSettings

        return EngineSettings(
            model_path=files.model, mmproj_path=files.mmproj, threads=self.threads,
            gpu_layers=self.gpu_layers, context_limit=self.context,
            max_image_tokens=max_image_tokens or self.max_image_tokens, verbose=self.verbose,
        )


@dataclass(frozen=True)
class OutputMode:
    json: bool = False
    hide_thinking: bool = False
    show_thinking: bool = False


def pick_renderer(streams: Streams, mode: OutputMode, model: str, request: Request) -> Renderer:
    """Rich on a terminal, plain text when piped, one object with --json.

    A spinner goes to stderr when stdout is redirected but stderr is still a terminal.
    """
    if mode.json or not streams.stdout_isatty:
        status = StatusLine(streams.console(stderr=True)) if streams.stderr_isatty else None
        if mode.json:
            return JsonRenderer(streams.stdout, model, request.images, status)
        return PlainRenderer(streams.stdout, streams.stderr, mode.show_thinking, status,
                             images=request.images)
    from glmv_cli.render.terminal import TerminalRenderer  # Rich Markdown: slow to import

    return TerminalRenderer(streams.console(), hide_thinking=mode.hide_thinking,
                            images=request.images)


def run_request(engine: Engine, request: Request, renderer: Renderer) -> Transcript:
    """Stream `request` through `engine` into `renderer`; raise Interrupted after Ctrl-C,
    once what was produced so far has been shown."""
    transcript = Transcript()
    try:
        try:
            for event in engine.generate(request):
                transcript.add(event)
                renderer.event(event)
        except Interrupted:
            transcript.done = None
            renderer.close(transcript)
            raise
        renderer.close(transcript)
    except BrokenPipeError:
        raise OutputClosed() from None
    if transcript.done and transcript.done.finish_reason == "interrupted":
        raise Interrupted()
    return transcript
