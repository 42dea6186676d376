"""`glmv cache ls` and `glmv cache clear`: the saved model states on disk."""

from __future__ import annotations

import json
import re
import time
from typing import Annotated

import typer

from glmv_cli import paths
from glmv_cli.config import cache_bytes
from glmv_cli.engine.cache_store import CacheStore
from glmv_cli.errors import UsageError
from glmv_cli.models.sizes import human_size
from glmv_cli.streams import Streams

HELP = f"""The prefix cache: model states saved after reading images, so that another \
question about them starts in seconds instead of minutes.

\b
  glmv cache ls                      # what is saved, how big, when last used
  glmv cache clear                   # delete everything
  glmv cache clear --older-than 7d   # only what was not used for a week

Two kinds of entry: `prefix` (the state after the system prompt and the images: a hit
skips encoding and reading them) and `image` (one image's encoding: a hit skips the
encoder when the same image comes in another prompt). It lives in $GLMV_CACHE_DIR, else
{paths.APP}'s platform cache dir (~/.cache/glmv on Linux), capped by `cache_size` in
config.toml (default 4GB; least recently used entries go first). `--no-cache` on any
command neither reads nor writes it.
"""

cache_app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False,
                        context_settings={"help_option_names": ["-h", "--help"]})

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _store() -> CacheStore:
    return CacheStore(paths.cache_dir(), cache_bytes())


@cache_app.command("ls")
def ls(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")
                       ] = False,
) -> None:
    """List the saved entries, most recently used first."""
    streams = Streams.from_process()
    store = _store()
    entries = store.entries()
    total = sum(e.size for e in entries)
    if as_json:
        obj = {"dir": str(store.root), "max_bytes": store.max_bytes, "total_bytes": total,
               "entries": [{"kind": e.kind, "key": e.key, "bytes": e.size, "what": e.what,
                            "last_used": e.last_used, "created": e.created}
                           for e in entries]}
        streams.stdout.write(json.dumps(obj, indent=2) + "\n")
        return
    now = time.time()
    for e in entries:
        streams.stdout.write(f"{e.kind:<7}{human_size(e.size):>10}  "
                             f"{_ago(now - e.last_used):>9}  {e.what}\n")
    streams.stderr.write(f"{len(entries)} entries, {human_size(total)} of "
                         f"{human_size(store.max_bytes)} in {store.root}\n")


@cache_app.command("clear")
def clear(
    older_than: Annotated[str | None, typer.Option(
        "--older-than", metavar="AGE", show_default=False,
        help="Only entries not used for this long: 30m, 12h, 7d, 2w.")] = None,
) -> None:
    """Delete saved entries (all of them, or those unused for --older-than)."""
    streams = Streams.from_process()
    age = None if older_than is None else parse_age(older_than)
    count, freed = _store().clear(age)
    streams.stderr.write(f"deleted {count} entries ({human_size(freed)})\n")


def parse_age(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not m:
        raise UsageError(f"--older-than: '{text}' is not an age such as 30m, 12h, 7d or 2w")
    return float(m.group(1)) * _UNITS_S[m.group(2)]


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return "just now"
