"""The tiny text model with its vocabulary padded to the real GLM-4.1V size (151,552).

Per-token costs that scale with the vocabulary (sampling, a grammar's checks, the
control-token ban) cannot be measured on the tiny model's 640 tokens. This writes a copy
whose extra tokens are ordinary, never produced by the tokenizer, with random embedding
and output rows, so every step samples over 151,552 logits as the real model does.

    python tests/bench/wide_vocab.py OUT.gguf       # needs the `gguf` package (bench extra)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from glmv_cli.models.registry import TINY_DIR

REAL_VOCAB = 151_552
_WIDENED = ("token_embd.weight", "output.weight")


def widen(src: Path, dst: Path, n_vocab: int = REAL_VOCAB, seed: int = 0) -> Path:
    """Write `src` (a GGUF text model) to `dst` with its vocabulary padded to `n_vocab`."""
    from gguf import GGUFReader, GGUFValueType, GGUFWriter

    reader = GGUFReader(src)
    arch = reader.fields["general.architecture"].contents()
    writer = GGUFWriter(dst, arch)
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    n_old = len(tokens)
    rng = np.random.default_rng(seed)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        value = field.contents()
        if name == "tokenizer.ggml.tokens":
            value = [*value, *(f"pad{i}" for i in range(n_vocab - n_old))]
        elif name == "tokenizer.ggml.token_type":
            value = [*value, *([1] * (n_vocab - n_old))]  # NORMAL
        vtype = field.types[0]
        sub = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        writer.add_key_value(name, value, vtype, sub)
    for t in reader.tensors:
        data = np.array(t.data)
        if t.name in _WIDENED:
            extra = rng.normal(0, float(data.std()), (n_vocab - n_old, data.shape[1]))
            data = np.concatenate([data, extra.astype(data.dtype)])
        writer.add_tensor(t.name, data, raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-wide-vocab.gguf")
    widen(TINY_DIR / "tiny-glm41v-f16.gguf", out)
    print(out)
