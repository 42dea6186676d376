"""glmv's side of a parity case: the real engine, watched as it reads the prompt.

The engine is driven through its public `generate`, with greedy sampling and no
repetition penalty (the reference's plain greedy decoding). A probe on the engine object
records what llama.cpp is fed: each text token at its position, each image chunk with its
grid and the positions it takes (M-RoPE), the logits before the first generated token, and
the tokens sampled, and each image's embeddings as the vision encoder made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import llama_cpp
import numpy as np

from glmv_cli.engine.events import Done
from glmv_cli.engine.llama import LlamaEngine
from glmv_cli.engine.request import Request, Sampling
from glmv_cli.inputs.media import Media

GREEDY = Sampling(temperature=0.0, repeat_penalty=1.0)


@dataclass
class Fed:
    """What llama.cpp was fed, in order."""

    tokens: list[int | None] = field(default_factory=list)  # None: an image token
    text_positions: dict[int, int] = field(default_factory=dict)  # index -> position
    # per image chunk: (index of its first token, start position, next position, nx, ny)
    images: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)  # per image: (tokens, n_embd)
    first_logits: np.ndarray | None = None
    sampled: list[int] = field(default_factory=list)


class _Recorder:
    """Wraps a TokenSampler: keeps the logits it samples from first, and what it draws."""

    def __init__(self, inner: Any, fed: Fed, n_vocab: int) -> None:
        self.inner, self.fed, self.n_vocab = inner, fed, n_vocab

    def sample(self, ctx: Any) -> int:
        if self.fed.first_logits is None:
            ptr = llama_cpp.llama_get_logits_ith(ctx, -1)
            self.fed.first_logits = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()
        tok = self.inner.sample(ctx)
        self.fed.sampled.append(tok)
        return tok

    def free(self) -> None:
        self.inner.free()


def run(engine: LlamaEngine, media: tuple[Media, ...], question: str,
        max_tokens: int) -> Fed:
    """Ask the engine; return what it was fed and what it sampled."""
    engine.load()
    engine.forget()  # the whole prompt evaluated: nothing kept from an earlier case
    fed = Fed()
    n_vocab = llama_cpp.llama_vocab_n_tokens(engine._vocab)
    decode_tokens, decode_embeddings, make_sampler = (
        engine._decode_tokens, engine._decode_embeddings, engine._make_sampler)

    def probe_decode(tokens: list[int], n_past: int, logits_last: bool) -> int:
        if fed.first_logits is None:  # the prompt, not generated tokens fed back
            for j, tok in enumerate(tokens):
                fed.text_positions[len(fed.tokens)] = n_past + j
                fed.tokens.append(tok)
        return decode_tokens(tokens, n_past, logits_last)

    def probe_image(enc: Any, n_past: int, what: str) -> int:
        new_n_past = decode_embeddings(enc, n_past, what)
        # The encoder's output (vision tower and projector), as the text model got it.
        embd = np.frombuffer(bytes(enc.embd), dtype=np.float32)
        fed.embeddings.append(embd.reshape(enc.n_tokens, enc.n_embd).copy())
        fed.images.append((len(fed.tokens), n_past, new_n_past, enc.nx, enc.ny))
        fed.tokens += [None] * enc.n_tokens
        return new_n_past

    def probe_sampler(*args: Any, **kwargs: Any) -> _Recorder:
        return _Recorder(make_sampler(*args, **kwargs), fed, n_vocab)

    engine._decode_tokens = probe_decode  # type: ignore[method-assign]
    engine._decode_embeddings = probe_image  # type: ignore[method-assign]
    engine._make_sampler = probe_sampler  # type: ignore[method-assign]
    try:
        events = list(engine.generate(Request(question, media=media, sampling=GREEDY,
                                              max_tokens=max_tokens)))
    finally:
        del engine._decode_tokens, engine._decode_embeddings, engine._make_sampler
    assert isinstance(events[-1], Done), events[-1]
    return fed
