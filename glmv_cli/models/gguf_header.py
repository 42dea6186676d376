"""Reading a GGUF file's header: its metadata keys and the shapes of its tensors.

The `gguf` package's GGUFReader decodes every metadata value, including the tokenizer's
hundreds of thousands of strings, into numpy objects: 8.7 s for a GLM-4-sized vocabulary.
glmv needs a handful of keys from each file, in `glmv doctor` and before every model load,
so this reader walks the header through a memory map, steps over arrays it is not asked
for without decoding them, and stops as soon as it has what it was asked for. Only the
header's pages are read, never the weights.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)  # llama.cpp reads no other
# A header claiming more entries than this is damaged (real vocabularies have < 1M tokens).
MAX_COUNT = 1 << 24

# GGUF value types: scalar type id -> struct format.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?",
            10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


class GGUFHeaderError(Exception):
    """The file is not a readable GGUF (wrong magic, unknown version, cut short)."""


@dataclass(frozen=True)
class GGUFHeader:
    """What a GGUF header says: metadata by key, tensor shapes by name (ggml order)."""

    version: int
    metadata: dict[str, Any]
    tensors: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)


def read_header(path: Path, keys: Collection[str] | None = None,
                tensors: bool = False) -> GGUFHeader:
    """Read `path`'s metadata (only `keys`, when given) and, with `tensors`, the shapes of
    its tensors. Raises GGUFHeaderError when the file is not a whole, readable GGUF header.
    """
    with path.open("rb") as f:
        if f.read(4) != MAGIC:
            raise GGUFHeaderError("not a GGUF file")
        view = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    with view:
        return _Walker(view).header(set(keys) if keys is not None else None, tensors)


class _Walker:
    """A cursor over the mapped file that decodes GGUF's little-endian values."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.data):
            raise GGUFHeaderError("the header is cut short")
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return value

    def skip(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise GGUFHeaderError("the header is cut short")
        self.pos += n

    def string(self) -> str:
        n = self.take("Q")
        start = self.pos
        self.skip(n)
        return bytes(self.data[start:self.pos]).decode("utf-8", errors="replace")

    def count(self) -> int:
        n = self.take("Q")
        if n > MAX_COUNT:
            raise GGUFHeaderError(f"a count of {n} entries is not plausible")
        return n

    def value(self, kind: int, keep: bool) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            if keep:
                return self.string()
            self.skip(self.take("Q"))
            return None
        if kind == _ARRAY:
            item, n = self.take("I"), self.count()
            if not keep:
                self._skip_array(item, n)
                return None
            return [self.value(item, keep=True) for _ in range(n)]
        raise GGUFHeaderError(f"unknown metadata type {kind}")

    def _skip_array(self, item: int, n: int) -> None:
        if item in _SCALARS:
            self.skip(n * struct.calcsize("<" + _SCALARS[item]))
        else:  # strings and nested arrays have no fixed size: step over each one
            for _ in range(n):
                self.value(item, keep=False)

    def header(self, keys: set[str] | None, tensors: bool) -> GGUFHeader:
        self.pos = 4
        version = self.take("I")
        if version not in SUPPORTED_VERSIONS:
            raise GGUFHeaderError(f"unsupported GGUF version {version}")
        n_tensors, n_kv = self.count(), self.count()
        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = self.string()
            kind = self.take("I")
            wanted = keys is None or key in keys
            value = self.value(kind, keep=wanted)
            if wanted:
                metadata[key] = value
                if not tensors and keys is not None and len(metadata) == len(keys):
                    return GGUFHeader(version, metadata)  # the rest is not needed
        shapes: dict[str, tuple[int, ...]] = {}
        if tensors:
            for _ in range(n_tensors):
                name = self.string()
                n_dims = self.take("I")
                if n_dims > 8:
                    raise GGUFHeaderError(f"tensor {name} has {n_dims} dimensions")
                shapes[name] = tuple(self.take("Q") for _ in range(n_dims))
                self.skip(4 + 8)  # type, offset
        return GGUFHeader(version, metadata, shapes)
