"""A PDF read in a decoder process: each page's text, layout and rendering within a time
and memory limit, so that no page can hang glmv or take Ctrl-C away.

Some pages never finish rendering in MuPDF (damaged content streams, pathological vector
art), and MuPDF offers no way to cancel a call. `PdfReader` opens the document once in a
worker process (inputs/worker.py) and asks it for one page at a time. A page that takes
longer than `page_timeout`, needs more memory than the worker's limit, or crashes MuPDF
comes back as a `SkippedPage` with the reason; the worker is then replaced and the
document reopened, and the other pages go on.

The reader serves every way glmv reads a PDF: the text layer alone (quick, for choosing
or ranking pages), the text with layout facts (how much is pictures and graphics), and
the page rendered within an image token budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmv_cli.errors import InputError, UsageError
from glmv_cli.inputs.pdf import (
    PageContent,
    PdfDocument,
    RenderedPage,
    load_pdf,
    open_pdf,
    page_content,
    render_page,
    render_size,
)
from glmv_cli.inputs.pdf_outline import OutlineEntry, read_outline
from glmv_cli.inputs.source import Source
from glmv_cli.inputs.worker import DEFAULT_PAGE_TIMEOUT_S, LimitExceeded, Worker

# Opening may have to rebuild a damaged file's index, which takes seconds per 100 MB.
OPEN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class SkippedPage:
    """A page that could not be read: past a limit, crashing the reader, or damaged."""

    index: int  # 0-based
    reason: str  # 'rendering took over 30 s'

    @property
    def number(self) -> int:
        return self.index + 1


class PdfReader:
    """An open PDF in a worker process. Use as a context manager (it stops the worker).

    `content` and `render` return the page's result or a `SkippedPage`; errors that concern
    the whole document (not a PDF, wrong password) are raised as InputError by `open`.
    """

    def __init__(self, source: Source | Path, password: str | None = None,
                 page_timeout: float = DEFAULT_PAGE_TIMEOUT_S,
                 memory_mb: int | None = None, worker: Worker | None = None) -> None:
        self._source = source
        self._password = password
        self.page_timeout = page_timeout
        # A worker of the caller's (documents read one after another share it) is left
        # running on close; one of our own is stopped.
        self._own_worker = worker is None
        self._worker = worker or Worker("PDF reader", memory_mb, preload=(__name__,))
        self._opened_in = 0  # the worker generation that holds the document
        self.name = str(source) if isinstance(source, Path) else source.name
        self.page_count = 0
        self.repaired = False

    @classmethod
    def open(cls, source: Source | Path, password: str | None = None,
             page_timeout: float = DEFAULT_PAGE_TIMEOUT_S,
             memory_mb: int | None = None, worker: Worker | None = None) -> PdfReader:
        """Open a PDF file (a path) or bytes already read (a Source, e.g. stdin), in
        `worker` if given (else in a worker of its own).

        InputError when it is missing, not a PDF, too damaged to open, encrypted without
        the right password, has no pages, or takes over OPEN_TIMEOUT_S to open.
        """
        reader = cls(source, password, page_timeout, memory_mb, worker)
        try:
            reader._ensure_open()
        except BaseException:
            reader.close()
            raise
        return reader

    def __enter__(self) -> PdfReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_worker:
            self._worker.close()

    def content(self, index: int, layout: bool = True,
                sort: bool = True) -> PageContent | SkippedPage:
        """Page `index`'s text layer and, with `layout`, how much of it is pictures and
        graphics (`layout=False` is much quicker: the text alone, for ranking pages).
        `sort=False` keeps the PDF's own text order, much quicker again (see page_content)."""
        what = "reading its text and layout" if layout else "reading its text"
        return self._page_call(index, what, _content, layout, sort)

    def render(self, index: int, max_image_tokens: int,
               dpi: float | None = None) -> RenderedPage | SkippedPage:
        """Page `index` as an image within `max_image_tokens` (see inputs/pdf.render_page)."""
        return self._page_call(index, "rendering", _render, max_image_tokens, dpi)

    def render_size(self, index: int, max_image_tokens: int,
                    dpi: float | None = None) -> tuple[int, int] | SkippedPage:
        """The size page `index` would be rendered at (see inputs/pdf.render_size)."""
        return self._page_call(index, "measuring", _render_size, max_image_tokens, dpi)

    def outline(self) -> list[OutlineEntry]:
        """The document's outline (bookmarks); none when it cannot be read in time."""
        self._ensure_open()
        try:
            return self._worker.call(_outline, timeout=self.page_timeout)
        except (LimitExceeded, InputError):
            return []

    # -- the worker --------------------------------------------------------------------

    def _ensure_open(self) -> None:
        worker = self._worker
        if worker.running and worker.owner is self and self._opened_in == worker.generation:
            return
        source = str(self._source) if isinstance(self._source, Path) else self._source
        try:
            count, repaired = self._worker.call(_open, source, self._password,
                                                timeout=OPEN_TIMEOUT_S)
        except LimitExceeded as e:
            raise InputError(f"{self.name}: cannot open the PDF: opening it {e.reason}"
                             ) from None
        self.page_count, self.repaired = count, repaired
        self._opened_in = self._worker.generation
        self._worker.owner = self

    def _page_call(self, index: int, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        if not 0 <= index < self.page_count:
            raise UsageError(f"{self.name}: page {index + 1} is out of range: the document "
                             f"has {self.page_count} pages")
        self._ensure_open()
        try:
            return self._worker.call(fn, index, *args, timeout=self.page_timeout)
        except LimitExceeded as e:
            return SkippedPage(index, f"{what} {e.reason}")
        except InputError as e:  # a damaged page: the others may be fine
            reason = e.message.replace(f"{self.name}: page {index + 1}", "the page", 1)
            return SkippedPage(index, reason)


# -- inside the worker ---------------------------------------------------------------------

_doc: PdfDocument | None = None


def _open(source: Source | str, password: str | None) -> tuple[int, bool]:
    global _doc
    if _doc is not None:
        _doc.close()
        _doc = None
    _doc = (open_pdf(Path(source), password) if isinstance(source, str)
            else load_pdf(source, password))
    return _doc.page_count, _doc.repaired


def _content(index: int, layout: bool, sort: bool) -> PageContent:
    return page_content(_opened(index), index, sort=sort, layout=layout)


def _render_size(index: int, max_image_tokens: int, dpi: float | None) -> tuple[int, int]:
    return render_size(_opened(index), index, max_image_tokens, dpi)


def _outline() -> list[OutlineEntry]:
    assert _doc is not None
    return read_outline(_doc)


def _render(index: int, max_image_tokens: int, dpi: float | None) -> RenderedPage:
    return render_page(_opened(index), index, max_image_tokens, dpi)


def _opened(index: int) -> PdfDocument:
    """The document, which must still have page `index`: the reader checked it against the
    page count, but MuPDF may repair a damaged file while reading a page, and the page
    tree it rebuilds can be shorter (found by the fuzzer)."""
    assert _doc is not None
    if not 0 <= index < _doc.page_count:
        raise InputError(f"{_doc.name}: page {index + 1} is damaged (MuPDF's repair of "
                         "the document lost it)")
    return _doc
