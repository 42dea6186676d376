"""`glmv pdf`'s reading plan as people read it: `--dry-run`, and the line before a run that
says which pages were read and which were skipped."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from glmv_cli.engine.cost import CpuEstimate, format_duration
from glmv_cli.tasks.documents import page_span
from glmv_cli.tasks.reading import PageChoice, ReadingPlan

WIDEN = "--read all reads every page, --pages chooses them"


def plan_line(plan: ReadingPlan, n_pages: int) -> str | None:
    """One line for stderr when pages were skipped (None when every page is read)."""
    if not plan.skipped:
        return None
    read = [p.number for p in plan.read]
    return (f"read {_pages(read)} of {n_pages} for the question, {len(plan.skipped)} "
            f"skipped ({WIDEN})")


def plan_text(source: str, n_pages: int, plan: ReadingPlan, est: CpuEstimate,
              single: bool, context: int) -> str:
    """`--dry-run`'s report: the strategy, each page read and why, the pages skipped and
    why, how the model would be asked, and a CPU time guess."""
    lines = [f"{source}: {n_pages} page{'s' if n_pages != 1 else ''}, "
             f"{len(plan.pages)} considered"]
    if plan.strategy == "ranked":
        lines.append(f"reading: {plan.why}, within {plan.budget} tokens (--budget)")
        lines.append("ranked lexically only: --dry-run does not load the model, which in a "
                     "real run also suggests search terms")
    else:
        lines.append(f"reading: every page ({plan.why})")
    lines.append(f"read {len(plan.read)} page{'s' if len(plan.read) != 1 else ''}, about "
                 f"{plan.tokens} tokens:")
    lines += [_page_row(p) for p in plan.read]
    if plan.skipped:
        lines.append(f"skipped {len(plan.skipped)} page{'s' if len(plan.skipped) != 1 else ''}"
                     f" ({WIDEN}):")
        by_reason: dict[str, list[int]] = defaultdict(list)
        for p in plan.skipped:
            by_reason[p.reason].append(p.number)
        lines += [f"  {reason}: {_pages(nums)}" for reason, nums in by_reason.items()]
    lines.append("asked in one prompt" if single else
                 f"asked by map-reduce: the pages do not fit one {context}-token prompt")
    notes = "" if single else ", plus the notes each group of pages writes"
    lines.append(
        f"rough time on a CPU with {est.cores} cores: encode {format_duration(est.encode_s)}, "
        f"prefill {format_duration(est.prefill_s)}{notes}, then about "
        f"{est.generate_tokens_per_s:.1f} tokens/s (a GPU is much faster)")
    return "\n".join(lines) + "\n"


def plan_object(source: str, n_pages: int, question: str | None, plan: ReadingPlan,
                est: CpuEstimate, single: bool, context: int) -> dict[str, Any]:
    """`--dry-run --json`: the same, as one object."""
    return {
        "source": source, "n_pages": n_pages, "question": question, "dry_run": True,
        "reading": plan.as_object(),
        "strategy": "single" if single else "map-reduce", "context": context,
        "estimate": {"cores": est.cores, "encode_s": round(est.encode_s, 1),
                     "prefill_s": round(est.prefill_s, 1),
                     "before_answer_s": round(est.before_answer_s, 1),
                     "generate_tokens_per_s": round(est.generate_tokens_per_s, 2)},
    }


def _page_row(p: PageChoice) -> str:
    why = f"ranked {p.rank}" if p.rank else p.reason
    matched = f"; matched: {', '.join(p.matched)}" if p.matched else ""
    return f"  page {p.number:>4}  {p.mode:<5} {p.tokens:>6} tokens  {why}{matched}"


def _pages(numbers: list[int]) -> str:
    span = page_span(numbers)
    return f"page {span}" if len(numbers) == 1 else f"pages {span}"
