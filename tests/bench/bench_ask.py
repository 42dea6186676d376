#!/usr/bin/env python3
"""Benchmark one `glmv ask` on the tiny model: start-up, load, encode, prefill, generation.

    python tests/bench/bench_ask.py [--runs 10] [--size 640x480] [--max-tokens 256]

Each run is a fresh `glmv` process (what a user pays), reading the phase timings from
`--json`; `glmv --version` in the same loop gives the bare interpreter + import cost.
Figures are medians over the runs, taken side by side in one invocation (the machines
are shared and noisy: compare ratios, not absolute numbers across runs).
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

from PIL import Image, ImageDraw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--max-tokens", type=int, default=256)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))

    with tempfile.TemporaryDirectory() as tmp:
        img = Path(tmp) / "bench.png"
        pic = Image.new("RGB", (w, h), (30, 60, 200))
        ImageDraw.Draw(pic).rectangle([w // 6, h // 4, w // 2, 3 * h // 4], fill=(220, 20, 20))
        pic.save(img)
        glmv = [sys.executable, "-m", "glmv_cli"]
        rows: dict[str, list[float]] = {k: [] for k in (
            "version_wall_s", "ask_wall_s", "load_s", "encode_s", "prefill_s", "generate_s",
            "tokens_per_s")}
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run([*glmv, "--version"], check=True, capture_output=True)
            rows["version_wall_s"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            out = subprocess.run(
                [*glmv, "ask", str(img), "Describe this image.", "--model", "tiny", "--json",
                 "--no-think", "--max-tokens", str(args.max_tokens), "--repeat-penalty", "1.0"],
                check=True, capture_output=True).stdout
            rows["ask_wall_s"].append(time.perf_counter() - t0)
            obj = json.loads(out)
            for k in ("load_s", "encode_s", "prefill_s", "generate_s", "tokens_per_s"):
                rows[k].append(obj["timings"][k])
        usage = obj["usage"]
    print(f"glmv ask on the tiny model, {w}x{h} image ({usage['image_tokens']} image tokens, "
          f"{usage['prompt_text_tokens']} text), {usage['generated_tokens']} tokens generated, "
          f"median of {args.runs} runs:")
    for k, v in rows.items():
        print(f"  {k:16s} {statistics.median(v):10.4f}")
    rest = statistics.median(rows["ask_wall_s"]) - sum(
        statistics.median(rows[k]) for k in ("load_s", "encode_s", "prefill_s", "generate_s"))
    print(f"  {'other_s':16s} {rest:10.4f}   (interpreter, imports, image decode, output)")


if __name__ == "__main__":
    main()
