"""Cost of sampling under an action grammar, side by side on the tiny model.

    python tests/bench/bench_grammar.py [--runs 3] [--per-token]

Generates a no-think answer of the same length with and without each platform's grammar
and prints tokens/s and the ratio, for glmv's sampler (the drawn token is checked against
the grammar, the whole vocabulary only when it is rejected) and for a sampler that
constrains the whole vocabulary at every step (what a grammar in the chain does). The tiny
model's vocabulary has 640 tokens and its random logits break the grammar at almost every
step; a trained model's drawn token usually fits it, which is where checking it alone pays.

`--per-token` times one sampling step on the real vocabulary size (the tiny model padded
to 151,552 tokens, tests/bench/wide_vocab.py; needs the `gguf` package): llama.cpp's own
sampling without a grammar, glmv's check of the drawn token (the usual case with a trained
model), and the fallback over the whole vocabulary. The budget for glmv's own cost is 2%
of a token at 200 tokens/s: 100 µs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from glmv_cli.engine import sampler as sampler_mod
from glmv_cli.engine.llama import LlamaEngine
from glmv_cli.engine.request import Request
from glmv_cli.engine.settings import EngineSettings
from glmv_cli.engine.transcript import Transcript
from glmv_cli.tasks.actions import PLATFORMS
from glmv_cli.tasks.actions.grammar import ANSWER_RESERVE, action_grammar
from tests.conftest import TINY


def rate(engine: LlamaEngine, request: Request) -> tuple[float, int]:
    t = Transcript()
    for event in engine.generate(request):
        t.add(event)
    u, s = t.done.usage, t.done.timings.generate_s
    return u.generated_tokens / s, u.generated_tokens


def per_token(repeats: int = 200) -> None:
    """µs per sampling step on a 151,552-token vocabulary."""
    import tempfile
    import time

    import llama_cpp
    import numpy as np

    from glmv_cli.engine.request import Sampling
    from glmv_cli.models.ref import LocalModel
    from tests.bench.wide_vocab import widen

    with tempfile.TemporaryDirectory() as tmp:
        wide = widen(TINY.model, Path(tmp) / "wide.gguf")
        engine = LlamaEngine(LocalModel("wide", wide, TINY.mmproj), EngineSettings())
        rate(engine, Request("Open the settings", think=False, max_tokens=1))  # logits ready
        ctx = engine._ctx
        n_vocab = llama_cpp.llama_vocab_n_tokens(engine._vocab)
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1),
                                       shape=(n_vocab,))

        def timed(step) -> float:
            t0 = time.perf_counter()
            for _ in range(repeats):
                step()
            return (time.perf_counter() - t0) / repeats * 1e6

        for sampling in (Sampling(), Sampling(temperature=0.8, seed=1)):
            free = engine._make_sampler(sampling)
            grammar = engine._make_sampler(sampling, action_grammar("mobile"))
            lib_us = timed(lambda f=free: llama_cpp.llama_sampler_sample(f.chain, ctx, -1))
            free_us = timed(lambda f=free: f._draw(logits, False))
            check_us = timed(lambda g=grammar: g._allowed(g._draw(logits, False)))
            whole_us = timed(lambda g=grammar: g._draw(logits, True))
            kind = "greedy" if sampling.temperature == 0 else "temperature 0.8"
            print(f"vocab {n_vocab}, {kind}: llama_sampler_sample {lib_us:4.0f} µs | glmv: "
                  f"free {free_us:4.0f} µs, grammar draw+check {check_us:4.0f} µs "
                  f"(+{check_us - free_us:.0f} µs), whole-vocab fallback {whole_us:5.0f} µs")
            free.free()
            grammar.free()
        engine.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--per-token", action="store_true",
                    help="time one sampling step on the real vocabulary size instead")
    args = ap.parse_args()
    if args.per_token:
        per_token()
        return
    engine = LlamaEngine(TINY, EngineSettings())
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
