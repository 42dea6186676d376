"""Answering over documents: pages become prompt parts, and the parts become one request when
they fit the context, or a map-reduce over page groups when they do not.

The plan is a stream of events like the engine's: `StepStart`, the engine's own events for
that step, `StepEnd`; renderers show progress across steps and stream the final answer.

Map steps ask each page group for short notes with page citations, on a small generation
budget (MAP_MAX_TOKENS, MAP_THINK_BUDGET): on a CPU every generated token costs about as
much as eight prompt tokens, and notes only need to carry facts forward. The reduce step
answers from the notes with the user's own budget. If the notes themselves do not fit,
they are combined in groups first (another round), until they do.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from glmv_cli.engine.base import Engine
from glmv_cli.engine.events import Answer, Event
from glmv_cli.engine.request import Request
from glmv_cli.engine.transcript import Transcript
from glmv_cli.errors import ContextOverflowError, InputError, Interrupted
from glmv_cli.inputs.image import PreparedImage
from glmv_cli.inputs.media import Media, Text
from glmv_cli.inputs.pdf import PageContent, PageMode, VisionMode, choose_mode
from glmv_cli.inputs.pdf_worker import PdfReader, SkippedPage

MAP_MAX_TOKENS = 1024  # per page group: notes, not essays
MAP_THINK_BUDGET = 384  # thinking tokens per page group before the notes are forced
ANSWER_RESERVE = 4096  # room kept for the final answer when deciding whether all fits
MARGIN = 16  # tokens of slack for what we do not count exactly (tags forced later)
# Tokens planned for the user's question whatever its length, so that a second question
# about the same document groups its pages the same way and finds them in the prefix
# cache (a longer question takes what it needs; a small context keeps less).
QUESTION_ROOM = 256

SUMMARY = ("Summarise this document: what it is, its main points and its conclusions. "
           "Cite the pages you draw on as (p. N).")
ANSWER = "{question}\n\nAnswer from the document above and cite the pages you use as (p. N)."
MAP_QUESTION = (
    "These are pages {pages} of a {n}-page document. Note briefly what they say that helps "
    "answer the question below, citing pages as (p. N); if nothing here helps, say so in "
    "one line.\n\nQuestion: {question}")
MAP_SUMMARY = ("These are pages {pages} of a {n}-page document. Summarise them in a few "
               "bullet points, citing pages as (p. N).")
COMBINE_QUESTION = (
    "The notes above cover pages {pages} of a {n}-page document. Merge them into shorter "
    "notes that keep every fact that helps answer the question below, with its page "
    "citations (p. N).\n\nQuestion: {question}")
COMBINE_SUMMARY = ("The notes above cover pages {pages} of a {n}-page document. Merge them "
                   "into a few bullet points that keep the main points and their page "
                   "citations (p. N).")
REDUCE_QUESTION = (
    "The notes above were taken from parts of a {n}-page document, page by page. Using "
    "them, answer this question and cite pages as (p. N):\n\n{question}")
REDUCE_SUMMARY = ("The notes above were taken from parts of a {n}-page document, page by "
                  "page. Using them, summarise the whole document: what it is, its main "
                  "points and conclusions. Cite pages as (p. N).")
TRANSCRIBE = ("Transcribe this page into Markdown, exactly as written: headings as "
              "headings, lists as lists, tables as Markdown tables, and figures as a short "
              "[Figure: ...] description. Output only the Markdown.")

StepKind = Literal["answer", "map", "combine", "reduce", "transcribe", "text-layer", "skipped"]


@dataclass(frozen=True)
class DocumentPage:
    """One page, prepared: its prompt parts, how it goes in (text or image) and why."""

    number: int  # 1-based, as users and citations count
    mode: PageMode
    reason: str
    text: str  # the text layer ('' when there is none)
    image: PreparedImage | None
    prepare_s: float  # seconds to read and render it
    tokens: int = 0  # prompt tokens, once counted
    # Why the page could not be read or rendered (past --page-timeout or the memory limit,
    # or damaged); it then goes in as its text layer, if it has one.
    skipped: str | None = None

    def parts(self) -> tuple[Media, ...]:
        """The page labelled with its number, so that the model can cite it."""
        if self.image is not None:
            return (Text(f"Page {self.number}:\n"), self.image, Text("\n\n"))
        body = self.text.strip() or ("(this page could not be read)" if self.skipped
                                     else "(this page has no text)")
        return (Text(f"Page {self.number}:\n{body}\n\n"),)


def prepare_pages(reader: PdfReader, indexes: Sequence[int], vision: VisionMode,
                  max_image_tokens: int, dpi: float | None = None,
                  on_page: Callable[[int, int], None] | None = None) -> list[DocumentPage]:
    """Read each page's text layer, decide text or image, and render the image pages.

    A page the reader skips (past its time or memory limit, or damaged) goes in as its text
    layer where it has one, with the reason in `skipped`; InputError when no page at all
    could be read.
    """
    pages = []
    for i, index in enumerate(indexes):
        if on_page:
            on_page(i, len(indexes))
        pages.append(_prepare_page(reader, index, vision, max_image_tokens, dpi))
    if pages and all(p.skipped and not p.text.strip() for p in pages):
        first = pages[0].skipped or ""
        raise InputError(f"{reader.name}: no page could be read (page {pages[0].number}: "
                         f"{first})", hint="raise --page-timeout" if "took over" in first
                         else None)
    return pages


def _prepare_page(reader: PdfReader, index: int, vision: VisionMode, max_image_tokens: int,
                  dpi: float | None) -> DocumentPage:
    t0 = time.perf_counter()
    # Only `auto` needs the layout (it costs time on pages of countless vector paths).
    content = reader.content(index, layout=vision == "auto")
    if isinstance(content, SkippedPage):
        # When the layout was what took too long, the text alone may still come.
        text = reader.content(index, layout=False) if vision == "auto" else content
        return _skipped(content, text, t0)
    mode, reason = choose_mode(content, vision)
    image = None
    if mode == "image":
        rendered = reader.render(index, max_image_tokens, dpi)
        if isinstance(rendered, SkippedPage):
            return _skipped(rendered, content, t0)
        image = rendered.image
    return DocumentPage(index + 1, mode, reason, content.text, image, time.perf_counter() - t0)


def _skipped(skip: SkippedPage, content: PageContent | SkippedPage, t0: float
             ) -> DocumentPage:
    text = content.text if isinstance(content, PageContent) else ""
    use = "its text layer is used" if text.strip() else "it has no text layer to use"
    return DocumentPage(skip.number, "text", f"skipped: {skip.reason}; {use}", text, None,
                        time.perf_counter() - t0, skipped=skip.reason)


def count_tokens(engine: Engine, pages: Sequence[DocumentPage]) -> list[DocumentPage]:
    """The pages with the prompt tokens each takes, as the engine counts them."""
    return [replace(p, tokens=engine.count_media(p.parts())) for p in pages]


# -- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepStart:
    """A request over some pages begins. `final` marks the step whose answer is the answer."""

    number: int  # 1-based
    total: int  # steps planned so far (a second reduce round adds to it)
    kind: StepKind
    pages: tuple[int, ...]
    final: bool
    weight: int  # prompt tokens, for progress and ETA


@dataclass(frozen=True)
class StepEnd:
    start: StepStart
    transcript: Transcript


DocumentEvent = StepStart | StepEnd | Event


@dataclass
class DocumentTranscript:
    """The whole run folded: every step's transcript, and the final answer's."""

    steps: list[StepEnd] = field(default_factory=list)
    final: Transcript | None = None
    strategy: Literal["single", "map-reduce", "transcribe"] | None = None

    def add(self, event: DocumentEvent) -> None:
        if isinstance(event, StepEnd):
            self.steps.append(event)
            if event.start.final:
                self.final = event.transcript


@dataclass(frozen=True)
class Limits:
    """Token room: the context window and what generation needs of it."""

    n_ctx: int
    max_tokens: int  # the user's --max-tokens

    @property
    def answer_reserve(self) -> int:
        return min(self.max_tokens, ANSWER_RESERVE, self.n_ctx // 2)

    @property
    def map_max_tokens(self) -> int:
        return min(self.max_tokens, MAP_MAX_TOKENS, self.n_ctx // 4)


# -- planning and running ----------------------------------------------------------------


def answer_document(engine: Engine, pages: Sequence[DocumentPage], question: str | None,
                    template: Request, limits: Limits, n_pages: int,
                    result: DocumentTranscript) -> Iterator[DocumentEvent]:
    """Answer `question` (None: summarise) over counted `pages`: one request if it fits in
    `limits` with room for the answer, else map-reduce. `template` carries the user's system
    prompt and generation settings; `n_pages` is the document's length, for the prompts."""
    media = tuple(part for p in pages for part in p.parts())
    prompt = ANSWER.format(question=question) if question else SUMMARY
    weight = sum(p.tokens for p in pages)
    room = _question_room(engine, template, question, limits.n_ctx)

    def overhead(text: str) -> int:
        return _prompt_overhead(engine, template, text) + room

    if weight + overhead(prompt) + limits.answer_reserve <= limits.n_ctx:
        result.strategy = "single"
        step = StepStart(1, 1, "answer", _numbers(pages), True, weight)
        yield from _run(engine, step, replace(template, question=prompt, media=media), result)
        return

    result.strategy = "map-reduce"
    map_request = _map_settings(template, limits)

    def map_text(nums: Sequence[int], notes: bool = False) -> str:
        if notes:
            ask, summary = COMBINE_QUESTION, COMBINE_SUMMARY
        else:
            ask, summary = MAP_QUESTION, MAP_SUMMARY
        span = page_span(nums)
        return (ask.format(pages=span, n=n_pages, question=question) if question
                else summary.format(pages=span, n=n_pages))

    def fits(sizes: Sequence[int], nums: Sequence[int], notes: bool = False) -> bool:
        need = sum(sizes) + overhead(map_text(nums, notes))
        return need + limits.map_max_tokens <= limits.n_ctx

    groups = _group(len(pages), lambda g: fits([pages[i].tokens for i in g],
                                               [pages[i].number for i in g]),
                    lambda i: _too_big(pages[i], limits))
    total = len(groups) + 1
    notes: list[tuple[tuple[int, ...], str]] = []
    for g in groups:
        group = [pages[i] for i in g]
        nums = _numbers(group)
        step = StepStart(len(result.steps) + 1, total, "map", nums, False,
                         sum(p.tokens for p in group))
        media = tuple(part for p in group for part in p.parts())
        tr = yield from _run(engine, step,
                             replace(map_request, question=map_text(nums), media=media), result)
        notes.append((nums, tr.answer.strip() or "(no notes)"))

    final_prompt = (REDUCE_QUESTION.format(n=n_pages, question=question) if question
                    else REDUCE_SUMMARY.format(n=n_pages))
    while True:
        parts = [Text(f"Notes on pages {page_span(nums)}:\n{body}\n\n") for nums, body in notes]
        sizes = [engine.count_media((p,)) for p in parts]
        all_pages = tuple(n for nums, _ in notes for n in nums)
        need = sum(sizes) + overhead(final_prompt)
        if need + limits.answer_reserve <= limits.n_ctx or len(notes) == 1:
            step = StepStart(len(result.steps) + 1, len(result.steps) + 1, "reduce", all_pages,
                             True, sum(sizes))
            yield from _run(engine, step,
                            replace(template, question=final_prompt, media=tuple(parts)), result)
            return
        # The notes are too long for one prompt: combine them in groups, then try again.
        def notes_fit(g: list[int], notes: list = notes, sizes: list[int] = sizes) -> bool:
            return fits([sizes[i] for i in g], [n for i in g for n in notes[i][0]], notes=True)

        groups = _group(len(notes), notes_fit, lambda i: ContextOverflowError(
            "the notes on one page group do not fit the context", hint="raise --context"))
        if len(groups) == len(notes):  # no two notes fit together: no progress possible
            raise ContextOverflowError("the notes from the page groups do not fit together in "
                                       "the context", hint="raise --context")
        total = len(result.steps) + len(groups) + 1
        merged = []
        for g in groups:
            nums = tuple(n for i in g for n in notes[i][0])
            step = StepStart(len(result.steps) + 1, total, "combine", nums, False,
                             sum(sizes[i] for i in g))
            tr = yield from _run(engine, step, replace(
                map_request, question=map_text(nums, notes=True),
                media=tuple(parts[i] for i in g)), result)
            merged.append((nums, tr.answer.strip() or "(no notes)"))
        notes = merged


