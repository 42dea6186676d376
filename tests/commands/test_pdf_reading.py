"""`glmv pdf` questions read the pages that matter: the real CLI, the real engine on the tiny
model, generated reports with planted facts (tests/report_files.py).

The tiny model answers nonsense, so the tests check what it was given: which pages were
read and skipped, in what order, through which strategy. `--budget 3072` is given where
the test needs pages skipped, so that a GPU build (whose default budget is larger) reads
the same pages.
"""

from __future__ import annotations

import json

import pymupdf
import pytest

from tests.commands.test_pdf import SHORT, run_json
from tests.pdf_files import make_encrypted_pdf, save, text_page
from tests.report_files import FACTS_EN, FACTS_ZH, make_report

BUDGET = ("--budget", "3072")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[str, list]:
    path = tmp_path_factory.mktemp("report") / "report.pdf"
    planted = make_report(path, FACTS_EN[:12], pages=16, seed=4)
    return str(path), planted


def test_the_planted_page_is_read_and_the_others_skipped(glmv, report):
    path, planted = report
    fact = planted[5]
    obj = run_json(glmv, path, fact.fact.question, *BUDGET)
    reading = obj["reading"]
    assert reading["strategy"] == "ranked" and reading["budget"] == 3072
    assert fact.page in reading["read"] and len(reading["skipped"]) >= 8
    assert sorted(reading["read"] + reading["skipped"]) == list(range(1, 17))
    # The model was given the pages read, in document order, and nothing else.
    assert [p["page"] for p in obj["pages"]] == reading["read"] == sorted(reading["read"])
    assert obj["strategy"] == "single" and obj["steps"][0]["pages"] == reading["read"]
    # Its own words found the planted page; the model was asked for search terms too.
    planted_choice = reading["pages"][fact.page - 1]
    assert planted_choice["read"] and planted_choice["matched"]
    assert reading["ranking"] == "lexical+model" and reading["expand_s"] > 0
    skipped = [p for p in reading["pages"] if not p["read"]]
    assert all(p["reason"] for p in skipped)


def test_a_piped_answer_says_on_stderr_which_pages_were_read(glmv, report):
    path, planted = report
    r = glmv("pdf", path, planted[0].fact.question, *BUDGET, *SHORT)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stderr.splitlines() if x.startswith("glmv: read pages"))
    assert "of 16 for the question" in line and "--read all" in line
    assert "glmv: read" not in r.stdout


def test_a_question_about_the_whole_document_goes_to_map_reduce(glmv, report):
    path, _ = report
    obj = run_json(glmv, path, "Summarise the key risks across the whole report", *BUDGET,
                   "--context", "8192")
    assert obj["reading"]["strategy"] == "all" and obj["reading"]["skipped"] == []
    assert "whole document" in obj["reading"]["why"]
    assert obj["strategy"] == "map-reduce"
    maps = [s for s in obj["steps"] if s["kind"] == "map"]
    assert [n for s in maps for n in s["pages"]] == list(range(1, 17))


def test_read_all_and_read_ranked_force_the_strategy(glmv, report):
    path, planted = report
    question = planted[2].fact.question
    every = run_json(glmv, path, question, "--read", "all", *BUDGET, "--context", "8192")
    assert every["reading"]["strategy"] == "all" and every["reading"]["why"] == "--read all"
    assert [p["page"] for p in every["pages"]] == list(range(1, 17))
    ranked = run_json(glmv, path, "Summarise the report", "--read", "ranked", *BUDGET)
    assert ranked["reading"]["strategy"] == "ranked" and ranked["reading"]["skipped"]


def test_budget_sets_how_much_is_read(glmv, report):
    path, planted = report
    question = planted[1].fact.question
    small = run_json(glmv, path, question, "--budget", "2000", "--dry-run")
    large = run_json(glmv, path, question, "--budget", "6000", "--dry-run")
    assert len(small["reading"]["read"]) < len(large["reading"]["read"])
    assert small["reading"]["estimated_tokens"] <= 2000 < large["reading"]["estimated_tokens"]
    assert planted[1].page in small["reading"]["read"]


def test_dry_run_prints_the_plan_without_a_model(glmv, report):
    path, planted = report
    fact = planted[3]
    # A model that does not exist: --dry-run must not even look for it.
    r = glmv("pdf", path, fact.fact.question, "--dry-run", *BUDGET,
             env={"GLMV_MODEL": "no-such-model"})
    assert r.returncode == 0, r.stderr
    assert "ranked lexically only" in r.stdout and "within 3072 tokens" in r.stdout
    row = next(x for x in r.stdout.splitlines() if x.startswith(f"  page {fact.page:>4}"))
    assert "ranked" in row and "matched:" in row
    assert "skipped" in r.stdout and "over the budget" in r.stdout
    assert "rough time on a CPU with" in r.stdout and "asked in one prompt" in r.stdout


