"""`glmv pdf --json`: one object for a whole document run, every step included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from glmv_cli.render.json import result_object
from glmv_cli.tasks.documents import DocumentPage, DocumentTranscript, StepEnd, cited_pages

# Usage fields summed over steps (n_ctx is a size, not a count: the largest is kept).
_SUMMED = ("prompt_text_tokens", "image_tokens", "generated_tokens", "thinking_tokens",
           "forced_tokens", "prompt_tokens")
_TIMED = ("encode_s", "prefill_s", "generate_s")


@dataclass(frozen=True)
class DocumentInfo:
    """What the renderers know of the document before any step runs."""

    source: str
    n_pages: int  # in the document, not only the selected ones
    pages: tuple[DocumentPage, ...]
    prepare_s: float
    load_s: float
    settings: dict[str, Any] | None = None  # how the final answer is generated
    reading: dict[str, Any] | None = None  # which pages were read and skipped, and why

    @property
    def numbers(self) -> list[int]:
        return [p.number for p in self.pages]


def page_object(page: DocumentPage) -> dict[str, Any]:
    img = page.image
    return {
        "page": page.number,
        "mode": page.mode,
        "reason": page.reason,
        "tokens": page.tokens,
        "size": [img.width, img.height] if img else None,
        "prepare_s": round(page.prepare_s, 4),
        "skipped": page.skipped,
    }


def step_object(end: StepEnd, model: str, valid: list[int]) -> dict[str, Any]:
    r = result_object(end.transcript, model, ())
    return {
        "kind": end.start.kind,
        "pages": list(end.start.pages),
        "answer": r["answer"],
        "citations": cited_pages(r["answer"], valid),
        "finish_reason": r["finish_reason"],
        "truncated": r["truncated"],
        "usage": r["usage"],
        "timings": r["timings"],
        "cache": r["cache"],
    }


def document_object(result: DocumentTranscript, model: str, info: DocumentInfo,
                    total_s: float) -> dict[str, Any]:
    """The machine-readable result of `glmv pdf`; keys documented in the README."""
    valid = info.numbers
    steps = [step_object(s, model, valid) for s in result.steps]
    usage: dict[str, Any] = {k: sum(s["usage"].get(k, 0) for s in steps) for k in _SUMMED}
    usage["n_ctx"] = max((s["usage"].get("n_ctx", 0) for s in steps), default=0)
    timings: dict[str, Any] = {
        "prepare_s": round(info.prepare_s, 4),
        # The engine loads its weights when a step first needs them (engine/llama.py).
        "load_s": round(info.load_s + sum(s["timings"].get("load_s", 0.0) for s in steps), 4),
        **{k: round(sum(s["timings"].get(k, 0.0) for s in steps), 4) for k in _TIMED},
        "total_s": round(total_s, 4),
    }
    obj: dict[str, Any] = {"model": model, "source": info.source, "n_pages": info.n_pages,
                           "strategy": result.strategy, "settings": info.settings}
    if result.strategy == "transcribe":
        texts = {s.start.pages[0]: s.transcript.answer.strip() for s in result.steps}
        obj["markdown"] = "\n\n---\n\n".join(texts[n] for n in valid if n in texts)
        obj["truncated"] = any(s["truncated"] for s in steps)
        pages = []
        for p in info.pages:
            item = page_object(p)
            item["markdown"] = texts.get(p.number)
            pages.append(item)
        obj["pages"] = pages
    else:
        final = result_object(result.final, model, ()) if result.final else None
        answer = final["answer"] if final else ""
        obj.update({
            "answer": answer,
            "thinking": final["thinking"] if final else "",
            "citations": cited_pages(answer, valid),
            "truncated": final["truncated"] if final else True,
            "finish_reason": final["finish_reason"] if final else None,
            "pages": [page_object(p) for p in info.pages],
        })
    if info.reading is not None:
        obj["reading"] = info.reading
    obj.update({
        "pages_as_text": [p.number for p in info.pages if p.mode == "text"],
        "pages_as_images": [p.number for p in info.pages if p.mode == "image"],
        "skipped": [{"page": p.number, "reason": p.skipped} for p in info.pages if p.skipped],
        "steps": steps,
        "usage": usage,
        "timings": timings,
        "cache": _cache_summary(steps),
    })
    return obj


def _cache_summary(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The steps' cache use in one object: `prefix` is "hit" only when every step's was."""
    uses = [s["cache"] for s in steps if s.get("cache")]
    prefixes = {u["prefix"] for u in uses}
    prefix = (prefixes.pop() if len(prefixes) == 1
              else "partial" if prefixes & {"hit", "memory"} else "miss")
    return {"prefix": prefix if uses else "off",
            "steps_hit": sum(u["prefix"] in ("hit", "memory") for u in uses),
            "images_hit": sum(u["images_hit"] for u in uses),
            "saved_s": round(sum(u["saved_s"] for u in uses), 3)}
