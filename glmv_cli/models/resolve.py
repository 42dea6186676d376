"""From `--model NAME` (or `--model-file/--mmproj`) to a model reference an engine runs.

A model that is not downloaded is handed to `fetch`, which the command layer supplies (it
asks a person at the terminal, and shows a progress bar); without one, the error names
the pull command, so a script never starts a silent multi-GB download.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from glmv_cli.errors import ModelError, UsageError
from glmv_cli.models.download import PulledFile
from glmv_cli.models.ref import LocalModel
from glmv_cli.models.registry import ModelEntry, load_registry
from glmv_cli.models.store import locate

# Downloads an entry that is not on disk and returns its files, or returns None when the
# user declines.
Fetch = Callable[[ModelEntry], list[PulledFile] | None]


def find_entry(name: str | None) -> ModelEntry:
    """The registry entry for `name` (None: the default), or a clear error."""
    registry = load_registry()
    entry = registry.find(name or registry.default)
    if entry is None:
        known = ", ".join(sorted(registry.entries))
        raise ModelError(f"unknown model '{name}' (known: {known})",
                         hint="`glmv models` lists them")
    return entry


def resolve_model(name: str | None, model_file: Path | None = None,
                  mmproj: Path | None = None, fetch: Fetch | None = None) -> LocalModel:
    """The model to run; `fetch` may download one that is not on disk yet."""
    if model_file or mmproj:
        if not (model_file and mmproj):
            raise UsageError("--model-file and --mmproj go together: give both")
        return LocalModel(model_file.name, model_file, mmproj)
    entry = find_entry(name)
    parts = locate(entry)
    if all(p.path for p in parts):
        return _local(entry, parts[0].path, parts[1].path)  # type: ignore[arg-type]
    if entry.repo is None:
        missing = next(p.name for p in parts if p.path is None)
        raise ModelError(f"model '{entry.name}': file not found: {missing}",
                         hint=f"fix the entry in {entry.origin}")
    pulled = fetch(entry) if fetch else None
    if pulled:
        return _local(entry, pulled[0].path, pulled[1].path)
    raise ModelError(f"model '{entry.name}' is not downloaded",
                     hint=f"get it with: glmv pull {entry.name}")


def _local(entry: ModelEntry, model: Path, mmproj: Path) -> LocalModel:
    return LocalModel(entry.name, model, mmproj, dict(entry.sampling))
