"""Seconds from Ctrl-C to glmv gone, per stage: runs the Ctrl-C tests (each sends SIGINT
to a real glmv at one stage) a few times and prints the median and worst per stage.

    python tests/bench/bench_interrupt.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = ["tests/commands/test_interrupt.py", "tests/models/test_pull.py::"
         "test_ctrl_c_mid_download_leaves_nothing_half_written"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "figures.jsonl"
        env = {**os.environ, "GLMV_INTERRUPT_FIGURES": str(figures)}
        for _ in range(args.runs):
            subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "-k", "ctrl_c", *TESTS], cwd=root, env=env, check=True)
        rows: dict[str, list[float]] = {}
        for line in figures.read_text().splitlines():
            item = json.loads(line)
            rows.setdefault(item["stage"], []).append(item["seconds"])
    print(f"\n{'stage':<36} {'median s':>9} {'worst s':>8}  runs")
    for stage, secs in rows.items():
        print(f"{stage:<36} {statistics.median(secs):>9.2f} {max(secs):>8.2f}  {len(secs)}")


if __name__ == "__main__":
    main()
