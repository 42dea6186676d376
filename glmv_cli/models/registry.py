"""The registry of model builds: the shipped models.toml, extended or overridden by the
user's own models.toml in the config dir (same format).

Every entry is checked field by field; a bad one is reported with its file, line and
field, so a typo in a hand-edited registry is a one-line fix rather than a traceback.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from glmv_cli import paths
from glmv_cli.errors import ConfigError

TINY_DIR = Path(__file__).resolve().parent.parent / "assets" / "tiny"
SAMPLING_KEYS = {"temperature": float, "top_k": int, "top_p": float, "repeat_penalty": float}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ModelEntry:
    """One build: a text GGUF and its vision projector (mmproj).

    `repo` entries live in the Hugging Face cache; entries without a repo name local files
    (`builtin` ones ship inside glmv).
    """

    name: str
    family: str
    quant: str
    file: str = ""  # for a Hub entry, a hint: the repo's listing decides at pull time
    mmproj: str = ""
    repo: str | None = None
    revision: str = "main"
    file_size: int | None = None
    mmproj_size: int | None = None
    file_sha256: str | None = None
    mmproj_sha256: str | None = None
    context: int | None = None
    sampling: dict[str, float] = field(default_factory=dict)
    confirmed: bool = False
    mrope: bool | None = None  # the text GGUF carries M-RoPE metadata (None: not known)
    builtin: bool = False
    notes: str = ""
    source: str = ""  # where the names and sizes come from
    origin: str = ""  # the registry file that defined it

    @property
    def size(self) -> int | None:
        """Download size of the pair, when the registry knows both sizes."""
        if self.file_size is None or self.mmproj_size is None:
            return None
        return self.file_size + self.mmproj_size

    def parts(self) -> list[tuple[str, int | None, str | None]]:
        """(file name, size, sha256) of the text model and of the mmproj."""
        return [(self.file, self.file_size, self.file_sha256),
                (self.mmproj, self.mmproj_size, self.mmproj_sha256)]


# field -> (type, required)
_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "family": (str, True), "quant": (str, True), "file": (str, False), "mmproj": (str, False),
    "repo": (str, False), "revision": (str, False),
    "file_size": (int, False), "mmproj_size": (int, False),
    "file_sha256": (str, False), "mmproj_sha256": (str, False),
    "context": (int, False), "sampling": (dict, False), "confirmed": (bool, False),
    "mrope": (bool, False), "builtin": (bool, False), "notes": (str, False), "source": (str, False),
}


@dataclass(frozen=True)
class Registry:
    entries: dict[str, ModelEntry]
    default: str

    def find(self, name: str) -> ModelEntry | None:
        """An entry by exact name, or by family alone (`glm-4.1v` → its Q4_K_M build)."""
        if name in self.entries:
            return self.entries[name]
        family = [e for e in self.entries.values() if e.family == name]
        if not family:
            return None
        preferred = [e for e in family if e.quant.lower() == "q4_k_m"]
        return (preferred or family)[0]


def shipped_registry_text() -> tuple[str, str]:
    """(text, where) of the registry shipped with glmv.

    Installed wheels carry models.toml inside the package; a source checkout has it at the
    repository root.
    """
    packaged = resources.files("glmv_cli").joinpath("models.toml")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8"), str(packaged)
    path = Path(__file__).resolve().parents[2] / "models.toml"
    return path.read_text(encoding="utf-8"), str(path)


def load_registry(user_file: Path | None = None) -> Registry:
    """The shipped entries, then the user's (a user entry replaces a shipped one)."""
    text, where = shipped_registry_text()
    entries, default = parse_registry(text, where, user=False)
    user_file = user_file or paths.user_registry()
    if user_file.is_file():
        try:
            user_text = user_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read {user_file}: {e}") from None
        user_entries, user_default = parse_registry(user_text, str(user_file), user=True)
        entries.update(user_entries)
        default = user_default or default
    if default not in entries:
        raise ConfigError(f"{where}: default model '{default}' is not an entry of the registry")
    return Registry(entries, default)


