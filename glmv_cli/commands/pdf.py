"""`glmv pdf`: summaries, answers and transcriptions of PDF documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from glmv_cli.commands.options import DOCUMENT, AnswerOptions, PdfSource, shared_options
from glmv_cli.commands.running import engine_for, resolve, run_events
from glmv_cli.errors import UsageError
from glmv_cli.render.choose import document_renderer
from glmv_cli.render.progress import StatusLine
from glmv_cli.streams import Streams

HELP = """Summarise a PDF, answer a question about it, or transcribe it to Markdown.

\b
  glmv pdf report.pdf                              # a summary
  glmv pdf report.pdf "Which quarter had the highest margin?"
  glmv pdf report.pdf "Explain figure 3" --pages 4-6
  glmv pdf scan.pdf --transcribe > scan.md         # page by page, as Markdown
  glmv pdf report.pdf "Total cost?" --json | jq .citations

Pages with a real text layer go to the model as text (cheap); scans, figures, charts and \
ruled tables are rendered as images within --max-image-tokens. --vision always renders \
every page, --vision never sends text only. When the pages do not fit the context, glmv \
asks each group of pages for notes, then answers from the notes (map-reduce), citing \
pages as (p. N).
"""


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


@dataclass(frozen=True)
class DocumentOptions:
    """`glmv pdf`'s own options; the defaults are what `glmv ask` uses for a PDF."""

    source: PdfSource = field(default_factory=PdfSource)
    vision: str = "auto"
    dpi: float | None = None
    transcribe: bool = False


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
    opts: AnswerOptions,
) -> None:
    if transcribe and question:
        raise UsageError("--transcribe takes no question")
    answer_pdf(file, question, opts, DocumentOptions(source, vision.value, dpi, transcribe))


def answer_pdf(file: Path, question: str | None, opts: AnswerOptions,
               doc_opts: DocumentOptions = DocumentOptions()) -> None:
    """Answer `question` about the PDF at `file` (None: summarise it), or transcribe it."""
    # Imported here so that `glmv --help` loads neither llama.cpp nor MuPDF.
    from glmv_cli.render.document_json import DocumentInfo
    from glmv_cli.render.json import settings_object
    from glmv_cli.tasks.document_file import document_template, read_pdf, run_document
    from glmv_cli.tasks.documents import DocumentTranscript

    streams = Streams.from_process()
    status: StatusLine | None = None
    try:
        if streams.stderr_isatty:
            status = StatusLine(streams.console(stderr=True))
        pdf = read_pdf(file, doc_opts.source.pages, doc_opts.source.password,
                       doc_opts.vision, opts.engine.max_image_tokens,  # type: ignore[arg-type]
                       doc_opts.dpi,
                       on_page=(lambda i, n: status.update(f"Reading page {i + 1}/{n}"))
                       if status else None)
        if pdf.repaired:
            streams.stderr.write(f"glmv: warning: {pdf.name} is damaged; it was repaired "
                                 "as far as possible, so pages may be blank or missing\n")
            streams.stderr.flush()
        model = resolve(opts.model, streams)
        if status:
            status.update("Loading model")
        engine = engine_for(opts, model)
        engine.load()
    finally:
        if status:
            status.stop()
    with engine:
        template = document_template(opts.generation.request("", recommended=model.sampling),
                                     doc_opts.transcribe)
        result = DocumentTranscript()
        counted, events = run_document(engine, pdf, question, template, result,
                                       doc_opts.transcribe)
        info = DocumentInfo(pdf.name, pdf.n_pages, tuple(counted), pdf.prepare_s,
                            engine.load_s, settings_object(template))
        renderer = document_renderer(streams, opts.output.display,
                                     transcribe=doc_opts.transcribe, model=engine.name,
                                     info=info)
        run_events(events, renderer, result)
