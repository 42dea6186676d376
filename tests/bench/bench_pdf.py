#!/usr/bin/env python3
"""Benchmark `glmv pdf` on a 50-page mixed PDF: preprocessing per page, image tokens saved by
`--vision auto` over `always`, and end-to-end time on the tiny model.

    python tests/bench/bench_pdf.py [--pages 50] [--runs 3] [--max-image-tokens 1024]

The PDF cycles through eight pages: three text pages, a scan, a page of text with a raster
chart, one with a vector chart, and two more text pages (3 in 8 need vision).
Preprocessing (text layer, the text-or-vision decision, rendering) is timed in this
process, per page; end-to-end runs are fresh `glmv` processes reading `--json`. Both vision
modes run side by side in one invocation; figures are medians over `--runs`.

The tiny model's compute is nothing like the real 9B model's, so the script also prices
each run's token counts with the CPU figures measured in GLM41V.md (2 cores: image encode
~60 s per 1024 tokens, prefill ~8 tokens/s): an estimate, labelled as one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymupdf

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from glmv_cli.inputs.pdf_worker import PdfReader
from glmv_cli.tasks.documents import prepare_pages
from tests.pdf_files import (
    PARAGRAPH,
    chart_page,
    scan_page,
    text_page,
    vector_chart_page,
)

# Real-model CPU prices from GLM41V.md (2 cores, Q4_K_M, flash attention).
ENCODE_S_PER_1024 = 60.0
PREFILL_TOKENS_PER_S = 8.0


def make_pdf(path: Path, n: int) -> Path:
    doc = pymupdf.open()
    kinds = ("text", "text", "text", "scan", "chart", "vector", "text", "text")
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind == "text":
            text_page(doc, f"Section {i + 1}. " + " ".join([PARAGRAPH] * 6))
        elif kind == "scan":
            scan_page(doc, f"SCANNED PAGE {i + 1}")
        elif kind == "chart":
            chart_page(doc)
        else:
            vector_chart_page(doc)
    doc.save(path)
    doc.close()
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-image-tokens", type=int, default=1024)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        pdf_path = make_pdf(Path(tmp) / "bench.pdf", args.pages)
        prep: dict[str, list[float]] = {"auto": [], "always": []}
        image_pages = {}
        for _ in range(args.runs):
            for mode in ("auto", "always"):
                with PdfReader.open(pdf_path) as pdf:
                    t0 = time.perf_counter()
                    pages = prepare_pages(pdf, range(pdf.page_count), mode,
                                          args.max_image_tokens)
                    prep[mode].append((time.perf_counter() - t0) / len(pages))
                image_pages[mode] = sum(p.image is not None for p in pages)

        glmv = [sys.executable, "-m", "glmv_cli", "pdf", str(pdf_path)]
        common = ["--model", "tiny", "--json", "--think-budget", "16", "--max-tokens", "64",
                  "--max-image-tokens", str(args.max_image_tokens), "--repeat-penalty", "1.0"]
        question = "Which quarter had the highest margin?"
        # Every page (--read all), so that the vision modes compare like with like; the
        # default reads only the pages that match (bench_reading.py measures that).
        runs = {
            "ask, auto": [question, "--read", "all", "--vision", "auto"],
            "ask, always": [question, "--read", "all", "--vision", "always"],
            "ask, auto, 8K context (map-reduce)": [
                question, "--read", "all", "--vision", "auto", "--context", "8192"],
            "ask, auto, pages ranked (default)": [question, "--vision", "auto"],
            "transcribe, auto": ["--transcribe", "--vision", "auto"],
        }
        walls: dict[str, list[float]] = {k: [] for k in runs}
        objs: dict[str, dict] = {}
        for _ in range(args.runs):
            for name, extra in runs.items():
                t0 = time.perf_counter()
                out = subprocess.run([*glmv, *extra, *common], check=True,
                                     capture_output=True).stdout
                walls[name].append(time.perf_counter() - t0)
                objs[name] = json.loads(out)

    n = args.pages
    print(f"glmv pdf, {n}-page mixed PDF, --max-image-tokens {args.max_image_tokens}, "
          f"median of {args.runs} runs")
    print("preprocessing per page (text layer, decision, rendering):")
    for mode in ("auto", "always"):
        print(f"  --vision {mode:7s} {statistics.median(prep[mode]) * 1000:8.2f} ms/page"
              f"   ({image_pages[mode]} of {n} pages rendered)")
    auto, always = objs["ask, auto"]["usage"], objs["ask, always"]["usage"]
    saved = always["image_tokens"] - auto["image_tokens"]
    print(f"image tokens: auto {auto['image_tokens']}, always {always['image_tokens']} "
          f"(auto saves {saved}, {saved / max(1, always['image_tokens']):.0%}); prompt tokens "
          f"auto {auto['prompt_tokens']}, always {always['prompt_tokens']}")
    print("end to end on the tiny model (wall, fresh process):")
    for name in runs:
        o = objs[name]
        u, t = o["usage"], o["timings"]
        est = (u["image_tokens"] / 1024 * ENCODE_S_PER_1024
               + u["prompt_tokens"] / PREFILL_TOKENS_PER_S)
        print(f"  {name:36s} {statistics.median(walls[name]):7.2f} s   {o['strategy']:10s} "
              f"{len(o['steps']):2d} steps, encode {t['encode_s']:.2f} s, prefill "
              f"{t['prefill_s']:.2f} s   | real 9B on 2 CPU cores, estimated: "
              f"{est / 60:6.1f} min of encode + prefill")


if __name__ == "__main__":
    main()
