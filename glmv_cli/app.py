"""The root Typer app, and `main`, which maps every failure to a one-line message and an
exit code (see errors.py)."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from types import FrameType

import typer

from glmv_cli import __version__
from glmv_cli.commands.ask import HELP as ASK_HELP
from glmv_cli.commands.ask import ask
from glmv_cli.errors import EXIT_CODE_HELP, ExitCode, GlmvError, Interrupted, OutputClosed

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


def _version(value: bool) -> None:
    if value:
        print(f"glmv {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Local visual reasoning with GLM-4.1V-Thinking, through llama.cpp."""


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    raise Interrupted()


def main() -> None:
    """Entry point of the `glmv` script."""
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        app(prog_name="glmv")
    except Interrupted:
        _fail("interrupted", ExitCode.INTERRUPTED)
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
        _fail(f"internal error: {type(e).__name__}: {e} (set GLMV_DEBUG=1 for the traceback)",
              ExitCode.FAILURE)


def _fail(message: str, code: int) -> None:
    try:
        sys.stderr.write(f"glmv: {message}\n")
        sys.stderr.flush()
    finally:
        sys.exit(code)
