"""PDF preprocessing on real PDFs made with pymupdf: opening, page specs, text vs vision,
rendering within the token budget."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from glmv_cli.errors import InputError, UsageError
from glmv_cli.inputs.image import PATCH, target_size
from glmv_cli.inputs.pdf import (
    MAX_AUTO_DPI,
    choose_mode,
    open_pdf,
    page_content,
    parse_pages,
    render_page,
)
from tests.pdf_files import (
    make_encrypted_pdf,
    make_mixed_pdf,
    make_scanned_pdf,
    make_text_pdf,
    make_zero_page_pdf,
    save,
    text_page,
)

# -- opening -------------------------------------------------------------------------------


def test_open_reads_pages(tmp_path):
    with open_pdf(make_text_pdf(tmp_path / "r.pdf", pages=4)) as pdf:
        assert pdf.page_count == 4 and pdf.name.endswith("r.pdf")


def test_encrypted_needs_the_password(tmp_path):
    path = make_encrypted_pdf(tmp_path / "secret.pdf", password="pw1")
    with pytest.raises(InputError) as e:
        open_pdf(path)
    assert "secret.pdf" in e.value.message and "encrypted" in e.value.message
    assert "--password" in (e.value.hint or "")
    with pytest.raises(InputError, match="wrong password"):
        open_pdf(path, "nope")
    with open_pdf(path, "pw1") as pdf:
        assert "Revenue" in page_content(pdf, 0).text


@pytest.mark.parametrize("data", [b"not a pdf at all", b"%PDF-1.7\n\x00\x01garbage", b"\x89PNG"])
def test_corrupt_or_foreign_files_are_input_errors(tmp_path, data):
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    with pytest.raises(InputError, match=r"broken\.pdf"):
        open_pdf(path)


def test_truncated_pdf_is_repaired_and_says_so(tmp_path):
    full = make_text_pdf(tmp_path / "full.pdf").read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(full[: len(full) // 3])
    with open_pdf(path) as pdf:  # MuPDF rebuilds what it can, as PDF viewers do
        assert pdf.repaired and "Page 1" in page_content(pdf, 0).text
    with open_pdf(tmp_path / "full.pdf") as pdf:
        assert not pdf.repaired


def test_zero_pages_and_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="no pages"):
        open_pdf(make_zero_page_pdf(tmp_path / "zero.pdf"))
    with pytest.raises(InputError, match="no such file"):
        open_pdf(tmp_path / "missing.pdf")
    (tmp_path / "empty.pdf").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        open_pdf(tmp_path / "empty.pdf")


# -- page specs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "expected"), [
    (None, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
    ("4-6", [3, 4, 5]),
    ("1,3,5", [0, 2, 4]),
    ("9-", [8, 9]),
    ("-2", [0, 1]),
    (" 5 , 2-3 ", [1, 2, 4]),
    ("1-3,2-4", [0, 1, 2, 3]),  # overlaps merge, order is the document's
    ("7,1", [0, 6]),
])
def test_parse_pages(spec, expected):
    assert parse_pages(spec, 10) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ("11", "out of range"),
    ("3-12", "out of range"),
    ("0", "numbered from 1"),
    ("6-4", "backwards"),
    ("a", "cannot read"),
    ("1-2-3", "cannot read"),
    ("1,,2", "cannot read"),
    ("-", "cannot read"),
])
def test_parse_pages_rejects(spec, message):
    with pytest.raises(UsageError, match=message) as e:
        parse_pages(spec, 10, name="doc.pdf")
    assert e.value.message.startswith("doc.pdf: --pages")


# -- text or vision ------------------------------------------------------------------------


def test_auto_vision_picks_per_page(tmp_path):
    with open_pdf(make_mixed_pdf(tmp_path / "mixed.pdf")) as pdf:
        modes = [choose_mode(page_content(pdf, i), "auto") for i in range(pdf.page_count)]
    assert [m for m, _ in modes] == ["text", "image", "image", "image", "text"]
    assert "scanned" in modes[1][1] and "picture" in modes[2][1] and "graphics" in modes[3][1]


def test_vision_always_and_never(tmp_path):
    with open_pdf(make_mixed_pdf(tmp_path / "mixed.pdf")) as pdf:
        contents = [page_content(pdf, i) for i in range(pdf.page_count)]
    assert {choose_mode(c, "always")[0] for c in contents} == {"image"}
    assert {choose_mode(c, "never")[0] for c in contents} == {"text"}
    assert "no text layer" in choose_mode(contents[1], "never")[1]


def test_blank_page_and_full_page_background_are_text(tmp_path):
    doc = pymupdf.open()
    doc.new_page()
    page = doc.new_page()
    page.draw_rect(page.rect, color=None, fill=(0.9, 0.9, 1.0))  # a slide's background
    page.insert_textbox(pymupdf.Rect(72, 72, 500, 300), "A slide with enough words " * 4)
    with open_pdf(save(doc, tmp_path / "b.pdf")) as pdf:
        assert choose_mode(page_content(pdf, 0), "auto") == ("text", "blank page")
        assert choose_mode(page_content(pdf, 1), "auto") == ("text", "text layer")


def test_scanned_page_has_no_text_layer(tmp_path):
    with open_pdf(make_scanned_pdf(tmp_path / "scan.pdf")) as pdf:
        content = page_content(pdf, 0)
    assert content.text.strip() == "" and content.image_share == pytest.approx(1.0, abs=0.01)


# -- rendering -----------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [64, 256, 1024, 4096])
def test_render_fits_the_budget(tmp_path, budget):
    with open_pdf(make_scanned_pdf(tmp_path / "scan.pdf", pages=1)) as pdf:
        r = render_page(pdf, 0, budget)
    img = r.image
    assert img.tokens <= budget and img.width % PATCH == 0 and img.height % PATCH == 0
    assert len(img.rgb) == img.width * img.height * 3
    assert r.page_size == (595, 842)
    # The page as the user sees it, at `scale` pixels per point.
    assert img.original_size == (round(595 * r.scale), round(842 * r.scale))
    assert img.source.endswith("scan.pdf page 1") and img.format == "PDF"


def test_render_draws_the_page(tmp_path):
    """The pixels are the page: the scan's light paper, the dark lines of text."""
    with open_pdf(make_scanned_pdf(tmp_path / "scan.pdf", pages=1)) as pdf:
        img = render_page(pdf, 0, 1024).image
    pixels = Image.frombytes("RGB", (img.width, img.height), img.rgb)
    assert pixels.getpixel((img.width - 5, img.height - 5))[0] > 230  # paper
    top = pixels.crop((0, 0, img.width, img.height // 6))
    assert min(p[0] for p in top.get_flattened_data()) < 100  # ink


def test_small_page_stops_at_max_auto_dpi_and_dpi_overrides(tmp_path):
    doc = pymupdf.open()
    text_page(doc, "A shop receipt, total 12.50", size=(216, 288))  # 3 x 4 inches
    with open_pdf(save(doc, tmp_path / "receipt.pdf")) as pdf:
        auto = render_page(pdf, 0, 4096)
        low = render_page(pdf, 0, 4096, dpi=72)
        huge = render_page(pdf, 0, 256, dpi=600)
    zoom = MAX_AUTO_DPI / 72
    assert (auto.image.width, auto.image.height) == target_size(round(216 * zoom),
                                                                round(288 * zoom), 4096)
    assert auto.image.tokens < 4096 // 2  # a small page gets fewer tokens than the budget
    assert (low.image.width, low.image.height) == target_size(216, 288, 4096)
    assert huge.image.tokens <= 256  # the budget still wins over --dpi


def test_poster_is_clamped_by_the_budget(tmp_path):
    doc = pymupdf.open()
    text_page(doc, "A0 poster", size=(2384, 3370))
    with open_pdf(save(doc, tmp_path / "poster.pdf")) as pdf:
        r = render_page(pdf, 0, 1024, dpi=300)
    assert r.image.tokens <= 1024 and r.scale < 0.5


def test_rotated_page_renders_as_shown(tmp_path):
    doc = pymupdf.open()
    text_page(doc)
    doc[0].set_rotation(90)
    with open_pdf(save(doc, tmp_path / "rot.pdf")) as pdf:
        r = render_page(pdf, 0, 1024)
    assert r.page_size == (842, 595) and r.image.width > r.image.height


def test_render_rejects_pages_out_of_range(tmp_path):
    with open_pdf(make_text_pdf(tmp_path / "r.pdf", pages=2)) as pdf, \
            pytest.raises(UsageError, match="out of range"):
        render_page(pdf, 2, 1024)


def test_stdin_name_dash_is_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_text_pdf(Path("-"), pages=1)
    with open_pdf(Path("-")) as pdf:
        assert pdf.page_count == 1
