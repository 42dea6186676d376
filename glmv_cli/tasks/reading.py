"""Which pages of a PDF to read for a question, within a token budget.

On a CPU the model reads about 8 prompt tokens a second, so a 50-page report given whole
is over an hour and a half before the answer starts, while most questions need two or
three pages. Pages are ranked by what is cheap to read (tasks/ranking.py), the best are
read within a token budget, in document order. Questions about the whole document
("summarise", "list every…") and `--read all` read every page, through the document task's
single prompt or map-reduce (tasks/documents.py).

The plan is made before the model loads, from the text layers alone: image pages are
priced from their size (one token per 28x28 pixels), text from its length
(engine/cost.py). `--dry-run` shows it; a run whose model is loaded first lets the model
suggest search terms too (tasks/expansion.py) and plans again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from glmv_cli.engine.cost import CpuEstimate, estimate_cpu, estimate_text_tokens
from glmv_cli.engine.prompt import IMAGE_WRAP
from glmv_cli.errors import UsageError
from glmv_cli.inputs.pdf import PageMode, VisionMode, choose_mode
from glmv_cli.inputs.pdf_outline import OutlineEntry
from glmv_cli.inputs.pdf_worker import PdfReader, SkippedPage
from glmv_cli.tasks.documents import ANSWER_RESERVE, DocumentPage, prepare_pages
from glmv_cli.tasks.ranking import PageIndex, PageText, make_query, section_titles

ReadMode = Literal["auto", "all", "ranked"]
Strategy = Literal["all", "ranked"]

# Budgets for the pages read for a question, in prompt tokens. On a 2-core CPU 3072
# tokens are about 6.5 minutes of prefill as text, under 10 with the image encodes of
# three full-budget image pages; a GPU reads tens of thousands of tokens in that time.
CPU_BUDGET = 3072
GPU_BUDGET = 16384
LOOK_TOKENS = 256  # a cheap look at a page without a text layer to rank it by
MODEL_CONTEXT = 65536  # the model's window, for plans made before it loads
QUESTION_TOKENS = 80  # the question and the turn around it, roughly

# Questions that need every page. "how many" only with what is counted across a
# document, so that "How many staff did the Lyon plant employ?" stays a lookup.
_WHOLE = re.compile(
    r"\b(?:summar(?:y|ies|ise|ize|ising|izing)|overview|tl;?dr|outline\s+(?:of|the)"
    r"|main\s+(?:points|ideas|findings|themes|conclusions)|key\s+(?:points|takeaways|findings)"
    r"|(?:list|name|enumerate|give|find)\s+(?:me\s+)?(?:all|every|each)\b"
    r"|how\s+many\s+(?:times|pages|sections|chapters|tables|figures|charts|mentions|"
    r"references|items)\b"
    r"|(?:across|throughout|over)\s+(?:the\s+)?(?:whole|entire|full|all)\b"
    r"|(?:throughout|across)\s+(?:the|this)\s+(?:document|report|paper|file|pdf|book)"
    r"|(?:whole|entire|full)\s+(?:document|report|paper|file|pdf|book|text)"
    r"|(?:every|each)\s+(?:page|section|chapter|table|figure)"
    r"|what\s+is\s+(?:this|the)\s+(?:document|report|paper|file|pdf|book)\s+about)",
    re.IGNORECASE)
_WHOLE_ZH = re.compile(
    "总结|概括|摘要|概述|综述|主要内容|要点|列出所有|列举|列出全部|全文|通篇|整篇|整个文档|整份|"
    "整个报告|所有的?(?:章节|页|表|图)|每一?(?:章|节|页|个章节)|一共有?多少|总共有?多少|共有多少")


def whole_document(question: str) -> str | None:
    """The words that make `question` one about the whole document, else None."""
    m = _WHOLE.search(question) or _WHOLE_ZH.search(question)
    return m[0] if m else None


def default_budget(gpu: bool) -> int:
    """The budget when `--budget` is not given: larger when llama.cpp offloads to a GPU."""
    return GPU_BUDGET if gpu else CPU_BUDGET


def gpu_in_use(gpu_layers: int | None) -> bool:
    """Whether the engine will offload layers to a GPU (asked of llama.cpp; no model)."""
    from glmv_cli.engine.system import gpu_offload_available

    return gpu_layers != 0 and gpu_offload_available()


def choose_strategy(question: str | None, read: ReadMode) -> tuple[Strategy, str]:
    """Read every page or the best ones, and why (shown in the plan)."""
    if not question:
        if read == "ranked":
            raise UsageError("--read ranked needs a question to rank pages by")
        return "all", "no question: a summary of every page"
    if read == "all":
        return "all", "--read all"
    if read == "ranked":
        return "ranked", "--read ranked"
    words = whole_document(question)
    if words:
        return "all", f'the question is about the whole document ("{words}")'
    return "ranked", "the pages that best match the question"


# -- what planning knows of each page ------------------------------------------------------


@dataclass(frozen=True)
class PageSurvey:
    """A candidate page, read cheaply: its text layer, how it would go in, at what price."""

    number: int  # 1-based
    text: str
    mode: PageMode
    mode_reason: str
    tokens: int  # estimated prompt tokens as it would go in
    has_text: bool  # a text layer to rank it by
    blank: bool
    look_tokens: int = 0  # estimated tokens of a cheap look (image pages without text)


def survey_pages(pdf: PdfReader, indexes: Sequence[int], vision: VisionMode,
                 max_image_tokens: int, dpi: float | None = None,
                 on_page: Callable[[int, int], None] | None = None) -> list[PageSurvey]:
    """Read each page's text layer and price it, without rendering anything.

    A page the reader skips (past its limits, or damaged) cannot be ranked: it counts as
    a page without text, with no cheap look; reading it is left to prepare_pages, which
    reports it.
    """
    pages = []
    for i, index in enumerate(indexes):
        if on_page:
            on_page(i, len(indexes))
        number = index + 1
        # The text in the PDF's own order: ranking counts words, and the pages read are
        # read again, in reading order, by prepare_pages. Only `auto` needs the layout.
        content = pdf.content(index, layout=vision == "auto", sort=False)
        if isinstance(content, SkippedPage):
            pages.append(PageSurvey(number, "", "text", f"skipped: {content.reason}",
                                    _text_tokens(number, ""), False, False))
            continue
        mode, reason = choose_mode(content, vision)
        if mode == "image":
            tokens = _image_tokens(pdf, index, max_image_tokens, dpi)
        else:
            tokens = _text_tokens(number, content.text)
        look = 0
        if mode == "image" and not content.has_text:
            look = _image_tokens(pdf, index, min(LOOK_TOKENS, max_image_tokens), dpi)
        pages.append(PageSurvey(number, content.text, mode, reason, tokens, content.has_text,
                                content.blank, look))
    return pages


def _image_tokens(pdf: PdfReader, index: int, max_image_tokens: int,
                  dpi: float | None) -> int:
    size = pdf.render_size(index, max_image_tokens, dpi)
    w, h = ((28, 28 * max_image_tokens) if isinstance(size, SkippedPage)  # the most it takes
            else size)
    return (w // 28) * (h // 28) + IMAGE_WRAP + _label_tokens(index + 1)


def _text_tokens(number: int, text: str) -> int:
    body = text.strip() or "(this page has no text)"
    return estimate_text_tokens(body) + _label_tokens(number)


def _label_tokens(number: int) -> int:
    return estimate_text_tokens(f"Page {number}:\n\n\n")


# -- the plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PageChoice:
    """One candidate page in the plan: read or skipped, and why."""

    number: int
    mode: PageMode
    tokens: int  # estimated
    read: bool
    reason: str
    score: float | None = None  # None: not ranked
    rank: int | None = None  # 1 = the best match
    matched: tuple[str, ...] = ()  # the question's words found on the page
    look: bool = False  # read as a small image (LOOK_TOKENS): no text layer to rank

    def as_object(self) -> dict[str, Any]:
        return {"page": self.number, "mode": self.mode, "tokens": self.tokens,
                "read": self.read, "reason": self.reason,
                "score": None if self.score is None else round(self.score, 3),
                "rank": self.rank, "matched": list(self.matched), "look": self.look}


@dataclass(frozen=True)
class ReadingPlan:
    strategy: Strategy
    why: str
    pages: tuple[PageChoice, ...]  # every candidate page, in document order
    budget: int | None = None  # ranked reading only
    ranking: Literal["lexical", "lexical+model"] | None = None
    expansion: tuple[str, ...] = ()  # search terms the model added

    @property
    def read(self) -> list[PageChoice]:
        return [p for p in self.pages if p.read]

    @property
    def skipped(self) -> list[PageChoice]:
        return [p for p in self.pages if not p.read]

    @property
    def tokens(self) -> int:
        return sum(p.tokens for p in self.read)

    def indexes(self, look: bool = False) -> list[int]:
        """0-based indexes of the pages to read (`look`: those read as a cheap look)."""
        return [p.number - 1 for p in self.read if p.look == look]

    def as_object(self) -> dict[str, Any]:
        """`--json`'s `reading`."""
        return {"strategy": self.strategy, "why": self.why, "budget": self.budget,
                "ranking": self.ranking, "expansion": list(self.expansion),
                "estimated_tokens": self.tokens,
                "read": [p.number for p in self.read],
                "skipped": [p.number for p in self.skipped],
                "pages": [p.as_object() for p in self.pages]}


