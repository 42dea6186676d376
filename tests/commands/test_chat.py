"""`glmv chat` end to end: questions on piped stdin and at a real pseudo-terminal, through
the real engine on the tiny model."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import pytest

from tests.conftest import make_image

SHORT = ("--max-tokens", "24", "--think-budget", "8")
PROMPT = "›"  # (prompt_toolkit moves the cursor over the space after it)


def turns(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_follow_ups_do_not_read_the_image_again(glmv, image):
    r = glmv("chat", str(image), "--json", *SHORT,
             input=b"What is in the picture?\nWhat colour is the disc?\n")
    assert r.returncode == 0, r.stderr
    first, second = turns(r.stdout)
    assert first["timings"]["encode_s"] > 0
    assert second["timings"]["encode_s"] == 0
    assert second["cache"]["prefix"] == "memory"
    assert second["usage"]["image_tokens"] == first["usage"]["image_tokens"]
    # The second prompt holds the first answer (not its thinking) and the new question.
    assert second["usage"]["prompt_text_tokens"] > first["usage"]["prompt_text_tokens"]


def test_piped_output_is_the_answers_only(glmv, image):
    r = glmv("chat", str(image), *SHORT, input=b"What is it?\n\nAnd then?\n")
    assert r.returncode == 0, r.stderr
    assert "›" not in r.stdout and "glmv:" not in r.stdout
    assert "Traceback" not in r.stderr
    assert r.stdout.strip()


def test_a_follow_up_in_a_new_process_hits_the_disk_cache(glmv, image):
    glmv("chat", str(image), "--json", *SHORT, input=b"What is it?\n")
    r = glmv("chat", str(image), "--json", *SHORT, input=b"And its colour?\n")
    (turn,) = turns(r.stdout)
    assert turn["cache"]["prefix"] == "hit"


def test_image_clear_save_think_commands(glmv, image, tmp_path):
    other = make_image(tmp_path / "other.png", (200, 300), colour=(200, 200, 30))
    script = (f"What is it?\n/image {other}\nCompare the two.\n/think off\nAnd now?\n"
              f"/clear\nWhat is it?\n/save {tmp_path / 'chat.md'}\n/bogus\n/exit\nNever.\n")
    r = glmv("chat", str(image), "--json", *SHORT, input=script.encode())
    assert r.returncode == 0, r.stderr
    one, two, three, four = turns(r.stdout)
    assert two["usage"]["image_tokens"] > one["usage"]["image_tokens"]  # the added image
    assert two["timings"]["encode_s"] > 0 and len(two["timings"]["per_image_encode_s"]) == 1
    assert one["settings"]["think"] and not three["settings"]["think"]
    # After /clear: both images, no earlier turns.
    assert four["usage"]["image_tokens"] == two["usage"]["image_tokens"]
    assert four["usage"]["prompt_text_tokens"] < three["usage"]["prompt_text_tokens"]
    assert "added other.png" in r.stderr or f"added {other}" in r.stderr
    assert "unknown command /bogus" in r.stderr
    saved = (tmp_path / "chat.md").read_text()
    assert saved.count("**You:** What is it?") == 2
    assert "**You:** Compare the two." in saved and "(conversation cleared)" in saved
    assert f"*Added: {other}*" in saved
    assert "Never." not in r.stdout + saved  # /exit stopped the reading


def test_a_bad_input_at_start_fails_but_later_only_warns(glmv, image, tmp_path):
    r = glmv("chat", str(tmp_path / "missing.png"), input=b"What?\n")
    assert r.returncode == 3
    assert r.stderr == f"glmv: {tmp_path / 'missing.png'}: no such file\n"
    r = glmv("chat", str(image), "--json", *SHORT,
             input=f"/image {tmp_path / 'missing.png'}\nWhat is it?\n".encode())
    assert r.returncode == 0 and "missing.png" in r.stderr
    assert len(turns(r.stdout)) == 1


def test_a_full_context_says_so_and_goes_on(glmv, image):
    questions = "".join(f"Tell me everything about part {i} of the picture.\n"
                        for i in range(12))
    r = glmv("chat", str(image), "--json", "--context", "700", "--max-tokens", "60",
             "--no-think", input=(questions + "/clear\nWhat is it?\n").encode())
    assert r.returncode == 0, r.stderr
    assert "/clear forgets the conversation so far" in r.stderr
    assert "Traceback" not in r.stderr
    assert turns(r.stdout)[-1]["answer"] is not None  # answered again after /clear


@pytest.fixture
def pty_chat(image, tmp_path):
    # (TERM=dumb would make glmv treat the pty as no terminal at all.)
    env = {**os.environ, "GLMV_MODEL": "tiny", "PROMPT_TOOLKIT_NO_CPR": "1",
           "TERM": "xterm", "NO_COLOR": "1"}

    def spawn(*args: str) -> pexpect.spawn:
        return pexpect.spawn(sys.executable, ["-m", "glmv_cli", "chat", str(image), *args],
                             env=env, cwd=str(tmp_path), timeout=60, encoding="utf-8",
                             dimensions=(40, 100))

    return spawn


def test_at_a_terminal_ctrl_c_stops_an_answer_and_ctrl_d_leaves(pty_chat):
    child = pty_chat("--max-tokens", "20000", "--no-think")
    child.expect("Ask about")
    child.expect(PROMPT)
    child.sendline("Write a very long story about this picture.")
    child.expect("Generating")  # the answer is coming
    child.sendintr()
    child.expect("stopped")
    child.expect(PROMPT)
    child.sendline("/think off")
    child.expect("thinking off")
    child.expect(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_at_a_terminal_a_question_gets_an_answer_then_the_prompt(pty_chat, tmp_path):
    child = pty_chat("--max-tokens", "16", "--think-budget", "4")
    child.expect(PROMPT)
    child.sendline("What is it?")
    child.expect("tokens out")  # the stats line after the answer
    child.expect(PROMPT)
    child.sendline(f"/save {tmp_path / 't.md'}")
    child.expect("saved to")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "**You:** What is it?" in Path(tmp_path / "t.md").read_text()
