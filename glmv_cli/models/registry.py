"""The registry of known model builds (models.toml) and resolving a name to files."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from glmv_cli.errors import ModelError, UsageError

TINY_DIR = Path(__file__).resolve().parent.parent / "assets" / "tiny"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    quant: str
    file: str
    mmproj: str
    repo: str | None = None
    revision: str | None = None
    builtin: bool = False
    context: int | None = None
    confirmed: bool = False
    notes: str = ""


@dataclass(frozen=True)
class ModelFiles:
    """A text GGUF and its mmproj on disk, with the name to report."""

    name: str
    model: Path
    mmproj: Path


def _registry_text() -> str:
    # Installed wheels carry models.toml inside the package; a source checkout has it at
    # the repository root.
    packaged = resources.files("glmv_cli").joinpath("models.toml")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "models.toml").read_text(encoding="utf-8")


def load_registry() -> tuple[dict[str, ModelEntry], str]:
    """All entries by name, and the name of the default entry."""
    data = tomllib.loads(_registry_text())
    fields = set(ModelEntry.__dataclass_fields__) - {"name"}
    entries = {
        name: ModelEntry(name=name, **{k: v for k, v in spec.items() if k in fields})
        for name, spec in data.get("models", {}).items()
    }
    return entries, data["default"]


def default_model_name() -> str:
    return os.environ.get("GLMV_MODEL") or load_registry()[1]


def resolve_model(name: str | None, model_file: Path | None, mmproj: Path | None) -> ModelFiles:
    """Turn `--model` or `--model-file/--mmproj` into files on disk, or say how to get them."""
    if model_file or mmproj:
        if not (model_file and mmproj):
            raise UsageError("--model-file and --mmproj go together: give both")
        return ModelFiles(model_file.name, model_file, mmproj)
    name = name or default_model_name()
    entries, _ = load_registry()
    entry = entries.get(name)
    if entry is None:
        known = ", ".join(sorted(entries))
        raise ModelError(f"unknown model '{name}' (known: {known})")
    if entry.builtin:
        return ModelFiles(name, TINY_DIR / entry.file, TINY_DIR / entry.mmproj)
    return ModelFiles(name, *_cached_files(entry))


def _cached_files(entry: ModelEntry) -> tuple[Path, Path]:
    from huggingface_hub import try_to_load_from_cache

    found = [
        try_to_load_from_cache(entry.repo or "", f, revision=entry.revision)
        for f in (entry.file, entry.mmproj)
    ]
    if all(isinstance(p, str) for p in found):
        return Path(found[0]), Path(found[1])  # type: ignore[arg-type]
    raise ModelError(
        f"model '{entry.name}' is not downloaded",
        hint=(
            f"get it with: hf download {entry.repo} {entry.file} {entry.mmproj}; or pass "
            "--model-file X.gguf --mmproj Y.gguf; --model tiny runs the self-test model"
        ),
    )
