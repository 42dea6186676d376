"""Reading an input argument (a path, or `-` for stdin) into bytes with its provenance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from glmv_cli.errors import InputError


@dataclass(frozen=True)
class Source:
    """Raw bytes of one input and a name to show the user ('photo.png', '<stdin>')."""

    name: str
    data: bytes


def read_source(arg: str, stdin: BinaryIO) -> Source:
    """Read `arg` as a file path, or all of stdin when `arg` is '-'."""
    if arg == "-":
        data = stdin.read()
        if not data:
            raise InputError("<stdin>: no data on standard input")
        return Source("<stdin>", data)
    path = Path(arg).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{arg}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{arg}: is a directory, not a file") from None
    except PermissionError:
        raise InputError(f"{arg}: permission denied") from None
    except OSError as e:
        raise InputError(f"{arg}: cannot read ({e.strerror or e})") from None
    if not data:
        raise InputError(f"{arg}: file is empty")
    return Source(arg, data)
