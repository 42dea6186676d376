"""config.toml: the user's defaults for options every answering command shares.

    # ~/.config/glmv/config.toml  (or $GLMV_HOME/config.toml)
    model = "glm-4.6v-flash:q4_k_m"
    max_image_tokens = 2048
    threads = 8
    gpu_layers = -1
    temperature = 0.6

Values become the commands' defaults; flags and GLMV_MODEL still win over them. Sampling
settings here also win over the model's recommended ones from the registry.
"""

from __future__ import annotations

import tomllib
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
}
_KIND_NAMES = {str: "a string", int: "an integer", float: "a number"}


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The settings in config.toml, checked; {} when there is no file."""
    path = path or paths.config_file()
    if not path.is_file():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    for key, value in data.items():
        line = _line_of(text, key)
        if key not in KEYS:
            raise ConfigError(f"{path}:{line}: unknown setting '{key}' "
                              f"(known: {', '.join(KEYS)})")
        kind, low = KEYS[key]
        accepted = (int, float) if kind is float else kind
        if not isinstance(value, accepted) or isinstance(value, bool):
            raise ConfigError(f"{path}:{line}: '{key}' must be {_KIND_NAMES[kind]}, "
                              f"not {value!r}")
        if low is not None and value < low:
            raise ConfigError(f"{path}:{line}: '{key}' must be at least {low}")
    return data


def _line_of(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(key):
            return i
    return 1
