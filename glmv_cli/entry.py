"""The `glmv` command's first code. Importing the app (Typer, Rich), then the command's own
module, takes a few tenths of a second; Ctrl-C or SIGTERM in that time must stop glmv the
usual way, with its message and exit code, not kill the interpreter with a traceback. (The
command's module is imported inside app.main(), which handles them the same way.)"""

from __future__ import annotations

import sys

from glmv_cli import VERSION_LINE, signals
from glmv_cli.errors import Interrupted


def main() -> None:
    """Entry point of the `glmv` script and of `python -m glmv_cli`."""
    if sys.argv[1:] == ["--version"]:
        # Answered before the app is imported: scripts call this to check the install,
        # and it needs none of it. (The app's own --version says the same.)
        print(VERSION_LINE)
        return
    signals.install()
    try:
        from glmv_cli.app import main as run
    except Interrupted:
        message, code = signals.outcome()
        sys.stderr.write(f"glmv: {message}\n")
        sys.exit(code)
    try:
        run()
    finally:
        # Done, or stopped: the interpreter's own shutdown puts the default handlers back,
        # under which a late signal would kill the process instead of letting it exit.
        signals.ignore()
