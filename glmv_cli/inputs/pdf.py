"""PDF preprocessing: open (with a password), pick pages, read the text layer, decide per page
whether the model needs to see it, and render a page within the image token budget.

A page with a real text layer goes to the model as text, which costs a few hundred tokens
and no image encode; only pages whose content is visual (scans, figures, charts, ruled
tables) are rendered. Rendering goes straight to the model's size: the page is rasterised
at exactly the 28-pixel-multiple size that `target_size` picks, so no resampling follows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pymupdf

from glmv_cli.errors import InputError, UsageError
from glmv_cli.inputs.image import PreparedImage, target_size
from glmv_cli.inputs.source import Source

# MuPDF prints repair notices and errors on stderr by itself; ours are the one-line kind.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)

POINTS_PER_INCH = 72
# Without --dpi, a page is rendered as large as the token budget allows, but no finer than
# this: a small page (a receipt, a label) needs no more detail than print resolution gives.
MAX_AUTO_DPI = 200
# A page "has text" when its text layer holds at least this many letters and digits.
MIN_TEXT_CHARS = 40
# Images or vector graphics covering this share of the page make it a vision page.
MIN_FIGURE_SHARE = 0.10
# A single drawing covering most of the page is a background, not a figure.
BACKGROUND_SHARE = 0.80
# Text layers full of U+FFFD come from fonts without a Unicode map: unreadable as text.
MAX_GARBLED_SHARE = 0.10
# Clustering vector paths costs time quadratic in their number (20,000 paths: seconds); a
# page with more than this many is measured by the box around them all instead.
MAX_CLUSTERED_DRAWINGS = 2000

VisionMode = Literal["auto", "always", "never"]
PageMode = Literal["text", "image"]


@dataclass
class PdfDocument:
    """An open PDF and the name to show the user; close it (or use `with`)."""

    name: str
    doc: pymupdf.Document

    @property
    def page_count(self) -> int:
        return self.doc.page_count

    @property
    def repaired(self) -> bool:
        """MuPDF had to rebuild a damaged file (as viewers do): pages may be missing."""
        return bool(self.doc.is_repaired)

    def close(self) -> None:
        self.doc.close()

    def __enter__(self) -> PdfDocument:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class RenderedPage:
    """A page as an image for the model, with the geometry to map boxes back onto the page.

    `image.original_size` is the page size in points times `scale` (pixels per point), so
    a box in pixels of `original_size` divided by `scale` is in PDF points; a box in the
    model's 0-1000 space is simply that fraction of `page_size` (points).
    """

    index: int  # 0-based
    image: PreparedImage
    page_size: tuple[float, float]  # width, height in PDF points (after the page's rotation)
    scale: float  # pixels per point of `image.original_size`


@dataclass(frozen=True)
class PageContent:
    """What the text layer and the page's drawing list say about one page."""

    index: int  # 0-based
    text: str
    text_chars: int  # letters and digits in the text layer
    image_share: float  # share of the page covered by raster images (0-1)
    drawing_share: float  # share covered by clusters of vector graphics (0-1)

    @property
    def has_text(self) -> bool:
        garbled = self.text.count("\ufffd")
        return self.text_chars >= MIN_TEXT_CHARS and garbled <= MAX_GARBLED_SHARE * len(self.text)

    @property
    def blank(self) -> bool:
        return not self.text.strip() and self.image_share == 0 and self.drawing_share == 0


def open_pdf(path: Path, password: str | None = None) -> PdfDocument:
    """Open the PDF at `path`; InputError (named after the file) if it cannot be read,
    is not a PDF, is encrypted and the password is missing or wrong, or has no pages.

    MuPDF reads the file as it needs it, so a large document is not held in memory whole.
    """
    name = str(path)
    file = path.expanduser()  # ('-' is a file named '-' here, never stdin)
    try:
        with file.open("rb") as f:
            if not f.read(1):
                raise InputError(f"{name}: file is empty")
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a file") from None
    except PermissionError:
        raise InputError(f"{name}: permission denied") from None
    except OSError as e:
        raise InputError(f"{name}: cannot read ({e.strerror or e})") from None
    return _checked(name, lambda: pymupdf.open(str(file), filetype="pdf"), password)


def load_pdf(src: Source, password: str | None = None) -> PdfDocument:
    """`open_pdf` for bytes already read (a file, or stdin)."""
    return _checked(src.name, lambda: pymupdf.open(stream=src.data, filetype="pdf"), password)


