#!/usr/bin/env python3
"""Benchmark `glmv batch` on the tiny model: one process for N images against N
`glmv ask` processes, and batch throughput against a local OpenAI-compatible server
(llama-cpp-python's, the tiny model) with --parallel 1 and 4.

    python tests/bench/bench_batch.py [--images 200] [--max-tokens 16] [--server-images 40]

All figures come from one invocation, side by side (the machines are shared: compare
ratios, not absolute numbers across runs). Needs the `test` extra (the server).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.servers import LlamaServer

GLMV = [sys.executable, "-m", "glmv_cli"]


def make_images(folder: Path, n: int) -> list[Path]:
    """Small distinct pictures (so no two share a content hash)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        img = Image.new("RGB", (112, 84), (i % 256, (7 * i) % 256, 200))
        ImageDraw.Draw(img).rectangle([10, 10, 40 + i % 50, 60], fill=(220, 20, 20))
        path = folder / f"img{i:04}.png"
        img.save(path)
        paths.append(path)
    return paths


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--server-images", type=int, default=40)
    args = ap.parse_args()
    env = {**os.environ, "GLMV_MODEL": "tiny"}
    gen = ["--max-tokens", str(args.max_tokens), "--no-think"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = make_images(root / "in", args.images)

        t_batch = timed([*GLMV, "batch", "Describe.", str(root / "in"), *gen,
                         "--jsonl", str(root / "batch.jsonl")], env)
        t_asks = sum(timed([*GLMV, "ask", str(p), "Describe.", *gen], env) for p in paths)
        print(f"{args.images} images, --max-tokens {args.max_tokens}, tiny model")
        print(f"  glmv batch (one process):   {t_batch:7.1f} s  "
              f"{args.images / t_batch:6.1f} images/s")
        print(f"  {args.images} x glmv ask:           {t_asks:7.1f} s  "
              f"{args.images / t_asks:6.1f} images/s")
        print(f"  batch is {t_asks / t_batch:.1f}x faster")

        server = LlamaServer(root / "server.log")
        try:
            some = root / "some"
            some.mkdir()
            for p in paths[: args.server_images]:
                os.link(p, some / p.name)
            rates = {}
            for parallel in (1, 4):
                out = root / f"server-{parallel}.jsonl"
                t = timed([*GLMV, "batch", "Describe.", str(some), *gen, "--endpoint",
                           server.url, "--parallel", str(parallel), "--jsonl", str(out)], env)
                rates[parallel] = args.server_images / t
                print(f"  server, --parallel {parallel}:     {t:7.1f} s  "
                      f"{rates[parallel]:6.1f} images/s  ({args.server_images} images)")
            print(f"  --parallel 4 / --parallel 1: {rates[4] / rates[1]:.2f}x")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