def transcribe_document(engine: Engine, pages: Sequence[DocumentPage],
                        template: Request, result: DocumentTranscript,
                        ) -> Iterator[DocumentEvent]:
    """Each page to Markdown, in order: image pages through the model, text pages straight
    from their text layer (the model would only retype text we already have exactly)."""
    result.strategy = "transcribe"
    total = len(pages)
    for i, page in enumerate(pages, start=1):
        if page.image is None:
            kind: StepKind = "skipped" if page.skipped else "text-layer"
            step = StepStart(i, total, kind, (page.number,), True, page.tokens)
            yield step
            tr = Transcript()
            body = _tidy(page.text) if page.text.strip() or not page.skipped else (
                "(this page could not be read)")
            for event in (Answer(body),):
                tr.add(event)
                yield event
            end = StepEnd(step, tr)
            result.add(end)
            yield end
            continue
        step = StepStart(i, total, "transcribe", (page.number,), True, page.tokens)
        yield from _run(engine, step,
                        replace(template, question=TRANSCRIBE, media=(page.image,)), result)


def _run(engine: Engine, step: StepStart, request: Request,
         result: DocumentTranscript) -> Iterator[DocumentEvent]:
    """One step: its start, the engine's events, its end; returns its transcript."""
    yield step
    tr = Transcript()
    for event in engine.generate(request):
        tr.add(event)
        yield event
    end = StepEnd(step, tr)
    result.add(end)
    yield end
    if tr.done and tr.done.finish_reason == "interrupted":
        raise Interrupted()
    return tr


