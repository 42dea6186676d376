"""Writing a file so that it is never seen half-written: a temporary file in the same
folder, then a rename over the target (atomic on POSIX and Windows)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from glmv_cli.errors import WriteError


def write_atomic(path: Path, write: Callable[[BinaryIO], None], what: str = "") -> None:
    """Call `write` on a temporary file beside `path`, then rename it to `path`.

    On any failure or interruption the temporary file is removed and `path` keeps what it
    had. An OSError becomes a WriteError naming `what` (e.g. '--draw out.png') or the path.
    """
    label = what or str(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise WriteError(f"{label}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(f"{label}: cannot write ({e.strerror or e})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str, what: str = "") -> None:
    """`write_atomic` for UTF-8 text, written as is (no newline translation)."""
    write_atomic(path, lambda f: f.write(text.encode("utf-8")), what)