def _checked(name: str, opener: Callable[[], pymupdf.Document], password: str | None
             ) -> PdfDocument:
    try:
        doc = opener()
    except (pymupdf.FileDataError, RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase) as e:
        _raise_memory(e)
        raise InputError(f"{name}: not a PDF, or too damaged to open") from None
    try:
        if not doc.is_pdf:
            raise InputError(f"{name}: not a PDF")
        if doc.needs_pass:
            if password is None:
                raise InputError(f"{name}: the PDF is encrypted",
                                 hint="give its password with --password")
            if not doc.authenticate(password):
                raise InputError(f"{name}: wrong password for the encrypted PDF")
        if doc.page_count == 0:
            raise InputError(f"{name}: the PDF has no pages")
    except (RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase) as e:
        doc.close()
        _raise_memory(e)
        raise InputError(f"{name}: not a PDF, or too damaged to open") from None
    except BaseException:
        doc.close()
        raise
    return PdfDocument(name, doc)


_ITEM = re.compile(r"^\s*(\d*)\s*(-?)\s*(\d*)\s*$")


def parse_pages(spec: str | None, n_pages: int, name: str | None = None) -> list[int]:
    """Page numbers as users write them (1-based: '4-6', '1,3,9-', '-2') → sorted 0-based
    indexes without repeats. None or '' means every page. UsageError on bad syntax or a
    page the document does not have; `name` (the file) prefixes the message."""
    where = f"{name}: --pages" if name else "--pages"
    if spec is None or not spec.strip():
        return list(range(n_pages))
    chosen: set[int] = set()
    for item in spec.split(","):
        m = _ITEM.match(item)
        if not m or not (m[1] or m[3]) or (not m[2] and not (m[1] and not m[3])):
            raise UsageError(f"{where}: cannot read '{item.strip()}' "
                             "(use numbers and ranges: 3, 4-6, 9-, 1,3,5)")
        first = int(m[1]) if m[1] else 1
        last = (int(m[3]) if m[3] else n_pages) if m[2] else first
        if first < 1 or last < 1:
            raise UsageError(f"{where}: pages are numbered from 1")
        if first > last:
            raise UsageError(f"{where}: the range '{item.strip()}' runs backwards")
        if last > n_pages:
            raise UsageError(f"{where}: page {last} is out of range: the document has "
                             f"{n_pages} page{'s' if n_pages != 1 else ''}")
        chosen.update(range(first - 1, last))
    return sorted(chosen)


def page_content(pdf: PdfDocument, index: int, sort: bool = True,
                 layout: bool = True) -> PageContent:
    """Read one page's text layer and, with `layout`, measure how much of it is images and
    graphics (without it, both shares are 0: the text alone is much quicker to read).

    `sort` puts the text in reading order (top to bottom, left to right), as the model
    should read it; without it the text comes in the PDF's own order, twenty times faster
    (a search index does not care about the order).
    """
    page = _page(pdf, index)
    try:
        text = page.get_text("text", sort=sort)
        area = abs(page.rect)
        image_share = drawing_share = 0.0
        if layout and area > 0:
            image_share = _covered(page.rect, (i["bbox"] for i in page.get_image_info()), area)
            drawings = [d for d in page.get_drawings()
                        if abs(d["rect"] & page.rect) < BACKGROUND_SHARE * area]
            if len(drawings) > MAX_CLUSTERED_DRAWINGS:
                union = pymupdf.Rect(drawings[0]["rect"])
                for d in drawings[1:]:
                    union |= d["rect"]
                drawing_share = _covered(page.rect, [union], area)
            elif drawings:
                clusters = page.cluster_drawings(drawings=drawings)
                drawing_share = _covered(page.rect, clusters, area)
    except (RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase) as e:
        _raise_memory(e)
        raise InputError(f"{pdf.name}: page {index + 1} is damaged ({e})") from None
    chars = sum(c.isalnum() for c in text)
    return PageContent(index, text, chars, image_share, drawing_share)


def _covered(page_rect: pymupdf.Rect, rects: object, area: float) -> float:
    """Share of the page the rectangles cover (overlaps counted twice, capped at 1)."""
    total = sum(abs(pymupdf.Rect(r) & page_rect) for r in rects)  # type: ignore[attr-defined]
    return min(1.0, total / area)


