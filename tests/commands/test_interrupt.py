"""Ctrl-C at every stage, as a user presses it: a real `glmv` process, stderr on a
terminal (so the progress line says which stage is running), SIGINT at that stage, and
the process gone within a second with exit 130 and one line.

Each stage is made slow the honest way, with real inputs: a 4000x3000 image at 16384
image tokens takes tens of seconds to encode, a system prompt of about 18,000 tokens
seconds to read; a PDF with no cross-reference table takes seconds to open, pages of
dust seconds to read or render (tests/pdf_files.py); a named pipe stalls a video; a
tokenizer with millions of merges takes seconds to load.

The figures in the README come from these tests (tests/interrupting.py).
"""

from __future__ import annotations

import fcntl
import os
import pty
import random
import select
import signal
import subprocess
import sys
import termios
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
from tests.interrupting import PROMPT_EXIT_S, record


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


def interrupt_at(args: list[str], marker: str, delay: float, cwd: Path,
                 env: dict[str, str] | None = None, sig: int = signal.SIGINT
                 ) -> tuple[int, float, str]:
    """Run glmv with stderr on a pty; once `marker` shows on it, wait `delay` seconds and
    send `sig` (Ctrl-C). Returns the exit status, the seconds from the signal to exit, and
    stderr."""
    leader, follower = pty.openpty()
    env = {**os.environ, "GLMV_MODEL": "tiny", "TERM": "xterm", "COLUMNS": "200",
           **(env or {})}
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
        assert proc.poll() is None, f"exited {proc.returncode} before the signal: {seen}"
        t0 = time.monotonic()
        proc.send_signal(sig)
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
    stopped_at_once(rc, took, err, "encoding an image")


def test_ctrl_c_during_a_long_prefill(tmp_path):
    """A decode is stopped through llama.cpp's abort callback."""
    image = make_image(tmp_path / "small.png")
    rc, took, err = interrupt_at(
        ["ask", str(image), "q", "--system", long_text(30_000), "--threads", "2"],
        "Reading the prompt", delay=0.5, cwd=tmp_path)
    stopped_at_once(rc, took, err, "prefill")


def stopped_at_once(rc: int, took: float, err: str, stage: str) -> None:
    """Exit 130 within PROMPT_EXIT_S of SIGINT, 'glmv: interrupted' its last line."""
    record(stage, took)
    assert rc == 130, err[-500:]
    assert took < PROMPT_EXIT_S, f"{stage}: {took:.2f} s"
    assert err.strip().splitlines()[-1].endswith("glmv: interrupted"), err[-500:]
    assert "Traceback" not in err


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


# -- every other stage ---------------------------------------------------------------------


def test_ctrl_c_while_reading_stdin(tmp_path):
    """stdin stays open and data keeps coming, slowly: glmv is in its read loop."""
    proc = subprocess.Popen([sys.executable, "-m", "glmv_cli", "ask", "-", "q"], cwd=tmp_path,
                            env={**os.environ, "GLMV_MODEL": "tiny"}, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 100_000)
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while _unread(proc.stdin.fileno()):  # until glmv has read what was sent
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        time.sleep(0.3)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        took = time.monotonic() - t0
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    stopped_at_once(proc.returncode, took, err, "reading stdin")


def _unread(fd: int) -> int:
    """Bytes written to a pipe and not yet read from it."""
    buf = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return int.from_bytes(buf, sys.byteorder)


def test_ctrl_c_while_opening_a_pdf(tmp_path):
    from tests.pdf_files import make_slow_to_open_pdf

    pdf = make_slow_to_open_pdf(tmp_path / "big.pdf")  # about 4 s to open
    rc, took, err = interrupt_at(["pdf", str(pdf), "q"], "Opening", delay=1.0, cwd=tmp_path)
    stopped_at_once(rc, took, err, "opening a PDF")