def test_dry_run_json(glmv, report):
    path, planted = report
    r = glmv("pdf", path, planted[3].fact.question, "--dry-run", "--json", *BUDGET,
             "--threads", "2", env={"GLMV_MODEL": "no-such-model"})
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["dry_run"] is True and obj["n_pages"] == 16 and obj["strategy"] == "single"
    reading = obj["reading"]
    assert reading["ranking"] == "lexical" and reading["expansion"] == []
    assert planted[3].page in reading["read"]
    assert reading["estimated_tokens"] == sum(p["tokens"] for p in reading["pages"] if p["read"])
    est = obj["estimate"]
    assert est["cores"] == 2 and 0 < est["before_answer_s"] < 600
    # The whole document, priced the same way, is far slower: what ranking saves.
    every = json.loads(glmv("pdf", path, "--dry-run", "--json", "--threads", "2").stdout)
    assert every["reading"]["strategy"] == "all" and len(every["reading"]["read"]) == 16
    assert every["estimate"]["before_answer_s"] > 3 * est["before_answer_s"]


def test_scanned_pages_get_a_cheap_look_when_there_is_room(glmv, tmp_path):
    planted = make_report(tmp_path / "r.pdf", FACTS_EN[:4], pages=16, seed=9)
    fact = planted[0]
    path = str(tmp_path / "r.pdf")
    alone = run_json(glmv, path, fact.fact.question, "--pages", str(fact.page), "--dry-run")
    # The planted page and the two scans (13, 15): room for the page and two looks.
    budget = alone["reading"]["estimated_tokens"] + 2 * 260
    obj = run_json(glmv, path, fact.fact.question, "--pages", f"{fact.page},13,15",
                   "--budget", str(budget))
    reading = obj["reading"]
    looks = [p["page"] for p in reading["pages"] if p["look"]]
    assert looks == [13, 15] and reading["read"] == [fact.page, 13, 15]
    # The scans went in as images rendered within 256 tokens, not the usual 1024.
    sizes = {p["page"]: p["size"] for p in obj["pages"] if p["mode"] == "image"}
    assert {13, 15} <= set(sizes)
    assert all(128 < (sizes[n][0] // 28) * (sizes[n][1] // 28) <= 256 for n in (13, 15))


def test_a_chinese_document(glmv, tmp_path):
    planted = make_report(tmp_path / "zh.pdf", FACTS_ZH[:6], pages=14, seed=7, chinese=True)
    fact = planted[2]
    obj = run_json(glmv, str(tmp_path / "zh.pdf"), fact.fact.question, *BUDGET)
    assert fact.page in obj["reading"]["read"] and obj["reading"]["skipped"]
    assert obj["reading"]["pages"][fact.page - 1]["matched"]


def test_a_document_with_an_outline(glmv, tmp_path):
    doc = pymupdf.open()
    for i in range(20):
        text_page(doc, f"Section {i + 1}. " + "Costs and sales were stable in the year. " * 60)
    doc.set_toc([[1, "Finance", 1], [1, "Photovoltaic roof at Lyon", 13], [1, "Governance", 14]])
    path = save(doc, tmp_path / "outline.pdf")
    obj = run_json(glmv, str(path), "What did the photovoltaic roof produce?", *BUDGET)
    reading = obj["reading"]
    assert reading["pages"][12]["rank"] == 1 and 13 in reading["read"]
    assert reading["pages"][12]["matched"] == ["photovoltaic", "roof"]


def test_ask_reads_a_report_the_same_way(glmv, report):
    path, planted = report
    r = glmv("ask", path, planted[4].fact.question, "--json", *SHORT)
    assert r.returncode == 0, r.stderr
    reading = json.loads(r.stdout)["reading"]
    assert planted[4].page in reading["read"] and reading["strategy"] == "ranked"


@pytest.mark.parametrize("extra", [(), ("--dry-run",)])
def test_encrypted_and_broken_files_keep_their_errors(glmv, tmp_path, extra):
    secret = str(make_encrypted_pdf(tmp_path / "secret.pdf", password="pw"))
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\ngarbage\x00\x01")
    for path, words in ((secret, "encrypted"), (str(broken), "broken.pdf")):
        r = glmv("pdf", path, "Which quarter had the highest margin?", *extra, *SHORT)
        assert r.returncode == 3 and r.stdout == "" and words in r.stderr
        assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr


def test_usage_errors(glmv, report):
    path, _ = report
    no_question = glmv("pdf", path, "--read", "ranked")
    transcribe = glmv("pdf", path, "--transcribe", "--dry-run")
    small = glmv("pdf", path, "q", "--budget", "10")
    assert no_question.returncode == 2 and "--read ranked needs a question" in no_question.stderr
    assert transcribe.returncode == 2 and "--transcribe" in transcribe.stderr
    assert small.returncode == 2 and "--budget" in small.stderr
    for r in (no_question, transcribe):
        assert len(r.stderr.splitlines()) == 1

