"""A fake Hub serving the tiny model's files, and an isolated GLMV_HOME/HF_HOME."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TINY_MMPROJ, TINY_MODEL
from tests.models.hub import FakeHub, serve

REPO = "glmv-test/Tiny-GLM-4.1V-GGUF"
MODEL_FILE, MMPROJ_FILE = "tiny-Q8_0.gguf", "mmproj-tiny-F16.gguf"
# huggingface-hub writes in 10 MiB chunks, so only a file larger than that can be caught
# half-written: this one stands in for a big GGUF. It is the tiny model with 24 MiB of
# padding after its weights (a pattern, so a resumed download at a wrong offset shows):
# its header is a real one, and llama.cpp ignores what follows the tensors.
BIG_FILE = "big-Q4_K_M.gguf"
BIG = TINY_MODEL.read_bytes() + bytes(range(256)) * (24 * 4096)


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub()
    fake.add(REPO, MODEL_FILE, TINY_MODEL.read_bytes())
    fake.add(REPO, MMPROJ_FILE, TINY_MMPROJ.read_bytes())
    fake.add(REPO, BIG_FILE, BIG)
    server = serve(fake)
    yield fake
    fake.release.set()
    server.shutdown()


def registry_entry(name: str = "fake:q8_0", sha: bool = True, model_sha: str | None = None,
                   file: str = MODEL_FILE) -> str:
    import hashlib

    lines = [f'[models."{name}"]', 'family = "fake"', 'quant = "Q8_0"', f'repo = "{REPO}"',
             f'file = "{file}"', f'mmproj = "{MMPROJ_FILE}"']
    if sha:
        model_sha = model_sha or hashlib.sha256(TINY_MODEL.read_bytes()).hexdigest()
        lines.append(f'file_sha256 = "{model_sha}"')
        lines.append(f'mmproj_sha256 = "{hashlib.sha256(TINY_MMPROJ.read_bytes()).hexdigest()}"')
    return "\n".join(lines) + "\n"


@pytest.fixture
def home(tmp_path: Path, hub: FakeHub) -> dict[str, str]:
    """Environment for a glmv that downloads from the fake hub into a private cache."""
    glmv_home = tmp_path / "glmv-home"
    glmv_home.mkdir()
    (glmv_home / "models.toml").write_text(
        registry_entry() + registry_entry("big:q4_k_m", sha=False, file=BIG_FILE))
    return {"GLMV_HOME": str(glmv_home), "HF_HOME": str(tmp_path / "hf"),
            "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_TOKEN": "",
            "HF_HUB_OFFLINE": "0", "HF_HUB_CACHE": str(tmp_path / "hf" / "hub")}


def snapshot(env: dict[str, str], filename: str) -> Path:
    from tests.models.hub import COMMIT

    return (Path(env["HF_HUB_CACHE"]) / f"models--{REPO.replace('/', '--')}" / "snapshots"
            / COMMIT / filename)
