"""Load-time checks of a model pair, from GGUF headers: a stale build (no M-RoPE metadata)
is refused before llama.cpp can abort on it, and every other mismatch gets its own line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from glmv_cli.engine.llama import LlamaEngine
from glmv_cli.errors import ExitCode, ModelError
from glmv_cli.models.gguf_check import (
    DAMAGED,
    MISMATCH,
    STALE,
    WRONG_MODEL,
    check_pair,
    find_problem,
    uses_mrope,
)
from glmv_cli.models.gguf_header import GGUFHeaderError, read_header
from glmv_cli.models.ref import LocalModel
from tests.conftest import MISMATCH_MMPROJ, TINY_MMPROJ, TINY_MODEL, make_image
from tests.models.gguf_files import ROPE_SECTIONS, rewrite_gguf


@pytest.fixture(scope="session")
def stale_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny text GGUF as a converter before llama.cpp PR #18042 wrote it: the same
    model without its M-RoPE sections."""
    path = tmp_path_factory.mktemp("stale") / "tiny-stale-f16.gguf"
    rewrite_gguf(TINY_MODEL, path, drop=[ROPE_SECTIONS])
    return path


def _ask_without_the_check(model: Path, image: Path) -> subprocess.CompletedProcess:
    """`glmv ask` with the pair check switched off, in a child process."""
    code = ("import sys, glmv_cli.engine.llama as llama\n"
            "llama.check_pair = lambda model, mmproj: None\n"
            "from glmv_cli.app import main\n"
            f"sys.argv = ['glmv', 'ask', '--model-file', {str(model)!r}, '--mmproj', "
            f"{str(TINY_MMPROJ)!r}, {str(image)!r}, 'q', '--max-tokens', '4']\n"
            "main()\n")
    # GGML_NO_BACKTRACE: llama.cpp's abort handler would otherwise run gdb on the process.
    env = {**os.environ, "GGML_NO_BACKTRACE": "1", "GLMV_HOME": str(image.parent)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, env=env,
                          timeout=120, cwd=image.parent)


def test_without_the_check_llama_cpp_aborts_on_a_stale_build(stale_model, tmp_path):
    """The cause the check covers: llama.cpp's GLM-4 graph aborts the process when image
    embeddings meet a text model without M-RoPE sections."""
    r = _ask_without_the_check(stale_model, make_image(tmp_path / "p.png"))
    assert r.returncode == -signal.SIGABRT
    assert b"This GGUF does not support multimodal" in r.stderr
    # The same child with the real model answers: the abort is the missing key alone.
    ok = _ask_without_the_check(TINY_MODEL, make_image(tmp_path / "p.png"))
    assert ok.returncode == 0, ok.stderr


def test_glmv_refuses_a_stale_build_with_the_cause_and_the_cure(glmv, stale_model, image):
    r = glmv("ask", "--model-file", str(stale_model), "--mmproj", str(TINY_MMPROJ),
             str(image), "q", "--max-tokens", "4")
    assert r.returncode == ExitCode.MODEL  # an exit code, not a signal
    assert r.stdout == "" and r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"glmv: {stale_model} is a stale build: converted before "
                               "llama.cpp supported GLM-4.1V vision, it lacks the M-RoPE "
                               "metadata (glm4.rope.dimension_sections)")
    assert "re-download a current build; known good: glmv pull glm-4.6v-flash:q4_k_m, " \
           "glmv pull glm-4.6v-flash:q8_0" in r.stderr


def test_the_engine_refuses_a_stale_build_before_loading_it(stale_model):
    engine = LlamaEngine(LocalModel("stale", stale_model, TINY_MMPROJ))
    with pytest.raises(ModelError, match="is a stale build"):
        engine.load()
    assert engine._model is None  # llama.cpp never saw the file
    engine.close()


@pytest.mark.parametrize("sections", [None, [0, 0, 0, 0], [0, 3, 3, 0], [2, 3, 3, 0], 4])
def test_the_m_rope_rule_is_what_llama_cpp_itself_reports(tmp_path, sections):
    """uses_mrope() against llama.cpp's own llama_model_rope_type() for the same file
    (loading a text model is safe; only decoding image embeddings aborts)."""
    import llama_cpp

    path = tmp_path / "m.gguf"
    if sections is None:
        rewrite_gguf(TINY_MODEL, path, drop=[ROPE_SECTIONS])
    elif isinstance(sections, int):  # llama.cpp spreads one number over all sections
        rewrite_gguf(TINY_MODEL, path, drop=[ROPE_SECTIONS],
                     set_values={ROPE_SECTIONS: sections})
    else:
        rewrite_gguf(TINY_MODEL, path, set_values={ROPE_SECTIONS: sections})
    found = read_header(path, {ROPE_SECTIONS}).get(ROPE_SECTIONS)
    assert found == sections
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = 0
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    assert model
    try:
        rope = llama_cpp.llama_model_rope_type(model)
    finally:
        llama_cpp.llama_model_free(model)
    assert uses_mrope(found) == (rope == llama_cpp.LLAMA_ROPE_TYPE_MROPE)
    assert rope in (llama_cpp.LLAMA_ROPE_TYPE_MROPE, llama_cpp.LLAMA_ROPE_TYPE_NORM)