def parse_registry(text: str, where: str, user: bool) -> tuple[dict[str, ModelEntry], str]:
    """Parse and check one registry file; errors name the file, the line and the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: invalid TOML: {e}") from None
    unknown_top = set(data) - {"default", "models"}
    if unknown_top:
        key = sorted(unknown_top)[0]
        raise ConfigError(f"{where}:{_line_of(text, key)}: unknown key '{key}' "
                          "(expected 'default' and [models.\"NAME\"] tables)")
    default = data.get("default", "")
    if not isinstance(default, str):
        raise ConfigError(f"{where}:{_line_of(text, 'default')}: 'default' must be a string")
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise ConfigError(f"{where}:{_line_of(text, 'models')}: 'models' must be a table")
    entries = {}
    for name, spec in models.items():
        entries[name] = _entry(name, spec, text, where, user)
    return entries, default


def _entry(name: str, spec: Any, text: str, where: str, user: bool) -> ModelEntry:
    header = _header_line(text, name)

    def fail(msg: str, key: str | None = None) -> ConfigError:
        line = _field_line(text, header, key) if key else header
        return ConfigError(f"{where}:{line}: model '{name}': {msg}")

    if not isinstance(spec, dict):
        raise fail("must be a table")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/-]*", name):
        raise fail("names use letters, digits and . _ : / - only")
    for key, value in spec.items():
        if key not in _FIELDS:
            raise fail(f"unknown field '{key}' (known: {', '.join(_FIELDS)})", key)
        kind = _FIELDS[key][0]
        # bool is an int in Python; TOML's are distinct, so keep them apart.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise fail(f"field '{key}' must be {_type_name(kind)}, not {value!r}", key)
    for key, (_kind, required) in _FIELDS.items():
        if required and key not in spec:
            raise fail(f"missing field '{key}'")
    for key in ("file_sha256", "mmproj_sha256"):
        if key in spec and not _SHA256.match(spec[key]):
            raise fail(f"field '{key}' must be 64 lowercase hex digits", key)
    for key in ("file_size", "mmproj_size", "context"):
        if key in spec and spec[key] <= 0:
            raise fail(f"field '{key}' must be positive", key)
    sampling = spec.get("sampling", {})
    for key, value in sampling.items():
        if key not in SAMPLING_KEYS or isinstance(value, bool) or not isinstance(
                value, int | float):
            raise fail(f"sampling.{key} is not one of {', '.join(SAMPLING_KEYS)} with a number",
                       "sampling")
    if spec.get("builtin") and user:
        raise fail("'builtin' is reserved for models shipped with glmv", "builtin")
    if not spec.get("builtin") and not spec.get("repo") and user is False:
        raise fail("missing field 'repo'")
    for key in ("file", "mmproj"):  # local files need their names; a Hub repo is listed
        if not spec.get("repo") and not spec.get(key):
            raise fail(f"missing field '{key}'")
    for key in ("file", "mmproj"):
        value = spec.get(key, "")
        if spec.get("repo") and (value.startswith("/") or ".." in value.split("/")):
            raise fail(f"field '{key}' must be a file name inside the repo", key)
    return ModelEntry(name=name, origin=where, **spec)


def _type_name(kind: type | tuple[type, ...]) -> str:
    return {str: "a string", int: "an integer", bool: "true or false", dict: "a table"}.get(
        kind, str(kind))  # type: ignore[call-overload]


def _header_line(text: str, name: str) -> int:
    pattern = re.compile(r'^\s*\[\s*models\s*\.\s*(?:"' + re.escape(name) + r'"|'
                         + re.escape(name) + r")\s*\]")
    for i, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return i
    return _line_of(text, name)


def _field_line(text: str, header: int, key: str) -> int:
    lines = text.splitlines()
    for i in range(header, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if re.match(r"\s*" + re.escape(key) + r"\s*=", lines[i]):
            return i + 1
    return header


def _line_of(text: str, word: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if word in line:
            return i
    return 1