def plan_all(numbers: Sequence[int], why: str,
             survey: Sequence[PageSurvey] | None = None) -> ReadingPlan:
    """Every page read; priced when a survey is at hand (a dry run), else unpriced."""
    if survey is not None:
        pages = tuple(PageChoice(p.number, p.mode, p.tokens, True, p.mode_reason)
                      for p in survey)
    else:
        pages = tuple(PageChoice(n, "text", 0, True, "") for n in numbers)
    return ReadingPlan("all", why, pages)


def plan_ranked(survey: Sequence[PageSurvey], question: str, why: str, budget: int,
                outline: Sequence[OutlineEntry] = (), expansion: Sequence[str] | None = None
                ) -> ReadingPlan:
    """The pages that best match `question` (and the model's search terms, when it was
    asked for some: `expansion` not None), within `budget` estimated tokens; pages without
    a text layer get a cheap look if room is left. All pages are read when they fit the
    budget anyway."""
    ranking: Literal["lexical", "lexical+model"] = (
        "lexical" if expansion is None else "lexical+model")
    terms = tuple(expansion or ())
    if sum(p.tokens for p in survey) <= budget:
        pages = tuple(PageChoice(p.number, p.mode, p.tokens, True, "every page fits the budget")
                      for p in survey)
        return ReadingPlan("ranked", why, pages, budget, ranking, terms)

    n_pages = max((p.number for p in survey), default=0)
    titles = section_titles(((e.level, e.title, e.page) for e in outline), n_pages)
    rankable = [p for p in survey if p.has_text]
    index = PageIndex([PageText(p.number, p.text, tuple(titles.get(p.number, ())))
                       for p in rankable])
    ranked = {r.number: r for r in index.rank(make_query(question, terms))}
    order = sorted((p for p in rankable if ranked[p.number].score > 0),
                   key=lambda p: (-ranked[p.number].score, p.number))
    fallback = not order
    if fallback:  # nothing shares a word with the question: the start of the document
        order = rankable

    choices: dict[int, PageChoice] = {}
    used = 0
    for rank, page in enumerate(order, start=1):
        r = ranked[page.number]
        score, position = (None, None) if fallback else (r.score, rank)
        if used + page.tokens <= budget or not choices:
            reason = ("no page matches the question: the first pages" if fallback
                      else "matches the question")
            choices[page.number] = PageChoice(page.number, page.mode, page.tokens, True,
                                              reason, score, position, r.matched)
            used += page.tokens
        else:
            choices[page.number] = PageChoice(page.number, page.mode, page.tokens, False,
                                              "over the budget", score, position, r.matched)

    # Pages that could not be ranked: a cheap look while room is left, those next to the
    # best-ranked pages first (a scanned table beside the text that names it).
    def nearby(p: PageSurvey) -> float:
        return max((ranked[n].own_score for n in (p.number - 1, p.number + 1) if n in ranked),
                   default=0.0)

    unranked = sorted((p for p in survey if not p.has_text and not p.blank),
                      key=lambda p: (-nearby(p), p.number))
    for page in unranked:
        if page.mode != "image":
            choices[page.number] = PageChoice(page.number, page.mode, page.tokens, False,
                                              "no text layer (and --vision never)")
        elif used + page.look_tokens <= budget:
            choices[page.number] = PageChoice(page.number, page.mode, page.look_tokens, True,
                                              "no text layer to rank it by: a cheap look",
                                              look=True)
            used += page.look_tokens
        else:
            choices[page.number] = PageChoice(page.number, page.mode, page.look_tokens, False,
                                              "no text layer to rank it by, and no room left")
    for page in survey:
        if page.number not in choices:
            reason = "blank page" if page.blank else "shares no word with the question"
            score = None if page.blank else ranked[page.number].score
            choices[page.number] = PageChoice(page.number, page.mode, page.tokens, False,
                                              reason, score)
    pages = tuple(choices[p.number] for p in survey)
    return ReadingPlan("ranked", why, pages, budget, ranking, terms)


