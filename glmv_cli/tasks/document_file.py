"""A PDF file through the document pipeline, from path to events, for `glmv pdf` (which
renders the events) and `glmv batch` (which folds them into one line). Pages are read in
a worker process (inputs/pdf_worker.py): a page past its time or memory limit is skipped,
not waited on.

Reading runs in two halves around the model: `open_reading` opens the file and plans
which pages a question reads, without the model (so `--dry-run` and a model that fails to
load cost nothing); `finish_reading` lets the loaded model suggest search terms, then
prepares the pages the plan reads. `read_pdf` does both for a caller whose model is
already loaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from glmv_cli.engine.base import Engine
from glmv_cli.engine.request import Request
from glmv_cli.inputs.pdf import VisionMode, parse_pages
from glmv_cli.inputs.pdf_worker import PdfReader
from glmv_cli.inputs.worker import DEFAULT_PAGE_TIMEOUT_S
from glmv_cli.tasks.documents import (
    DocumentEvent,
    DocumentPage,
    DocumentTranscript,
    Limits,
    answer_document,
    count_tokens,
    transcribe_document,
)
from glmv_cli.tasks.expansion import expand_query
from glmv_cli.tasks.reading import (
    Reading,
    ReadingPlan,
    ReadMode,
    choose_strategy,
    plan_reading,
    prepare_plan,
)

OnPage = Callable[[int, int], None]


@dataclass(frozen=True)
class ReadOptions:
    """How to read a PDF: which pages may be read and how each goes to the model."""

    pages: str | None = None  # --pages (None: all)
    password: str | None = None
    page_timeout: float = DEFAULT_PAGE_TIMEOUT_S  # per page step, in the reader's worker
    vision: VisionMode = "auto"
    max_image_tokens: int = 1024
    dpi: float | None = None
    read: ReadMode = "auto"  # auto | all | ranked
    budget: int | None = None  # prompt tokens for ranked reading (None: the default)
    gpu_layers: int | None = None  # picks the default budget
    transcribe: bool = False  # every page, in order


@dataclass
class PdfReading:
    """An open PDF and the plan of which pages to read (the first half)."""

    doc: PdfReader
    question: str | None
    reading: Reading
    options: ReadOptions
    started: float  # perf_counter when reading began

    @property
    def plan(self) -> ReadingPlan:
        return self.reading.plan


@dataclass(frozen=True)
class PdfPages:
    """The pages a PDF's plan reads, prepared (text layers read, image pages rendered)."""

    name: str
    n_pages: int  # the document's length, which prompts mention
    pages: list[DocumentPage]
    repaired: bool  # MuPDF had to repair the file: pages may be blank or missing
    prepare_s: float
    plan: ReadingPlan
    expand_s: float = 0.0  # seconds the model spent suggesting search terms


@contextmanager
def open_reading(file: Path, question: str | None, options: ReadOptions,
                 priced: bool = False, on_page: OnPage | None = None
                 ) -> Iterator[PdfReading]:
    """Open the PDF and plan its reading (`priced`: estimate every page's tokens, for
    `--dry-run`). The file stays open inside the `with`."""
    started = time.perf_counter()
    strategy, why = (("all", "--transcribe") if options.transcribe
                     else choose_strategy(question, options.read))
    with PdfReader.open(file, options.password, options.page_timeout) as doc:
        indexes = parse_pages(options.pages, doc.page_count, name=doc.name)
        reading = plan_reading(doc, indexes, question, strategy, why, vision=options.vision,
                               max_image_tokens=options.max_image_tokens, dpi=options.dpi,
                               budget=options.budget, gpu_layers=options.gpu_layers,
                               priced=priced, on_page=on_page)
        yield PdfReading(doc, question, reading, options, started)


def finish_reading(r: PdfReading, engine: Engine | None = None,
                   template: Request | None = None, on_page: OnPage | None = None,
                   on_expand: Callable[[], None] | None = None) -> PdfPages:
    """Let `engine` (when given) suggest search terms where they could change the plan,
    then prepare the pages the plan reads. Load time is not counted in `prepare_s`."""
    expand_s = 0.0
    if engine is not None and template is not None and r.reading.can_expand:
        if on_expand:
            on_expand()
        t0 = time.perf_counter()
        r.reading.with_terms(expand_query(engine, r.question or "", template))
        expand_s = time.perf_counter() - t0
    o = r.options
    pages = prepare_plan(r.doc, r.plan, o.vision, o.max_image_tokens, o.dpi, on_page)
    load_s = engine.load_s if engine is not None else 0.0
    return PdfPages(r.doc.name, r.doc.page_count, pages, r.doc.repaired,
                    time.perf_counter() - r.started - load_s, r.plan, expand_s)


def read_pdf(file: Path, question: str | None, options: ReadOptions,
             engine: Engine | None = None, template: Request | None = None,
             on_page: OnPage | None = None) -> PdfPages:
    """Both halves at once, for a caller whose model is already loaded."""
    with open_reading(file, question, options, on_page=on_page) as r:
        return finish_reading(r, engine, template, on_page)


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
