"""Model references: what an engine is built from, once a name has been resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LocalModel:
    """A text GGUF and its vision projector on disk, run by llama.cpp in this process.

    `sampling` holds the registry's recommended settings for the build (may be empty).
    """

    name: str
    model: Path
    mmproj: Path
    sampling: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteModel:
    """A model served behind an OpenAI-compatible API (vLLM, SGLang, llama.cpp's server).

    `url` is the API base (`http://host:8000/v1`); `model` the name the server knows the
    model by (None: the first the server lists). `timeout` bounds the wait for each piece
    of the streamed answer, in seconds; `context` is the server's window, for planners.
    """

    name: str
    url: str
    model: str | None = None
    api_key: str | None = None
    timeout: float = 600.0
    context: int = 65536
    sampling: dict[str, float] = field(default_factory=dict)


ModelRef = LocalModel | RemoteModel
