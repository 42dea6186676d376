"""The on-disk cache: files of bytes under a key, with a header that proves what they are.

Two kinds of entry live here (see engine/prefix_cache.py for what goes in them):
`prefix/` holds llama.cpp sequence states after a prompt's prefix, `image/` holds image
encoder outputs. Each entry is one file:

    MAGIC, header length (4 bytes, little-endian), header (JSON), payload

The header names the entry's key, its payload's length and SHA-256, what it holds in
words (for `glmv cache ls`) and what the engine needs to use it. An entry whose magic,
key, length or checksum is wrong (a truncated write, a flipped bit, a file from another
version) is never trusted: it is deleted and treated as a miss.

Writes go to a temporary file in the same directory and are renamed into place, so a
reader sees a whole entry or none. Eviction (least recently used first, by the file's
mtime, which a hit refreshes) runs under a lock file, so two glmv processes never evict
each other's half-counted state; two processes writing the same entry both write whole
files and the later rename wins. The cache must never break an answer: any OS error here
is a miss (reads) or a skipped save (writes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

MAGIC = b"GLMV-CACHE\x00\x01"
KINDS = ("prefix", "image")
SUFFIX = ".entry"
_LOCK_WAIT_S = 10.0  # eviction by another process takes milliseconds
_STALE_TEMP_S = 3600.0  # a temporary file this old was left by a killed process


@dataclass(frozen=True)
class Entry:
    """An entry as `glmv cache ls` shows it."""

    path: Path
    kind: str
    key: str
    size: int  # bytes on disk
    last_used: float  # epoch seconds
    created: float
    what: str


class CacheStore:
    """A directory of entries, capped at `max_bytes` (least recently used evicted)."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    # -- one entry ---------------------------------------------------------------------

    def get(self, kind: str, key: str) -> tuple[dict[str, Any], bytearray] | None:
        """The entry's header and payload, or None when absent or not to be trusted."""
        path = self._path(kind, key)
        try:
            with path.open("rb") as f:
                header = _read_header(f)
                if header is None or header.get("key") != key or header.get("kind") != kind:
                    raise _Corrupt
                size = header["size"]
                payload = bytearray(size)
                if f.readinto(payload) != size or f.read(1):
                    raise _Corrupt
            if hashlib.sha256(payload).hexdigest() != header["sha256"]:
                raise _Corrupt
        except FileNotFoundError:
            return None
        except (_Corrupt, OSError, ValueError, KeyError, TypeError):
            _unlink(path)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # last use, for eviction
        return header, payload

    def put(self, kind: str, key: str, what: str, meta: dict[str, Any],
            payload: bytes | bytearray | memoryview) -> bool:
        """Store an entry (atomically), then evict down to the cap. False if it could not
        be written (no space, no permission); the caller goes on without it."""
        size = len(payload)
        if size > self.max_bytes:
            return False
        header = json.dumps({
            "kind": kind, "key": key, "size": size,
            "sha256": hashlib.sha256(payload).hexdigest(),
            "created": time.time(), "what": what, "meta": meta,
        }).encode()
        path = self._path(kind, key)
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + struct.pack("<I", len(header)) + header)
                f.write(payload)
            os.replace(tmp, path)
            tmp = None
        except OSError:
            return False
        finally:
            if tmp is not None:
                _unlink(Path(tmp))
        self.evict()
        return True

    # -- the whole cache -----------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """Every readable entry, most recently used first (headers only are read)."""
        found = []
        for kind, path in self._files():
            try:
                st = path.stat()
                with path.open("rb") as f:
                    header = _read_header(f)
            except (OSError, ValueError):
                continue
            if header is None:
                continue
            found.append(Entry(path, kind, str(header.get("key", "?")), st.st_size,
                               st.st_mtime, float(header.get("created", st.st_mtime)),
                               str(header.get("what", "?"))))
        return sorted(found, key=lambda e: e.last_used, reverse=True)

    def clear(self, older_than_s: float | None = None) -> tuple[int, int]:
        """Delete entries (those unused for `older_than_s`, if given); (count, bytes)."""
        cutoff = None if older_than_s is None else time.time() - older_than_s
        count = freed = 0
        with self._lock():
            for _kind, path in self._files(temporaries=True):
                try:
                    st = path.stat()
                except OSError:
                    continue
                if cutoff is not None and st.st_mtime >= cutoff:
                    continue
                if _unlink(path):
                    count += path.name.endswith(SUFFIX)
                    freed += st.st_size
        return count, freed

    def evict(self) -> None:
        """Delete least recently used entries until the cache fits in `max_bytes`."""
        try:
            lock = self._lock()
            lock.acquire(timeout=_LOCK_WAIT_S)
        except (Timeout, OSError):
            return  # another process is evicting; it will be done soon
        try:
            files = []
            now = time.time()
            for _kind, path in self._files(temporaries=True):
                try:
                    st = path.stat()
                except OSError:
                    continue
                if not path.name.endswith(SUFFIX):
                    if now - st.st_mtime > _STALE_TEMP_S:
                        _unlink(path)
                    continue
                files.append((st.st_mtime, st.st_size, path))
            total = sum(size for _, size, _ in files)
            for _mtime, size, path in sorted(files):
                if total <= self.max_bytes:
                    break
                if _unlink(path):
                    total -= size
        finally:
            lock.release()

    def _lock(self) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / ".lock"))

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / (key + SUFFIX)

    def _files(self, temporaries: bool = False) -> Iterator[tuple[str, Path]]:
        for kind in KINDS:
            folder = self.root / kind
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                if name.endswith(SUFFIX) or (temporaries and name.startswith(".tmp-")):
                    yield kind, folder / name


class _Corrupt(Exception):
    pass


def _read_header(f: Any) -> dict[str, Any] | None:
    start = f.read(len(MAGIC) + 4)
    if len(start) != len(MAGIC) + 4 or not start.startswith(MAGIC):
        return None
    (length,) = struct.unpack("<I", start[len(MAGIC):])
    if length > 1 << 20:
        return None
    raw = f.read(length)
    if len(raw) != length:
        return None
    header = json.loads(raw)
    return header if isinstance(header, dict) else None


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:
        return False
