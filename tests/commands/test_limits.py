"""Limits through the real `glmv`: a PDF page past --page-timeout or the memory limit is
skipped and the rest answered; an image or a video that cannot be decoded in time is
refused with exit 3, never waited on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from glmv_cli.errors import ExitCode
from tests.conftest import make_image
from tests.pdf_files import DUST_TEXT, make_slow_pdf, make_text_pdf
from tests.videos import StallingPipe, write_noisy_avi

SHORT = ("--max-tokens", "8", "--think-budget", "2", "--max-image-tokens", "64")
# The slow page takes seconds at the default image budget (1024 tokens), and far less at a
# small one: the dust tests keep the default.
DUST = ("--max-tokens", "8", "--think-budget", "2")


@pytest.fixture(scope="module")
def dust(tmp_path_factory) -> Path:
    """Page 2 of 3 takes seconds to render; its text layer reads at once."""
    return make_slow_pdf(tmp_path_factory.mktemp("dust") / "dust.pdf", "render")


def test_a_page_past_the_timeout_is_skipped_and_the_rest_answered(glmv, dust):
    r = glmv("pdf", str(dust), "What is on these pages?", "--vision", "always",
             "--page-timeout", "1", "--json", *DUST)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["skipped"] == [{"page": 2, "reason": "rendering took over 1 s"}]
    assert [p["mode"] for p in out["pages"]] == ["image", "text", "image"]
    assert out["pages"][1]["skipped"] == "rendering took over 1 s"
    assert out["pages_as_images"] == [1, 3] and out["steps"]
    assert (f"glmv: warning: {dust} page 2 skipped: rendering took over 1 s (raise "
            "--page-timeout); its text layer is used instead") in r.stderr


def test_transcribe_marks_a_skipped_page(glmv, dust):
    r = glmv("pdf", str(dust), "--transcribe", "--vision", "always", "--page-timeout", "1",
             *DUST)
    assert r.returncode == 0, r.stderr
    pages = r.stdout.split("\n---\n")
    assert [p.strip().splitlines()[0] for p in pages] == [
        "<!-- page 1 (image) -->",
        "<!-- page 2 (skipped: rendering took over 1 s) -->",
        "<!-- page 3 (image) -->",
    ]
    assert DUST_TEXT in pages[1]


def test_with_a_generous_timeout_the_slow_page_is_rendered(glmv, dust):
    r = glmv("pdf", str(dust), "q", "--vision", "always", "--pages", "2", "--json", *DUST)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["skipped"] == [] and out["pages_as_images"] == [2]


def test_a_page_past_the_memory_limit_is_skipped(glmv, tmp_path):
    pdf = make_text_pdf(tmp_path / "report.pdf", pages=2)
    r = glmv("pdf", str(pdf), "q", "--read", "all", "--vision", "always", "--dpi", "600",
             "--json",
             "--max-image-tokens", "16384", "--max-tokens", "4", "--think-budget", "1",
             "--context", "65536", env={"GLMV_DECODE_MEMORY": "120"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {s["reason"] for s in out["skipped"]} == {"rendering needed over 120 MB of memory"}
    assert [s["page"] for s in out["skipped"]] == [1, 2]
    assert "report.pdf page 1 skipped: rendering needed over 120 MB of memory; its " \
        "text layer is used instead" in r.stderr


def test_ground_skips_a_page_it_cannot_render(glmv, dust):
    r = glmv("ground", str(dust), "the curves", "--pages", "1-2", "--page-timeout", "1",
             "--json", *DUST)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["page"] == 1  # the one page left, as one object
    assert f"glmv: warning: {dust} page 2 skipped: rendering took over 1 s" in r.stderr
    only = glmv("ground", str(dust), "the curves", "--pages", "2", "--page-timeout", "1",
                *DUST)
    assert only.returncode == ExitCode.INPUT
    assert only.stderr.strip().splitlines()[-1] == (
        f"glmv: {dust}: no page could be read (page 2: rendering took over 1 s)")


def test_an_image_that_takes_too_long_to_decode_is_refused(glmv, tmp_path):
    """A 9000x9000 PNG takes most of a second to decode; a small one, milliseconds."""
    huge = tmp_path / "huge.png"
    Image.new("RGB", (9000, 9000), (10, 200, 30)).save(huge, compress_level=1)
    small = make_image(tmp_path / "small.png")
    env = {"GLMV_DECODE_TIMEOUT": "0.2"}
    r = glmv("ask", str(huge), "q", *SHORT, env=env)
    assert r.returncode == ExitCode.INPUT
    assert r.stderr == f"glmv: {huge}: decoding the image took over 0.2 s\n"
    ok = glmv("ask", str(small), "q", *SHORT, env=env)
    assert ok.returncode == 0, ok.stderr


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> bytes:
    return write_noisy_avi(tmp_path_factory.mktemp("noisy") / "noisy.avi").read_bytes()


def test_a_video_that_stalls_while_opening_is_refused(glmv, tmp_path, noisy):
    with StallingPipe(tmp_path / "stream.avi", noisy, give=1024) as pipe:
        r = glmv("video", str(pipe.path), "q", *SHORT[:4], env={"GLMV_DECODE_TIMEOUT": "2"})
    assert r.returncode == ExitCode.INPUT, r.stderr
    assert r.stderr.endswith(
        f"glmv: {pipe.path}: cannot read the video: opening it took over 2 s\n")


def test_a_video_whose_frames_stop_coming_is_refused(glmv, tmp_path, noisy):
    """Half the file arrives, then nothing: the frames after it never come."""
    with StallingPipe(tmp_path / "stream.avi", noisy, give=len(noisy) // 2) as pipe:
        r = glmv("video", str(pipe.path), "q", *SHORT[:4], env={"GLMV_DECODE_TIMEOUT": "2"})
    assert r.returncode == ExitCode.INPUT, r.stderr
    assert "cannot read the video: no frame after 0:0" in r.stderr
    assert r.stderr.strip().endswith("could be read within 2 s (GLMV_DECODE_TIMEOUT)")
