"""The root Typer app, and `main`, which maps every failure to a one-line message and an
exit code (see errors.py)."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import typer
import typer.core
import typer.main

from glmv_cli import VERSION_LINE, signals
from glmv_cli.errors import (
    EXIT_CODE_HELP,
    ExitCode,
    GlmvError,
    Interrupted,
    OutputClosed,
)


@dataclass(frozen=True)
class CommandEntry:
    """A command as the root app knows it before its module is imported."""

    name: str
    # The first paragraph of the command's help: what `glmv --help` lists. It must equal
    # the command's own (tests/commands/test_startup.py checks each one).
    summary: str
    # "module:attribute": a command function (its help is the module's HELP) or a Typer
    # app of subcommands.
    target: str
    panel: str | None = None
    no_args_is_help: bool = False


COMMANDS = (
    CommandEntry("ask", "Ask a question about one or more images.",
                 "glmv_cli.commands.ask:ask", no_args_is_help=True),
    CommandEntry("chat", "Talk about images: ask a question, then follow-ups, with the model "
                 "loaded once.", "glmv_cli.commands.chat:chat"),
    CommandEntry("batch", "Ask one question about many inputs: one JSON line per input.",
                 "glmv_cli.commands.batch:batch", no_args_is_help=True),
    CommandEntry("ground", "Find things in an image and get their bounding boxes, in pixels.",
                 "glmv_cli.commands.ground:ground", no_args_is_help=True),
    CommandEntry("act", "Decide the next GUI action for a task, from a screenshot.",
                 "glmv_cli.commands.act:act", no_args_is_help=True),
    CommandEntry("code", "Turn a UI screenshot or mock-up into code.",
                 "glmv_cli.commands.code:code", no_args_is_help=True),
    CommandEntry("video", "Ask a question about a video.",
                 "glmv_cli.commands.video:video", no_args_is_help=True),
    CommandEntry("pdf", "Summarise a PDF, answer a question about it, or transcribe it to "
                 "Markdown.", "glmv_cli.commands.pdf:pdf", no_args_is_help=True),
    CommandEntry("pull", "Download a model (text GGUF + vision projector).",
                 "glmv_cli.commands.pull:pull", panel="Models"),
    CommandEntry("models", "List known models: name, quant, size, installed, path, default.",
                 "glmv_cli.commands.models:models", panel="Models"),
    CommandEntry("rm", "Delete a downloaded model's files from the Hugging Face cache.",
                 "glmv_cli.commands.rm:rm", panel="Models", no_args_is_help=True),
    CommandEntry("doctor", "Check this install and run a self-test.",
                 "glmv_cli.commands.doctor:doctor", panel="Models"),
    CommandEntry("cache", "The prefix cache: model states saved after reading images, so that "
                 "another question about them starts in seconds instead of minutes.",
                 "glmv_cli.commands.cache:cache_app", panel="Models"),
)


class LazyCommand(typer.core.TyperCommand):
    """What the root help lists for a command: its name, summary and panel. Running the
    command, or asking for its own help, loads the real one (see LazyGroup)."""

    def __init__(self, entry: CommandEntry) -> None:
        super().__init__(name=entry.name, help=entry.summary, rich_help_panel=entry.panel)
        self.entry = entry

    def load(self) -> typer.core.TyperCommand | typer.core.TyperGroup:
        """Import the command's module and build the command as Typer would have had it
        been registered on the root app."""
        module_name, _, attribute = self.entry.target.partition(":")
        module = importlib.import_module(module_name)
        target = getattr(module, attribute)
        # A throwaway app with the root's settings: Typer builds the command from it.
        holder = typer.Typer(rich_markup_mode=app.rich_markup_mode,
                             pretty_exceptions_short=app.pretty_exceptions_short)
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=self.entry.name, rich_help_panel=self.entry.panel)
        else:
            holder.command(self.entry.name, help=module.HELP, rich_help_panel=self.entry.panel,
                           no_args_is_help=self.entry.no_args_is_help)(target)
        return typer.main.get_group(holder).commands[self.entry.name]


class LazyGroup(typer.core.TyperGroup):
    """The root group: every command in COMMANDS, its module imported only when that
    command is resolved to run (or to show its own help). Importing them all costs
    several tenths of a second that `glmv --help` should not pay."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for entry in COMMANDS:
            self.commands[entry.name] = LazyCommand(entry)

    def resolve_command(
        self, ctx: typer.Context, args: list[str],
    ) -> tuple[str | None, typer.core.TyperCommand | None, list[str]]:
        # Unknown names fail here as Click reports them (with Typer's suggestions).
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, LazyCommand):
            command = command.load()
        return name, command, rest


app = typer.Typer(
    name="glmv",
    cls=LazyGroup,
    help="Local visual reasoning with GLM-4.1V-Thinking, through llama.cpp.\n\n"
    + EXIT_CODE_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(VERSION_LINE)
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Local visual reasoning with GLM-4.1V-Thinking, through llama.cpp."""
    # config.toml supplies defaults to every command that has the option; flags and
    # environment variables still win. doctor reports a broken config instead of failing.
    if ctx.invoked_subcommand == "doctor":
        return
    # Imported here: `glmv --help` never gets this far and need not pay for tomllib.
    from glmv_cli.config import load_config

    settings = load_config()
    if settings:
        commands = getattr(ctx.command, "commands", {})
        ctx.default_map = {name: dict(settings) for name in commands}


def main() -> None:
    """Run the app; every failure becomes one line and an exit code (see errors.py)."""
    signals.install()  # (done already by entry.py, unless main() is called on its own)
    try:
        app(prog_name="glmv")
    except Interrupted:
        message, code = signals.outcome()
        if signals.native_work_running():
            # Ctrl-C left native code computing in a worker (an image encode cannot be
            # aborted): leave now, without running destructors under it.
            _say(message)
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)
        _fail(message, code)
    except GlmvError as e:
        _fail(e.message + (f" ({e.hint})" if e.hint else ""), e.exit_code)
    except (BrokenPipeError, OutputClosed):
        # The reader went away (`| head -1`): not an error. Point stdout at /dev/null so
        # the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(ExitCode.OK)
    except Exception as e:
        if os.environ.get("GLMV_DEBUG"):
            traceback.print_exc()
            # A bug inside a decoder process (inputs/worker.py) brings the child's too.
            sys.stderr.write(getattr(e, "remote_traceback", ""))
        _fail(f"internal error: {type(e).__name__}: {e} (set GLMV_DEBUG=1 for the traceback)",
              ExitCode.FAILURE)


def _say(message: str) -> None:
    with contextlib.suppress(Exception):
        sys.stderr.write(f"glmv: {message}\n")
        sys.stderr.flush()


def _fail(message: str, code: int) -> None:
    try:
        _say(message)
    finally:
        sys.exit(code)
