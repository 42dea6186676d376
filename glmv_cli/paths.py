"""Where glmv keeps its own files: the config dir (config.toml, the user's models.toml)
and the cache dir (saved model states).

Model weights live in the Hugging Face cache (HF_HOME / HF_HUB_CACHE), where other tools
already look for them; glmv does not copy them anywhere else.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

APP = "glmv"


def config_dir() -> Path:
    """`$GLMV_HOME` if set, else the platform's config dir (~/.config/glmv on Linux)."""
    home = os.environ.get("GLMV_HOME")
    if home:
        return Path(home).expanduser()
    from platformdirs import user_config_path

    return user_config_path(APP, appauthor=False)


def cache_dir() -> Path:
    """Where saved model states live: `$GLMV_CACHE_DIR` if set, else the platform's
    cache dir (~/.cache/glmv on Linux). Safe to delete at any time."""
    path = os.environ.get("GLMV_CACHE_DIR")
    if path:
        return Path(path).expanduser()
    from platformdirs import user_cache_path

    return user_cache_path(APP, appauthor=False)


def config_file() -> Path:
    return config_dir() / "config.toml"


def user_registry() -> Path:
    return config_dir() / "models.toml"


def pulls_file() -> Path:
    """What `glmv pull` resolved and verified (written by glmv, see models/pulls.py)."""
    return config_dir() / "pulled.toml"


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, as huggingface-hub resolves it (HF_HUB_CACHE, HF_HOME)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def free_bytes(path: Path) -> int:
    """Free space on the disk that holds `path`, or would once it is created."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free
