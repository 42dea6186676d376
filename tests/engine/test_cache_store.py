"""The prefix cache's files: whole entries or none, damaged ones never trusted, least
recently used evicted first, safe with several glmv processes at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glmv_cli.engine.cache_keys import chain, file_identity, pixels_key
from glmv_cli.engine.cache_store import MAGIC, CacheStore


def store(tmp_path: Path, max_bytes: int = 1 << 20) -> CacheStore:
    return CacheStore(tmp_path / "cache", max_bytes)


def test_an_entry_comes_back_as_it_was_put(tmp_path):
    s = store(tmp_path)
    payload = os.urandom(5000)
    assert s.put("prefix", "k1", "photo.png (391 tokens)", {"n_past": 7}, payload)
    header, data = s.get("prefix", "k1")
    assert bytes(data) == payload
    assert header["meta"] == {"n_past": 7} and header["what"] == "photo.png (391 tokens)"
    assert s.get("prefix", "k2") is None
    assert s.get("image", "k1") is None  # the kinds are apart


@pytest.mark.parametrize("damage", ["flip", "truncate", "extend", "foreign", "empty"])
def test_a_damaged_entry_is_a_miss_and_is_deleted(tmp_path, damage):
    s = store(tmp_path)
    s.put("prefix", "k1", "x", {}, os.urandom(4000))
    path = tmp_path / "cache" / "prefix" / "k1.entry"
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[-100] ^= 0x01
    elif damage == "truncate":
        raw = raw[:-1]
    elif damage == "extend":
        raw += b"\x00"
    elif damage == "foreign":
        raw = bytearray(b"GGUF" + bytes(raw[4:]))
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    assert s.get("prefix", "k1") is None
    assert not path.exists()


def test_an_entry_under_another_key_is_not_trusted(tmp_path):
    """A file renamed (or copied) under another key holds another state."""
    s = store(tmp_path)
    s.put("prefix", "k1", "x", {}, b"state one")
    folder = tmp_path / "cache" / "prefix"
    (folder / "k1.entry").rename(folder / "k2.entry")
    assert s.get("prefix", "k2") is None


def test_least_recently_used_entries_go_first(tmp_path):
    s = store(tmp_path, max_bytes=3 * 1400)  # three entries (1000 bytes and a header)
    for i, key in enumerate(["a", "b", "c"]):
        s.put("prefix", key, key, {}, bytes(1000))
        os.utime(s._path("prefix", key), (1000 + i, 1000 + i))
    assert s.get("prefix", "a") is not None  # a use makes "a" the most recent
    s.put("prefix", "d", "d", {}, bytes(1000))
    kept = {e.key for e in s.entries()}
    assert kept == {"a", "c", "d"}
    assert sum(e.size for e in s.entries()) <= s.max_bytes


def test_an_entry_bigger_than_the_cap_is_not_written(tmp_path):
    s = store(tmp_path, max_bytes=100)
    assert not s.put("prefix", "big", "big", {}, bytes(1000))
    assert s.entries() == []


def test_clear_everything_or_only_old_entries(tmp_path):
    s = store(tmp_path)
    s.put("prefix", "old", "old", {}, b"1")
    s.put("image", "new", "new", {}, b"2")
    week = 7 * 86400
    os.utime(s._path("prefix", "old"), (time.time() - 2 * week,) * 2)
    assert s.clear(older_than_s=week)[0] == 1
    assert [e.key for e in s.entries()] == ["new"]
    assert s.clear()[0] == 1
    assert s.entries() == []


def test_a_missing_or_unwritable_dir_is_a_miss_not_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    s = CacheStore(blocker / "cache", 1 << 20)
    assert s.get("prefix", "k") is None
    assert s.put("prefix", "k", "x", {}, b"data") is False
    assert s.entries() == []


def test_a_temporary_file_left_by_a_killed_writer_is_cleaned_up(tmp_path):
    s = store(tmp_path)
    s.put("prefix", "k", "x", {}, b"data")
    stale = tmp_path / "cache" / "prefix" / ".tmp-killed"
    stale.write_bytes(MAGIC + b"half")
    os.utime(stale, (time.time() - 7200,) * 2)
    s.evict()
    assert not stale.exists()
    assert [e.key for e in s.entries()] == ["k"]


_WRITER = """
import os, sys
from pathlib import Path
from glmv_cli.engine.cache_store import CacheStore
s = CacheStore(Path(sys.argv[1]), 1 << 30)
payload = bytes([int(sys.argv[2])]) * 3_000_000
for i in range(20):
    assert s.put("prefix", "same", "w", {"writer": sys.argv[2]}, payload)
    got = s.get("prefix", "same")
    assert got is not None, "a reader saw a half-written entry"
"""


def test_processes_writing_the_same_entry_at_once_leave_a_whole_one(tmp_path):
    root = tmp_path / "cache"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(root), str(n)])
             for n in (1, 2, 3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    header, data = CacheStore(root, 1 << 30).get("prefix", "same")
    writer = int(header["meta"]["writer"])
    assert bytes(data) == bytes([writer]) * 3_000_000
    assert not [p for p in (root / "prefix").iterdir() if p.name.startswith(".tmp-")]


def test_keys_change_with_every_part(tmp_path):
    base = chain("", "model-a")
    assert chain(base, "text", False, "hi") != chain(base, "text", True, "hi")
    assert chain(base, "text", False, "hi") != chain(chain("", "model-b"), "text", False, "hi")
    assert pixels_key(b"\x00" * 12, 2, 2) != pixels_key(b"\x00" * 12, 4, 1)
    assert pixels_key(b"\x00" * 12, 2, 2) != pixels_key(b"\x00" * 11 + b"\x01", 2, 2)


def test_a_model_file_identity_follows_its_content_not_its_name(tmp_path):
    a = tmp_path / "a.gguf"
    a.write_bytes(os.urandom(3 << 20))
    b = tmp_path / "b.gguf"
    b.write_bytes(a.read_bytes())
    assert file_identity(a) == file_identity(b)
    # (New names: the identity is remembered per path, size and mtime.)
    for offset in (10, (3 << 20) - 10):  # the header end and the last tensor's end
        raw = bytearray(a.read_bytes())
        raw[offset] ^= 0xFF
        changed = tmp_path / f"changed-{offset}.gguf"
        changed.write_bytes(bytes(raw))
        assert file_identity(a) != file_identity(changed)
    longer = tmp_path / "longer.gguf"
    longer.write_bytes(a.read_bytes() + b"\x00")
    assert file_identity(a) != file_identity(longer)