def _map_settings(template: Request, limits: Limits) -> Request:
    budget = MAP_THINK_BUDGET if template.think_budget is None else min(
        template.think_budget, MAP_THINK_BUDGET)
    # A --schema shapes the final answer only: notes are prose.
    return replace(template, max_tokens=limits.map_max_tokens, think_budget=budget,
                   schema=None, answer_reserve=0)


def _prompt_overhead(engine: Engine, template: Request, text: str) -> int:
    """Prompt tokens around the media: the turn head, the question, the assistant turn."""
    return engine.count_prompt(replace(template, question=text, media=())) + MARGIN


def _question_room(engine: Engine, template: Request, question: str | None,
                   n_ctx: int) -> int:
    """Tokens to add to a prompt's count so that questions up to QUESTION_ROOM tokens
    long (a sixteenth of a small context) all count the same."""
    room = min(QUESTION_ROOM, n_ctx // 16)
    if not question:
        return room
    blank = replace(template, media=())
    used = (engine.count_prompt(replace(blank, question=question))
            - engine.count_prompt(replace(blank, question="")))
    return max(0, room - used)


def _group(n: int, fits: Callable[[list[int]], bool],
           too_big: Callable[[int], Exception]) -> list[list[int]]:
    """Items 0..n-1 in consecutive groups, each as large as `fits` allows (greedy)."""
    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(n):
        if fits([*current, i]):
            current.append(i)
            continue
        if not current or not fits([i]):
            raise too_big(i)
        groups.append(current)
        current = [i]
    if current:
        groups.append(current)
    return groups


def _too_big(page: DocumentPage, limits: Limits) -> ContextOverflowError:
    return ContextOverflowError(
        f"page {page.number} needs {page.tokens} tokens, too many for a {limits.n_ctx}-token "
        f"context with room to answer",
        hint="lower --max-image-tokens or raise --context",
    )


def _numbers(pages: Sequence[DocumentPage]) -> tuple[int, ...]:
    return tuple(p.number for p in pages)


def page_span(numbers: Sequence[int]) -> str:
    """Page numbers as people write them: '3-7', '1, 4-6, 9'."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _tidy(text: str) -> str:
    """A text layer as Markdown body: trailing spaces gone, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out) if out else "(this page has no text)"


_CITE = re.compile(
    r"\b(?:pp?\.|pages?)\s*(\d+(?:\s*[-–]\s*\d+)?(?:\s*(?:,|and|&)\s*\d+(?:\s*[-–]\s*\d+)?)*)",
    re.IGNORECASE)


def cited_pages(text: str, valid: Sequence[int]) -> list[int]:
    """Page numbers an answer cites ('(p. 3)', 'pp. 4-6', 'pages 2 and 7'), among `valid`."""
    found: set[int] = set()
    for m in _CITE.finditer(text):
        for item in re.split(r"\s*(?:,|and|&)\s*", m[1]):
            ends = [int(x) for x in re.split(r"\s*[-–]\s*", item) if x]
            if len(ends) == 2 and ends[0] <= ends[1] and ends[1] - ends[0] < 10_000:
                found.update(range(ends[0], ends[1] + 1))
            elif ends:
                found.add(ends[0])
    allowed = set(valid)
    return sorted(n for n in found if n in allowed)


