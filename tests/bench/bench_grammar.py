"""Cost of sampling under an action grammar, side by side on the tiny model.

    python tests/bench/bench_grammar.py [--runs 3]

Generates a no-think answer of the same length with and without each platform's grammar
and prints tokens/s and the ratio, for glmv's sampler (the drawn token is checked against
the grammar, the whole vocabulary only when it is rejected) and for a sampler that
constrains the whole vocabulary at every step (what a grammar in the chain does). The tiny
model's vocabulary has 640 tokens and its random logits break the grammar at almost every
step; a trained model's drawn token usually fits it, which is where checking it alone pays.
"""

from __future__ import annotations

import argparse

from glmv_cli.actions import PLATFORMS
from glmv_cli.actions.grammar import ANSWER_RESERVE, action_grammar
from glmv_cli.engine import sampler as sampler_mod
from glmv_cli.engine.llama import EngineSettings, LlamaEngine
from glmv_cli.engine.request import Request
from glmv_cli.engine.transcript import Transcript
from tests.conftest import TINY_MMPROJ, TINY_MODEL


def rate(engine: LlamaEngine, request: Request) -> tuple[float, int]:
    t = Transcript()
    for event in engine.generate(request):
        t.add(event)
    u, s = t.done.usage, t.done.timings.generate_s
    return u.generated_tokens / s, u.generated_tokens


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    engine = LlamaEngine(EngineSettings(TINY_MODEL, TINY_MMPROJ))
    engine.load()
    lazy_allowed = sampler_mod.TokenSampler._allowed
    for platform in PLATFORMS:
        g = action_grammar(platform)
        request = Request("Open the settings", think=False, grammar=g,
                          answer_reserve=ANSWER_RESERVE[platform])
        lazy, eager, free = [], [], []
        for _ in range(args.runs):
            r, n = rate(engine, request)
            lazy.append(r)
            sampler_mod.TokenSampler._allowed = lambda self, tok: False  # always constrain
            eager.append(rate(engine, request)[0])
            sampler_mod.TokenSampler._allowed = lazy_allowed
            free.append(rate(engine, Request("Open the settings", think=False,
                                             max_tokens=n))[0])
        best_l, best_e, best_f = max(lazy), max(eager), max(free)
        print(f"{platform:8} glmv {best_l:7.0f} tok/s   whole-vocab {best_e:7.0f} tok/s   "
              f"free {best_f:7.0f} tok/s   glmv/free {best_l / best_f:.2f}   "
              f"glmv/whole-vocab {best_l / best_e:.1f}x")
    engine.close()


if __name__ == "__main__":
    main()
