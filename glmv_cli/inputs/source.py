"""Reading an input argument (a path, or `-` for stdin) into bytes with its provenance.

Reads go in chunks from Python, never in one native call: Ctrl-C is handled between
chunks even when data never stops coming (`cat /dev/zero | glmv ask -`), and an input
larger than MAX_INPUT_BYTES is refused instead of filling memory.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from glmv_cli.errors import InputError

# The most bytes one input may have: more than any image glmv can decode (a decompression
# bomb is refused long before) and than all but the largest scanned books.
MAX_INPUT_BYTES = 1 << 30
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """Raw bytes of one input and a name to show the user ('photo.png', '<stdin>')."""

    name: str
    data: bytes


def read_source(arg: str, stdin: BinaryIO) -> Source:
    """Read `arg` as a file path, or all of stdin when `arg` is '-'."""
    if arg == "-":
        data = read_bounded(stdin, "<stdin>")
        if not data:
            raise InputError("<stdin>: no data on standard input")
        return Source("<stdin>", data)
    path = Path(arg).expanduser()
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno())
            if stat.S_ISDIR(size.st_mode):
                raise IsADirectoryError
            if stat.S_ISREG(size.st_mode) and size.st_size > MAX_INPUT_BYTES:
                raise InputError(too_large(arg))
            data = read_bounded(f, arg)
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


def read_bounded(stream: BinaryIO, name: str) -> bytes:
    """All of `stream`, in chunks (Ctrl-C works between them), at most MAX_INPUT_BYTES."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read1(_CHUNK) if hasattr(stream, "read1") else stream.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > MAX_INPUT_BYTES:
            raise InputError(too_large(name))
        chunks.append(chunk)


def too_large(name: str) -> str:
    return f"{name}: too large (over {MAX_INPUT_BYTES >> 20} MB)"
