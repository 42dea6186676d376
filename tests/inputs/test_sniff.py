"""File kinds from bytes: one function for every command."""

from __future__ import annotations

from pathlib import Path

import cv2
import pymupdf

from glmv_cli.inputs.sniff import sniff, sniff_file
from tests.conftest import make_image
from tests.videos import numbered_frame, write_video, write_wav


def _pdf(path: Path) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "hello")
    doc.save(path)
    return path


def test_real_files_of_every_kind(tmp_path):
    mp4 = write_video(tmp_path / "a.mp4", 3, 10)
    avi = write_video(tmp_path / "a.avi", 3, 10, fourcc="MJPG")
    mkv = write_video(tmp_path / "a.mkv", 3, 10, fourcc="FFV1")
    png = tmp_path / "a.png"
    cv2.imwrite(str(png), numbered_frame(1))
    kinds = {p.name: sniff_file(p) for p in (
        mp4, avi, mkv, png, make_image(tmp_path / "b.jpg"), make_image(tmp_path / "c.gif"),
        make_image(tmp_path / "d.webp"), _pdf(tmp_path / "e.pdf"), write_wav(tmp_path / "f.wav"))}
    assert kinds == {"a.mp4": "video", "a.avi": "video", "a.mkv": "video", "a.png": "image",
                     "b.jpg": "image", "c.gif": "image", "d.webp": "image", "e.pdf": "pdf",
                     "f.wav": "audio"}


def test_names_do_not_decide(tmp_path):
    disguised = tmp_path / "scan.jpg"
    disguised.write_bytes(_pdf(tmp_path / "x.pdf").read_bytes())
    assert sniff_file(disguised) == "pdf"


def test_pdf_header_after_junk_within_1024_bytes():
    assert sniff(b"\x00" * 1000 + b"%PDF-1.7\n") == "pdf"
    assert sniff(b"\x00" * 1030 + b"%PDF-1.7\n") == "unknown"


def test_an_image_quoting_a_pdf_header_stays_an_image(tmp_path):
    png = make_image(tmp_path / "a.png")
    data = png.read_bytes()
    assert sniff(data[:33] + b"tEXt%PDF-1.4" + data[33:]) == "image"


def test_unreadable_files_have_no_kind(tmp_path):
    assert sniff_file(tmp_path / "missing.mp4") is None
    assert sniff_file(tmp_path) is None
    assert sniff(b"") == "unknown"
