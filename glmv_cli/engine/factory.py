"""The one place engines are made: from a resolved model reference and settings."""

from __future__ import annotations

from glmv_cli.engine.base import Engine
from glmv_cli.engine.settings import EngineSettings
from glmv_cli.models.ref import ModelRef, RemoteModel


def open_engine(model: ModelRef, settings: EngineSettings | None = None) -> Engine:
    """An engine for `model`, not yet loaded (loading happens on first use, or `load()`).

    Use it as a context manager so that its native memory is freed.
    """
    # Imported here so that commands which never answer (`--help`, `--dry-run`) do not
    # load llama.cpp (nor an HTTP client).
    if isinstance(model, RemoteModel):
        from glmv_cli.engine.remote import RemoteEngine

        return RemoteEngine(model, settings)
    from glmv_cli.engine.llama import LlamaEngine

    return LlamaEngine(model, settings)