def choose_mode(content: PageContent, vision: VisionMode) -> tuple[PageMode, str]:
    """Text or image for one page, and why (shown in --json)."""
    if vision == "always":
        return "image", "--vision always"
    if vision == "never":
        return "text", "--vision never" if content.has_text else "--vision never (no text layer)"
    if content.blank:
        return "text", "blank page"
    if content.image_share >= MIN_FIGURE_SHARE:
        what = "picture" if content.has_text else "scanned page"
        return "image", f"{what}: images cover {content.image_share:.0%} of the page"
    if content.drawing_share >= MIN_FIGURE_SHARE:
        return "image", (f"chart, table or figure: graphics cover {content.drawing_share:.0%} "
                         "of the page")
    if content.has_text:
        return "text", "text layer"
    return "image", "no usable text layer"


def render_page(pdf: PdfDocument, index: int, max_image_tokens: int,
                dpi: float | None = None) -> RenderedPage:
    """Rasterise page `index` (0-based) for the model, within `max_image_tokens`.

    Without `dpi`, the page is drawn as large as the budget allows, up to MAX_AUTO_DPI;
    with it, at that resolution, still clamped by the budget (a poster at 300 dpi would
    be tens of thousands of tokens). The page is stretched to the 28-pixel-multiple size
    the reference's smart-resize picks, exactly as `prepare_image` stretches a photo.
    """
    page = _page(pdf, index)
    w_pt, h_pt = page.rect.width, page.rect.height  # the page as shown, rotation applied
    tw, th = render_size(pdf, index, max_image_tokens, dpi)
    try:
        pix = page.get_pixmap(matrix=pymupdf.Matrix(tw / w_pt, th / h_pt),
                              colorspace=pymupdf.csRGB, alpha=False)
    except (RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase) as e:
        _raise_memory(e)
        raise InputError(f"{pdf.name}: cannot render page {index + 1} ({e})") from None
    rgb = _exact_rgb(pix, tw, th)
    # One uniform scale for the page as the user sees it; the model's copy is stretched
    # from it to 28-pixel multiples, which boxes in 0-1000 space do not care about.
    scale = ((tw * th) / (w_pt * h_pt)) ** 0.5
    image = PreparedImage(
        source=f"{pdf.name} page {index + 1}", rgb=rgb, width=tw, height=th,
        original_size=(max(1, round(w_pt * scale)), max(1, round(h_pt * scale))), format="PDF",
        page=index + 1,
    )
    return RenderedPage(index, image, (w_pt, h_pt), scale)


def render_size(pdf: PdfDocument, index: int, max_image_tokens: int,
                dpi: float | None = None) -> tuple[int, int]:
    """The pixel size `render_page` draws page `index` at, without drawing it: planners
    price image pages from it (one token per 28x28 pixels)."""
    rect = _page(pdf, index).rect  # the page as shown, rotation applied
    if rect.width <= 0 or rect.height <= 0:
        raise InputError(f"{pdf.name}: page {index + 1} has no area")
    # target_size scales down to fit the budget, never up: without --dpi this gives "as
    # large as the budget allows, up to MAX_AUTO_DPI".
    zoom = (dpi or MAX_AUTO_DPI) / POINTS_PER_INCH
    return target_size(max(1, round(rect.width * zoom)), max(1, round(rect.height * zoom)),
                       max_image_tokens)


def _exact_rgb(pix: pymupdf.Pixmap, width: int, height: int) -> bytes:
    """The pixmap's RGB bytes at exactly width x height (MuPDF may round a side by one)."""
    if pix.width == width and pix.height == height and pix.stride == width * 3:
        return bytes(pix.samples)
    from PIL import Image

    img = Image.frombytes("RGB", (pix.width, pix.height), pix.samples, "raw", "RGB",
                          pix.stride)
    return img.resize((width, height), Image.Resampling.BICUBIC).tobytes()


def _raise_memory(e: Exception) -> None:
    """MuPDF reports a failed allocation as an error like any other: make it a MemoryError,
    which the decoder process reports as past its memory limit (inputs/worker.py)."""
    if "malloc" in str(e) or "out of memory" in str(e).lower():
        raise MemoryError(str(e)) from None


def _page(pdf: PdfDocument, index: int) -> pymupdf.Page:
    if not 0 <= index < pdf.page_count:
        raise UsageError(f"{pdf.name}: page {index + 1} is out of range: the document has "
                         f"{pdf.page_count} pages")
    try:
        return pdf.doc[index]
    except (RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase) as e:
        raise InputError(f"{pdf.name}: page {index + 1} is damaged ({e})") from None
