"""What the Ctrl-C tests share: the bound they hold glmv to, and a record of the figures.

`GLMV_INTERRUPT_FIGURES=FILE` makes each test append its stage's seconds from the signal
to the process gone to FILE (JSON lines); `python tests/bench/bench_interrupt.py` runs
them and prints the table the README quotes.
"""

from __future__ import annotations

import json
import os

# From SIGINT to the process gone: the README promises "within a second".
PROMPT_EXIT_S = 1.0


def record(stage: str, took: float) -> None:
    """Keep a figure for the README (see above)."""
    path = os.environ.get("GLMV_INTERRUPT_FIGURES")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"stage": stage, "seconds": round(took, 3)}) + "\n")
