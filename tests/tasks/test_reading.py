"""The reading plan on real PDFs made with pymupdf: what a question reads, within what budget,
and what a question about the whole document reads. No model: plans are made before it
loads (the model's part, search terms, is tested end to end in tests/commands)."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from glmv_cli.errors import UsageError
from glmv_cli.inputs.pdf_worker import PdfReader
from glmv_cli.tasks.expansion import parse_terms
from glmv_cli.tasks.reading import (
    CPU_BUDGET,
    GPU_BUDGET,
    LOOK_TOKENS,
    choose_strategy,
    default_budget,
    estimate,
    gpu_in_use,
    plan_reading,
    single_fits,
    whole_document,
)
from tests.pdf_files import save, scan_page, text_page
from tests.report_files import FACTS_EN, FACTS_ZH, make_report


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, list]:
    path = tmp_path_factory.mktemp("report") / "report.pdf"
    return path, make_report(path, FACTS_EN[:12], pages=16, seed=4)


def plan(path: Path, question: str | None, read: str = "auto", budget: int = CPU_BUDGET,
         pages: list[int] | None = None, **kw):
    strategy, why = choose_strategy(question, read)  # type: ignore[arg-type]
    with PdfReader.open(path) as pdf:
        indexes = pages if pages is not None else list(range(pdf.page_count))
        return plan_reading(pdf, indexes, question, strategy, why, vision="auto",
                            max_image_tokens=1024, dpi=None, budget=budget, **kw)


@pytest.mark.parametrize(("question", "words"), [
    ("Summarise the report", "Summarise"),
    ("Give me an overview of the findings", "overview"),
    ("List every risk the report names", "List every"),
    ("How many times is Lyon mentioned?", "How many times"),
    ("How did margins develop across the whole report?", "across the whole"),
    ("What is this document about?", "What is this document about"),
    ("总结这份报告的主要内容", "总结"),
    ("列出所有提到的风险", "列出所有"),
    ("Which quarter had the highest margin?", None),
    ("How many autonomous forklifts did Leeds introduce?", None),
    ("How often did the audit committee meet?", None),
    ("哪个季度的营业利润率最高？", None),
])
def test_questions_about_the_whole_document(question, words):
    assert whole_document(question) == words


def test_strategy():
    assert choose_strategy(None, "auto")[0] == "all"
    assert choose_strategy("Summarise it", "auto") == (
        "all", 'the question is about the whole document ("Summarise")')
    assert choose_strategy("Summarise it", "ranked")[0] == "ranked"
    assert choose_strategy("Which quarter?", "all") == ("all", "--read all")
    assert choose_strategy("Which quarter?", "auto")[0] == "ranked"
    with pytest.raises(UsageError, match="needs a question"):
        choose_strategy(None, "ranked")


def test_budgets():
    assert default_budget(gpu=False) == CPU_BUDGET < default_budget(gpu=True) == GPU_BUDGET
    assert gpu_in_use(0) is False  # --gpu-layers 0: the CPU budget, whatever the build


def test_the_planted_page_is_read_and_the_rest_skipped(report):
    path, planted = report
    for p in planted:
        reading = plan(path, p.fact.question)
        read = [c.number for c in reading.plan.read]
        assert p.page in read, p.fact.question
        assert reading.plan.pages[p.page - 1].rank is not None
        assert 1 <= len(read) < 16 and reading.plan.skipped
        # The budget holds: the pages read fit it.
        assert reading.plan.tokens <= CPU_BUDGET


def test_a_smaller_budget_reads_fewer_pages_but_always_the_best(report):
    path, planted = report
    question = planted[0].fact.question
    wide = plan(path, question, budget=6000).plan
    narrow = plan(path, question, budget=800).plan
    one = plan(path, question, budget=64).plan
    assert len(wide.read) > len(narrow.read) >= 1
    assert narrow.tokens <= 800 < wide.tokens <= 6000
    # Even a budget smaller than any page reads the best page.
    (best,) = one.read
    assert best.rank == 1 and best.tokens > 64
    assert {p.reason for p in one.skipped} >= {"over the budget"}


def test_a_document_within_the_budget_is_read_whole(report):
    path, _ = report
    p = plan(path, "Which quarter had the highest operating margin?", pages=[0, 1, 2]).plan
    assert [c.number for c in p.read] == [1, 2, 3] and not p.skipped
    assert {c.reason for c in p.read} == {"every page fits the budget"}


def test_a_question_about_the_whole_document_reads_every_page(report):
    path, _ = report
    every = plan(path, "List every risk in the report").plan
    assert every.strategy == "all" and len(every.read) == 16
    # Unpriced until a dry run asks for prices.
    assert every.tokens == 0 and plan(path, None, priced=True).plan.tokens > 10_000


def test_pages_without_a_text_layer_get_a_cheap_look_or_are_said_not_to_be_read(report):
    path, planted = report
    fact = planted[0]
    scans = [13, 15]  # make_report's scanned pages
    candidates = [fact.page - 1, 12, 14]
    alone = plan(path, fact.fact.question, budget=10_000, pages=[fact.page - 1]).plan
    room = alone.tokens + 2 * LOOK_TOKENS
    roomy = plan(path, fact.fact.question, budget=room, pages=candidates).plan
    looks = [c for c in roomy.read if c.look]
    assert [c.number for c in looks] == scans and not roomy.skipped
    assert all(c.mode == "image" and c.tokens <= LOOK_TOKENS + 10 for c in looks)
    tight = plan(path, fact.fact.question, budget=alone.tokens, pages=candidates).plan
    assert [c.number for c in tight.read] == [fact.page]
    for n in scans:
        choice = tight.pages[candidates.index(n - 1)]
        assert not choice.read and choice.reason == "no text layer to rank it by, and no room left"


def test_the_outline_finds_a_page_whose_text_never_names_it(tmp_path):
    doc = pymupdf.open()
    topics = ["Revenue rose in every region.", "Staff turnover fell.",
              "The array produced 412 MWh in its first year.",
              "Freight costs rose.", "The board met seven times."]
    for i in range(20):
        text_page(doc, f"{topics[i % 5]} " + "Costs and sales were stable. " * 60)
    doc.set_toc([[1, "Finance", 1], [1, "Photovoltaic roof at Lyon", 13], [1, "Governance", 14]])
    path = save(doc, tmp_path / "outline.pdf")
    p = plan(path, "How much did the photovoltaic roof produce?", budget=700).plan
    (best,) = [c for c in p.read if c.rank == 1]
    assert best.number == 13 and best.matched == ("photovoltaic", "roof", "produce")
    # Pages 3, 8 and 18 have the same text; only the outline sets page 13 apart.
    same = [p.pages[n - 1] for n in (3, 8, 18)]
    assert all(c.matched == ("produce",) and c.score < best.score for c in same)


def test_a_chinese_question_finds_its_page(tmp_path):
    planted = make_report(tmp_path / "zh.pdf", FACTS_ZH[:8], pages=14, seed=7, chinese=True)
    for p in planted:
        read = [c.number for c in plan(tmp_path / "zh.pdf", p.fact.question).plan.read]
        assert p.page in read, p.fact.question


def test_no_match_reads_the_first_pages(tmp_path):
    doc = pymupdf.open()
    for _ in range(12):
        text_page(doc, "Costs and sales were stable over the year. " * 40)
    scan_page(doc)
    path = save(doc, tmp_path / "dull.pdf")
    p = plan(path, "Who founded the zeppelin museum?").plan
    assert [c.number for c in p.read if not c.look][:2] == [1, 2]
    assert p.read[0].reason == "no page matches the question: the first pages"


def test_estimates_and_the_single_prompt(report):
    path, planted = report
    p = plan(path, planted[0].fact.question).plan
    est = estimate(p, cores=2)
    # Under ten minutes before the answer on two cores, for a few pages read.
    assert 0 < est.before_answer_s < 600
    assert estimate(p, cores=4).before_answer_s == pytest.approx(est.before_answer_s / 2)
    assert single_fits(p.tokens, 65536, 8192) and not single_fits(p.tokens, 2048, 8192)


@pytest.mark.parametrize(("text", "terms"), [
    ("solar panels, photovoltaic, Lyon, roof, 太阳能", ("solar panels", "photovoltaic", "lyon",
                                                    "roof", "太阳能")),
    ("1. solar\n2. Solar\n- rooftop\n* \"Lyon\"", ("solar", "rooftop", "lyon")),
    ("光伏；屋顶、里昂", ("光伏", "屋顶", "里昂")),
    ("", ()),
])
def test_search_terms_from_the_models_reply(text, terms):
    assert parse_terms(text) == terms


def test_search_terms_drop_what_cannot_be_a_term():
    assert parse_terms("x" * 60 + ", solar") == ("solar",)
