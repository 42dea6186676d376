"""Rough CPU time of a prompt before the first answer token, for plans shown up front.

From the measurements in GLM41V.md (llama.cpp's llama-mtmd-cli, a shape-true GLM-4.1V
build, Q4_K_M, flash attention, 2 CPU cores): encoding one image of t tokens took about
t * (0.0335 + 3.09e-5 * t) seconds (256 tokens 10.6 s, 391 18.5 s, 972 61 s, 1302 96 s:
attention over patches makes it superlinear); the 40-layer text model reads about 8
tokens/s and writes about 2.4 tokens/s. Other core counts are scaled linearly, which is
optimistic above a few cores. A GPU is one to two orders of magnitude faster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MEASURED_CORES = 2
_ENCODE_LINEAR, _ENCODE_QUADRATIC = 0.0335, 3.09e-5  # s/token, s/token² (one image)
PREFILL_TOKENS_PER_S = 8.0
GENERATE_TOKENS_PER_S = 2.4
# BPE vocabularies of GLM-4's size (151K entries) read English prose at about 4
# characters a token and Chinese at about 1.3 (typical figures, not measured on GLM's own
# tokenizer); a plan made before the model loads prices text with these, rounded up.
CHARS_PER_TOKEN = 4.0
CJK_CHARS_PER_TOKEN = 1.3
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


@dataclass(frozen=True)
class CpuEstimate:
    encode_s: float
    prefill_s: float
    generate_tokens_per_s: float
    cores: int

    @property
    def before_answer_s(self) -> float:
        return self.encode_s + self.prefill_s


def estimate_cpu(image_tokens: list[int], text_tokens: int, cores: int) -> CpuEstimate:
    """Encode and prefill seconds for images of these token counts plus some text."""
    scale = MEASURED_CORES / max(1, cores)
    encode = sum(t * (_ENCODE_LINEAR + _ENCODE_QUADRATIC * t) for t in image_tokens)
    prefill = (sum(image_tokens) + text_tokens) / PREFILL_TOKENS_PER_S
    return CpuEstimate(encode * scale, prefill * scale, GENERATE_TOKENS_PER_S / scale, cores)


def estimate_text_tokens(text: str) -> int:
    """Roughly the tokens `text` takes, without the model's tokenizer (for plans made
    before the model loads, such as `--dry-run`)."""
    cjk = len(_CJK.findall(text))
    other = len(text) - cjk
    return round(other / CHARS_PER_TOKEN + cjk / CJK_CHARS_PER_TOKEN + 0.5)


def format_duration(seconds: float) -> str:
    """'45 s', '3.5 min', '1.2 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
