"""Ctrl-C during native work, as a user presses it: a real `glmv` process, stderr on a
terminal (so the progress line says which stage is running), SIGINT at that stage.

The tiny model is made slow the honest way: a 4000x3000 image at 16384 image tokens takes
tens of seconds to encode, and a system prompt of about 18,000 tokens seconds to read.
"""

from __future__ import annotations

import os
import pty
import random
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glmv_cli.engine.events import Done, Progress
from glmv_cli.engine.llama import LlamaEngine
from glmv_cli.engine.request import Request
from glmv_cli.engine.settings import EngineSettings
from glmv_cli.errors import Interrupted
from tests.conftest import TINY, make_image

# From SIGINT to the process gone: the README promises "at once".
PROMPT_EXIT_S = 1.0


@pytest.fixture(scope="module")
def big_image(tmp_path_factory) -> Path:
    """Noise, so that nothing compresses or shrinks: 15,301 tokens at 16384."""
    path = tmp_path_factory.mktemp("big") / "big.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (3000, 4000, 3), dtype=np.uint8)).save(path)
    return path


def long_text(chars: int) -> str:
    rng = random.Random(0)
    words = ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "seven"]
    return " ".join(rng.choice(words) for _ in range(chars // 4))[:chars]


def interrupt_at(args: list[str], marker: str, delay: float, cwd: Path
                 ) -> tuple[int, float, str]:
    """Run glmv with stderr on a pty; once `marker` shows on it, wait `delay` seconds and
    press Ctrl-C. Returns the exit status, the seconds from SIGINT to exit, and stderr."""
    leader, follower = pty.openpty()
    env = {**os.environ, "GLMV_MODEL": "tiny", "TERM": "xterm", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "glmv_cli", *args], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=follower)
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 120
    try:
        while marker.encode() not in seen:
            assert time.monotonic() < deadline, seen[-500:]
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError:  # the process ended before the marker
                    break
            assert proc.poll() is None, f"exited {proc.returncode} before '{marker}': {seen}"
        time.sleep(delay)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        took = time.monotonic() - t0
        while True:  # what it printed on the way out
            ready, _, _ = select.select([leader], [], [], 0.2)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    return proc.returncode, took, seen.decode(errors="replace")


def test_ctrl_c_during_a_long_image_encode(big_image, tmp_path):
    """The encoder cannot be aborted; glmv leaves at once without freeing the memory the
    encoder still uses (this used to die by SIGSEGV, exit 139)."""
    rc, took, err = interrupt_at(
        ["ask", str(big_image), "q", "--max-image-tokens", "16384", "--threads", "2"],
        "Encoding image", delay=2.0, cwd=tmp_path)
    assert rc == 130, err[-500:]
    assert took < PROMPT_EXIT_S
    assert "glmv: interrupted" in err and "Traceback" not in err


def test_ctrl_c_during_a_long_prefill(tmp_path):
    """A decode is stopped through llama.cpp's abort callback."""
    image = make_image(tmp_path / "small.png")
    rc, took, err = interrupt_at(
        ["ask", str(image), "q", "--system", long_text(30_000), "--threads", "2"],
        "Reading the prompt", delay=0.5, cwd=tmp_path)
    assert rc == 130, err[-500:]
    assert took < PROMPT_EXIT_S
    assert "glmv: interrupted" in err and "Traceback" not in err


def test_the_engine_survives_a_ctrl_c_that_stops_a_prefill(image):
    """A chat or a batch goes on after Ctrl-C stops one answer: the aborted decode leaves
    the engine usable, and it answers as a fresh engine does."""
    with LlamaEngine(TINY, EngineSettings(threads=2)) as engine:
        _survives(engine, image)


def _survives(engine, image) -> None:
    quick = Request("What is this?", media=(_load(image),), max_tokens=8)
    fresh = _tokens(engine, quick)
    previous = signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        img = _load(image)
        slow = Request("q", media=(img,), system=long_text(30_000), max_tokens=4)
        done = None
        for event in engine.generate(slow):
            if isinstance(event, Progress) and event.label.startswith("Reading the prompt"):
                threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
            if isinstance(event, Done):
                done = event
        assert done is not None and done.finish_reason == "interrupted"
    finally:
        signal.signal(signal.SIGINT, previous)
    after = _answer(engine, quick)
    assert after.finish_reason == "length" and after.usage.generated_tokens == 8
    assert _tokens(engine, quick) == fresh


def _raise_interrupted(signum, frame):
    raise Interrupted()


def _load(path: Path):
    from glmv_cli.inputs.image import prepare_image
    from glmv_cli.inputs.source import Source

    return prepare_image(Source(path.name, path.read_bytes()))


def _answer(engine, request) -> Done:
    return next(e for e in engine.generate(request) if isinstance(e, Done))


def _tokens(engine, request) -> str:
    from glmv_cli.engine.events import Answer, Thinking

    return "".join(e.text for e in engine.generate(request)
                   if isinstance(e, Thinking | Answer))
