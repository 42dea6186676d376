"""`glmv chat`: follow-up questions about images at a prompt, the model kept loaded."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from glmv_cli import paths, signals
from glmv_cli.atomic import write_text_atomic
from glmv_cli.commands.options import AnswerOptions, PdfSource, shared_options
from glmv_cli.commands.running import engine_for, resolve, run_request
from glmv_cli.engine.base import Engine
from glmv_cli.errors import ContextOverflowError, GlmvError, Interrupted
from glmv_cli.render.choose import answer_renderer
from glmv_cli.streams import Streams
from glmv_cli.tasks.chat import (
    COMMANDS,
    Command,
    Conversation,
    describe,
    load_media,
    parse_command,
)

PROMPT = "› "

HELP = """Talk about images: ask a question, then follow-ups, with the model loaded once.

\b
  glmv chat photo.png
  glmv chat before.png after.png
  glmv chat report.pdf --pages 1-4
  printf 'What is it?\\nAnd its colour?\\n' | glmv chat photo.png
  glmv chat photo.png --json < questions.txt > answers.jsonl

\b
At the prompt:
  /image PATH    add an image, a PDF's pages or a video's frames
  /clear         forget the questions and answers so far (the images stay)
  /save FILE     write the conversation to FILE as Markdown
  /think on|off  let the model think first, or answer at once
  /help, /exit   (Ctrl-D leaves too)

The images are read once: a follow-up only reads the new question (earlier answers are \
kept, their thinking is not, as the model was trained). Ctrl-C stops an answer and returns \
to the prompt. Piped, stdin gives one question per line and stdout gets each answer alone \
as plain text, or with --json one JSON object per answer.
"""


@shared_options()
def chat(
    *,  # (keyword-only: the inputs may be left out, the option groups come after them)
    inputs: Annotated[list[str] | None, typer.Argument(
        metavar="INPUT", show_default=False,
        help="Images, PDFs (their pages, up to 20) or videos (sampled frames) to talk "
             "about; more can join later with /image.")] = None,
    pdf: PdfSource,
    opts: AnswerOptions,
) -> None:
    streams = Streams.from_process()
    model = resolve(opts.model, streams)
    conv = Conversation(opts.generation.request("", (), model.sampling))
    budget = opts.engine.max_image_tokens
    for path in inputs or []:
        _add(streams, conv, path, budget, pdf, fail=True)
    interactive = streams.stdin_isatty
    if interactive:
        _say(streams, "Ask about "
             + (describe(tuple(conv.media)) or "anything (/image PATH adds an image)")
             + ". /help lists the commands, Ctrl-D leaves.")
    lines = _terminal_lines(streams) if interactive else _piped_lines(streams.stdin)
    with engine_for(opts, model) as engine:
        for line in lines:
            try:
                command = parse_command(line)
            except GlmvError as e:
                _say(streams, e.message)
                continue
            if command is not None:
                if command.name == "exit":
                    break
                _run_command(streams, conv, command, budget, pdf)
            elif line.strip():
                _ask(streams, opts, engine, conv, line.strip())


def _ask(streams: Streams, opts: AnswerOptions, engine: Engine, conv: Conversation,
         question: str) -> None:
    request = conv.request(question)
    renderer = answer_renderer(streams, opts.output.display, engine.name, request)
    try:
        transcript = run_request(engine, request, renderer)
    except Interrupted:
        # Ctrl-C stops this answer only; SIGTERM, or an image encode that cannot be
        # stopped, ends glmv.
        if signals.terminated() or signals.native_work_running():
            raise
        _say(streams, "stopped (the question is forgotten; ask again or go on)")
        return
    except ContextOverflowError as e:
        _say(streams, f"{e.message}: /clear forgets the conversation so far")
        return
    conv.answered(question, transcript.answer.strip(), transcript.thinking.strip())
    if transcript.done and transcript.done.context_full:
        _say(streams, "the context window is full: /clear forgets the conversation so far")


def _run_command(streams: Streams, conv: Conversation, command: Command, budget: int,
                 pdf: PdfSource) -> None:
    if command.name == "help":
        _say(streams, "\n".join(f"  {name:<15}{what}" for name, what in COMMANDS.items()))
    elif command.name == "clear":
        conv.clear()
        _say(streams, "cleared: the next question starts a new conversation")
    elif command.name == "think":
        conv.set_think(command.arg == "on")
        _say(streams, f"thinking {command.arg}")
    elif command.name == "image":
        _add(streams, conv, command.arg, budget, pdf, fail=False)
    elif command.name == "save":
        try:
            write_text_atomic(Path(command.arg).expanduser(), conv.markdown())
        except GlmvError as e:
            _say(streams, e.message)
            return
        _say(streams, f"saved to {command.arg}")


def _add(streams: Streams, conv: Conversation, path: str, budget: int, pdf: PdfSource,
         fail: bool) -> None:
    """Read an input into the conversation; a bad one ends glmv at start (`fail`), and
    is reported at the prompt later."""
    try:
        media, warnings = load_media(path, budget, pdf.pages, pdf.password, pdf.page_timeout)
    except GlmvError as e:
        if fail:
            raise
        _say(streams, e.message)
        return
    for warning in warnings:
        _say(streams, f"warning: {warning}")
    conv.add(media)
    if not fail:
        _say(streams, f"added {describe(media)}: it comes with your next question")


def _say(streams: Streams, message: str) -> None:
    streams.stderr.write(f"glmv: {message}\n")
    streams.stderr.flush()


def _piped_lines(stdin: BinaryIO) -> Iterator[str]:
    for raw in stdin:
        yield raw.decode(errors="replace").rstrip("\r\n")


def _terminal_lines(streams: Streams) -> Iterator[str]:
    """Lines typed at a prompt with line editing and history (prompt_toolkit); the prompt
    goes to stderr, stdout stays for answers. Ctrl-C on a line clears it; Ctrl-D ends."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.output import create_output

    history_file = paths.cache_dir() / "chat-history"
    try:
        history_file.parent.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(history_file))
    except OSError:
        history = None
    session: PromptSession[str] = PromptSession(
        history=history, output=create_output(stdout=sys.stderr))
    while True:
        try:
            yield session.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
