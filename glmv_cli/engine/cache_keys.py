"""What identifies a model state or an image encoding, for the caches.

A key is a SHA-256 over everything that determines the cached bytes:
- the model and mmproj files: size plus a hash of their first and last MiB (the GGUF
  header, with every setting and tensor offset, and the last tensor's data). Hashing
  6 GB on every run would cost more than the cache saves; a changed quantisation, vocab
  or tensor layout changes the header, a re-download of the same file keeps the key;
- the llama.cpp version (the state format and the kernels' numerics);
- the engine settings that change the numbers: flash attention, GPU offload;
- the prompt items in order: each text with whether control tokens in it are parsed,
  each image as a hash of its prepared RGB pixels and its size.

Keys chain: the key after item i covers every item up to i, so one comparison tells
whether two prompts agree up to that point.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

_SAMPLE = 1 << 20  # bytes hashed at each end of a model file


@lru_cache(maxsize=16)
def _file_identity(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(_SAMPLE))
        if size > 2 * _SAMPLE:
            f.seek(size - _SAMPLE)
            h.update(f.read(_SAMPLE))
    return h.hexdigest()


def file_identity(path: Path) -> str:
    """A cheap content identity of a (large) model file; cached per process."""
    st = os.stat(path)
    return _file_identity(str(path), st.st_size, st.st_mtime_ns)


def chain(previous: str, *parts: object) -> str:
    """The key after one more item: `previous` extended by `parts`."""
    h = hashlib.sha256(previous.encode())
    for part in parts:
        data = part if isinstance(part, bytes) else repr(part).encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def pixels_key(rgb: bytes, width: int, height: int) -> str:
    """One prepared image: its pixels and size."""
    return chain("image", hashlib.sha256(rgb).digest(), width, height)
