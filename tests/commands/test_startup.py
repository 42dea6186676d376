"""`glmv --help` and `glmv --version` answer at once (under 0.2 s on a 2-core machine):
importing the app loads none of the libraries that only answering needs, each of which
costs tens of milliseconds or more to import. They are imported where they are used, and
a command's module only when that command runs or shows its own help."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from glmv_cli.app import COMMANDS, LazyCommand, app

# Top-level packages only an answer, a download or a decoder needs.
HEAVY = {"llama_cpp", "numpy", "PIL", "fitz", "pymupdf", "cv2", "bm25s", "Stemmer",
         "jsonschema", "httpx2", "huggingface_hub", "psutil"}


# What glmv's own code may import to answer `glmv --help`: the app and what main() needs.
HELP_MODULES = {"glmv_cli", "glmv_cli.app", "glmv_cli.errors", "glmv_cli.signals"}

ROOT_HELP = ("from glmv_cli.app import app\n"
             "try:\n    app(['--help'], prog_name='glmv')\nexcept SystemExit:\n    pass")


# Runs `code`, then writes the names of the modules it imported to the real stdout; what
# `code` itself prints goes to /dev/null.
PROBE = """import os, sys
report = os.fdopen(os.dup(1), "w")
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
{code}
report.write(" ".join(sys.modules))
report.close()
"""


def modules_after(code: str) -> set[str]:
    """Modules imported by running `code` in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", PROBE.format(code=code)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return set(out.split())


def loaded_after(code: str) -> set[str]:
    """Top-level packages imported by running `code` in a fresh interpreter."""
    return {name.split(".")[0] for name in modules_after(code)}


def test_importing_the_app_loads_no_heavy_library() -> None:
    assert loaded_after("import glmv_cli.app") & HEAVY == set()


def test_help_and_version_load_no_heavy_library() -> None:
    for flag in ("--help", "--version"):
        code = ("import sys\nfrom glmv_cli.app import app\n"
                f"try:\n    app(['{flag}'], prog_name='glmv')\nexcept SystemExit:\n    pass")
        assert loaded_after(code) & HEAVY == set(), flag


def test_version_answers_before_the_app_is_imported() -> None:
    code = ("import sys\nsys.argv = ['glmv', '--version']\n"
            "from glmv_cli.entry import main\nmain()")
    assert "typer" not in loaded_after(code)


def test_root_help_imports_no_command_module() -> None:
    own = {name for name in modules_after(ROOT_HELP) if name.startswith("glmv_cli")}
    assert own <= HELP_MODULES, sorted(own - HELP_MODULES)


def test_root_help_lists_every_command_in_its_panel() -> None:
    result = CliRunner().invoke(app, ["--help"], prog_name="glmv", env={"COLUMNS": "200"})
    assert result.exit_code == 0
    models_panel = result.output.index("─ Models ─")
    for entry in COMMANDS:
        line = next(line for line in result.output.splitlines()
                    if line.startswith(f"│ {entry.name} "))
        assert entry.summary.split("\n")[0] in line
        in_models = result.output.index(line) > models_panel
        assert in_models == (entry.panel == "Models"), entry.name
    assert "Exit codes: 0 ok" in result.output


def _summary(help_text: str) -> str:
    """What a group's help lists for a command: the first paragraph of its help."""
    return inspect.cleandoc(help_text).split("\n\n")[0]


@pytest.mark.parametrize("entry", COMMANDS, ids=lambda entry: entry.name)
def test_the_listed_summary_is_the_first_paragraph_of_the_commands_help(entry) -> None:
    placeholder = typer.main.get_command(app).commands[entry.name]
    assert isinstance(placeholder, LazyCommand)
    command = placeholder.load()
    assert _summary(command.short_help or command.help or "") == entry.summary
    assert command.rich_help_panel == entry.panel and not command.hidden


def _help_invocations() -> list[list[str]]:
    """`NAME --help` for every command the root lists, and for every subcommand."""
    invocations = []
    for entry in COMMANDS:
        invocations.append([entry.name, "--help"])
        command = LazyCommand(entry).load()
        for sub in getattr(command, "commands", {}):
            invocations.append([entry.name, sub, "--help"])
    return invocations


@pytest.mark.parametrize("args", _help_invocations(), ids=" ".join)
def test_every_command_shows_its_own_help(args) -> None:
    result = CliRunner().invoke(app, args, prog_name="glmv", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f"Usage: glmv {' '.join(args[:-1])} [OPTIONS]" in result.output
