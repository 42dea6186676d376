"""Checks of a text GGUF and its vision projector, from their headers, before llama.cpp
reads them.

The check that matters most: GLM-4.1V places image tokens with M-RoPE, which llama.cpp
reads from `glm4.rope.dimension_sections` (llama.cpp PR #18042, Dec 2025). A text GGUF
converted before that loads fine and answers text, but llama.cpp's GLM-4 graph aborts the
whole process (SIGABRT, "This GGUF does not support multimodal") the first time it is
given image embeddings: llama_hparams::use_mrope() needs the first two sections > 0.
Such a build is refused here, with the cause and the cure, so glmv never gets that far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from glmv_cli.errors import GlmvError, ModelError
from glmv_cli.models.gguf_header import GGUFHeader, GGUFHeaderError, read_header

ARCH = "glm4"
PROJECTOR = "glm4v"
ROPE_SECTIONS = f"{ARCH}.rope.dimension_sections"
TEXT_WIDTH = f"{ARCH}.embedding_length"
PROJECTOR_OUT = "mm.down.weight"  # the merger's last layer: its rows are the output width

# Kinds of findings, as `glmv doctor` names them.
DAMAGED, WRONG_MODEL, STALE, MISMATCH = "damaged", "wrong model", "stale build", "mismatch"
FINDINGS = (DAMAGED, WRONG_MODEL, STALE, MISMATCH)


@dataclass(frozen=True)
class Finding:
    """Why a pair cannot run: a kind (see above), a one-line message and what to do."""

    kind: str
    message: str
    hint: str | None = None

    def error(self) -> ModelError:
        return ModelError(self.message, hint=self.hint)


def check_pair(model: Path, mmproj: Path) -> None:
    """Raise ModelError if `model` and `mmproj` are not a GLM-4.1V pair that sees images
    right. Reads only the two files' headers."""
    finding = find_problem(model, mmproj)
    if finding is not None:
        raise finding.error()


def find_problem(model: Path, mmproj: Path,
                 known_good: Callable[[], list[str]] | None = None,
                 file_names: bool = False) -> Finding | None:
    """The first thing wrong with the pair, or None. `known_good` lists the registry's
    builds to suggest instead of a stale one (default: from the registry). Messages name
    the files by path, or by name alone with `file_names` (for files in the HF cache,
    whose paths say little)."""
    m, p = (model.name, mmproj.name) if file_names else (str(model), str(mmproj))
    text = _header(model, m, "model file", keys={"general.architecture", ROPE_SECTIONS,
                                                  TEXT_WIDTH})
    if isinstance(text, Finding):
        return text
    vision = _header(mmproj, p, "mmproj file", keys=None, tensors=True)
    if isinstance(vision, Finding):
        return vision

    arch = text.get("general.architecture")
    if arch == "clip":
        return Finding(WRONG_MODEL, f"{m} is a vision projector (mmproj): CLIP cannot be "
                       "used as main model", hint="give the text GGUF as the model")
    if arch != ARCH:
        return Finding(WRONG_MODEL, f"{m} is a '{arch}' model; glmv runs GLM-4.1V / "
                       f"GLM-4.6V (arch '{ARCH}')")
    if vision.get("general.architecture") != "clip":
        return Finding(MISMATCH, f"mmproj {p} does not match the model: it is a "
                       f"'{vision.get('general.architecture')}' model, not a vision projector")
    if not vision.get("clip.has_vision_encoder"):
        return Finding(MISMATCH, f"mmproj {p} has no vision encoder")
    kind = vision.get("clip.projector_type")
    if kind != PROJECTOR:
        return Finding(MISMATCH, f"mmproj {p} does not match the model: its projector is "
                       f"'{kind}', GLM-4.1V needs '{PROJECTOR}'",
                       hint="use the mmproj from the same repo as the model")
    if not uses_mrope(text.get(ROPE_SECTIONS)):
        good = (known_good or _known_good)()
        return Finding(
            STALE,
            f"{m} is a stale build: converted before llama.cpp supported GLM-4.1V "
            f"vision, it lacks the M-RoPE metadata ({ROPE_SECTIONS}) and cannot read images",
            hint="re-download a current build"
                 + (f"; known good: {', '.join('glmv pull ' + g for g in good)}" if good
                    else ""),
        )
    width, out = text.get(TEXT_WIDTH), _projector_width(vision)
    if width is not None and out is not None and width != out:
        return Finding(MISMATCH, f"mmproj {p} does not match the model: mismatch between "
                       f"text model (n_embd = {width}) and mmproj (n_embd = {out})",
                       hint="use the mmproj from the same repo as the model")
    return None


def uses_mrope(sections: object) -> bool:
    """llama.cpp's rule: M-RoPE when the first two rope sections are positive. A single
    number is spread over all four sections, as llama.cpp's loader does."""
    if isinstance(sections, int) and not isinstance(sections, bool):
        return sections > 0
    if not isinstance(sections, list) or len(sections) < 2:
        return False
    first, second = sections[0], sections[1]
    return isinstance(first, int) and isinstance(second, int) and first > 0 and second > 0


def _header(path: Path, shown: str, what: str, keys: set[str] | None,
            tensors: bool = False) -> GGUFHeader | Finding:
    if not path.is_file():
        return Finding(DAMAGED, f"{what} not found: {shown}")
    try:
        return read_header(path, keys, tensors)
    except GGUFHeaderError as e:
        if str(e) == "not a GGUF file":
            return Finding(DAMAGED, f"{what} is not a GGUF file: {shown}")
        return Finding(DAMAGED, f"cannot load model {shown}: its GGUF header is damaged ({e})",
                       hint="delete it and download it again")
    except OSError as e:
        return Finding(DAMAGED, f"cannot read {what} {shown}: {e.strerror or e}")


def _projector_width(vision: GGUFHeader) -> int | None:
    shape = vision.tensors.get(PROJECTOR_OUT)
    if shape is not None and len(shape) >= 2:
        return shape[1]
    dim = vision.get("clip.vision.projection_dim")
    return dim if isinstance(dim, int) else None


def _known_good() -> list[str]:
    """Registry builds known to carry the M-RoPE metadata (`mrope = true`)."""
    from glmv_cli.models.registry import load_registry

    try:
        entries = load_registry().entries.values()
    except GlmvError:  # a broken registry must not hide the real problem
        return []
    return [e.name for e in entries if e.mrope and e.repo]
