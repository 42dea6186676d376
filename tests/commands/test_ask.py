"""`glmv ask` end to end: the real CLI process, the real engine, the tiny model, real files."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import MISMATCH_MMPROJ, TINY_MMPROJ, TINY_MODEL, make_image

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TAGS = ("<think>", "</think>", "<answer>", "</answer>", "<|begin_of_box|>", "<|end_of_box|>")
# Enough thinking and answer from the tiny model, quickly.
SHORT = ("--think-budget", "6", "--max-tokens", "20")


def test_piped_stdout_is_the_answer_only(glmv, image):
    r = glmv("ask", str(image), "What is in this picture?", *SHORT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() and r.stdout.endswith("\n") and not r.stdout.endswith("\n\n")
    assert not ANSI.search(r.stdout)
    assert not any(tag in r.stdout for tag in TAGS)
    # stderr: only glmv's own warning (the tiny model's answer is cut by --max-tokens),
    # no llama.cpp log lines.
    assert [line for line in r.stderr.splitlines() if not line.startswith("glmv: warning")] == []


def test_json_object(glmv, tmp_path):
    a = make_image(tmp_path / "a.png", (300, 200))
    b = make_image(tmp_path / "b.jpg", (640, 480), fmt="JPEG")
    r = glmv("ask", str(a), str(b), "What changed?", "--json", *SHORT)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert {"answer", "thinking", "boxes", "truncated", "model", "inputs", "usage",
            "timings"} <= obj.keys()
    assert obj["model"] == "tiny" and obj["truncated"] is True
    assert obj["thinking"] and obj["answer"]
    assert [i["source"] for i in obj["inputs"]] == [str(a), str(b)]
    assert [i["format"] for i in obj["inputs"]] == ["PNG", "JPEG"]
    assert obj["inputs"][0]["tokens"] == (308 // 28) * (196 // 28)
    assert obj["usage"]["image_tokens"] == sum(i["tokens"] for i in obj["inputs"])
    assert obj["usage"]["generated_tokens"] == 20 and obj["usage"]["thinking_tokens"] == 6
    assert obj["timings"]["encode_s"] > 0 and len(obj["timings"]["per_image_encode_s"]) == 2


def test_image_from_stdin(glmv, image):
    r = glmv("ask", "-", "Read the serial number", "--json", *SHORT, input=image.read_bytes())
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["inputs"][0]["source"] == "<stdin>" and obj["inputs"][0]["tokens"] == 77


def test_same_answer_piped_and_as_json(glmv, image):
    plain = glmv("ask", str(image), "q", *SHORT)
    js = glmv("ask", str(image), "q", "--json", *SHORT)
    assert plain.stdout.strip() == json.loads(js.stdout)["answer"]


def test_show_thinking_goes_to_stderr(glmv, image):
    hidden = glmv("ask", str(image), "q", *SHORT)
    shown = glmv("ask", str(image), "q", "--show-thinking", *SHORT)
    thinking = json.loads(glmv("ask", str(image), "q", "--json", *SHORT).stdout)["thinking"]
    assert shown.stdout == hidden.stdout  # stdout keeps the answer only
    assert thinking.strip() in shown.stderr and thinking.strip() not in hidden.stderr


def test_no_think_answers_at_once(glmv, image):
    obj = json.loads(glmv("ask", str(image), "q", "--no-think", "--max-tokens", "8",
                          "--json").stdout)
    assert obj["thinking"] == "" and obj["answer"] and obj["usage"]["thinking_tokens"] == 0


def test_max_tokens_and_truncation(glmv, image):
    obj = json.loads(glmv("ask", str(image), "q", "--max-tokens", "5", "--json").stdout)
    assert obj["usage"]["generated_tokens"] == 5
    assert obj["truncated"] is True and obj["finish_reason"] == "length"


def test_sampling_flags_change_the_output_and_seed_repeats_it(glmv, image):
    def answer(*flags: str) -> str:
        r = glmv("ask", str(image), "q", "--no-think", "--max-tokens", "24", "--json", *flags)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["answer"]

    greedy = answer()
    assert answer() == greedy  # greedy is deterministic
    hot = ("--temperature", "1.5", "--top-k", "0", "--top-p", "1.0", "--repeat-penalty", "1.0")
    assert answer(*hot, "--seed", "7") == answer(*hot, "--seed", "7")
    samples = {answer(*hot, "--seed", str(s)) for s in range(4)}
    assert len(samples) > 1 and greedy not in samples
    # The tiny model's loops are strong: a large penalty is needed to break them.
    assert answer("--repeat-penalty", "5") != answer("--repeat-penalty", "1.0")


def test_system_prompt_reaches_the_model(glmv, image):
    base = json.loads(glmv("ask", str(image), "q", "--json", *SHORT).stdout)
    sys_ = json.loads(glmv("ask", str(image), "q", "--json", "--system", "Be brief.",
                           *SHORT).stdout)
    assert sys_["usage"]["prompt_text_tokens"] > base["usage"]["prompt_text_tokens"]
    assert sys_["answer"] != base["answer"] or sys_["thinking"] != base["thinking"]


def test_max_image_tokens_limits_each_image(glmv, tmp_path):
    big = make_image(tmp_path / "big.png", (2000, 1500))
    obj = json.loads(glmv("ask", str(big), "q", "--json", "--max-image-tokens", "64",
                          "--max-tokens", "1").stdout)
    inp = obj["inputs"][0]
    assert inp["tokens"] <= 64 and inp["original_size"] == [2000, 1500]
    assert inp["size"][0] % 28 == 0 and inp["size"][1] % 28 == 0


def test_an_icon_keeps_its_size_as_in_the_reference(glmv, tmp_path):
    # 84x84 is over the reference's minimum (2*84*84 >= 112*112): not upscaled to 112x112.
    icon = make_image(tmp_path / "icon.png", (84, 84))
    obj = json.loads(glmv("ask", str(icon), "q", "--json", "--max-tokens", "1").stdout)
    assert obj["inputs"][0]["size"] == [84, 84] and obj["inputs"][0]["tokens"] == 9
    assert obj["usage"]["image_tokens"] == 9


def test_engine_flags_are_accepted(glmv, image):
    r = glmv("ask", str(image), "q", "--threads", "1", "--gpu-layers", "0", "--context", "512",
             "--max-tokens", "4", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["usage"]["n_ctx"] <= 512


def test_model_file_and_mmproj(glmv, image):
    r = glmv("ask", str(image), "q", "--model-file", str(TINY_MODEL), "--mmproj",
             str(TINY_MMPROJ), "--max-tokens", "3", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["model"] == TINY_MODEL.name


def test_no_question_describes_the_image(glmv, image):
    r = glmv("ask", str(image), "--max-tokens", "3", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["inputs"][0]["source"] == str(image)


def test_verbose_shows_llama_cpp_logs(glmv, image):
    quiet = glmv("ask", str(image), "q", "--max-tokens", "2")
    # (--no-cache: a cached prefix would never load the vision encoder, nor log it.)
    loud = glmv("ask", str(image), "q", "--max-tokens", "2", "--verbose", "--no-cache")
    assert "llama_model_loader" not in quiet.stderr
    assert "llama_model_loader" in loud.stderr and "clip" in loud.stderr
    assert loud.stdout == quiet.stdout


# -- errors: one line on stderr, a distinct exit code, never a traceback ----------------


def _one_line_error(r, code: int, *needles: str) -> None:
    assert r.returncode == code, (r.returncode, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("glmv: "), r.stderr
    assert "Traceback" not in r.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize(("make", "needle"), [
    (lambda p: p, "no such file"),
    (lambda p: (p.write_bytes(b""), p)[1], "file is empty"),
    (lambda p: (p.write_text("hello, not an image"), p)[1], "not an image format"),
    (lambda p: (p.write_bytes(make_image(p.with_suffix(".x.png")).read_bytes()[:300]), p)[1],
     "cannot decode image"),
    (lambda p: (p.mkdir(), p)[1], "is a directory"),
])
def test_bad_input_files(glmv, tmp_path, make, needle):
    path = make(tmp_path / "input.png")
    _one_line_error(glmv("ask", str(path), "q"), 3, needle, str(path))


def test_decompression_bomb(glmv, tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 40000, 40000,
                     8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
                     + chunk(b"IEND", b""))
    _one_line_error(glmv("ask", str(bomb), "q"), 3, "decompression bomb")


def test_empty_stdin(glmv):
    _one_line_error(glmv("ask", "-", "q"), 3, "<stdin>")


@pytest.mark.parametrize(("args", "needle"), [
    (["--model", "nope"], "unknown model 'nope'"),
    (["--model", "glm-4.6v-flash:q4_k_m"], "glmv pull glm-4.6v-flash:q4_k_m"),
    (["--model-file", "missing.gguf", "--mmproj", str(TINY_MMPROJ)], "model file not found"),
    (["--model-file", str(TINY_MODEL), "--mmproj", str(MISMATCH_MMPROJ)], "does not match"),
    (["--model-file", str(TINY_MMPROJ), "--mmproj", str(TINY_MMPROJ)], "CLIP"),
])
def test_model_errors(glmv, image, args, needle):
    r = glmv("ask", str(image), "q", *args, env={"HF_HOME": str(image.parent / "hf")})
    _one_line_error(r, 4, needle)


def test_model_file_without_mmproj_is_a_usage_error(glmv, image):
    _one_line_error(glmv("ask", str(image), "q", "--model-file", str(TINY_MODEL)), 2, "--mmproj")


def test_context_overflow(glmv, tmp_path):
    big = make_image(tmp_path / "big.png", (1000, 800))
    _one_line_error(glmv("ask", str(big), "q", "--context", "128"), 5, "context holds 128")


def test_usage_errors_exit_2(glmv, image):
    assert glmv("ask", str(image), "q", "--max-tokens", "0").returncode == 2
    assert glmv("ask", str(image), "q", "--no-such-flag").returncode == 2
    _one_line_error(glmv("ask", "-", "-", "q"), 2, "stdin")


# -- the terminal, Ctrl-C and closed pipes --------------------------------------------


def _run_in_pty(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run glmv with stdout and stderr on a pseudo-terminal; return (exit code, screen)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "glmv_cli", *args], stdout=slave,
                            stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    os.close(master)
    return proc.wait(timeout=60), out.decode(errors="replace")


def _term_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return {**env, "GLMV_MODEL": "tiny", "TERM": "xterm-256color", "COLUMNS": "100",
            "LINES": "40", **extra}


def test_terminal_shows_thinking_then_answer(image):
    code, screen = _run_in_pty(["ask", str(image), "q", *SHORT], _term_env())
    assert code == 0
    assert "Thinking" in screen and ANSI.search(screen)  # styled output on a terminal
    text = ANSI.sub("", screen)
    assert "image + " in text and "tokens out" in text  # the stats line
    assert not any(tag in text for tag in TAGS)


def test_terminal_hide_thinking_and_no_color(image):
    code, screen = _run_in_pty(["ask", str(image), "q", "--hide-thinking", *SHORT],
                               _term_env(NO_COLOR="1"))
    assert code == 0
    assert "Thought for" in screen
    # NO_COLOR allows bold and dim, but no colour (SGR 30-49, 90-107)
    params = [int(p) for sgr in re.findall(r"\x1b\[([0-9;]*)m", screen)
              for p in sgr.split(";") if p]
    assert params and not [p for p in params if 30 <= p <= 49 or 90 <= p <= 107]


def test_ctrl_c_keeps_what_was_printed_and_exits_130(image):
    proc = subprocess.Popen(
        [sys.executable, "-m", "glmv_cli", "ask", str(image), "q", "--no-think",
         "--max-tokens", "60000", "--repeat-penalty", "1.0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "GLMV_MODEL": "tiny"})
    first = proc.stdout.read(20)  # the answer has started streaming
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert len(first) == 20 and (first + rest).endswith(b"\n")
    assert err.decode().strip().splitlines()[-1] == "glmv: interrupted"
    assert b"Traceback" not in err


def test_closed_pipe_is_not_an_error(image):
    glmv = subprocess.Popen(
        [sys.executable, "-m", "glmv_cli", "ask", str(image), "q", "--no-think",
         "--max-tokens", "20000", "--repeat-penalty", "1.0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "GLMV_MODEL": "tiny"})
    glmv.stdout.read(10)
    glmv.stdout.close()  # like `| head -c 10`
    start = time.monotonic()
    err = glmv.stderr.read()
    assert glmv.wait(timeout=60) == 0
    assert b"Traceback" not in err and b"Broken pipe" not in err
    assert time.monotonic() - start < 60


def test_help_documents_exit_codes(glmv):
    r = glmv("--help")
    assert r.returncode == 0 and "130 interrupted" in " ".join(r.stdout.split())
    assert "--max-image-tokens" in glmv("ask", "--help").stdout


def test_python_dash_m_and_version(glmv):
    r = glmv("--version")
    assert r.returncode == 0 and r.stdout.startswith("glmv ")


# -- ask hands PDFs and videos to their own pipelines (type sniffed from the bytes) ------


def test_ask_reads_a_pdf_through_the_document_pipeline(glmv, tmp_path):
    from tests.pdf_files import make_mixed_pdf

    doc = make_mixed_pdf(tmp_path / "report.bin")  # no .pdf suffix: the bytes decide
    r = glmv("ask", str(doc), "Which quarter?", *SHORT, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["pages_as_text"] and out["pages_as_images"]  # text layer used, scans rendered
    summary = glmv("ask", str(doc), *SHORT, "--json")  # no question: a summary
    assert summary.returncode == 0, summary.stderr


def test_ask_reads_a_video_as_timestamped_frames(glmv, tmp_path):
    from tests.videos import write_video

    clip = write_video(tmp_path / "clip.mp4", frames=48, fps=12)
    r = glmv("ask", str(clip), "When does it change?", *SHORT, "--json")
    assert r.returncode == 0, r.stderr
    frames = json.loads(r.stdout)["frames"]
    assert [f["timestamp"] for f in frames] == [0, 1, 2, 3]


def test_a_pdf_or_video_goes_to_ask_alone(glmv, tmp_path, image):
    from tests.pdf_files import make_text_pdf

    doc = make_text_pdf(tmp_path / "a.pdf")
    r = glmv("ask", str(image), str(doc), "q")
    assert r.returncode == 2 and "goes to `glmv ask` on its own" in r.stderr


def test_schema_answer_is_sampled_under_the_grammar_and_validated(glmv, image) -> None:
    """The tiny model writes nonsense, but under the grammar its answer must parse: the
    schema allows only a bounded answer, so it cannot be cut off."""
    import json as _json

    schema = {"type": "object", "properties": {"red_square": {"type": "boolean"},
                                               "colour": {"enum": ["red", "blue"]}},
              "required": ["red_square", "colour"], "additionalProperties": False}
    result = glmv("ask", str(image), "Is there a red square?", "--schema",
                  _json.dumps(schema), "--max-tokens", "200", "--think-budget", "16",
                  "--json")
    assert result.returncode == 0, result.stderr
    obj = _json.loads(result.stdout)
    assert isinstance(obj["structured"]["red_square"], bool)
    assert obj["structured"]["colour"] in ("red", "blue")
    assert _json.loads(obj["answer"]) == obj["structured"]
    piped = glmv("ask", str(image), "Is there a red square?", "--schema",
                 '{"red_square": "boolean"}', "--max-tokens", "200", "--think-budget", "16")
    assert piped.returncode == 0, piped.stderr
    assert set(_json.loads(piped.stdout)) == {"red_square"}


def test_schema_answer_that_does_not_validate_exits_8(glmv, image) -> None:
    """Thinking eats the whole budget: the grammar never gets to write the answer."""
    result = glmv("ask", str(image), "Q?", "--schema", '{"n": "integer"}',
                  "--max-tokens", "4")
    assert result.returncode == 8
    assert "glmv: the answer is not JSON" in result.stderr and result.stdout == ""


def test_schema_with_a_pdf_points_to_batch(glmv, tmp_path) -> None:
    from tests.pdf_files import make_text_pdf

    pdf = make_text_pdf(tmp_path / "r.pdf", pages=1)
    result = glmv("ask", str(pdf), "Total?", "--schema", '{"total": "number"}')
    assert result.returncode == 2 and "glmv batch" in result.stderr
