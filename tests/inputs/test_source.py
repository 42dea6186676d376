"""read_source: a path or '-' becomes bytes with a name to show the user."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from glmv_cli.errors import ExitCode, InputError
from glmv_cli.inputs.source import Source, read_source


class _UnreadableStdin(io.BytesIO):
    """Stands in for stdin when a path is given: reading it would be a bug."""

    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("stdin was read for a path argument")


NO_STDIN = _UnreadableStdin()


def test_reads_a_file_and_keeps_the_argument_as_its_name(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG fake bytes")

    src = read_source(str(path), NO_STDIN)

    assert src == Source(str(path), b"\x89PNG fake bytes")


def test_expands_a_leading_tilde_but_shows_the_path_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "scan.jpg").write_bytes(b"jpeg")

    src = read_source("~/scan.jpg", NO_STDIN)

    assert src == Source("~/scan.jpg", b"jpeg")


def test_dash_reads_all_of_stdin() -> None:
    stdin = io.BytesIO(b"\xff\xd8 image bytes from a pipe")

    src = read_source("-", stdin)

    assert src == Source("<stdin>", b"\xff\xd8 image bytes from a pipe")


def test_a_file_named_dash_is_reachable_as_dot_slash_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_bytes(b"file, not stdin")

    assert read_source("./-", NO_STDIN) == Source("./-", b"file, not stdin")


def test_empty_stdin_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"^<stdin>: no data on standard input$"):
        read_source("-", io.BytesIO(b""))


def test_missing_file(tmp_path: Path) -> None:
    arg = str(tmp_path / "nope.png")

    with pytest.raises(InputError, match=rf"^{re.escape(arg)}: no such file$") as info:
        read_source(arg, NO_STDIN)

    assert info.value.exit_code == ExitCode.INPUT


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    arg = str(tmp_path)

    with pytest.raises(InputError, match=rf"^{re.escape(arg)}: is a directory"):
        read_source(arg, NO_STDIN)


def test_zero_byte_file_says_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")

    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: file is empty$"):
        read_source(str(path), NO_STDIN)


def test_other_os_errors_name_the_reason(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    arg = str(tmp_path / "notes.txt" / "image.png")

    with pytest.raises(InputError, match=rf"^{re.escape(arg)}: cannot read \(Not a directory\)$"):
        read_source(arg, NO_STDIN)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read a mode-000 file"
)
def test_unreadable_file_is_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "secret.png"
    path.write_bytes(b"data")
    path.chmod(0)
    try:
        with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: permission denied$"):
            read_source(str(path), NO_STDIN)
    finally:
        path.chmod(0o600)
