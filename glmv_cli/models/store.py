"""Where a registry entry's files are on disk, whether they are whole, and removing them.

Downloaded builds live in the Hugging Face cache: `models--OWNER--REPO/snapshots/REV/FILE`
is a symlink to `blobs/ETAG`. huggingface-hub writes a blob as `ETAG.incomplete` and renames
it only when complete, so a file at the snapshot path is always a whole download.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from glmv_cli import paths
from glmv_cli.models.pulls import pull_for
from glmv_cli.models.registry import TINY_DIR, ModelEntry

HASH_CHUNK = 8 << 20


@dataclass(frozen=True)
class Part:
    """One file of an entry and where it is (None: not on disk)."""

    name: str
    path: Path | None
    expected_size: int | None
    sha256: str | None

    @property
    def size(self) -> int | None:
        return self.path.stat().st_size if self.path else None


def locate(entry: ModelEntry) -> list[Part]:
    """The text model and the mmproj of `entry` (then any further parts of a split text
    model), found on disk or not.

    A pulled entry's files are the ones its pull resolved and recorded, at the commit it
    pulled; otherwise the registry's names are looked up at its revision. A sha256 the
    registry gives for a file wins over the recorded one.
    """
    record = pull_for(entry)
    if record is None:
        return [Part(name, _find(entry, name, entry.revision), size, sha)
                for name, size, sha in entry.parts()]
    given = {name: sha for name, _size, sha in entry.parts() if sha}
    return [Part(f.name, _find(entry, f.name, record.revision), f.size,
                 given.get(f.name, f.sha256)) for f in record.files()]


def _find(entry: ModelEntry, name: str, revision: str) -> Path | None:
    if not name:  # an entry that gives no file name, and was never pulled
        return None
    if entry.builtin:
        path = TINY_DIR / name
    elif entry.repo is None:
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = paths.config_dir() / path
    else:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(entry.repo, name, revision=revision)
        path = Path(found) if isinstance(found, str) else None
    return path if path is not None and path.is_file() else None


def is_installed(entry: ModelEntry) -> bool:
    return all(p.path for p in locate(entry))


def problems(part: Part, verify_hash: bool) -> list[str]:
    """What is wrong with one file: missing, wrong size, not a GGUF, wrong sha256."""
    if part.path is None:
        return ["not downloaded"]
    found: list[str] = []
    size = part.path.stat().st_size
    if part.expected_size is not None and size != part.expected_size:
        found.append(f"size {size} B, expected {part.expected_size} B")
    with part.path.open("rb") as f:
        if f.read(4) != b"GGUF":
            found.append("not a GGUF file")
    if verify_hash and part.sha256 and not found:
        digest = sha256_of(part.path)
        if digest != part.sha256:
            found.append(f"sha256 {digest[:12]}…, expected {part.sha256[:12]}…")
    return found


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def remove_cached(snapshot_path: Path) -> int:
    """Delete one downloaded file from the HF cache: its snapshot link and, when no other
    snapshot still links to it, its blob. Returns the bytes freed."""
    if not snapshot_path.is_symlink():  # systems without symlinks keep plain copies
        freed = snapshot_path.stat().st_size
        snapshot_path.unlink()
        return freed
    blob = snapshot_path.resolve()
    snapshot_path.unlink()
    freed = 0
    if blob.is_file() and not _still_linked(blob):
        freed = blob.stat().st_size
        blob.unlink()
    return freed


def _still_linked(blob: Path) -> bool:
    repo_dir = blob.parent.parent  # models--OWNER--REPO
    snapshots = repo_dir / "snapshots"
    if not snapshots.is_dir():
        return False
    return any(p.is_symlink() and p.resolve() == blob for p in snapshots.rglob("*"))
