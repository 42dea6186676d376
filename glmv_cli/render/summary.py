"""One-line summaries shared by the renderers: stats and the truncation warning."""

from __future__ import annotations

from glmv_cli.engine.events import Done


def stats_line(done: Done) -> str:
    u, t = done.usage, done.timings
    parts = [f"{u.image_tokens} image + {u.prompt_text_tokens} text tokens in"]
    if t.load_s:
        parts.append(f"load {t.load_s:.1f}s")
    if u.image_tokens:
        parts.append(f"encode {t.encode_s:.1f}s")
    parts.append(f"prefill {t.prefill_s:.1f}s")
    rate = u.generated_tokens / t.generate_s if t.generate_s > 0 else 0.0
    parts.append(f"{u.generated_tokens} tokens out at {rate:.1f}/s")
    return parts[0] + " · " + " · ".join(parts[1:])


def truncation_warning(done: Done) -> str | None:
    if done.finish_reason == "length":
        return ("the answer was cut off: it hit --max-tokens or the context window "
                "(raise --max-tokens, or cap thinking with --think-budget)")
    return None
