"""Output files under Ctrl-C and SIGTERM: a real glmv is stopped while it writes, and at
points spread over a whole run; the file then holds what it held before or the whole new
output, never a part, and no temporary file is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from glmv_cli.errors import ExitCode
from tests.conftest import make_image

STOPS = {signal.SIGINT: (ExitCode.INTERRUPTED, "glmv: interrupted"),
         signal.SIGTERM: (ExitCode.TERMINATED, "glmv: terminated")}


def start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "glmv_cli", *args], cwd=cwd,
                            env={**os.environ, "GLMV_MODEL": "tiny"},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


@pytest.fixture(scope="module")
def noise_photo(tmp_path_factory) -> Path:
    """48 megapixels of noise: seconds to write as a PNG, so a signal can land mid-write."""
    path = tmp_path_factory.mktemp("noise") / "noise.jpg"
    Image.effect_noise((8000, 6000), 80).convert("RGB").save(path, quality=90)
    return path


@pytest.mark.parametrize("sig", list(STOPS), ids=lambda s: signal.Signals(s).name)
def test_a_signal_during_the_draw_write_leaves_the_old_file(tmp_path, noise_photo, sig):
    out = tmp_path / "out.png"
    make_image(out)
    before = out.read_bytes()
    proc = start(["ground", str(noise_photo), "the noise", "--draw", str(out),
                  "--max-tokens", "8", "--think-budget", "2", "--max-image-tokens", "64"],
                 tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not leftovers(tmp_path):  # the temporary file beside OUT: it is writing
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    code, line = STOPS[sig]
    assert proc.returncode == code, err
    assert err.decode().strip().splitlines()[-1] == line
    assert out.read_bytes() == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("sig", list(STOPS), ids=lambda s: signal.Signals(s).name)
def test_a_signal_at_any_point_leaves_code_output_whole(tmp_path, sig):
    """`code -o` stopped at points spread over a run (a run takes about a second): the
    file is the old one or the whole new one, every time. (From a quarter of a second on:
    before that the interpreter itself is starting, and glmv's handlers are not there.)"""
    image = make_image(tmp_path / "mock.png")
    args = ["code", str(image), "-o", "page.jsx", "--force", "--framework", "react",
            "--max-tokens", "300", "--think-budget", "100"]
    reference = start(args, tmp_path)
    t0 = time.monotonic()
    reference.communicate(timeout=120)
    run_s = time.monotonic() - t0
    assert reference.returncode == 0
    new = (tmp_path / "page.jsx").read_bytes()
    outcomes = set()
    for i in range(8):
        (tmp_path / "page.jsx").write_bytes(b"OLD")
        proc = start(args, tmp_path)
        time.sleep(0.25 + (run_s - 0.25) * i / 7)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, STOPS[sig][0]), err
        written = (tmp_path / "page.jsx").read_bytes()
        assert written in (b"OLD", new)
        assert leftovers(tmp_path) == []
        outcomes.add(proc.returncode)
    assert STOPS[sig][0] in outcomes  # (some runs were stopped, not all finished first)
