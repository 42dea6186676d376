"""`glmv pull`: download a model pair into the Hugging Face cache."""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from glmv_cli import paths
from glmv_cli.errors import ConfigError, UsageError
from glmv_cli.models.download import PulledFile, human_size
from glmv_cli.models.registry import ModelEntry, load_registry, parse_registry
from glmv_cli.models.resolve import find_entry
from glmv_cli.streams import Streams

HELP = """Download a model (text GGUF + vision projector).

\b
  glmv pull                          # the default model (GLM-4.1V-9B-Thinking, Q4_K_M)
  glmv pull glm-4.6v-flash:q8_0      # any name from `glmv models`
  glmv pull hf:owner/repo --file X.gguf --mmproj mmproj-X.gguf   # any GGUF pair
  glmv pull hf:owner/repo@REVISION --file X.gguf --mmproj Y.gguf --name mine

Files go to the Hugging Face cache (HF_HOME), where other tools find them too. A dropped
connection is resumed where it stopped; a pull stopped with Ctrl-C leaves nothing behind
and starts over next time. Free disk space is checked first, and sha256 is verified where
the registry knows it. An
`hf:` pair is added to your registry, so `glmv ask --model NAME` can use it. HF_TOKEN,
HF_ENDPOINT and HF_HUB_OFFLINE are respected.
"""


def pull(
    name: Annotated[str | None, typer.Argument(
        metavar="[NAME | hf:OWNER/REPO]", show_default=False,
        help="A registry name, or hf:OWNER/REPO[@REVISION] with --file and --mmproj "
             "\\[default: the default model].")] = None,
    file: Annotated[str | None, typer.Option(
        "--file", help="With hf:…, the text GGUF's file name in the repo.")] = None,
    mmproj: Annotated[str | None, typer.Option(
        "--mmproj", help="With hf:…, the vision projector's file name in the repo.")] = None,
    as_name: Annotated[str | None, typer.Option(
        "--name", help="With hf:…, the name to register it under \\[default: from --file].")
    ] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object with the files and their paths.")] = False,
) -> None:
    streams = Streams.from_process()
    if name and name.startswith("hf:"):
        entry = hub_entry(name, file, mmproj, as_name)
    else:
        if file or mmproj or as_name:
            raise UsageError("--file, --mmproj and --name go with hf:OWNER/REPO")
        entry = find_entry(name)
    pulled = pull_with_progress(entry, streams)
    if name and name.startswith("hf:"):
        register(entry)
    total = sum(f.size for f in pulled)
    fetched = sum(f.size for f in pulled if f.downloaded)
    if json_out:
        streams.stdout.write(json.dumps({
            "model": entry.name,
            "files": [{"name": f.name, "path": str(f.path), "size": f.size,
                       "downloaded": f.downloaded, "sha256_verified": f.verified}
                      for f in pulled],
        }) + "\n")
    state = (f"downloaded {human_size(fetched)}" if fetched
             else "already downloaded")
    streams.stderr.write(f"{entry.name}: {state}, {human_size(total)} in "
                         f"{pulled[0].path.parent}\n")
    if name and name.startswith("hf:"):
        streams.stderr.write(f"use it with: glmv ask --model {entry.name} IMAGE QUESTION\n")


def pull_with_progress(entry: ModelEntry, streams: Streams) -> list[PulledFile]:
    """Pull `entry`, with a progress bar on stderr when it is a terminal."""
    from glmv_cli.models.download import pull as download

    if not streams.stderr_isatty:
        return download(entry)
    from glmv_cli.render.download import RichBar, download_progress

    with download_progress(streams.console(stderr=True)) as progress:
        return download(entry, lambda f: functools.partial(RichBar, progress, f))


def hub_entry(spec: str, file: str | None, mmproj: str | None,
              as_name: str | None) -> ModelEntry:
    """A registry entry for `hf:OWNER/REPO[@REV]` with --file and --mmproj."""
    repo, _, revision = spec[3:].partition("@")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise UsageError(f"'{spec}' is not hf:OWNER/REPO")
    if not (file and mmproj):
        raise UsageError("hf:OWNER/REPO needs --file X.gguf and --mmproj MMPROJ.gguf")
    quant = re.search(r"(?i)(I?Q\d\w*?|BF16|F16|F32)(?=\.gguf$)", file)
    name = as_name or Path(file).stem.lower()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/-]*", name):
        raise UsageError(f"'{name}' is not a usable model name; give --name")
    return ModelEntry(
        name=name, family=repo.split("/")[1].lower().removesuffix("-gguf"),
        quant=quant.group(1).upper() if quant else "?", file=file, mmproj=mmproj, repo=repo,
        revision=revision or "main", origin=str(paths.user_registry()),
    )


def register(entry: ModelEntry) -> None:
    """Add `entry` to the user's registry (written to a temporary file, then renamed)."""
    path = paths.user_registry()
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if text:
        existing, _ = parse_registry(text, str(path), user=True)
        old = existing.get(entry.name)
        if old is not None:
            if (old.repo, old.file, old.mmproj, old.revision) == (
                    entry.repo, entry.file, entry.mmproj, entry.revision):
                return
            raise ConfigError(f"{path} already has a model named '{entry.name}'",
                              hint="choose another with --name")
    fields = {"family": entry.family, "quant": entry.quant, "repo": entry.repo,
              "revision": entry.revision, "file": entry.file, "mmproj": entry.mmproj}
    # json.dumps writes a valid TOML basic string for any str.
    block = f"\n[models.{json.dumps(entry.name)}]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in fields.items())
    new_text = (text.rstrip("\n") + "\n" if text else "") + block
    parse_registry(new_text, str(path), user=True)  # never write a registry we can't read
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".models.", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new_text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    load_registry()  # the merged registry must still load


