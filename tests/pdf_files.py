"""Real PDFs for the tests, made with pymupdf: text pages, scans, charts, encrypted files."""

from __future__ import annotations

import io
from pathlib import Path

import pymupdf
from PIL import Image, ImageDraw

A4 = (595, 842)
PARAGRAPH = (
    "Quarterly report. Revenue in the third quarter rose to 4.2 million euros, "
    "while the operating margin reached 18 percent, the highest of the year. "
    "Costs fell in every region except the north."
)


def text_page(doc: pymupdf.Document, text: str = PARAGRAPH, size: tuple[int, int] = A4) -> None:
    page = doc.new_page(width=size[0], height=size[1])
    page.insert_textbox(pymupdf.Rect(72, 72, size[0] - 72, size[1] - 72), text, fontsize=11)


def scan_png(text: str = "SCANNED INVOICE 2024", size: tuple[int, int] = (600, 850)) -> bytes:
    """A page-sized picture of text: what a scanner produces (no text layer)."""
    img = Image.new("RGB", size, (250, 250, 245))
    d = ImageDraw.Draw(img)
    for i in range(12):
        d.text((40, 40 + i * 60), f"{text} line {i + 1}", fill=(20, 20, 20))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def chart_png(size: tuple[int, int] = (400, 300)) -> bytes:
    """A bar chart as a raster image."""
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    for i, h in enumerate((80, 140, 220, 120)):
        d.rectangle([40 + i * 90, size[1] - 20 - h, 100 + i * 90, size[1] - 20],
                    fill=(40, 90 + i * 30, 200))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def scan_page(doc: pymupdf.Document, text: str = "SCANNED INVOICE 2024") -> None:
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_image(page.rect, stream=scan_png(text))


def chart_page(doc: pymupdf.Document) -> None:
    """A paragraph of text and a raster bar chart covering a third of the page."""
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_textbox(pymupdf.Rect(72, 72, 523, 200), PARAGRAPH, fontsize=11)
    page.insert_image(pymupdf.Rect(72, 220, 523, 560), stream=chart_png())


def vector_chart_page(doc: pymupdf.Document) -> None:
    """A caption and a bar chart drawn as vector graphics (as plotting libraries export)."""
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_textbox(pymupdf.Rect(72, 72, 523, 200), PARAGRAPH, fontsize=11)
    for i, h in enumerate((80, 140, 220, 120)):
        page.draw_rect(pymupdf.Rect(100 + i * 90, 560 - h, 160 + i * 90, 560),
                       color=(0, 0, 0), fill=(0.2, 0.4, 0.8))
    page.draw_line((90, 560), (480, 560))


def save(doc: pymupdf.Document, path: Path, **kwargs: object) -> Path:
    doc.save(path, **kwargs)
    doc.close()
    return path


def make_text_pdf(path: Path, pages: int = 3) -> Path:
    doc = pymupdf.open()
    for i in range(pages):
        text_page(doc, f"Page {i + 1} of the report. {PARAGRAPH}")
    return save(doc, path)


def make_scanned_pdf(path: Path, pages: int = 2) -> Path:
    doc = pymupdf.open()
    for i in range(pages):
        scan_page(doc, f"SCAN {i + 1}")
    return save(doc, path)


def make_mixed_pdf(path: Path) -> Path:
    """Page 1 text, 2 a scan, 3 text with a raster chart, 4 a vector chart, 5 text."""
    doc = pymupdf.open()
    text_page(doc)
    scan_page(doc)
    chart_page(doc)
    vector_chart_page(doc)
    text_page(doc, "Conclusion. " + PARAGRAPH)
    return save(doc, path)


def make_encrypted_pdf(path: Path, password: str = "s3cret") -> Path:
    doc = pymupdf.open()
    text_page(doc)
    return save(doc, path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password,
                owner_pw=password + "-owner")


def make_zero_page_pdf(path: Path) -> Path:
    """A well-formed PDF whose page tree is empty (pymupdf refuses to save one)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


# -- pages that are slow on purpose (for the time limits and Ctrl-C) ----------------------

DUST_TEXT = "A page of dust: tens of thousands of faint curves, and this line of text."


def _append_content(doc: pymupdf.Document, page: pymupdf.Page, content: bytes) -> None:
    """Add raw drawing operators to a page's content stream."""
    xref = page.get_contents()[0]
    doc.update_stream(xref, doc.xref_stream(xref) + b"\n" + content)


def slow_render_page(doc: pymupdf.Document, curves: int = 60_000) -> None:
    """A page of countless thin, half-transparent Bezier strokes (as a dense map or a
    plotted point cloud exports): MuPDF needs about a second per 20,000 of them at glmv's
    default size, while its text layer (one line) reads at once."""
    import random

    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_text((72, 72), DUST_TEXT, fontsize=11)
    rng = random.Random(0)
    ops = ["q /Faint gs 0.2 0.3 0.8 RG 3 w 1 J"]
    for _ in range(curves):
        x, y = rng.randint(0, A4[0]), rng.randint(0, A4[1])
        ops.append(f"{x} {y} m {x + 40} {y + 30} {x - 30} {y + 60} {x + 10} {y + 80} c S")
    ops.append("Q")
    _append_content(doc, page, "\n".join(ops).encode())
    faint = doc.get_new_xref()
    doc.update_object(faint, "<< /Type /ExtGState /CA 0.5 /ca 0.5 >>")
    kind, value = doc.xref_get_key(page.xref, "Resources")
    resources = int(value.split()[0]) if kind == "xref" else page.xref
    key = "ExtGState" if kind == "xref" else "Resources/ExtGState"
    doc.xref_set_key(resources, key, f"<< /Faint {faint} 0 R >>")


def slow_text_page(doc: pymupdf.Document, words: int = 100_000) -> None:
    """A page of words scattered everywhere in 2-point type: reading its text layer in
    reading order (sorted) takes seconds, drawing it a tenth of a second."""
    import random

    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_text((72, 72), "Scattered words", fontname="helv")
    rng = random.Random(0)
    vocab = ["alpha", "beta", "gamma", "delta", "river", "stone"]
    ops = ["q BT /helv 2 Tf"]
    for _ in range(words):
        ops.append(f"1 0 0 1 {rng.randint(0, A4[0])} {rng.randint(0, A4[1])} Tm "
                   f"({rng.choice(vocab)}) Tj")
    ops.append("ET Q")
    _append_content(doc, page, "\n".join(ops).encode())


def make_slow_pdf(path: Path, slow: str = "render", before: int = 1, after: int = 1) -> Path:
    """Text pages around one slow page (`render` or `text`)."""
    doc = pymupdf.open()
    for i in range(before):
        text_page(doc, f"Page {i + 1}, before the slow one. {PARAGRAPH}")
    (slow_render_page if slow == "render" else slow_text_page)(doc)
    for i in range(after):
        text_page(doc, f"Page {before + 2 + i}, after the slow one. {PARAGRAPH}")
    return save(doc, path, deflate=True)


def make_slow_to_open_pdf(path: Path, objects: int = 2_000_000) -> Path:
    """A 74 MB PDF with no cross-reference table: MuPDF rebuilds it by scanning every
    object, which takes seconds."""
    head = (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
            b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n")
    with path.open("wb") as f:
        f.write(head)
        for start in range(4, objects + 4, 100_000):
            f.write(b"".join(b"%d 0 obj << /A %d >> endobj\n" % (i, i)
                             for i in range(start, min(start + 100_000, objects + 4))))
        f.write(b"trailer << /Root 1 0 R >>\n%%EOF\n")
    return path
