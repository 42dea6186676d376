"""`glmv rm`: delete a downloaded model from the Hugging Face cache."""

from __future__ import annotations

from typing import Annotated

import typer

from glmv_cli.errors import ModelError, UsageError
from glmv_cli.models.pulls import forget_pull
from glmv_cli.models.registry import load_registry
from glmv_cli.models.resolve import find_entry
from glmv_cli.models.sizes import human_size
from glmv_cli.models.store import is_installed, locate, remove_cached
from glmv_cli.streams import Streams

HELP = """Delete a downloaded model's files from the Hugging Face cache.

\b
  glmv rm glm-4.1v:q4_k_m
  glmv rm glm-4.6v-flash:q8_0 --yes     # no question asked (needed in scripts)

A file another installed model still uses (a shared mmproj) is kept.
"""


def rm(
    name: Annotated[str, typer.Argument(metavar="NAME", show_default=False,
                                        help="A model name from `glmv models`.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
                   ] = False,
) -> None:
    streams = Streams.from_process()
    entry = find_entry(name)
    if entry.builtin:
        raise UsageError(f"'{entry.name}' ships with glmv and cannot be removed")
    if entry.repo is None:
        raise UsageError(f"'{entry.name}' points at your own files; glmv rm deletes only "
                         f"downloads (edit {entry.origin} to drop the entry)")
    parts = [p for p in locate(entry) if p.path]
    if not parts:
        raise ModelError(f"model '{entry.name}' is not downloaded; nothing to remove")
    shared = _shared_files(entry.name, entry.repo)
    doomed = [p for p in parts if p.name not in shared]
    size = sum(p.size or 0 for p in doomed)
    if not yes:
        if not streams.stdin_isatty:
            raise UsageError(f"not deleting {entry.name} without confirmation: add --yes")
        streams.stderr.write(f"Delete {entry.name} ({human_size(size)})? [y/N] ")
        streams.stderr.flush()
        if streams.stdin.readline().decode(errors="replace").strip().lower() not in ("y",
                                                                                      "yes"):
            streams.stderr.write("nothing deleted\n")
            return
    freed = sum(remove_cached(p.path) for p in doomed if p.path)
    kept = [p.name for p in parts if p.name in shared]
    if not kept:  # (a kept file is still this entry's, found through its record)
        forget_pull(entry.name)
    note = f"; kept {', '.join(kept)} (used by {', '.join(shared[k] for k in kept)})" if kept \
        else ""
    streams.stderr.write(f"removed {entry.name}, freed {human_size(freed)}{note}\n")


def _shared_files(name: str, repo: str) -> dict[str, str]:
    """Files of `repo` that other installed models use: file name -> that model's name."""
    used: dict[str, str] = {}
    for other in load_registry().entries.values():
        if other.name == name or other.repo != repo or not is_installed(other):
            continue
        for part in locate(other):
            used.setdefault(part.name, other.name)
    return used
