"""Shared fixtures: the tiny model, real image files, and a way to run the real `glmv`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from glmv_cli.engine.llama import LlamaEngine
from glmv_cli.engine.settings import EngineSettings
from glmv_cli.models.ref import LocalModel
from glmv_cli.models.registry import TINY_DIR

TINY_MODEL = TINY_DIR / "tiny-glm41v-f16.gguf"
TINY_MMPROJ = TINY_DIR / "mmproj-tiny-glm41v-f16.gguf"
MISMATCH_MMPROJ = Path(__file__).parent / "fixtures" / "mmproj-mismatch-f16.gguf"
TINY = LocalModel("tiny", TINY_MODEL, TINY_MMPROJ)


def make_image(path: Path, size: tuple[int, int] = (300, 200), fmt: str | None = None,
               colour: tuple[int, int, int] = (30, 60, 200)) -> Path:
    """A small picture: a coloured background with a red square and a white disc."""
    img = Image.new("RGB", size, colour)
    d = ImageDraw.Draw(img)
    w, h = size
    d.rectangle([w // 6, h // 4, w // 2, 3 * h // 4], fill=(220, 20, 20))
    d.ellipse([w // 2, h // 8, 5 * w // 6, h // 2], fill=(255, 255, 255))
    img.save(path, format=fmt)
    return path


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return make_image(tmp_path / "photo.png")


@pytest.fixture(scope="session")
def _shared_engine() -> Iterator[LlamaEngine]:
    eng = LlamaEngine(TINY, EngineSettings(threads=2))
    eng.load()
    yield eng
    eng.close()


@pytest.fixture
def engine(_shared_engine: LlamaEngine) -> LlamaEngine:
    """One loaded tiny engine for the whole session (loading takes ~0.1 s, but adds up),
    with no state kept from an earlier test: each test sees the engine's own reuse only."""
    _shared_engine.forget()
    return _shared_engine


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets an empty prefix cache of its own (`glmv` subprocesses included)."""
    monkeypatch.setenv("GLMV_CACHE_DIR", str(tmp_path / "glmv-cache"))


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def glmv(tmp_path: Path) -> Callable[..., Result]:
    """Run the real `glmv` in a subprocess with pipes for stdout and stderr."""

    def run(*args: str, input: bytes | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> Result:
        full_env = {**os.environ, "GLMV_MODEL": "tiny", **(env or {})}
        full_env.pop("GLMV_DEBUG", None)
        proc = subprocess.run(
            [sys.executable, "-m", "glmv_cli", *args], input=input or b"",
            capture_output=True, env=full_env, timeout=timeout, cwd=tmp_path,
        )
        return Result(proc.returncode, proc.stdout.decode(errors="replace"),
                      proc.stderr.decode(errors="replace"))

    return run
