"""config.toml: the user's defaults for options every answering command shares.

    # ~/.config/glmv/config.toml  (or $GLMV_HOME/config.toml)
    model = "glm-4.6v-flash:q4_k_m"
    max_image_tokens = 2048
    threads = 8
    gpu_layers = -1
    temperature = 0.6
    cache_size = "4GB"         # the prefix cache's cap (see `glmv cache`)

Values become the commands' defaults; flags and GLMV_MODEL still win over them. Sampling
settings here also win over the model's recommended ones from the registry.

Remote engines get names in tables of their own, used as `--model gpu`:

    [endpoints.gpu]
    url = "http://gpu-box:8000/v1"
    model = "zai-org/GLM-4.1V-9B-Thinking"   # optional: else the first the server lists
    api_key = "..."                          # optional: else GLMV_API_KEY
    timeout = 600                            # optional: seconds to wait for each piece
    context = 65536                          # optional: the server's context window
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmv_cli import paths
from glmv_cli.errors import ConfigError

# key -> (type, lowest allowed value)
KEYS: dict[str, tuple[type, float | None]] = {
    "model": (str, None),
    "max_image_tokens": (int, 16),
    "threads": (int, 1),
    "gpu_layers": (int, -1),
    "context": (int, 64),
    "temperature": (float, 0.0),
    "top_k": (int, 0),
    "top_p": (float, 0.0),
    "repeat_penalty": (float, 0.0),
    "cache_size": (str, None),
}
DEFAULT_CACHE_SIZE = "4GB"
_UNITS = {"": 1, "B": 1, "K": 1000, "KB": 1000, "KIB": 1 << 10, "M": 1000**2, "MB": 1000**2,
          "MIB": 1 << 20, "G": 1000**3, "GB": 1000**3, "GIB": 1 << 30, "T": 1000**4,
          "TB": 1000**4, "TIB": 1 << 40}
_KIND_NAMES = {str: "a string", int: "an integer", float: "a number"}
ENDPOINTS = "endpoints"
# [endpoints.NAME] keys -> (type, lowest allowed value); `url` is required.
ENDPOINT_KEYS: dict[str, tuple[type, float | None]] = {
    "url": (str, None),
    "model": (str, None),
    "api_key": (str, None),
    "timeout": (float, 0.1),
    "context": (int, 64),
}


@dataclass(frozen=True)
class Endpoint:
    """A named remote engine from config.toml."""

    name: str
    url: str
    model: str | None = None
    api_key: str | None = None
    timeout: float | None = None
    context: int | None = None


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The command defaults in config.toml, checked; {} when there is no file."""
    data, _ = _load(path or paths.config_file())
    return data


def load_endpoints(path: Path | None = None) -> dict[str, Endpoint]:
    """The named remote engines in config.toml ([endpoints.NAME] tables), checked."""
    _, endpoints = _load(path or paths.config_file())
    return endpoints


def _load(path: Path) -> tuple[dict[str, Any], dict[str, Endpoint]]:
    if not path.is_file():
        return {}, {}
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    tables = data.pop(ENDPOINTS, {})
    for key, value in data.items():
        line = _line_of(text, key)
        if key not in KEYS:
            raise ConfigError(f"{path}:{line}: unknown setting '{key}' "
                              f"(known: {', '.join([*KEYS, ENDPOINTS])})")
        _check(path, line, key, value, *KEYS[key])
        if key == "cache_size" and parse_size(value) is None:
            raise ConfigError(f"{path}:{line}: 'cache_size' must be a size such as "
                              f"\"4GB\" or \"500MB\", not {value!r}")
    return data, _endpoints(path, text, tables)


def parse_size(text: str) -> int | None:
    """Bytes in "4GB", "500 MB", "2GiB" or "1.5G"; None if it is not a size."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).upper() not in _UNITS:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def cache_bytes() -> int:
    """The prefix cache's size cap: config.toml's `cache_size`, else DEFAULT_CACHE_SIZE."""
    value = load_config().get("cache_size", DEFAULT_CACHE_SIZE)
    return parse_size(value) or 0


def _endpoints(path: Path, text: str, tables: Any) -> dict[str, Endpoint]:
    line = _line_of(text, f"[{ENDPOINTS}")
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise ConfigError(f"{path}:{line}: endpoints are tables: [endpoints.NAME] with "
                          "url = ...")
    endpoints = {}
    for name, table in tables.items():
        where = f"{path}:{_line_of(text, f'[{ENDPOINTS}.{name}]')}: endpoint '{name}'"
        for key, value in table.items():
            if key not in ENDPOINT_KEYS:
                raise ConfigError(f"{where}: unknown key '{key}' "
                                  f"(known: {', '.join(ENDPOINT_KEYS)})")
            _check(Path(where), None, key, value, *ENDPOINT_KEYS[key])
        if "url" not in table:
            raise ConfigError(f"{where}: 'url' is required (e.g. http://host:8000/v1)")
        endpoints[name] = Endpoint(name, table["url"], table.get("model"),
                                   table.get("api_key"), table.get("timeout"),
                                   table.get("context"))
    return endpoints


def _check(path: Path, line: int | None, key: str, value: Any, kind: type,
           low: float | None) -> None:
    where = f"{path}:{line}" if line is not None else str(path)
    accepted = (int, float) if kind is float else kind
    if not isinstance(value, accepted) or isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' must be {_KIND_NAMES[kind]}, not {value!r}")
    if low is not None and value < low:
        raise ConfigError(f"{where}: '{key}' must be at least {low}")


def _line_of(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(key):
            return i
    return 1