def test_rope_sections_of_zero_are_a_stale_build_too(tmp_path):
    zero = tmp_path / "zero.gguf"
    rewrite_gguf(TINY_MODEL, zero, set_values={ROPE_SECTIONS: [0, 0, 0, 0]})
    finding = find_problem(zero, TINY_MMPROJ, known_good=lambda: [])
    assert finding is not None and finding.kind == STALE and finding.hint == \
        "re-download a current build"


def test_llama_cpps_rule_for_m_rope():
    assert uses_mrope([2, 3, 3, 0]) and uses_mrope(8)  # one number fills every section
    assert not uses_mrope(None) and not uses_mrope([0, 3, 3, 0]) and not uses_mrope([2, 0])
    assert not uses_mrope(0) and not uses_mrope(True) and not uses_mrope(["2", "3"])


def test_the_shipped_pair_passes():
    assert find_problem(TINY_MODEL, TINY_MMPROJ) is None
    check_pair(TINY_MODEL, TINY_MMPROJ)  # raises on any problem


@pytest.mark.parametrize(("make", "kind", "message"), [
    (lambda d: (rewrite_gguf(TINY_MODEL, d / "llama.gguf", arch="llama")[0], TINY_MMPROJ),
     WRONG_MODEL, r"llama\.gguf is a 'llama' model; glmv runs GLM-4\.1V / GLM-4\.6V"),
    (lambda d: (TINY_MMPROJ, TINY_MMPROJ),
     WRONG_MODEL, r"is a vision projector \(mmproj\): CLIP cannot be used as main model"),
    (lambda d: (TINY_MODEL, TINY_MODEL),
     MISMATCH, r"does not match the model: it is a 'glm4' model, not a vision projector"),
    (lambda d: (TINY_MODEL, rewrite_gguf(TINY_MMPROJ, d / "qwen.gguf", set_values={
        "clip.projector_type": "qwen2vl"})[0]),
     MISMATCH, r"its projector is 'qwen2vl', GLM-4\.1V needs 'glm4v'"),
    (lambda d: (TINY_MODEL, rewrite_gguf(TINY_MMPROJ, d / "audio.gguf", set_values={
        "clip.has_vision_encoder": False})[0]),
     MISMATCH, r"audio\.gguf has no vision encoder"),
    (lambda d: (TINY_MODEL, MISMATCH_MMPROJ),
     MISMATCH, r"mismatch between text model \(n_embd = 128\) and mmproj \(n_embd = 256\)"),
    (lambda d: (Path(d / "missing.gguf"), TINY_MMPROJ),
     DAMAGED, r"model file not found: .*missing\.gguf"),
])
def test_each_problem_has_its_own_message(tmp_path, make, kind, message):
    model, mmproj = make(tmp_path)
    finding = find_problem(model, mmproj, known_good=lambda: [])
    assert finding is not None and finding.kind == kind
    with pytest.raises(ModelError, match=message):
        check_pair(model, mmproj)


def test_a_truncated_or_foreign_file_is_damaged(tmp_path):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(TINY_MODEL.read_bytes()[:300])  # ends inside the metadata
    with pytest.raises(ModelError, match=r"cannot load model .*cut\.gguf: its GGUF header "
                                         r"is damaged \(the header is cut short\)"):
        check_pair(cut, TINY_MMPROJ)
    zip_file = tmp_path / "model.gguf"
    zip_file.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelError, match=r"model file is not a GGUF file"):
        check_pair(zip_file, TINY_MMPROJ)
    old = tmp_path / "v1.gguf"
    old.write_bytes(b"GGUF" + (1).to_bytes(4, "little") + b"\0" * 16)
    with pytest.raises(GGUFHeaderError, match="unsupported GGUF version 1"):
        read_header(old)


def test_the_header_reader_agrees_with_the_gguf_package(tmp_path):
    from gguf import GGUFReader

    for path in (TINY_MODEL, TINY_MMPROJ):
        header, reference = read_header(path, tensors=True), GGUFReader(path)
        expected = {k: f.contents() for k, f in reference.fields.items()
                    if not k.startswith("GGUF.")}
        assert header.metadata == expected
        assert header.tensors == {t.name: tuple(int(n) for n in t.shape)
                                  for t in reference.tensors}


def test_the_header_reader_stops_once_it_has_the_keys_asked_for(tmp_path):
    # The tokenizer follows the keys asked for: a reader that stops early never reaches a
    # damaged tokenizer; one that reads everything does.
    data = bytearray(TINY_MODEL.read_bytes())
    at = data.index(b"tokenizer.ggml.tokens") + len(b"tokenizer.ggml.tokens") + 4 + 4
    data[at:at + 8] = (1 << 40).to_bytes(8, "little")  # an absurd string count
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(bytes(data))
    keys = {"general.architecture", ROPE_SECTIONS}
    assert read_header(broken, keys).metadata == {"general.architecture": "glm4",
                                                  ROPE_SECTIONS: [2, 3, 3, 0]}
    with pytest.raises(GGUFHeaderError, match="not plausible"):
        read_header(broken)
