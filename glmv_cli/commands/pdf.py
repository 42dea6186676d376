"""`glmv pdf`: summaries, answers and transcriptions of PDF documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from glmv_cli.commands.options import DOCUMENT, AnswerOptions, PdfSource, shared_options
from glmv_cli.commands.running import engine_for, print_json, resolve, run_events
from glmv_cli.engine.base import check_request
from glmv_cli.errors import UsageError
from glmv_cli.render.choose import document_renderer
from glmv_cli.render.progress import StatusLine
from glmv_cli.streams import Streams

if TYPE_CHECKING:
    from glmv_cli.tasks.reading import ReadingPlan

HELP = """Summarise a PDF, answer a question about it, or transcribe it to Markdown.

\b
  glmv pdf report.pdf                              # a summary
  glmv pdf report.pdf "Which quarter had the highest margin?"
  glmv pdf report.pdf "Explain figure 3" --pages 4-6
  glmv pdf scan.pdf --transcribe > scan.md         # page by page, as Markdown
  glmv pdf report.pdf "Total cost?" --json | jq .citations
  glmv pdf report.pdf "Total cost?" --dry-run     # the pages it would read; no model

For a question, glmv reads the pages that best match it (ranked by their text, headings, \
captions and the outline) within --budget tokens, and says which it skipped; --read all \
reads every page, as it does for a summary or a question about the whole document.

Pages with a real text layer go to the model as text (cheap); scans, figures, charts and \
ruled tables are rendered as images within --max-image-tokens. --vision always renders \
every page, --vision never sends text only. When the pages do not fit the context, glmv \
asks each group of pages for notes, then answers from the notes (map-reduce), citing \
pages as (p. N).
"""


class ReadChoice(StrEnum):
    auto = "auto"
    all = "all"
    ranked = "ranked"


class VisionChoice(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


Vision = Annotated[VisionChoice, typer.Option(
    "--vision", rich_help_panel=DOCUMENT,
    help="auto: render only pages that need it (no text layer, pictures, charts, tables); "
         "always: every page as an image; never: text layers only.")]
Dpi = Annotated[float | None, typer.Option(
    "--dpi", min=10, max=1200, rich_help_panel=DOCUMENT, show_default=False,
    help="Render pages at this resolution, still within --max-image-tokens. Default: as "
         "fine as the budget allows, up to 200 dpi.")]
Transcribe = Annotated[bool, typer.Option(
    "--transcribe", rich_help_panel=DOCUMENT,
    help="Transcribe each page to Markdown (tables as tables), page by page. Thinking is "
         "off unless --think-budget is given.")]

Read = Annotated[ReadChoice, typer.Option(
    "--read", rich_help_panel=DOCUMENT,
    help="auto: for a question, the pages that best match it within --budget; every page "
         "for a summary or a question about the whole document. all: every page. ranked: "
         "the best pages, whatever the question.")]
Budget = Annotated[int | None, typer.Option(
    "--budget", min=64, rich_help_panel=DOCUMENT, show_default=False,
    help="Prompt tokens of pages to read for a question \\[default: 3072 on a CPU, 16384 "
         "when llama.cpp offloads to a GPU].")]
DryRun = Annotated[bool, typer.Option(
    "--dry-run", rich_help_panel=DOCUMENT,
    help="Print the plan (pages read and skipped, tokens, rough CPU time) and exit without "
         "loading the model.")]


@dataclass(frozen=True)
class DocumentOptions:
    """`glmv pdf`'s own options; the defaults are what `glmv ask` uses for a PDF."""

    source: PdfSource = field(default_factory=PdfSource)
    vision: str = "auto"
    dpi: float | None = None
    transcribe: bool = False
    read: str = "auto"
    budget: int | None = None  # None: the CPU or GPU default (tasks/reading.py)


@shared_options()
def pdf(
    file: Annotated[Path, typer.Argument(metavar="PDF", show_default=False,
                                         help="The PDF file.")],
    question: Annotated[str | None, typer.Argument(
        metavar="[QUESTION]", show_default=False,
        help="What to ask; with no question, glmv summarises the document.")] = None,
    *,
    source: PdfSource,
    vision: Vision = VisionChoice.auto,
    dpi: Dpi = None,
    transcribe: Transcribe = False,
    read: Read = ReadChoice.auto,
    budget: Budget = None,
    dry_run: DryRun = False,
    opts: AnswerOptions,
) -> None:
    if transcribe and question:
        raise UsageError("--transcribe takes no question")
    if transcribe and (read is not ReadChoice.auto or dry_run):
        raise UsageError("--transcribe reads every page: it takes neither --read nor --dry-run")
    answer_pdf(file, question, opts,
               DocumentOptions(source, vision.value, dpi, transcribe, read.value, budget),
               dry_run=dry_run)


