"""`glmv models`: the registry, with what is installed where; `--remote` shows what a Hub
repo holds."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from glmv_cli.errors import DownloadError, UsageError
from glmv_cli.models import hub
from glmv_cli.models.pulls import pull_for
from glmv_cli.models.registry import ModelEntry, load_registry
from glmv_cli.models.resolve import find_entry
from glmv_cli.models.sizes import human_size
from glmv_cli.models.store import locate
from glmv_cli.streams import Streams

HELP = """List known models: name, quant, size, installed, path, default.

\b
  glmv models
  glmv models --json | jq -r '.[] | select(.installed) | .name'
  glmv models --remote glm-4.1v            # the builds its Hub repo has, with sizes
  glmv models --remote hf:owner/repo       # any GGUF repo

Names come from the shipped registry plus your own models.toml in the config dir
(`glmv doctor` shows where). Piped, the table is tab-separated with a header line.
With --remote, rows marked * are the files `glmv pull NAME` would take.
"""

COLUMNS = ("name", "quant", "size", "installed", "path", "default")
REMOTE_COLUMNS = ("kind", "quant", "size", "files", "pick")


def models(
    remote: Annotated[str | None, typer.Option(
        "--remote", metavar="NAME | hf:OWNER/REPO[:QUANT][@REVISION]",
        help="List the GGUF builds in a model's Hub repo (needs the network).")] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print a JSON list with every registry field.")] = False,
) -> None:
    streams = Streams.from_process()
    if remote is not None:
        _remote(remote, json_out, streams)
        return
    registry = load_registry()
    rows = [model_row(e, e.name == registry.default) for e in registry.entries.values()]
    if json_out:
        streams.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    _table(rows, COLUMNS, streams, _cell, lambda row: bool(row["default"]))


def model_row(entry: ModelEntry, is_default: bool) -> dict[str, Any]:
    parts = locate(entry)
    present = [p for p in parts if p.path]
    installed = len(present) == len(parts)
    size = sum(p.size or 0 for p in parts) if installed else entry.size
    record = pull_for(entry)
    return {
        "name": entry.name, "family": entry.family, "quant": entry.quant,
        "size": size, "installed": installed,
        "partial": bool(present) and not installed,
        "path": str(parts[0].path.parent) if parts[0].path else None,
        "default": is_default,
        "repo": entry.repo, "revision": entry.revision, "file": entry.file,
        "mmproj": entry.mmproj, "context": entry.context, "sampling": entry.sampling,
        "confirmed": entry.confirmed, "mrope": entry.mrope, "source": entry.source,
        "notes": entry.notes, "registry": entry.origin,
        # What the last pull resolved the entry to (None: never pulled, or not from a repo).
        "pulled": None if record is None else {
            "revision": record.revision,
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256}
                      for f in record.files()]},
    }


def remote_listing(spec: str) -> dict[str, Any]:
    """What a Hub repo holds, and the pair a pull of `spec` would take, as plain data."""
    from glmv_cli.models.download import list_files

    entry = _remote_entry(spec)
    listing = list_files(entry)
    pick: hub.Pair | None = None
    problem = None
    try:
        pick = hub.choose(listing, entry.quant, entry.file, entry.mmproj)
    except DownloadError as e:
        problem = e.message
    chosen = {f.name for f in (*pick.model, pick.mmproj)} if pick else set()
    return {
        "repo": listing.repo, "revision": listing.revision, "commit": listing.commit,
        "quants": [{"quant": q.tag, "size": q.size, "files": [f.name for f in q.files],
                    "pick": q.files[0].name in chosen} for q in hub.quants(listing)],
        "mmproj": [{"quant": hub.quant_tag(f.name), "size": f.size, "files": [f.name],
                    "pick": f.name in chosen} for f in hub.mmprojs(listing)],
        "pull": entry.name,
        "pick_error": problem,
    }


def _remote(spec: str, json_out: bool, streams: Streams) -> None:
    listing = remote_listing(spec)
    if json_out:
        streams.stdout.write(json.dumps(listing, ensure_ascii=False) + "\n")
        return
    rows = [{"kind": "model", **q} for q in listing["quants"]] + [
        {"kind": "mmproj", **m} for m in listing["mmproj"]]
    _table(rows, REMOTE_COLUMNS, streams, _remote_cell, lambda row: bool(row["pick"]))
    where = f"{listing['repo']} at {listing['revision']} (commit {listing['commit'][:12]})"
    if listing["pick_error"]:
        streams.stderr.write(f"{where}: {listing['pick_error']}\n")
    else:
        streams.stderr.write(f"{where}: `glmv pull {listing['pull']}` takes the rows "
                             "marked *\n")


def _remote_entry(spec: str) -> ModelEntry:
    if not spec.startswith("hf:"):
        entry = find_entry(spec)
        if entry.repo is None:
            raise UsageError(f"'{entry.name}' is not a Hub model: it has no repo to list")
        return entry
    parsed = hub.parse_spec(spec)
    if parsed is None:
        raise UsageError(f"'{spec}' is not hf:OWNER/REPO[:QUANT][@REVISION]")
    return ModelEntry(name=spec, family="", quant=parsed.quant or hub.DEFAULT_QUANT,
                      repo=parsed.repo, revision=parsed.revision or "main")


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...], streams: Streams,
           cell: Callable[[dict[str, Any], str], str],
           bold: Callable[[dict[str, Any]], bool]) -> None:
    if not streams.stdout_isatty:
        streams.stdout.write("\t".join(columns) + "\n")
        for row in rows:
            streams.stdout.write("\t".join(cell(row, c) for c in columns) + "\n")
        return
    table = Table(*(c.capitalize() for c in columns), box=None, pad_edge=False)
    for row in rows:
        table.add_row(*(cell(row, c) for c in columns), style="bold" if bold(row) else None)
    streams.console().print(table)


def _remote_cell(row: dict[str, Any], column: str) -> str:
    value = row[column]
    if column == "size":
        return human_size(value) if value else "?"
    if column == "files":
        return " ".join(value)
    if column == "pick":
        return "*" if value else ""
    return "-" if value is None else str(value)


def _cell(row: dict[str, Any], column: str) -> str:
    value = row[column]
    if column == "size":
        return human_size(value) if value else "?"
    if column == "installed":
        return "yes" if value else ("partial" if row["partial"] else "no")
    if column == "default":
        return "*" if value else ""
    return "-" if value is None else str(value)
