"""`glmv ground`: find things in an image (or PDF pages) and get their boxes in pixels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from glmv_cli.commands.options import (
    GENERATION,
    OUTPUT,
    AnswerOptions,
    PdfSource,
    shared_options,
)
from glmv_cli.commands.running import answer_each, json_result, print_json, resolve
from glmv_cli.engine.request import Request
from glmv_cli.errors import InputError, UsageError
from glmv_cli.inputs.image import PreparedImage, prepare_image
from glmv_cli.inputs.sniff import sniff
from glmv_cli.inputs.source import Source, read_source
from glmv_cli.render.draw import Mark, check_draw_path, draw_marks, open_oriented, save_atomic
from glmv_cli.streams import Streams
from glmv_cli.tasks.grounding import BOXES_GRAMMAR, BOXES_RESERVE, PROMPT, FoundBox, find_boxes

HELP = """Find things in an image and get their bounding boxes, in pixels.

\b
  glmv ground photo.jpg "the red car" --draw boxed.jpg
  glmv ground photo.jpg "every person" --json | jq '.boxes[].box'
  glmv ground doc.pdf "the signature" --pages 3
  glmv ground shelf.png "each bottle" --strict       # boxes only, always at least one

Piped, stdout gets one box per line, x1,y1,x2,y2 in pixels of the image as a viewer shows \
it (EXIF rotation applied); for a PDF each line is: page, the box in pixels of the page \
image, the box in PDF points. --draw writes a copy of the image with the boxes drawn and \
labelled; the input is never changed.
"""


@dataclass(frozen=True)
class Target:
    """One image to ground on: a picture, or a PDF page with its size in points."""

    image: PreparedImage
    source: Source | None = None  # the original bytes, for --draw
    page: int | None = None  # 1-based
    page_size: tuple[float, float] | None = None
    page_rgb: bytes | None = None


@shared_options()
def ground(
    image: Annotated[str, typer.Argument(metavar="IMAGE", show_default=False,
                                         help="An image, a PDF, or - for stdin.")],
    expr: Annotated[str, typer.Argument(metavar="WHAT", show_default=False,
                                        help="What to find, e.g. \"the red car\".")],
    *,
    draw: Annotated[Path | None, typer.Option(
        "--draw", metavar="OUT", rich_help_panel=OUTPUT,
        help="Write a copy of the image with the boxes drawn (.png, .jpg, .webp). For "
             "several PDF pages, -pN is added before the extension.")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", rich_help_panel=GENERATION,
        help="Answer with boxes only (sampled under a grammar): always at least one box, "
             "even when the thing is not there.")] = False,
    source: PdfSource,
    opts: AnswerOptions,
) -> None:
    streams = Streams.from_process()
    if not expr.strip():
        raise UsageError("say what to find, e.g. \"the red car\"")
    src = read_source(image, streams.stdin)
    is_pdf = sniff(src.data) == "pdf"
    if (source.pages or source.password) and not is_pdf:
        raise UsageError("--pages and --password are for PDF files")
    if draw is not None and image != "-" and _same_file(draw, Path(image)):
        raise UsageError("--draw must name a new file, not the input image")
    if draw is not None:
        check_draw_path(draw)
    model = resolve(opts.model, streams)
    max_image_tokens = opts.engine.max_image_tokens
    targets = (_pdf_targets(src, source, max_image_tokens, streams) if is_pdf
               else [Target(prepare_image(src, max_image_tokens), source=src)])
    requests = [opts.generation.request(
        PROMPT.format(expr=expr.strip()), (t.image,), model.sampling,
        grammar=BOXES_GRAMMAR if strict else None,
        answer_reserve=BOXES_RESERVE if strict else 0,
    ) for t in targets]
    json_out = opts.output.json
    terminal = streams.stdout_isatty and not json_out
    console = streams.console()

    pending = iter(targets)

    def heading(_: Request) -> None:
        target = next(pending)
        if terminal and target.page is not None:
            console.rule(f"page {target.page}")

    results: list[dict] = []
    for target, request, transcript in zip(
            targets, requests, answer_each(streams, opts, model, requests, heading),
            strict=False):
        size = target.image.original_size
        boxes = find_boxes(transcript, size, target.page_size)
        drawn = None
        if draw is not None:
            drawn = _draw_path(draw, target.page, len(targets))
            _draw(target, boxes, expr.strip(), drawn)
        if json_out:
            extra = {"query": expr, "boxes": [b.to_dict() for b in boxes],
                     "image": {"source": target.image.source, "size": list(size)},
                     "drawn": str(drawn) if drawn else None}
            if target.page is not None:
                extra["page"] = target.page
                extra["page_size_points"] = list(target.page_size or ())
            obj = json_result(transcript, model.name, request, extra)
            if len(targets) == 1:
                print_json(streams, obj)
            else:
                results.append(obj)
        elif terminal:
            _show(console, boxes, drawn)
        else:
            for b in boxes:
                streams.stdout.write(_line(b, target.page) + "\n")
            streams.stdout.flush()
        if not boxes and not json_out:
            where = f"page {target.page}: " if target.page else ""
            streams.stderr.write(f"glmv: warning: {where}the answer has no boxes\n")
    if json_out and len(targets) > 1:
        print_json(streams, {"model": model.name, "query": expr, "pages": results})


def _pdf_targets(src: Source, source: PdfSource, max_image_tokens: int,
                 streams: Streams) -> list[Target]:
    from glmv_cli.inputs.pdf import parse_pages
    from glmv_cli.inputs.pdf_worker import PdfReader, SkippedPage

    with PdfReader.open(src, source.password, source.page_timeout) as pdf:
        targets = []
        skipped: list[SkippedPage] = []
        for index in parse_pages(source.pages, pdf.page_count, src.name):
            page = pdf.render(index, max_image_tokens)
            if isinstance(page, SkippedPage):
                hint = " (raise --page-timeout)" if "took over" in page.reason else ""
                streams.stderr.write(f"glmv: warning: {src.name} page {page.number} "
                                     f"skipped: {page.reason}{hint}\n")
                skipped.append(page)
                continue
            targets.append(Target(page.image, page=index + 1, page_size=page.page_size,
                                  page_rgb=page.image.rgb))
    if not targets:
        raise InputError(f"{src.name}: no page could be read (page {skipped[0].number}: "
                         f"{skipped[0].reason})")
    return targets


def _line(box: FoundBox, page: int | None) -> str:
    px = ",".join(str(v) for v in box.pixels)
    if page is None:
        return px
    return f"{page} {px} " + ",".join(f"{v:g}" for v in box.points or ())


def _show(console: Console, boxes: list[FoundBox], drawn: Path | None) -> None:
    if boxes:
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("#", justify="right")
        table.add_column("x1,y1,x2,y2 (px)")
        table.add_column("size")
        if boxes[0].points is not None:
            table.add_column("PDF points")
        for i, b in enumerate(boxes, 1):
            x1, y1, x2, y2 = b.pixels
            row = [str(i), f"{x1},{y1},{x2},{y2}", f"{x2 - x1}x{y2 - y1}"]
            if b.points is not None:
                row.append(",".join(f"{v:g}" for v in b.points))
            table.add_row(*row)
        console.print(table)
    if drawn:
        console.print(f"[dim]drawn: {drawn}[/dim]")


def _draw(target: Target, boxes: list[FoundBox], expr: str, out: Path) -> None:
    if target.source is not None:
        base = open_oriented(target.source.data, target.source.name)
    else:  # a PDF page: its image, back at the page's own proportions
        from PIL import Image

        img = target.image
        base = Image.frombytes("RGB", (img.width, img.height), target.page_rgb or img.rgb)
        base = base.resize(img.original_size, Image.Resampling.BICUBIC)
    label = expr if len(expr) <= 40 else expr[:39] + "…"
    marks = [Mark(b.pixels, label if len(boxes) == 1 else f"{i} {label}")
             for i, b in enumerate(boxes, 1)]
    save_atomic(draw_marks(base, marks), out)


def _draw_path(draw: Path, page: int | None, n_targets: int) -> Path:
    if page is None or n_targets == 1:
        return draw
    return draw.with_name(f"{draw.stem}-p{page}{draw.suffix}")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and a.resolve() == b.resolve()
    except OSError:
        return False
