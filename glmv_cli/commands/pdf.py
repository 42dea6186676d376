"""`glmv pdf`: summaries, answers and transcriptions of PDF documents."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from glmv_cli import options as opt
from glmv_cli.engine.request import Request, Sampling
from glmv_cli.models.resolve import resolve_model
from glmv_cli.render.progress import StatusLine
from glmv_cli.run import EngineOptions
from glmv_cli.streams import Streams

DOCUMENT = "Document"

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

Pages = Annotated[str | None, typer.Option(
    "--pages", "-p", rich_help_panel=DOCUMENT, show_default=False,
    help="Pages to read, counted from 1: 4-6, 1,3,5, 9- (to the end). Default: all.")]


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
Password = Annotated[str | None, typer.Option(
    "--password", rich_help_panel=DOCUMENT, envvar="GLMV_PDF_PASSWORD", show_default=False,
    help="Password of an encrypted PDF.")]
Transcribe = Annotated[bool, typer.Option(
    "--transcribe", rich_help_panel=DOCUMENT,
    help="Transcribe each page to Markdown (tables as tables), page by page. Thinking is "
         "off unless --think-budget is given.")]


def pdf(
    file: Annotated[Path, typer.Argument(metavar="PDF", show_default=False,
                                         help="The PDF file.")],
    question: Annotated[str | None, typer.Argument(
        metavar="[QUESTION]", show_default=False,
        help="What to ask; with no question, glmv summarises the document.")] = None,
    pages: Pages = None,
    vision: Vision = VisionChoice.auto,
    dpi: Dpi = None,
    password: Password = None,
    transcribe: Transcribe = False,
    model: opt.ModelName = None,
    model_file: opt.ModelFile = None,
    mmproj: opt.Mmproj = None,
    json_out: opt.Json = False,
    hide_thinking: opt.HideThinking = False,
    show_thinking: opt.ShowThinking = False,
    verbose: opt.Verbose = False,
    max_tokens: opt.MaxTokens = opt.DEFAULTS["max_tokens"],
    think_budget: opt.ThinkBudget = None,
    no_think: opt.NoThink = False,
    system: opt.System = None,
    temperature: opt.Temperature = 0.0,
    top_k: opt.TopK = 2,
    top_p: opt.TopP = 0.6,
    repeat_penalty: opt.RepeatPenalty = 1.1,
    seed: opt.Seed = None,
    max_image_tokens: opt.MaxImageTokens = opt.DEFAULTS["max_image_tokens"],
    threads: opt.Threads = None,
    gpu_layers: opt.GpuLayers = None,
    context: opt.Context = None,
) -> None:
    if transcribe and question:
        from glmv_cli.errors import UsageError

        raise UsageError("--transcribe takes no question")
    answer_pdf(
        file, question, pages=pages, vision=vision.value, dpi=dpi, password=password,
        transcribe=transcribe, model=model, model_file=model_file, mmproj=mmproj,
        json_out=json_out, hide_thinking=hide_thinking, show_thinking=show_thinking,
        verbose=verbose, max_tokens=max_tokens, think_budget=think_budget, no_think=no_think,
        system=system, temperature=temperature, top_k=top_k, top_p=top_p,
        repeat_penalty=repeat_penalty, seed=seed, max_image_tokens=max_image_tokens,
        threads=threads, gpu_layers=gpu_layers, context=context,
    )


def answer_pdf(
    file: Path,
    question: str | None,
    *,
    pages: str | None = None,
    vision: str = "auto",
    dpi: float | None = None,
    password: str | None = None,
    transcribe: bool = False,
    model: str | None = None,
    model_file: Path | None = None,
    mmproj: Path | None = None,
    json_out: bool = False,
    hide_thinking: bool = False,
    show_thinking: bool = False,
    verbose: bool = False,
    max_tokens: int = opt.DEFAULTS["max_tokens"],
    think_budget: int | None = None,
    no_think: bool = False,
    system: str | None = None,
    temperature: float = 0.0,
    top_k: int = 2,
    top_p: float = 0.6,
    repeat_penalty: float = 1.1,
    seed: int | None = None,
    max_image_tokens: int = opt.DEFAULTS["max_image_tokens"],
    threads: int | None = None,
    gpu_layers: int | None = None,
    context: int | None = None,
) -> None:
    """Answer `question` about the PDF at `file` (None: summarise it), or transcribe it.

    The keyword arguments are `glmv ask`'s options by the same names, plus the document
    ones (pages, vision, dpi, password, transcribe), so `ask` can hand a PDF over as is.
    """
    # Imported here so that `glmv --help` loads neither llama.cpp nor MuPDF.
    from glmv_cli.documents import (
        DocumentTranscript,
        Limits,
        answer_document,
        count_tokens,
        prepare_pages,
        run_document,
        transcribe_document,
    )
    from glmv_cli.engine.llama import LlamaEngine
    from glmv_cli.errors import UsageError
    from glmv_cli.inputs.pdf import open_pdf, parse_pages
    from glmv_cli.render.document import pick_document_renderer
    from glmv_cli.render.document_json import DocumentInfo

    if vision not in ("auto", "always", "never"):
        raise UsageError(f"--vision must be auto, always or never, not '{vision}'")
    streams = Streams.from_process()
    status: StatusLine | None = None
    try:
        t0 = time.perf_counter()
        with open_pdf(file, password) as doc:
            indexes = parse_pages(pages, doc.page_count, name=doc.name)
            if doc.repaired:
                streams.stderr.write(f"glmv: warning: {doc.name} is damaged; it was repaired "
                                     "as far as possible, so pages may be blank or missing\n")
                streams.stderr.flush()
            if streams.stderr_isatty:
                status = StatusLine(streams.console(stderr=True))
            prepared = prepare_pages(
                doc, indexes, vision, max_image_tokens, dpi,  # type: ignore[arg-type]
                on_page=(lambda i, n: status.update(f"Reading page {i + 1}/{n}"))
                if status else None)
            n_pages, name = doc.page_count, doc.name
        prepare_s = time.perf_counter() - t0
        files = resolve_model(model, model_file, mmproj, streams)
        if status:
            status.update("Loading model")
        engine = LlamaEngine(EngineOptions(threads, gpu_layers, context, max_image_tokens,
                                           verbose).settings(files))
        engine.load()
    finally:
        if status:
            status.stop()
    try:
        counted = count_tokens(engine, prepared)
        info = DocumentInfo(name, n_pages, tuple(counted), prepare_s, engine.load_s)
        n_ctx = min(engine.n_ctx_train, context or engine.n_ctx_train)
        # Transcription copies text; thinking only costs time unless asked for.
        think = not no_think and not (transcribe and think_budget is None)
        template = Request(
            question="", system=system,
            sampling=Sampling(temperature, top_k, top_p, repeat_penalty, seed),
            max_tokens=max_tokens, think_budget=think_budget, think=think,
        )
        result = DocumentTranscript()
        if transcribe:
            events = transcribe_document(engine, counted, template, result)
        else:
            events = answer_document(engine, counted, question, template,
                                     Limits(n_ctx, max_tokens), n_pages, result)
        renderer = pick_document_renderer(
            streams, json_out=json_out, hide_thinking=hide_thinking,
            show_thinking=show_thinking, transcribe=transcribe, model=files.name, info=info)
        run_document(events, renderer, result)
    finally:
        engine.close()
