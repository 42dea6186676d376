"""Drawing the next token: a llama.cpp sampler chain, optionally under a grammar.

A grammar sampler in the chain checks every token of the vocabulary against the grammar
at every step (the real vocabulary is ~151k tokens). llama.cpp's own `common_sampler`
avoids that, and so does this: draw from the chain as usual, check only the drawn token
against the grammar, and constrain the whole vocabulary only when the grammar rejects
it. Either way the token drawn is one the grammar allows. `tests/bench/bench_grammar.py`
compares the two.

The candidates array is allocated once and refilled each step: `llama_sampler_sample`
allocates a new one per token, which on a 151k vocabulary costs about twice as much
(`bench_grammar.py --per-token`).
"""

from __future__ import annotations

import ctypes
import math

import llama_cpp
import numpy as np

# llama_token_data is {int32 id; float logit; float p}, packed.
_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class TokenSampler:
    """`chain` draws tokens; `grammar` (optional, owned) restricts them."""

    def __init__(self, chain: llama_cpp.llama_sampler_p,
                 grammar: llama_cpp.llama_sampler_p | None, n_vocab: int) -> None:
        self.chain, self.grammar, self.n_vocab = chain, grammar, n_vocab
        self.rejections = 0  # tokens the grammar refused: a measure of how much it steers
        self._cur = (llama_cpp.llama_token_data * n_vocab)()
        self._view = np.frombuffer(self._cur, dtype=_TOKEN_DATA)
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._one = (llama_cpp.llama_token_data * 1)()

    def sample(self, ctx: llama_cpp.llama_context_p) -> int:
        """The next token after the last decoded position, accepted by every sampler."""
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1),
                                       shape=(self.n_vocab,))
        tok = self._draw(logits, constrained=False)
        if self.grammar is not None:
            if not self._allowed(tok):
                self.rejections += 1
                tok = self._draw(logits, constrained=True)
            llama_cpp.llama_sampler_accept(self.grammar, tok)
        llama_cpp.llama_sampler_accept(self.chain, tok)
        return tok

    def _draw(self, logits: np.ndarray, constrained: bool) -> int:
        # Refilled every time: samplers sort and trim the array in place.
        self._view["id"] = self._ids
        self._view["logit"] = logits
        self._view["p"] = 0.0
        arr = llama_cpp.llama_token_data_array(
            ctypes.cast(self._cur, ctypes.POINTER(llama_cpp.llama_token_data)),
            self.n_vocab, -1, False)
        if constrained:
            llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(arr))
        llama_cpp.llama_sampler_apply(self.chain, ctypes.byref(arr))
        return int(arr.data[arr.selected].id)

    def _allowed(self, tok: int) -> bool:
        self._one[0].id, self._one[0].logit, self._one[0].p = tok, 1.0, 0.0
        arr = llama_cpp.llama_token_data_array(
            ctypes.cast(self._one, ctypes.POINTER(llama_cpp.llama_token_data)), 1, -1, False)
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(arr))
        return not math.isinf(self._one[0].logit)

    def free(self) -> None:
        llama_cpp.llama_sampler_free(self.chain)
        if self.grammar is not None:
            llama_cpp.llama_sampler_free(self.grammar)
