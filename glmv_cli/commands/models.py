"""`glmv models`: the registry, with what is installed where."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from glmv_cli.models.download import human_size
from glmv_cli.models.registry import ModelEntry, load_registry
from glmv_cli.models.store import locate
from glmv_cli.streams import Streams

HELP = """List known models: name, quant, size, installed, path, default.

\b
  glmv models
  glmv models --json | jq -r '.[] | select(.installed) | .name'

Names come from the shipped registry plus your own models.toml in the config dir
(`glmv doctor` shows where). Piped, the table is tab-separated with a header line.
"""

COLUMNS = ("name", "quant", "size", "installed", "path", "default")


def models(
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print a JSON list with every registry field.")] = False,
) -> None:
    streams = Streams.from_process()
    registry = load_registry()
    rows = [model_row(e, e.name == registry.default) for e in registry.entries.values()]
    if json_out:
        streams.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    if not streams.stdout_isatty:
        streams.stdout.write("\t".join(COLUMNS) + "\n")
        for row in rows:
            streams.stdout.write("\t".join(_cell(row, c) for c in COLUMNS) + "\n")
        return
    table = Table(*(c.capitalize() for c in COLUMNS), box=None, pad_edge=False)
    for row in rows:
        table.add_row(*(_cell(row, c) for c in COLUMNS),
                      style="bold" if row["default"] else None)
    streams.console().print(table)


def model_row(entry: ModelEntry, is_default: bool) -> dict[str, Any]:
    parts = locate(entry)
    present = [p for p in parts if p.path]
    installed = len(present) == len(parts)
    size = sum(p.size or 0 for p in parts) if installed else entry.size
    return {
        "name": entry.name, "family": entry.family, "quant": entry.quant,
        "size": size, "installed": installed,
        "partial": bool(present) and not installed,
        "path": str(parts[0].path.parent) if parts[0].path else None,
        "default": is_default,
        "repo": entry.repo, "revision": entry.revision, "file": entry.file,
        "mmproj": entry.mmproj, "context": entry.context, "sampling": entry.sampling,
        "confirmed": entry.confirmed, "source": entry.source, "notes": entry.notes,
        "registry": entry.origin,
    }


def _cell(row: dict[str, Any], column: str) -> str:
    value = row[column]
    if column == "size":
        return human_size(value) if value else "?"
    if column == "installed":
        return "yes" if value else ("partial" if row["partial"] else "no")
    if column == "default":
        return "*" if value else ""
    return "-" if value is None else str(value)
