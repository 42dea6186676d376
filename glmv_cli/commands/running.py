"""What every answering command does the same way: resolve the model (offering a download
to a person at a terminal), open the engine, and stream events into a renderer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from glmv_cli.commands.options import AnswerOptions, ModelChoice
from glmv_cli.engine.base import Engine, check_request
from glmv_cli.engine.factory import open_engine
from glmv_cli.engine.request import Request
from glmv_cli.engine.transcript import Transcript
from glmv_cli.errors import (
    AnswerError,
    ContextOverflowError,
    GlmvError,
    Interrupted,
    OutputClosed,
)
from glmv_cli.models.download import PulledFile
from glmv_cli.models.ref import ModelRef, RemoteModel
from glmv_cli.models.registry import ModelEntry
from glmv_cli.models.resolve import resolve_model
from glmv_cli.render import Renderer
from glmv_cli.render.choose import live_renderer
from glmv_cli.render.json import result_object, settings_object
from glmv_cli.streams import Streams


def resolve(choice: ModelChoice, streams: Streams) -> ModelRef:
    """The model the user chose; one that is not downloaded is offered for download when
    a person is at the terminal."""
    fetch = _offer_download(streams) if streams.stdin_isatty and streams.stderr_isatty \
        else None
    return resolve_model(choice.model, choice.model_file, choice.mmproj, fetch,
                         endpoint=choice.endpoint, model_name=choice.model_name,
                         api_key=choice.api_key)


def _offer_download(streams: Streams) -> Callable[[ModelEntry], list[PulledFile] | None]:
    def fetch(entry: ModelEntry) -> list[PulledFile] | None:
        from glmv_cli.commands.pull import pull_with_progress
        from glmv_cli.models.download import human_size

        size = f" ({human_size(entry.size)})" if entry.size else ""
        streams.stderr.write(f"Model '{entry.name}'{size} is not downloaded. Download it "
                             f"now from {entry.repo}? [y/N] ")
        streams.stderr.flush()
        answer = streams.stdin.readline().decode(errors="replace").strip().lower()
        return pull_with_progress(entry, streams) if answer in ("y", "yes") else None

    return fetch


def engine_for(opts: AnswerOptions, model: ModelRef,
               max_image_tokens: int | None = None) -> Engine:
    """The engine for `model`, run as the options say: a local one not loaded yet, a
    remote one connected (so that a server that is down fails first, and the model's
    name is the one the server gives)."""
    engine = open_engine(model, opts.engine.settings(opts.output.verbose, max_image_tokens))
    if isinstance(model, RemoteModel):
        try:
            engine.load()
        except BaseException:
            engine.close()
            raise
    return engine


def run_request(engine: Engine, request: Request, renderer: Renderer) -> Transcript:
    """Stream `request` through `engine` into `renderer`; raise Interrupted after Ctrl-C,
    once what was produced so far has been shown."""
    check_request(engine, request)
    transcript = Transcript()

    def folded() -> Iterator[Any]:
        for event in engine.generate(request):
            transcript.add(event)
            yield event

    run_events(folded(), renderer, transcript)
    if transcript.done and transcript.done.finish_reason == "interrupted":
        raise Interrupted()
    return transcript


def answer(streams: Streams, opts: AnswerOptions, model: ModelRef, request: Request
           ) -> Transcript:
    """Load the model, answer `request` with a live display, return the transcript (for a
    command that makes something else of the answer)."""
    each = answer_each(streams, opts, model, [request])
    try:
        return next(each)
    finally:
        each.close()  # closes the engine


def answer_each(streams: Streams, opts: AnswerOptions, model: ModelRef,
                requests: Iterable[Request], before: Callable[[Request], None] | None = None
                ) -> Iterator[Transcript]:
    """Answer each request in turn on one loaded model; `before` runs ahead of each (a
    page heading, say)."""
    with engine_for(opts, model) as engine:
        for request in requests:
            if before:
                before(request)
            yield run_request(engine, request, live_renderer(streams, opts.output.display))


def unusable(transcript: Transcript, problem: str, room: str) -> GlmvError:
    """The error for an answer a command cannot use: a context overflow when the context
    window cut it off, else an unusable answer (cut off by --max-tokens, or malformed).
    `room` says what the answer needs, for the hint."""
    done = transcript.done
    if done and done.context_full:
        return ContextOverflowError(f"{problem}: the context window filled up",
                                    hint=f"raise --context; {room}")
    if done and done.finish_reason == "length":
        return AnswerError(f"{problem}: the answer was cut off by --max-tokens",
                           hint=f"raise --max-tokens or cap --think-budget; {room}")
    return AnswerError(problem)


def print_json(streams: Streams, obj: dict[str, Any]) -> None:
    """One JSON object on stdout, as --json promises."""
    streams.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    streams.stdout.flush()


def json_result(transcript: Transcript, model: str, request: Request,
                extra: dict[str, Any]) -> dict[str, Any]:
    """ask's --json object, with a command's own keys added or replaced."""
    return {**result_object(transcript, model, request.images),
            "settings": settings_object(request), **extra}


class _EventRenderer(Protocol):
    def event(self, event: Any) -> None: ...

    def close(self, result: Any) -> None: ...


def run_events(events: Iterator[Any], renderer: _EventRenderer, result: Any) -> Any:
    """Feed a multi-step job's events (a document's plan) to `renderer`; after Ctrl-C,
    close it (showing what was produced) and raise Interrupted. A closed stdout ends the
    run quietly."""
    try:
        try:
            for event in events:
                renderer.event(event)
        except Interrupted:
            renderer.close(result)
            raise
        renderer.close(result)
    except BrokenPipeError:
        raise OutputClosed() from None
    return result
