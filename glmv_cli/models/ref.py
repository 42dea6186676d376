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


# A remote OpenAI-compatible endpoint joins this union when glmv can talk to one.
ModelRef = LocalModel
