"""Fixtures for the parity suite: the tiny model's HF checkpoint, rebuilt by the project's
generator, converted at f32 by llama.cpp's own converter, loaded on both sides.

Needs the `parity` extra (torch, transformers): without it every test here is skipped.
The converter comes from the llama-cpp-python sdist of the installed version, fetched
with pip (from its cache when there), or from GLMV_LLAMA_CPP_SRC (its vendor/llama.cpp).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import make_tiny_model

CONVERTER_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The table of every comparison made, whether the tests passed or not."""
    from tests.parity.compare import HEADER, ROWS

    if not ROWS:
        return
    terminalreporter.section("glmv vs the reference (transformers, f32, same weights)")
    terminalreporter.write_line(HEADER)
    for row in ROWS:
        terminalreporter.write_line(row.line())
    terminalreporter.write_line(
        "tokens/positions: the prompt's tokens and M-RoPE positions; grid: image tokens "
        "across x down ('=': as the reference); emb: the vision encoder's output; logit cos: "
        "the first token's logits; greedy: leading tokens equal, of the reference's (fewer "
        "than 24 when it ended its turn; 'tie': they part where its two best were within "
        "0.01)")


@pytest.fixture(scope="session")
def llama_cpp_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vendor/llama.cpp of the llama-cpp-python sdist whose library glmv runs."""
    if os.environ.get("GLMV_LLAMA_CPP_SRC"):
        return Path(os.environ["GLMV_LLAMA_CPP_SRC"])
    import llama_cpp

    version = llama_cpp.__version__
    where = tmp_path_factory.mktemp("sdist")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
         ":all:", f"llama-cpp-python=={version}", "-d", str(where)],
        check=True, capture_output=True, timeout=600,
    )
    (archive,) = where.glob("llama_cpp_python-*.tar.gz")
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    with tarfile.open(archive) as tar:
        wanted = [m for m in tar.getmembers()
                  if m.name.startswith(prefix)
                  and m.name[len(prefix):].startswith(CONVERTER_PARTS)]
        tar.extractall(where, members=wanted, filter="data")
    return where / prefix


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model as a transformers checkpoint, from the project's own generator."""
    out = tmp_path_factory.mktemp("hf") / "tiny"
    make_tiny_model.build_hf_checkpoint(out)
    return out


def convert(llama_cpp_src: Path, checkpoint: Path, outtype: str, out: Path,
            mmproj: bool) -> Path:
    """One run of llama.cpp's converter, as make_tiny_model.py runs it."""
    proc = subprocess.run(
        [sys.executable, make_tiny_model.__file__, "--llama-cpp-src", str(llama_cpp_src),
         "--convert", str(checkpoint), "--model-name", "tiny-glm41v", "--outtype", outtype,
         "--outfile", str(out), *(["--mmproj"] if mmproj else [])],
        capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def gguf_f32(llama_cpp_src: Path, checkpoint: Path,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("gguf")
    return (convert(llama_cpp_src, checkpoint, "f32", folder / "tiny-f32.gguf", False),
            convert(llama_cpp_src, checkpoint, "f32", folder / "mmproj-tiny-f32.gguf", True))


@pytest.fixture(scope="session")
def reference(checkpoint: Path) -> Any:
    from tests.parity.reference import Reference

    return Reference(checkpoint)


@pytest.fixture(scope="session")
def engine_f32(gguf_f32: tuple[Path, Path]) -> Iterator[Any]:
    from glmv_cli.engine.llama import LlamaEngine
    from glmv_cli.engine.settings import EngineSettings
    from glmv_cli.models.ref import LocalModel

    engine = LlamaEngine(LocalModel("tiny-f32", gguf_f32[0], gguf_f32[1]),
                         EngineSettings(threads=2))
    engine.load()
    yield engine
    engine.close()