def test_ctrl_c_while_reading_a_pdf_page_text(tmp_path):
    from tests.pdf_files import make_slow_pdf

    pdf = make_slow_pdf(tmp_path / "words.pdf", "text", before=0, after=0)  # 3.5 s to read
    rc, took, err = interrupt_at(["pdf", str(pdf), "q", "--vision", "never"],
                                 "Reading page 1/1", delay=1.0, cwd=tmp_path)
    stopped_at_once(rc, took, err, "reading a PDF page's text")


def test_ctrl_c_while_rendering_a_pdf_page(tmp_path):
    from tests.pdf_files import make_slow_pdf

    pdf = make_slow_pdf(tmp_path / "dust.pdf", "render", before=0, after=0)  # 4 s to render
    rc, took, err = interrupt_at(["pdf", str(pdf), "q", "--vision", "always"],
                                 "Reading page 1/1", delay=1.5, cwd=tmp_path)
    stopped_at_once(rc, took, err, "rendering a PDF page")


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> bytes:
    from tests.videos import write_noisy_avi

    return write_noisy_avi(tmp_path_factory.mktemp("noisy") / "noisy.avi").read_bytes()


def test_ctrl_c_while_opening_a_video(tmp_path, noisy):
    from tests.videos import StallingPipe

    with StallingPipe(tmp_path / "stream.avi", noisy, give=1024) as pipe:
        rc, took, err = interrupt_at(["video", str(pipe.path), "q"], "Opening", delay=1.0,
                                     cwd=tmp_path)
    stopped_at_once(rc, took, err, "opening a video")


def test_ctrl_c_while_reading_video_frames(tmp_path, noisy):
    from tests.videos import StallingPipe

    with StallingPipe(tmp_path / "stream.avi", noisy, give=len(noisy) // 2) as pipe:
        rc, took, err = interrupt_at(["video", str(pipe.path), "q"], "Reading frames",
                                     delay=1.0, cwd=tmp_path)
    stopped_at_once(rc, took, err, "seeking and decoding video frames")


def test_ctrl_c_while_decoding_an_image(tmp_path):
    """84 megapixels of PNG: over a second to decode."""
    huge = tmp_path / "huge.png"
    Image.new("RGB", (12000, 7000), (10, 200, 30)).save(huge, compress_level=1)
    rc, took, err = interrupt_at(["ask", str(huge), "q"], f"Reading {huge}", delay=0.4,
                                 cwd=tmp_path)
    stopped_at_once(rc, took, err, "decoding an image")


@pytest.mark.parametrize("marker", ["Loading the vision encoder", "Loading model"])
def test_ctrl_c_while_loading_the_model(tmp_path, marker):
    """The tiny model with three million extra BPE merges: llama.cpp takes seconds to read
    its vocabulary, a step that has no hook to stop it. It is read twice for a first
    question about an image: alone, beside the vision encoder, then with the weights."""
    from gguf import GGUFReader

    from tests.conftest import TINY_MMPROJ, TINY_MODEL
    from tests.models.gguf_files import rewrite_gguf

    merges = list(GGUFReader(TINY_MODEL).fields["tokenizer.ggml.merges"].contents())
    slow = tmp_path / "slow-tiny.gguf"
    rewrite_gguf(TINY_MODEL, slow, set_values={
        "tokenizer.ggml.merges": merges + [f"x{i} y{i}" for i in range(3_000_000)]})
    image = make_image(tmp_path / "small.png")
    rc, took, err = interrupt_at(
        ["ask", str(image), "q", "--model-file", str(slow), "--mmproj", str(TINY_MMPROJ)],
        marker, delay=0.5, cwd=tmp_path)
    stopped_at_once(rc, took, err, "loading the model")


def test_ctrl_c_while_generating(tmp_path):
    image = make_image(tmp_path / "small.png")
    rc, took, err = interrupt_at(
        ["ask", str(image), "q", "--no-think", "--max-tokens", "60000", "--repeat-penalty",
         "1.0"], "Generating", delay=0.5, cwd=tmp_path)
    stopped_at_once(rc, took, err, "generation")
