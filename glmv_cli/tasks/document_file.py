"""A PDF file through the document pipeline, from path to events, for `glmv pdf` (which
renders the events) and `glmv batch` (which folds them into one line).

Reading the pages and running the plan are the two halves: the model is resolved and
loaded between them, after the file has proved readable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from glmv_cli.engine.base import Engine
from glmv_cli.engine.request import Request
from glmv_cli.inputs.pdf import VisionMode, open_pdf, parse_pages
from glmv_cli.tasks.documents import (
    DocumentEvent,
    DocumentPage,
    DocumentTranscript,
    Limits,
    answer_document,
    count_tokens,
    prepare_pages,
    transcribe_document,
)


@dataclass(frozen=True)
class PdfPages:
    """The selected pages of a PDF, prepared (text layers read, image pages rendered)."""

    name: str
    n_pages: int  # the document's length, which prompts mention
    pages: list[DocumentPage]
    repaired: bool  # MuPDF had to repair the file: pages may be blank or missing
    prepare_s: float


def read_pdf(file: Path, pages: str | None, password: str | None, vision: VisionMode,
             max_image_tokens: int, dpi: float | None = None,
             on_page: Callable[[int, int], None] | None = None) -> PdfPages:
    """Open the PDF, select `pages` (None: all) and prepare them."""
    t0 = time.perf_counter()
    with open_pdf(file, password) as doc:
        indexes = parse_pages(pages, doc.page_count, name=doc.name)
        prepared = prepare_pages(doc, indexes, vision, max_image_tokens, dpi, on_page=on_page)
        return PdfPages(doc.name, doc.page_count, prepared, doc.repaired,
                        time.perf_counter() - t0)


def document_template(template: Request, transcribe: bool) -> Request:
    """The settings for a document's requests: transcription copies text, so thinking
    only costs time there unless a budget asks for it."""
    think = template.think and not (transcribe and template.think_budget is None)
    return replace(template, think=think)


def run_document(engine: Engine, pdf: PdfPages, question: str | None, template: Request,
                 result: DocumentTranscript, transcribe: bool = False,
                 ) -> tuple[list[DocumentPage], Iterator[DocumentEvent]]:
    """The pages counted by `engine`, and the plan's events (one answer, a map-reduce, or
    a transcription), which fold into `result`."""
    counted = count_tokens(engine, pdf.pages)
    if transcribe:
        return counted, transcribe_document(engine, counted, template, result)
    limits = Limits(engine.context_limit, template.max_tokens)
    return counted, answer_document(engine, counted, question, template, limits,
                                    pdf.n_pages, result)
