"""Side by side: what glmv fed llama.cpp against what the reference fed its model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # (this module is imported by the conftest, which needs no torch)
    from tests.parity.glmv_run import Fed
    from tests.parity.reference import Output

N_NEW = 24  # greedy tokens compared
# Greedy decoding that parts where the reference's two best tokens are closer than this
# parts at a coin toss: llama.cpp's f32 arithmetic differs from PyTorch's in the last
# digits (first-token logits agree to a cosine of 0.99999), which may swap a near-tie.
TIE = 0.01
ROWS: list[Row] = []  # every comparison made in this run, for the table at the end


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@dataclass
class Row:
    """One line of the table."""

    case: str
    group: str
    tokens_equal: bool  # the same text tokens, and image tokens in the same places
    positions_equal: bool  # M-RoPE: text positions, and each image's start, extent and end
    grids: str  # glmv's image grids (tokens across x down); '=' when the reference agrees
    embedding_cos: float  # lowest over the images: vision encoder output, flattened
    embedding_err: float  # mean over images of |glmv - ref|^2 / |ref|^2
    logit_cos: float  # first generated token's logits
    greedy: int  # leading greedy tokens equal
    greedy_of: int  # of the reference's greedy tokens (fewer than N_NEW when it ended)
    tie: bool  # where they part, the reference's choice and glmv's were a near-tie

    @property
    def greedy_agrees(self) -> bool:
        """Equal to the reference's end, or up to a near-tie."""
        return self.greedy == self.greedy_of or self.tie

    def line(self) -> str:
        return (f"{self.case:28s} {self.group:8s} {yes(self.tokens_equal):>6s} "
                f"{yes(self.positions_equal):>9s} {self.grids:>12s} {self.embedding_cos:9.6f} "
                f"{self.embedding_err:9.2e} {self.logit_cos:9.6f} "
                f"{self.greedy:>3d}/{self.greedy_of:<3d}{' tie' if self.tie else ''}")


HEADER = (f"{'case':28s} {'group':8s} {'tokens':>6s} {'positions':>9s} {'grid':>12s} "
          f"{'emb cos':>9s} {'emb err':>9s} {'logit cos':>9s} {'greedy':>7s}")


def yes(flag: bool) -> str:
    return "same" if flag else "DIFF"


def compare(case: str, group: str, fed: Fed, ref: Output) -> Row:
    mine = fed.tokens
    theirs = [None if img else tok for tok, img in zip(ref.input_ids, ref.image_mask,
                                                       strict=True)]
    tokens_equal = mine == theirs
    positions_equal = tokens_equal and _positions_equal(fed, ref)
    grids = [(nx, ny) for *_, nx, ny in fed.images]
    grid_text = ",".join(f"{x}x{y}" for x, y in grids[:2]) + ("…" if len(grids) > 2 else "")
    if grids == ref.grids:
        grid_text += " ="
    same_shape = [a.shape == b.shape for a, b in zip(fed.embeddings, ref.embeddings,
                                                     strict=True)]
    emb_cos = min((cosine(a, b) if ok else float("nan"))
                  for a, b, ok in zip(fed.embeddings, ref.embeddings, same_shape, strict=True))
    emb_err = float(np.mean([
        np.sum((a - b) ** 2) / np.sum(b**2) if ok else np.nan
        for a, b, ok in zip(fed.embeddings, ref.embeddings, same_shape, strict=True)]))
    assert fed.first_logits is not None
    k = 0
    while (k < len(ref.greedy) and k < len(fed.sampled)
           and fed.sampled[k] == ref.greedy[k]):
        k += 1
    tie = False
    if k < len(ref.greedy) and k < len(fed.sampled):
        step = ref.step_logits[k]
        tie = bool(step[ref.greedy[k]] - step[fed.sampled[k]] < TIE)
    return Row(case, group, tokens_equal, positions_equal, grid_text, emb_cos, emb_err,
               cosine(fed.first_logits, ref.first_logits), k, len(ref.greedy), tie)


def _positions_equal(fed: Fed, ref: Output) -> bool:
    pos = ref.positions
    for i, p in fed.text_positions.items():  # text: all three components at one position
        if not (pos[:, i] == p).all():
            return False
    for first, start, end, nx, ny in fed.images:
        block = pos[:, first : first + nx * ny]
        if block[0].min() != start or block[0].max() != start:  # one temporal position
            return False
        if block[1].max() - start + 1 != ny or block[2].max() - start + 1 != nx:
            return False
        after = first + nx * ny
        if after < pos.shape[1] and pos[0, after] != end:  # where the text resumes
            return False
    return True
