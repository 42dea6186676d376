"""`glmv --help` and `glmv --version` answer at once (under 0.2 s on a 2-core machine):
importing the app loads none of the libraries that only answering needs, each of which
costs tens of milliseconds or more to import. They are imported where they are used."""

from __future__ import annotations

import subprocess
import sys

# Top-level packages only an answer, a download or a decoder needs.
HEAVY = {"llama_cpp", "numpy", "PIL", "fitz", "pymupdf", "cv2", "bm25s", "Stemmer",
         "jsonschema", "httpx2", "huggingface_hub", "psutil"}


def loaded_after(code: str) -> set[str]:
    """Top-level packages imported by running `code` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()
    return {name.split(".")[0] for name in out}


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
