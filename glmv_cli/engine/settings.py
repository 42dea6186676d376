"""How to run an engine: settings that do not depend on which model is loaded.

Kept apart from llama.py so that commands can build them without importing llama.cpp.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from glmv_cli.inputs.image import DEFAULT_MAX_IMAGE_TOKENS


@dataclass(frozen=True)
class EngineSettings:
    """Every field has a sensible default for this machine."""

    threads: int | None = None  # None: the number of physical cores
    gpu_layers: int | None = None  # None: all layers when llama.cpp has a GPU backend
    context_limit: int | None = None  # cap on n_ctx below the model's trained window
    # Largest image the engine must take, in tokens; bounds the buffers mtmd reserves.
    max_image_tokens: int = DEFAULT_MAX_IMAGE_TOKENS
    flash_attn: bool = True  # 7x faster, 20x leaner on large images (even on a CPU)
    verbose: bool = False  # llama.cpp's own log lines on stderr
    # The prefix cache (engine/cache_store.py): its directory, None for no cache, and
    # its size cap in bytes.
    cache_dir: Path | None = None
    cache_bytes: int = 4 << 30

    @property
    def cores(self) -> int:
        """CPU threads to use."""
        return self.threads or physical_cores()


def physical_cores() -> int:
    """Physical cores: llama.cpp's threads spin, so hyper-threads only add contention."""
    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1
