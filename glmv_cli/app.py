"""The root Typer app, and `main`, which maps every failure to a one-line message and an
exit code (see errors.py)."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback

import typer

from glmv_cli import VERSION_LINE, signals
from glmv_cli.commands.act import HELP as ACT_HELP
from glmv_cli.commands.act import act
from glmv_cli.commands.ask import HELP as ASK_HELP
from glmv_cli.commands.ask import ask
from glmv_cli.commands.batch import HELP as BATCH_HELP
from glmv_cli.commands.batch import batch
from glmv_cli.commands.cache import cache_app
from glmv_cli.commands.chat import HELP as CHAT_HELP
from glmv_cli.commands.chat import chat
from glmv_cli.commands.code import HELP as CODE_HELP
from glmv_cli.commands.code import code
from glmv_cli.commands.doctor import HELP as DOCTOR_HELP
from glmv_cli.commands.doctor import doctor
from glmv_cli.commands.ground import HELP as GROUND_HELP
from glmv_cli.commands.ground import ground
from glmv_cli.commands.models import HELP as MODELS_HELP
from glmv_cli.commands.models import models
from glmv_cli.commands.pdf import HELP as PDF_HELP
from glmv_cli.commands.pdf import pdf
from glmv_cli.commands.pull import HELP as PULL_HELP
from glmv_cli.commands.pull import pull
from glmv_cli.commands.rm import HELP as RM_HELP
from glmv_cli.commands.rm import rm
from glmv_cli.commands.video import HELP as VIDEO_HELP
from glmv_cli.commands.video import video
from glmv_cli.config import load_config
from glmv_cli.errors import (
    EXIT_CODE_HELP,
    ExitCode,
    GlmvError,
    Interrupted,
    OutputClosed,
)

app = typer.Typer(
    name="glmv",
    help="Local visual reasoning with GLM-4.1V-Thinking, through llama.cpp.\n\n"
    + EXIT_CODE_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("ask", help=ASK_HELP, no_args_is_help=True)(ask)
app.command("chat", help=CHAT_HELP)(chat)
app.command("batch", help=BATCH_HELP, no_args_is_help=True)(batch)
app.command("ground", help=GROUND_HELP, no_args_is_help=True)(ground)
app.command("act", help=ACT_HELP, no_args_is_help=True)(act)
app.command("code", help=CODE_HELP, no_args_is_help=True)(code)
app.command("video", help=VIDEO_HELP, no_args_is_help=True)(video)
app.command("pdf", help=PDF_HELP, no_args_is_help=True)(pdf)
app.command("pull", help=PULL_HELP, rich_help_panel="Models")(pull)
app.command("models", help=MODELS_HELP, rich_help_panel="Models")(models)
app.command("rm", help=RM_HELP, no_args_is_help=True, rich_help_panel="Models")(rm)
app.command("doctor", help=DOCTOR_HELP, rich_help_panel="Models")(doctor)
app.add_typer(cache_app, name="cache", rich_help_panel="Models")


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
