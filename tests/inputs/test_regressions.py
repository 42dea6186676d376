"""Inputs the fuzzer (test_fuzz.py) found mishandled, minimised and kept as files in
tests/inputs/regressions/: each goes through the function it broke, and must now give
glmv's own input error (or a skipped page) quickly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from glmv_cli.errors import InputError
from glmv_cli.inputs.pdf_worker import PdfReader, SkippedPage
from glmv_cli.inputs.video_worker import VideoReader
from glmv_cli.tasks.documents import prepare_pages

FOUND = Path(__file__).parent / "regressions"


def test_pdf_whose_page_tree_shrinks_on_repair():
    """One byte inserted into the page tree of a 2-page PDF: MuPDF counts 2 pages when it
    opens it, then repairs the file while reading page 1 and finds none. Page 2 used to
    come back as a usage error ('page 2 is out of range: the document has 0 pages', exit
    2) instead of a damaged page."""
    with PdfReader.open(FOUND / "pdf-page-count-changes.pdf") as pdf:
        assert pdf.page_count == 2
        got = [pdf.content(i) for i in range(2)]
        assert all(isinstance(g, SkippedPage) for g in got)
        assert got[1].reason == "the page is damaged (MuPDF's repair of the document lost it)"
        with pytest.raises(InputError, match="no page could be read"):
            prepare_pages(pdf, [0, 1], "auto", 64)


def test_avi_whose_header_claims_a_frame_every_six_months():
    """0xFFFFFFFF written over the AVI header's microseconds per frame: 8 frames at
    6e-8 fps, 4 years of video. Planning the frames then stepped through every sampling
    time (70 s and more); now the absurd duration is refused, and the plan is bounded by
    the frames anyway (tests/inputs/test_video.py)."""
    t0 = time.monotonic()
    with pytest.raises(InputError, match="unknown duration"):
        VideoReader(str(FOUND / "avi-absurd-frame-duration.avi"))
    assert time.monotonic() - t0 < 5


def test_mp4_shifted_by_one_byte_has_damaged_timestamps(tmp_path):
    """A zero byte inserted before an MP4: FFmpeg still finds the stream, with no frame
    count, and decoding it gives negative timestamps, so a negative duration. glmv used to
    answer 'glmv: --start 0:00 is past the end' (exit 2), blaming an option the user never
    gave."""
    path = FOUND / "mp4-negative-timestamps.mp4"
    with pytest.raises(InputError) as e:
        VideoReader(str(path))
    assert e.value.message == f"{path}: unknown duration (its frames' timestamps are damaged)"
