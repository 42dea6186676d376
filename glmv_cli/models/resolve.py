"""From `--model NAME` (or `--model-file/--mmproj`) to a pair of files on disk.

A model that is not downloaded is offered for download when a person is at the terminal;
a script gets an error naming the pull command instead, never a silent multi-GB download.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from glmv_cli.errors import ModelError, UsageError
from glmv_cli.models.registry import ModelEntry, load_registry
from glmv_cli.models.store import locate
from glmv_cli.streams import Streams


@dataclass(frozen=True)
class ModelFiles:
    """A text GGUF and its mmproj on disk, with the name to report."""

    name: str
    model: Path
    mmproj: Path


def find_entry(name: str | None) -> ModelEntry:
    """The registry entry for `name` (None: the default), or a clear error."""
    registry = load_registry()
    entry = registry.find(name or registry.default)
    if entry is None:
        known = ", ".join(sorted(registry.entries))
        raise ModelError(f"unknown model '{name}' (known: {known})",
                         hint="`glmv models` lists them")
    return entry


def resolve_model(name: str | None, model_file: Path | None, mmproj: Path | None,
                  streams: Streams | None = None) -> ModelFiles:
    """Files for the model to run; may offer a download when `streams` is interactive."""
    if model_file or mmproj:
        if not (model_file and mmproj):
            raise UsageError("--model-file and --mmproj go together: give both")
        return ModelFiles(model_file.name, model_file, mmproj)
    entry = find_entry(name)
    parts = locate(entry)
    if all(p.path for p in parts):
        return ModelFiles(entry.name, parts[0].path, parts[1].path)  # type: ignore[arg-type]
    if entry.repo is None:
        missing = next(p.name for p in parts if p.path is None)
        raise ModelError(f"model '{entry.name}': file not found: {missing}",
                         hint=f"fix the entry in {entry.origin}")
    streams = streams or Streams.from_process()
    if streams.stdin_isatty and streams.stderr_isatty and _offer(entry, streams):
        from glmv_cli.commands.pull import pull_with_progress

        pulled = pull_with_progress(entry, streams)
        return ModelFiles(entry.name, pulled[0].path, pulled[1].path)
    raise ModelError(f"model '{entry.name}' is not downloaded",
                     hint=f"get it with: glmv pull {entry.name}")


def _offer(entry: ModelEntry, streams: Streams) -> bool:
    from glmv_cli.models.download import human_size

    size = f" ({human_size(entry.size)})" if entry.size else ""
    streams.stderr.write(f"Model '{entry.name}'{size} is not downloaded. Download it now "
                         f"from {entry.repo}? [y/N] ")
    streams.stderr.flush()
    answer = streams.stdin.readline().decode(errors="replace").strip().lower()
    return answer in ("y", "yes")
