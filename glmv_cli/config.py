"""config.toml: the user's defaults for options every answering command shares.

    # ~/.config/glmv/config.toml  (or $GLMV_HOME/config.toml)
    model = "glm-4.6v-flash:q4_k_m"
    max_image_tokens = 2048
    threads = 8
    gpu_layers = -1

Values become the commands' defaults; flags and GLMV_MODEL still win over them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from glmv_cli.errors import ConfigError
from glmv_cli.models import paths

# key -> (type, lowest allowed value)
KEYS: dict[str, tuple[type, int | None]] = {
    "model": (str, None),
    "max_image_tokens": (int, 16),
    "threads": (int, 1),
    "gpu_layers": (int, -1),
    "context": (int, 64),
}


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
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ConfigError(f"{path}:{line}: '{key}' must be "
                              f"{'a string' if kind is str else 'an integer'}, not {value!r}")
        if low is not None and value < low:
            raise ConfigError(f"{path}:{line}: '{key}' must be at least {low}")
    return data


def _line_of(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(key):
            return i
    return 1
