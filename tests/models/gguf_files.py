"""GGUF files made at test time from the tiny model with the `gguf` package (llama.cpp's
own reader and writer): stale builds, wrong projectors, split models."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# The metadata key whose absence marks a GLM-4.1V text GGUF converted before llama.cpp
# PR #18042 (Dec 2025).
ROPE_SECTIONS = "glm4.rope.dimension_sections"


def rewrite_gguf(src: Path, dst: Path, drop: Iterable[str] = (),
                 set_values: Mapping[str, Any] | None = None, arch: str | None = None,
                 split_max_tensors: int = 0) -> list[Path]:
    """Copy `src` to `dst` with metadata keys dropped or replaced (a replaced key keeps its
    GGUF type) and, with `split_max_tensors`, split into llama.cpp's `-0000i-of-0000n`
    parts. Returns the files written, in order."""
    from gguf import GGUFReader, GGUFValueType, GGUFWriter

    reader = GGUFReader(src)
    arch = arch or str(reader.fields["general.architecture"].contents())
    writer = GGUFWriter(dst, arch, split_max_tensors=split_max_tensors)
    dropped, replaced = set(drop), dict(set_values or {})
    for name, field in reader.fields.items():
        # The writer adds the header fields and the architecture itself.
        if name.startswith("GGUF.") or name == "general.architecture" or name in dropped:
            continue
        kind = field.types[0]
        sub_type = field.types[-1] if kind == GGUFValueType.ARRAY else None
        writer.add_key_value(name, replaced.pop(name, field.contents()), kind, sub_type)
    for name, value in replaced.items():  # keys the source does not have
        writer.add_key_value(name, value, GGUFValueType.get_type(value))
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    if not split_max_tensors:
        return [dst]
    return sorted(dst.parent.glob(f"{dst.stem}-*-of-*.gguf"))