def answer_pdf(file: Path, question: str | None, opts: AnswerOptions,
               doc_opts: DocumentOptions = DocumentOptions(), *, dry_run: bool = False) -> None:
    """Answer `question` about the PDF at `file` (None: summarise it), or transcribe it.

    For a question, only the pages that best match it are read, within a token budget
    (tasks/reading.py). With `dry_run`, print that plan and return without loading the
    model.
    """
    # Imported here so that `glmv --help` loads neither llama.cpp nor MuPDF.
    from glmv_cli.render.document_json import DocumentInfo
    from glmv_cli.render.json import settings_object
    from glmv_cli.tasks.document_file import (
        ReadOptions,
        document_template,
        finish_reading,
        open_reading,
        run_document,
    )
    from glmv_cli.tasks.documents import DocumentTranscript

    streams = Streams.from_process()
    console = streams.console(stderr=True) if streams.stderr_isatty else None
    status = StatusLine(console) if console else None
    if status:
        status.update(f"Opening {file}")
    on_page = (lambda i, n: status.update(f"Reading page {i + 1}/{n}")) if status else None
    source = doc_opts.source
    options = ReadOptions(source.pages, source.password, source.page_timeout,
                          doc_opts.vision, opts.engine.max_image_tokens,  # type: ignore[arg-type]
                          doc_opts.dpi, doc_opts.read, doc_opts.budget,  # type: ignore[arg-type]
                          opts.engine.gpu_layers, doc_opts.transcribe)
    engine = None
    try:
        with open_reading(file, question, options, priced=dry_run, on_page=on_page) as r:
            if r.doc.repaired:
                _warn(streams, console, f"{r.doc.name} is damaged; it was repaired as far "
                      "as possible, so pages may be blank or missing")
            if dry_run:
                if status:
                    status.stop()
                print_plan(streams, opts, r.doc.name, r.doc.page_count, question, r.plan)
                return
            model = resolve(opts.model, streams)
            if status:
                status.update("Loading model")
            engine = engine_for(opts, model)
            engine.load()
            template = document_template(
                opts.generation.request("", recommended=model.sampling), doc_opts.transcribe)
            check_request(engine, template)
            pdf = finish_reading(
                r, engine, template, on_page,
                on_expand=(lambda: status.update("Choosing pages for the question"))
                if status else None)
        for page in pdf.pages:
            if page.skipped:
                _warn(streams, console, skip_warning(pdf.name, page.number, page.skipped,
                                                     bool(page.text.strip())))
    except BaseException:
        if engine is not None:
            engine.close()
        raise
    finally:
        if status:
            status.stop()
    if not opts.output.json:  # --json has it all in `reading`
        show_plan(streams, pdf.plan, pdf.n_pages)
    with engine:
        result = DocumentTranscript()
        counted, events = run_document(engine, pdf, question, template, result,
                                       doc_opts.transcribe)
        info = DocumentInfo(pdf.name, pdf.n_pages, tuple(counted), pdf.prepare_s,
                            engine.load_s, settings_object(template),
                            reading={**pdf.plan.as_object(),
                                     "expand_s": round(pdf.expand_s, 3)})
        renderer = document_renderer(streams, opts.output.display,
                                     transcribe=doc_opts.transcribe, model=engine.name,
                                     info=info)
        run_events(events, renderer, result)


def print_plan(streams: Streams, opts: AnswerOptions, source: str, n_pages: int,
               question: str | None, plan: ReadingPlan) -> None:
    """`--dry-run`: the plan on stdout, as text or one JSON object."""
    from glmv_cli.render.document_plan import plan_object, plan_text
    from glmv_cli.tasks.reading import MODEL_CONTEXT, estimate, single_fits

    context = opts.engine.context or MODEL_CONTEXT
    single = single_fits(plan.tokens, context, opts.generation.max_tokens)
    est = estimate(plan, opts.engine.settings().cores)
    if opts.output.json:
        print_json(streams, plan_object(source, n_pages, question, plan, est, single, context))
    else:
        streams.stdout.write(plan_text(source, n_pages, plan, est, single, context))
        streams.stdout.flush()


def show_plan(streams: Streams, plan: ReadingPlan, n_pages: int) -> None:
    """Which pages were read and which skipped, on stderr, before the answer."""
    from glmv_cli.render.document_plan import plan_line

    line = plan_line(plan, n_pages)
    if line is None:
        return
    if streams.stderr_isatty:
        streams.console(stderr=True).print(f"[dim]{line}[/dim]", highlight=False)
    else:
        streams.stderr.write(f"glmv: {line}\n")
        streams.stderr.flush()


def _warn(streams: Streams, console: Console | None, message: str) -> None:
    """A warning on stderr; on a terminal, printed above the status line."""
    if console:
        console.print(f"glmv: warning: {message}", markup=False, highlight=False)
        return
    streams.stderr.write(f"glmv: warning: {message}\n")
    streams.stderr.flush()


def skip_warning(name: str, number: int, reason: str, has_text: bool) -> str:
    """'doc.pdf page 3 skipped: rendering took over 30 s (raise --page-timeout); its text
    layer is used instead'."""
    hint = " (raise --page-timeout)" if "took over" in reason else ""
    use = "its text layer is used instead" if has_text else "it has no text layer to use"
    return f"{name} page {number} skipped: {reason}{hint}; {use}"
