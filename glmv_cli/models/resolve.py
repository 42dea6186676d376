"""From `--model NAME` (or `--model-file/--mmproj`) to a model reference an engine runs.

A model that is not downloaded is handed to `fetch`, which the command layer supplies (it
asks a person at the terminal, and shows a progress bar); without one, the error names
the pull command, so a script never starts a silent multi-GB download.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

from glmv_cli.config import load_endpoints
from glmv_cli.errors import ModelError, UsageError
from glmv_cli.models.download import PulledFile
from glmv_cli.models.ref import LocalModel, ModelRef, RemoteModel
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
                  mmproj: Path | None = None, fetch: Fetch | None = None, *,
                  endpoint: str | None = None, model_name: str | None = None,
                  api_key: str | None = None) -> ModelRef:
    """The model to run; `fetch` may download one that is not on disk yet.

    `endpoint` (an OpenAI-compatible API base URL), or a `name` that config.toml declares
    under [endpoints], gives a remote model instead; `model_name` is the server's name for
    it, `api_key` its key when the endpoint's table has none.
    """
    if endpoint:
        if model_file or mmproj:
            raise UsageError("--endpoint runs a remote model: leave out --model-file and "
                             "--mmproj")
        return remote_model(endpoint, model_name, api_key)
    if name and not (model_file or mmproj) and load_registry().find(name) is None:
        # (A registry name wins, so that e.g. the self-test's 'tiny' needs no config.)
        named = load_endpoints().get(name)
        if named:
            ref = remote_model(named.url, model_name or named.model, named.api_key or api_key,
                               label=name)
            overrides = {k: v for k, v in (("timeout", named.timeout),
                                           ("context", named.context)) if v is not None}
            return replace(ref, **overrides)  # type: ignore[arg-type]
    if model_name:
        raise UsageError("--model-name names the model on a server: give --endpoint too")
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


def remote_model(url: str, model_name: str | None, api_key: str | None,
                 label: str | None = None) -> RemoteModel:
    """A remote model at `url` (http or https, the API base such as http://host:8000/v1)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(f"endpoint '{url}' is not an http(s) URL "
                         "(e.g. http://gpu-box:8000/v1)")
    name = model_name or label or parsed.netloc
    return RemoteModel(name, url.rstrip("/"), model_name, api_key or None)


def _local(entry: ModelEntry, model: Path, mmproj: Path) -> LocalModel:
    return LocalModel(entry.name, model, mmproj, dict(entry.sampling))