# -- what the plan costs ------------------------------------------------------------------


def single_fits(tokens: int, context: int, max_tokens: int) -> bool:
    """Whether the pages read fit one prompt with room to answer (else map-reduce), as the
    document task decides it once the model is loaded (its exact counts may differ)."""
    return tokens + QUESTION_TOKENS + min(max_tokens, ANSWER_RESERVE, context // 2) <= context


def estimate(plan: ReadingPlan, cores: int) -> CpuEstimate:
    """Rough CPU time before the answer starts for the real model: encoding the image
    pages and reading the whole prompt (map-reduce notes not included)."""
    images = [p.tokens for p in plan.read if p.mode == "image"]
    text = sum(p.tokens for p in plan.read if p.mode != "image") + QUESTION_TOKENS
    return estimate_cpu(images, text, cores)


# -- from a PDF to the pages read -----------------------------------------------------------


@dataclass
class Reading:
    """A document's reading plan, with what it was made from, so that it can be made
    again once the model has suggested search terms."""

    plan: ReadingPlan
    question: str | None = None
    survey: list[PageSurvey] | None = None
    outline: list[OutlineEntry] | None = None

    @property
    def can_expand(self) -> bool:
        """Search terms could change what is read: a ranked plan that skips pages."""
        return self.plan.strategy == "ranked" and bool(self.plan.skipped)

    def with_terms(self, terms: Sequence[str]) -> ReadingPlan:
        """The plan again, ranked with `terms` from the model as well."""
        assert self.survey is not None and self.question and self.plan.budget
        self.plan = plan_ranked(self.survey, self.question, self.plan.why, self.plan.budget,
                                self.outline or (), terms)
        return self.plan


def plan_reading(pdf: PdfReader, indexes: Sequence[int], question: str | None,
                 strategy: Strategy, why: str, *, vision: VisionMode, max_image_tokens: int,
                 dpi: float | None, budget: int | None, gpu_layers: int | None = None,
                 priced: bool = False, on_page: Callable[[int, int], None] | None = None
                 ) -> Reading:
    """The plan for `indexes` (0-based) of `pdf`: ranked within `budget` (None: the
    default for the engine `gpu_layers` gives), or every page. Reading every page needs
    no survey unless it is to be `priced` (a dry run)."""
    if strategy == "all":
        survey = (survey_pages(pdf, indexes, vision, max_image_tokens, dpi, on_page)
                  if priced else None)
        return Reading(plan_all([i + 1 for i in indexes], why, survey))
    assert question
    budget = budget or default_budget(gpu_in_use(gpu_layers))
    survey = survey_pages(pdf, indexes, vision, max_image_tokens, dpi, on_page)
    outline = pdf.outline()
    return Reading(plan_ranked(survey, question, why, budget, outline), question, survey,
                   outline)


def prepare_plan(pdf: PdfReader, plan: ReadingPlan, vision: VisionMode,
                 max_image_tokens: int, dpi: float | None = None,
                 on_page: Callable[[int, int], None] | None = None) -> list[DocumentPage]:
    """The pages the plan reads, prepared for the model in document order; a cheap look
    is rendered within LOOK_TOKENS."""
    full, looks = plan.indexes(), plan.indexes(look=True)
    pages = prepare_pages(pdf, full, vision, max_image_tokens, dpi, on_page)
    if looks:
        pages += prepare_pages(pdf, looks, vision, min(LOOK_TOKENS, max_image_tokens), dpi)
    return sorted(pages, key=lambda p: p.number)
