"""PdfReader: pages read and rendered in a worker process within a time and memory limit,
on real PDFs whose pages are slow on purpose (tests/pdf_files.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from glmv_cli.errors import InputError, UsageError
from glmv_cli.inputs.pdf import PageContent, RenderedPage
from glmv_cli.inputs.pdf_worker import PdfReader, SkippedPage
from glmv_cli.inputs.source import Source
from glmv_cli.tasks.documents import prepare_pages
from tests.pdf_files import DUST_TEXT, make_encrypted_pdf, make_slow_pdf, make_text_pdf


@pytest.fixture(scope="module")
def slow_render(tmp_path_factory) -> Path:
    """Page 2 of 3 takes seconds to render (and over a second for its layout)."""
    return make_slow_pdf(tmp_path_factory.mktemp("slow") / "dust.pdf", "render")


def test_a_page_past_the_time_limit_is_skipped_and_the_next_page_is_read(slow_render):
    with PdfReader.open(slow_render, page_timeout=1.0) as pdf:
        t0 = time.monotonic()
        skipped = pdf.render(1, 1024)
        took = time.monotonic() - t0
        assert skipped == SkippedPage(1, "rendering took over 1 s")
        assert took < 2.5  # the limit, not the rendering, decided
        # A new worker reopens the document by itself.
        page3 = pdf.render(2, 256)
        assert isinstance(page3, RenderedPage) and page3.image.page == 3
        text = pdf.content(1, layout=False)
        assert isinstance(text, PageContent) and DUST_TEXT in text.text


def test_prepare_pages_keeps_the_text_layer_of_a_skipped_page(slow_render):
    with PdfReader.open(slow_render, page_timeout=1.0) as pdf:
        pages = prepare_pages(pdf, [0, 1, 2], "auto", 256)
    assert [p.skipped for p in pages] == [None, pages[1].skipped, None]
    dust = pages[1]
    # auto: its layout already takes over a second; its text alone comes quickly.
    assert dust.skipped == "reading its text and layout took over 1 s"
    assert dust.mode == "text" and dust.image is None and DUST_TEXT in dust.text
    assert dust.reason.startswith("skipped: ") and "its text layer is used" in dust.reason
    assert pages[0].mode == pages[2].mode == "text" and "after the slow one" in pages[2].text


def test_vision_always_renders_the_slow_page_within_a_generous_limit(slow_render):
    with PdfReader.open(slow_render, page_timeout=60) as pdf:
        pages = prepare_pages(pdf, [1], "always", 256)
    assert pages[0].mode == "image" and pages[0].skipped is None


def test_a_page_past_the_memory_limit_is_skipped(tmp_path):
    """A 16384-token rendering needs about 40 MB of pixels, copied twice on its way out: a
    worker limited to 120 MB cannot, while the text (and a small rendering) still can."""
    with PdfReader.open(make_text_pdf(tmp_path / "t.pdf", pages=1), memory_mb=120) as pdf:
        big = pdf.render(0, 16384, dpi=600)
        assert isinstance(big, SkippedPage) and big.reason == "rendering needed over 120 MB "\
            "of memory"
        assert isinstance(pdf.render(0, 256), RenderedPage)


def test_a_page_that_crashes_the_reader_is_skipped(slow_render):
    """Fault injection: the worker dies under a page call, as MuPDF does on some files."""
    from tests.inputs import worker_calls

    with PdfReader.open(slow_render) as pdf:
        crashed = pdf._page_call(1, "rendering", worker_calls.crash)
        assert isinstance(crashed, SkippedPage)
        assert crashed.reason == "rendering crashed the PDF reader (SIGSEGV)"
        assert isinstance(pdf.render(0, 256), RenderedPage)


def test_document_errors_are_raised_page_errors_are_not(tmp_path):
    with pytest.raises(InputError, match="encrypted"):
        PdfReader.open(make_encrypted_pdf(tmp_path / "e.pdf"))
    with pytest.raises(InputError, match="no such file"):
        PdfReader.open(tmp_path / "missing.pdf")
    data = make_text_pdf(tmp_path / "t.pdf", pages=2).read_bytes()
    with PdfReader.open(Source("<stdin>", data)) as pdf:
        assert pdf.page_count == 2 and pdf.name == "<stdin>"
        with pytest.raises(UsageError, match="out of range"):
            pdf.render(5, 256)


def test_a_document_that_will_not_open_in_time_is_an_input_error(tmp_path, monkeypatch):
    from glmv_cli.inputs import pdf_worker
    from tests.pdf_files import make_slow_to_open_pdf

    monkeypatch.setattr(pdf_worker, "OPEN_TIMEOUT_S", 0.5)
    path = make_slow_to_open_pdf(tmp_path / "big.pdf", objects=1_000_000)
    with pytest.raises(InputError, match=r"big\.pdf: cannot open the PDF: opening it took "
                                         r"over 0\.5 s"):
        PdfReader.open(path)
