#!/usr/bin/env python3
"""Benchmark page selection for `glmv pdf` questions: how often the page with the answer is
read, what a question costs on a CPU, and how long planning a long PDF takes.

    flock /work/heavy.lock python tests/bench/bench_reading.py [--big 500] [--budget N]

1. Quality: three generated 40-page reports (tests/report_files.py: two English, one
   Chinese; prose over one shared vocabulary, charts, ruled tables, scans, an outline),
   60 planted facts, one question each (direct, reworded, Chinese). A question counts as
   a hit when the planted page is among the pages read. Lexical ranking only, as
   `--dry-run` plans: the model's search terms can only add to it.
2. Cost: the estimated CPU time before the answer starts for the real model (encode and
   prefill, engine/cost.py, 2 cores) with the default budget, against reading every page.
3. Planning time for a 500-page report (text layers only, nothing rendered): in process,
   and a whole `glmv pdf --dry-run` run as a fresh process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from glmv_cli.engine.cost import format_duration
from glmv_cli.inputs.pdf_worker import PdfReader
from glmv_cli.tasks.reading import (
    CPU_BUDGET,
    choose_strategy,
    estimate,
    plan_all,
    plan_reading,
    survey_pages,
)
from tests.report_files import FACTS_EN, FACTS_UNSHARED, FACTS_ZH, make_report

CORES = 2
MAX_IMAGE_TOKENS = 1024  # glmv's default


def quality(tmp: Path, budget: int) -> None:
    reports = [("en-a", FACTS_EN[:23], 1, False),
               ("en-b", FACTS_EN[23:] + FACTS_UNSHARED, 2, False), ("zh", FACTS_ZH, 3, True)]
    hits: dict[str, list[bool]] = defaultdict(list)
    ranks, kinds, read_counts, costs, whole_costs = [], [], [], [], []
    misses = []
    for name, facts, seed, chinese in reports:
        path = tmp / f"{name}.pdf"
        planted = make_report(path, facts, seed=seed, chinese=chinese)
        with PdfReader.open(path) as pdf:
            indexes = list(range(pdf.page_count))
            every = plan_all([i + 1 for i in indexes], "--read all",
                             survey_pages(pdf, indexes, "auto", MAX_IMAGE_TOKENS))
            whole_costs.append(estimate(every, CORES).before_answer_s)
            for p in planted:
                strategy, why = choose_strategy(p.fact.question, "auto")
                assert strategy == "ranked", p.fact.question
                plan = plan_reading(pdf, indexes, p.fact.question, strategy, why,
                                    vision="auto", max_image_tokens=MAX_IMAGE_TOKENS, dpi=None,
                                    budget=budget).plan
                read = [c.number for c in plan.read]
                hit = p.page in read
                hits[p.fact.kind].append(hit)
                choice = plan.pages[p.page - 1]
                ranks.append(choice.rank or 99)
                kinds.append(p.fact.kind)
                read_counts.append(len(read))
                costs.append(estimate(plan, CORES).before_answer_s)
                if not hit:
                    misses.append(f"  {name} p.{p.page} (rank {choice.rank}): "
                                  f"{p.fact.question}  read {read}")
    total = [h for kind, v in hits.items() if kind != "unshared" for h in v]
    print(f"page selection, budget {budget} tokens, lexical ranking only:")
    for kind, v in hits.items():
        print(f"  {kind:<9} {sum(v):>3}/{len(v):<3} {100 * sum(v) / len(v):5.1f}%")
    print(f"  {'all but unshared':<9} {sum(total):>3}/{len(total):<3} "
          f"{100 * sum(total) / len(total):5.1f}%   (target: 90%; unshared questions need the "
          "model's search terms)")
    shared = [r for r, k in zip(ranks, kinds, strict=True) if k != "unshared"]
    print(f"  planted page ranked first: {sum(r == 1 for r in shared)}/{len(shared)}, in the "
          f"top 3: {sum(r <= 3 for r in shared)}/{len(shared)}; pages read per question: "
          f"median {statistics.median(read_counts):g}, max {max(read_counts)}")
    if misses:
        print("  missed:", *misses, sep="\n")
    print(f"estimated CPU time before the answer ({CORES} cores, real model, 40 pages):")
    print(f"  a question, default budget: median {format_duration(statistics.median(costs))}, "
          f"max {format_duration(max(costs))}   (target: under 10 min)")
    print(f"  every page (--read all):    median "
          f"{format_duration(statistics.median(whole_costs))}")


def planning(tmp: Path, n_pages: int) -> None:
    path = tmp / "big.pdf"
    make_report(path, FACTS_EN[:10], pages=n_pages, seed=5)
    question = FACTS_EN[3].question
    t0 = time.perf_counter()
    with PdfReader.open(path) as pdf:
        strategy, why = choose_strategy(question, "auto")
        plan = plan_reading(pdf, list(range(pdf.page_count)), question, strategy, why,
                            vision="auto", max_image_tokens=MAX_IMAGE_TOKENS, dpi=None,
                            budget=CPU_BUDGET).plan
    in_process = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "glmv_cli", "pdf", str(path), question,
                        "--dry-run", "--json"], capture_output=True, check=True)
    whole = time.perf_counter() - t0
    print(f"planning a {n_pages}-page report ({len(plan.read)} pages read): "
          f"{in_process:.2f} s in process, {whole:.2f} s for `glmv pdf --dry-run` "
          f"({len(r.stdout)} bytes of JSON)   (target: under 5 s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", type=int, default=500, help="pages of the planning benchmark")
    ap.add_argument("--budget", type=int, default=CPU_BUDGET)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        quality(Path(tmp), args.budget)
        planning(Path(tmp), args.big)


if __name__ == "__main__":
    main()
