#!/usr/bin/env python3
"""Build a shape-true GLM-4.1V-9B-Thinking GGUF pair: real dimensions, random weights.

    python tests/bench/shapetrue.py --llama-cpp-src SRC --out DIR [--layers 4]

The real weights cannot be downloaded everywhere, and the tiny model is too small to time
anything. This model has the real vision tower (depth 24, width 1536) and the real text
width (4096, 32 heads, 2 KV heads, FFN 13696, vocabulary 151,552, M-RoPE [8, 12, 12]), so
every kernel runs at its real size, but only `--layers` text layers (the real model has
40): time and KV memory per text layer scale linearly, so figures extrapolate.

Steps, each skipped when its output exists: a bf16 Hugging Face checkpoint written one
shard at a time (peak memory about one shard, 2.5 GB; 4 layers are about 6 GB on disk),
with the tiny model's tokenizer (tests/fixtures/make_tiny_model.py); llama.cpp's own
converter (SRC is vendor/llama.cpp of the llama-cpp-python sdist) to an f16 projector and
an f16 text model; the text model quantized to Q4_K_M by llama.cpp's quantizer.

Needs the `bench` extra (torch, transformers, safetensors): `pip install -e ".[bench]"`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MAKE_TINY = FIXTURES / "make_tiny_model.py"

# GLM-4.1V-9B-Thinking's text model, less its depth.
TEXT = dict(
    vocab_size=151552, hidden_size=4096, intermediate_size=13696, num_attention_heads=32,
    num_key_value_heads=2, hidden_act="silu", max_position_embeddings=65536,
    rms_norm_eps=1e-5, attention_bias=True, attention_dropout=0.0,
    rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                     "mrope_section": [8, 12, 12], "partial_rotary_factor": 0.5},
    partial_rotary_factor=0.5, tie_word_embeddings=False, use_cache=True,
)
# Its vision tower and merger, whole.
VISION = dict(
    depth=24, hidden_size=1536, hidden_act="silu", attention_bias=False, num_heads=12,
    in_channels=3, image_size=336, patch_size=14, rms_norm_eps=1e-5, spatial_merge_size=2,
    temporal_patch_size=2, out_hidden_size=4096, intermediate_size=13696,
)
REAL_LAYERS = 40


def gguf_names(layers: int) -> tuple[str, str]:
    """File names of the text model and the projector."""
    return f"glm41v-shapetrue-{layers}L-Q4_K_M.gguf", "mmproj-glm41v-shapetrue-f16.gguf"


def build(out: Path, layers: int, llama_cpp_src: Path) -> tuple[Path, Path]:
    """The (text Q4_K_M, mmproj f16) pair in `out`, building what is missing."""
    text_name, mmproj_name = gguf_names(layers)
    text, mmproj = out / text_name, out / mmproj_name
    if text.exists() and mmproj.exists():
        return text, mmproj
    out.mkdir(parents=True, exist_ok=True)
    hf = out / f"hf-{layers}L"
    if not (hf / "model.safetensors.index.json").exists():
        write_checkpoint(hf, layers)
    if not mmproj.exists():
        convert(llama_cpp_src, hf, mmproj, "--mmproj")
    if not text.exists():
        f16 = out / f"glm41v-shapetrue-{layers}L-f16.gguf"
        if not f16.exists():
            convert(llama_cpp_src, hf, f16)
        quantize(f16, text)
        f16.unlink()  # 4 GB for 4 layers; the checkpoint can make it again
    return text, mmproj


def write_checkpoint(out: Path, layers: int) -> None:
    """A bf16 checkpoint with the real shapes, one shard (and one tensor) at a time."""
    import torch
    from safetensors.torch import save_file
    from transformers import Glm4vConfig, Glm4vForConditionalGeneration

    sys.path.insert(0, str(FIXTURES))
    import make_tiny_model as tiny

    ids = tiny.write_tokenizer(out)
    eos = tiny.eos_ids(ids)
    config = Glm4vConfig(
        text_config={**TEXT, "num_hidden_layers": layers, "pad_token_id": ids["<|endoftext|>"],
                     "eos_token_id": eos, "dtype": "bfloat16"},
        vision_config=VISION,
        image_token_id=ids["<|image|>"], video_token_id=ids["<|video|>"],
        image_start_token_id=ids["<|begin_of_image|>"], image_end_token_id=ids["<|end_of_image|>"],
        video_start_token_id=ids["<|begin_of_video|>"], video_end_token_id=ids["<|end_of_video|>"],
        tie_word_embeddings=False,
    )
    config.architectures = ["Glm4vForConditionalGeneration"]
    config.dtype = "bfloat16"
    config.save_pretrained(str(out))
    (out / "generation_config.json").write_text(json.dumps(
        {"do_sample": False, "eos_token_id": eos, "pad_token_id": ids["<|endoftext|>"]}))
    with torch.device("meta"):  # shapes only, no memory
        shapes = {k: tuple(v.shape)
                  for k, v in Glm4vForConditionalGeneration(config).state_dict().items()}

    shards: dict[str, list[str]] = {}
    for name in shapes:
        shards.setdefault(_shard_of(name), []).append(name)
    weight_map: dict[str, str] = {}
    t0 = time.perf_counter()
    for shard, names in sorted(shards.items()):
        file = f"model-{shard}.safetensors"
        weight_map.update(dict.fromkeys(names, file))
        save_file({n: _random(n, shapes[n]) for n in names}, str(out / file),
                  metadata={"format": "pt"})
        print(f"  {file}: {(out / file).stat().st_size / 1e9:.2f} GB "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    total = sum(_numel(s) for s in shapes.values()) * 2
    # Written last: its presence says the checkpoint is whole.
    (out / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))


def _shard_of(name: str) -> str:
    if name.startswith("model.visual."):
        return "vision"
    if "embed_tokens" in name:
        return "embed"
    if name.startswith("lm_head"):
        return "head"
    if ".layers." in name:
        return f"layer{int(name.split('.layers.')[1].split('.')[0]):02d}"
    return "final"


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _random(name: str, shape: tuple[int, ...]):  # -> torch.Tensor
    """A tensor drawn from a seed of its own name: the same bytes whatever the depth.
    Scales keep activations finite through the layers (norms near 1, weights 1/sqrt(fan-in))."""
    import torch

    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    if "norm" in name and name.endswith("weight"):
        return (1.0 + 0.1 * torch.randn(shape, generator=g)).to(torch.bfloat16)
    if name.endswith("bias"):
        return (0.02 * torch.randn(shape, generator=g)).to(torch.bfloat16)
    if "position_embedding" in name:
        scale = 0.5
    elif "embed_tokens" in name:
        scale = 1.0
    else:
        scale = _numel(shape[1:]) ** -0.5
    out = torch.empty(shape, dtype=torch.bfloat16)
    rows = max(1, (64 << 20) // max(1, _numel(shape[1:])))  # float32 chunks of ~256 MB
    for i in range(0, shape[0], rows):
        n = min(rows, shape[0] - i)
        out[i:i + n] = (torch.randn((n, *shape[1:]), generator=g) * scale).to(torch.bfloat16)
    return out


def convert(llama_cpp_src: Path, hf: Path, outfile: Path, *extra: str) -> None:
    """llama.cpp's converter, through the tiny model's wrapper (it maps our BPE to 'glm4');
    one process per run, as the converter keeps module-level state."""
    print(f"converting {hf.name} -> {outfile.name}", flush=True)
    tmp = outfile.with_name(outfile.name + ".part")
    subprocess.run(
        [sys.executable, str(MAKE_TINY), "--llama-cpp-src", str(llama_cpp_src), "--convert",
         str(hf), "--model-name", "glm41v-shapetrue", "--outtype", "f16",
         "--outfile", str(tmp), *extra],
        check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    tmp.replace(outfile)


def quantize(src: Path, dst: Path, threads: int | None = None) -> None:
    """Q4_K_M through llama.cpp's own quantizer (the code path of llama-quantize)."""
    import ctypes

    import llama_cpp

    print(f"quantizing {src.name} -> {dst.name}", flush=True)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    params.nthread = threads or os.cpu_count() or 1
    tmp = dst.with_name(dst.name + ".part")
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(),
                                        ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"quantizing {src} failed (code {rc})")
    tmp.replace(dst)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llama-cpp-src", type=Path, required=True,
                    help="vendor/llama.cpp of the unpacked llama-cpp-python sdist")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--layers", type=int, default=4)
    args = ap.parse_args()
    for path in build(args.out, args.layers, args.llama_cpp_src):
        print(f"{path}: {path.stat().st_size / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
