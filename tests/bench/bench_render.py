"""Per-token cost of the renderers, at the pace a GPU delivers tokens (200 tokens/s).

Fake events (thinking, then a Markdown answer) are fed through each renderer at 200
tokens/s; the CPU time the process spends on top of an idle run of the same length,
divided by the tokens, is the renderer's cost per token. Rich's refresh thread counts too.
The budget: 2% of the 5 ms a token takes at 200 tokens/s, i.e. 100 µs.

    python tests/bench/bench_render.py [--tokens 2000] [--rate 200]

`rebuild-per-token` is the terminal renderer as it was before: the live answer's Markdown
rebuilt on every token.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable

from rich.console import Console
from rich.markdown import Markdown

from glmv_cli.engine.events import Answer, Done, Event, Thinking, Timings, Usage
from glmv_cli.engine.transcript import Transcript
from glmv_cli.render import Renderer
from glmv_cli.render.json import JsonRenderer
from glmv_cli.render.plain import PlainRenderer
from glmv_cli.render.terminal import TerminalRenderer

BUDGET_US = 100.0

ANSWER = ("## Findings\n\nThe circuit has **two** faults:\n\n1. R3 is reversed.\n"
          "2. The ground rail is open at `J2`.\n\n| part | state |\n|---|---|\n"
          "| R3 | reversed |\n| J2 | open |\n\nFix both, then test again. ")


def events(n: int) -> list[Event]:
    """n/2 thinking tokens, then n/2 answer tokens of Markdown, then Done."""
    words = ANSWER.replace("\n", "\n ").split(" ")
    half = n // 2
    out: list[Event] = [Thinking("step " if i % 7 else "step\n") for i in range(half)]
    out += [Answer(words[i % len(words)] + " ") for i in range(n - half)]
    out.append(Done("stop", Usage(generated_tokens=n), Timings(generate_s=n / 200)))
    return out


def terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=100, height=40,
                   color_system="truecolor")


class RebuildPerToken(TerminalRenderer):
    """The old behaviour, for comparison: Markdown rebuilt and pushed on every token."""

    def _on_answer(self, text: str) -> None:
        super()._on_answer(text)
        assert self._live is not None
        self._live.update(self._answer_tail())


RENDERERS: dict[str, Callable[[], Renderer]] = {
    "terminal": lambda: TerminalRenderer(terminal(), hide_thinking=False),
    "terminal --hide-thinking": lambda: TerminalRenderer(terminal(), hide_thinking=True),
    "rebuild-per-token (old)": lambda: RebuildPerToken(terminal(), hide_thinking=False),
    "plain (piped)": lambda: PlainRenderer(io.StringIO(), io.StringIO(), True, None),
    "json": lambda: JsonRenderer(io.StringIO(), "m", (), None),
}


def paced(renderer: Renderer | None, evs: list[Event], rate: float) -> float:
    """CPU seconds used while feeding `evs` at `rate` per second (None: no renderer)."""
    transcript = Transcript()
    cpu0 = time.process_time()
    start = time.perf_counter()
    for i, event in enumerate(evs):
        target = start + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        transcript.add(event)
        if renderer is not None:
            renderer.event(event)
    if renderer is not None:
        renderer.close(transcript)
    return time.process_time() - cpu0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--runs", type=int, default=3, help="median of this many")
    args = ap.parse_args()
    evs = events(args.tokens)
    Markdown("warm up").__class__  # noqa: B018 (import cost out of the timing)
    print(f"{args.tokens} tokens at {args.rate:g}/s, median of {args.runs} runs, each "
          f"against an idle run beside it; budget {BUDGET_US:.0f} µs/token")
    print(f"{'renderer':28} {'µs/token':>9}  verdict")
    for name, make in RENDERERS.items():
        costs = sorted((paced(make(), evs, args.rate) - paced(None, evs, args.rate))
                       * 1e6 / args.tokens for _ in range(args.runs))
        cost = costs[len(costs) // 2]
        verdict = "ok" if cost <= BUDGET_US else "OVER"
        print(f"{name:28} {cost:9.1f}  {verdict}")


if __name__ == "__main__":
    main()
