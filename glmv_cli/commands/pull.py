"""`glmv pull`: download a model pair into the Hugging Face cache."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from glmv_cli import paths
from glmv_cli.atomic import write_text_atomic
from glmv_cli.errors import ConfigError, UsageError
from glmv_cli.models.download import Pulled, PulledFile
from glmv_cli.models.hub import DEFAULT_QUANT, parse_spec, quant_tag
from glmv_cli.models.registry import ModelEntry, load_registry, parse_registry
from glmv_cli.models.resolve import find_entry
from glmv_cli.models.sizes import human_size
from glmv_cli.streams import Streams

HELP = """Download a model (text GGUF + vision projector).

\b
  glmv pull                          # the default model (GLM-4.1V-9B-Thinking, Q4_K_M)
  glmv pull glm-4.6v-flash:q8_0      # any name from `glmv models`
  glmv pull hf:owner/repo:Q8_0       # any GGUF repo on the Hub, by quant (default Q4_K_M)
  glmv pull hf:owner/repo@REVISION --file X.gguf --mmproj Y.gguf --name mine

The repo's file listing decides which files to fetch: the text GGUF tagged with the quant
(split files too) and its mmproj (F16, then BF16, then Q8_0); `glmv models --remote NAME`
shows what a repo has. Files go to the Hugging Face cache (HF_HOME), where other tools find
them too. Free disk space is checked first; every file's sha256 is verified against the
registry or the Hub's LFS metadata and recorded, so `glmv doctor --verify` can check it
offline. A build too old to see images (no M-RoPE metadata) is reported. An `hf:` pair is
added to your registry, so `glmv ask --model NAME` can use it. A dropped connection is
resumed where it stopped; a pull stopped with Ctrl-C leaves nothing behind and starts over
next time. HF_TOKEN, HF_ENDPOINT and HF_HUB_OFFLINE are respected.
"""


def pull(
    name: Annotated[str | None, typer.Argument(
        metavar="[NAME | hf:OWNER/REPO[:QUANT][@REVISION]]", show_default=False,
        help="A registry name, or a Hub repo and quant (default Q4_K_M) "
             "\\[default: the default model].")] = None,
    file: Annotated[str | None, typer.Option(
        "--file", help="With hf:…, the text GGUF's file name in the repo.")] = None,
    mmproj: Annotated[str | None, typer.Option(
        "--mmproj", help="With hf:…, the vision projector's file name in the repo.")] = None,
    as_name: Annotated[str | None, typer.Option(
        "--name", help="With hf:…, the name to register it under "
                       "\\[default: REPO:QUANT, or from --file].")] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object with the files and their paths.")] = False,
) -> None:
    streams = Streams.from_process()
    from_hub = bool(name and name.startswith("hf:"))
    if from_hub:
        entry = hub_entry(name or "", file, mmproj, as_name)
        registered(entry)  # a name taken by another model stops the pull before it starts
    else:
        if file or mmproj or as_name:
            raise UsageError("--file, --mmproj and --name go with hf:OWNER/REPO")
        entry = find_entry(name)
    done = _pull(entry, streams, exact=from_hub)
    pulled = done.files
    if from_hub:
        register(replace(entry, file=pulled[0].name, mmproj=pulled[1].name))
    total = sum(f.size for f in pulled)
    fetched = sum(f.size for f in pulled if f.downloaded)
    if json_out:
        streams.stdout.write(json.dumps({
            "model": entry.name, "repo": done.repo, "revision": done.revision,
            "files": [{"name": f.name, "path": str(f.path), "size": f.size,
                       "downloaded": f.downloaded, "sha256": f.sha256,
                       "sha256_verified": f.verified} for f in pulled],
            "problem": None if done.problem is None else {
                "kind": done.problem.kind, "message": done.problem.message},
        }) + "\n")
    state = (f"downloaded {human_size(fetched)}" if fetched
             else "already downloaded")
    checked = "sha256 verified" if all(f.verified for f in pulled) else "sha256 unknown"
    streams.stderr.write(f"{entry.name}: {state}, {human_size(total)} ({checked}) in "
                         f"{pulled[0].path.parent}\n")
    done.raise_problem(entry.name)
    if from_hub:
        streams.stderr.write(f"use it with: glmv ask --model {entry.name} IMAGE QUESTION\n")


def pull_with_progress(entry: ModelEntry, streams: Streams) -> list[PulledFile]:
    """Pull `entry`, with a progress bar on stderr when it is a terminal; ModelError if
    the pair cannot see images."""
    done = _pull(entry, streams)
    done.raise_problem(entry.name)
    return done.files


def _pull(entry: ModelEntry, streams: Streams, exact: bool = False) -> Pulled:
    from glmv_cli.models.download import pull_pair

    if not streams.stderr_isatty:
        return pull_pair(entry, exact=exact)
    from glmv_cli.render.download import RichBar, download_progress

    with download_progress(streams.console(stderr=True)) as progress:
        return pull_pair(entry, lambda f: functools.partial(RichBar, progress, f), exact)


def hub_entry(spec: str, file: str | None, mmproj: str | None,
              as_name: str | None) -> ModelEntry:
    """A registry entry for `hf:OWNER/REPO[:QUANT][@REV]`, optionally with --file and
    --mmproj (names to prefer when the repo has them)."""
    parsed = parse_spec(spec)
    if parsed is None:
        raise UsageError(f"'{spec}' is not hf:OWNER/REPO[:QUANT][@REVISION]")
    repo = parsed.repo
    tagged = quant_tag(file) if file else None
    quant = (parsed.quant or tagged or DEFAULT_QUANT).upper()
    family = repo.split("/")[1].lower().removesuffix("-gguf")
    name = as_name or (Path(file).stem.lower() if file else f"{family}:{quant.lower()}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/-]*", name):
        raise UsageError(f"'{name}' is not a usable model name; give --name")
    return ModelEntry(
        name=name, family=family, quant=quant, file=file or "", mmproj=mmproj or "",
        repo=repo, revision=parsed.revision or "main", origin=str(paths.user_registry()),
    )


def registered(entry: ModelEntry) -> bool:
    """Whether the user's registry already has `entry` (same repo, revision and quant);
    ConfigError if it has another model under that name."""
    path = paths.user_registry()
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    old = parse_registry(text, str(path), user=True)[0].get(entry.name) if text else None
    if old is None:
        return False
    same = (old.repo, old.revision, old.quant.upper()) == (entry.repo, entry.revision,
                                                           entry.quant.upper())
    if not same or (entry.file and old.file and entry.file != old.file):
        raise ConfigError(f"{path} already has a model named '{entry.name}'",
                          hint="choose another with --name")
    return True


def register(entry: ModelEntry) -> None:
    """Add `entry` to the user's registry (written to a temporary file, then renamed)."""
    if registered(entry):
        return
    path = paths.user_registry()
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    fields = {"family": entry.family, "quant": entry.quant, "repo": entry.repo,
              "revision": entry.revision, "file": entry.file, "mmproj": entry.mmproj}
    # json.dumps writes a valid TOML basic string for any str.
    block = f"\n[models.{json.dumps(entry.name)}]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in fields.items())
    new_text = (text.rstrip("\n") + "\n" if text else "") + block
    parse_registry(new_text, str(path), user=True)  # never write a registry we can't read
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, new_text)
    load_registry()  # the merged registry must still load


