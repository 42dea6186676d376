"""The record of what `glmv pull` resolved and verified, so later runs work offline.

A pull resolves an entry's repo and quant to real files at one commit (see hub.py). The
result is kept in `pulled.toml` in the config dir, written by glmv alone (a file of your
own, models.toml, is never rewritten): per model the repo, the commit, and each file's
name, size and sha256. Finding the files in the cache, `glmv doctor --verify` and
`glmv rm` read it; nothing there needs the network. Deleting the file only makes glmv
forget, until the next pull, which files a registry entry resolved to.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass

from glmv_cli import paths
from glmv_cli.atomic import write_text_atomic
from glmv_cli.errors import ConfigError
from glmv_cli.models.registry import ModelEntry

HEADER = "# Written by `glmv pull`: the files each model resolved to. Do not edit.\n"


@dataclass(frozen=True)
class FileRecord:
    name: str
    size: int
    sha256: str | None  # None: the Hub gave none (not an LFS file)


@dataclass(frozen=True)
class PullRecord:
    """One pulled model: where its files came from, and what they were."""

    name: str
    repo: str
    revision: str  # the commit the files were downloaded at
    quant: str
    model: tuple[FileRecord, ...]  # the text GGUF; split parts in order
    mmproj: FileRecord

    def files(self) -> list[FileRecord]:
        """The text GGUF's first part, the mmproj, then any further parts (store order)."""
        return [self.model[0], self.mmproj, *self.model[1:]]


def pull_for(entry: ModelEntry) -> PullRecord | None:
    """The record of `entry`'s last pull, if it still describes this entry."""
    if entry.repo is None:
        return None
    record = load_pulls().get(entry.name)
    if record is None or record.repo != entry.repo or record.quant.upper() != \
            entry.quant.upper():
        return None  # the entry now points elsewhere: its old files are not its files
    return record


def load_pulls() -> dict[str, PullRecord]:
    path = paths.pulls_file()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return {name: _record(name, spec) for name, spec in data.get("pulled", {}).items()}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError,
            ValueError) as e:
        raise ConfigError(f"{path} is damaged ({type(e).__name__}: {e})",
                          hint="delete it; the next pull writes it again") from None


def record_pull(record: PullRecord) -> None:
    """Store `record`, replacing an older one of the same name."""
    pulls = load_pulls()
    pulls[record.name] = record
    _write(pulls)


def forget_pull(name: str) -> None:
    pulls = load_pulls()
    if pulls.pop(name, None) is not None:
        _write(pulls)


def _record(name: str, spec: dict) -> PullRecord:
    def file(d: dict) -> FileRecord:
        sha = d.get("sha256")
        return FileRecord(str(d["name"]), int(d["size"]), str(sha) if sha else None)

    model = tuple(file(d) for d in spec["model"])
    if not model:
        raise ValueError(f"model '{name}' has no text model file")
    return PullRecord(name, str(spec["repo"]), str(spec["revision"]), str(spec["quant"]),
                      model, file(spec["mmproj"]))


def _write(pulls: dict[str, PullRecord]) -> None:
    # json.dumps writes valid TOML strings; files are inline tables.
    def file(f: FileRecord) -> str:
        sha = f", sha256 = {json.dumps(f.sha256)}" if f.sha256 else ""
        return f"{{ name = {json.dumps(f.name)}, size = {f.size}{sha} }}"

    text = HEADER
    for r in sorted(pulls.values(), key=lambda r: r.name):
        text += (f"\n[pulled.{json.dumps(r.name)}]\nrepo = {json.dumps(r.repo)}\n"
                 f"revision = {json.dumps(r.revision)}\nquant = {json.dumps(r.quant)}\n"
                 f"model = [{', '.join(file(f) for f in r.model)}]\n"
                 f"mmproj = {file(r.mmproj)}\n")
    path = paths.pulls_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
