"""The prefix cache from the command line: a second question about the same image, PDF or
video, in a new process, restores the state and answers as a cold run does; --no-cache;
`glmv cache ls` and `glmv cache clear`; several processes at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import make_image
from tests.pdf_files import make_scanned_pdf
from tests.videos import write_video

SHORT = ("--max-tokens", "24", "--think-budget", "8")


def answer_of(obj: dict) -> tuple[str, str]:
    return obj["thinking"], obj["answer"]


def ask_json(glmv, *args: str, env: dict | None = None) -> dict:
    r = glmv(*args, "--json", *SHORT, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_ask_a_second_question_restores_the_prefix(glmv, image):
    first = ask_json(glmv, "ask", str(image), "What is in the picture?")
    assert first["cache"] == {"prefix": "miss", "images": "miss", "images_hit": 0,
                              "saved_s": 0.0}
    second = ask_json(glmv, "ask", str(image), "What colour is the disc?")
    assert second["cache"]["prefix"] == "hit" and second["cache"]["saved_s"] > 0
    assert second["timings"]["encode_s"] == 0 and second["timings"]["restore_s"] > 0
    assert second["timings"]["first_token_s"] > 0
    cold = ask_json(glmv, "ask", str(image), "What colour is the disc?", "--no-cache")
    assert cold["cache"]["prefix"] == "off" and cold["timings"]["encode_s"] > 0
    assert answer_of(second) == answer_of(cold)
    assert second["usage"] == cold["usage"]


def test_no_cache_neither_reads_nor_writes(glmv, image, tmp_path):
    ask_json(glmv, "ask", str(image), "What is it?", "--no-cache")
    assert not (tmp_path / "glmv-cache").exists()


def test_a_pdf_question_then_another(glmv, tmp_path):
    pdf = make_scanned_pdf(tmp_path / "scan.pdf", pages=2)
    first = ask_json(glmv, "pdf", str(pdf), "What is the invoice number?", "--read", "all")
    second = ask_json(glmv, "pdf", str(pdf), "Who sent it, and when? Please answer with the "
                      "sender's full name and the date as written.", "--read", "all")
    assert first["cache"]["prefix"] == "miss"
    assert second["cache"]["prefix"] == "hit"  # the same pages, in the same steps
    assert [s["pages"] for s in second["steps"]] == [s["pages"] for s in first["steps"]]
    cold = ask_json(glmv, "pdf", str(pdf), "Who sent it, and when? Please answer with the "
                    "sender's full name and the date as written.", "--read", "all",
                    "--no-cache")
    assert second["answer"] == cold["answer"] and second["thinking"] == cold["thinking"]


def test_a_video_question_then_another(glmv, tmp_path):
    clip = write_video(tmp_path / "clip.mp4", 100, 25)
    ask_json(glmv, "video", str(clip), "What happens?")
    second = ask_json(glmv, "video", str(clip), "When does it change?")
    assert second["cache"]["prefix"] == "hit" and second["timings"]["encode_s"] == 0
    cold = ask_json(glmv, "video", str(clip), "When does it change?", "--no-cache")
    assert answer_of(second) == answer_of(cold)


def test_cache_ls_and_clear(glmv, image, tmp_path):
    ask_json(glmv, "ask", str(image), "What is it?")
    r = glmv("cache", "ls")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2  # the prefix and the image encoding
    assert {line.split()[0] for line in lines} == {"prefix", "image"}
    assert all("photo.png" in line for line in lines)
    assert "2 entries" in r.stderr and str(tmp_path / "glmv-cache") in r.stderr
    listed = json.loads(glmv("cache", "ls", "--json").stdout)
    assert len(listed["entries"]) == 2 and listed["total_bytes"] > 0
    r = glmv("cache", "clear", "--older-than", "7d")
    assert r.returncode == 0 and "deleted 0 entries" in r.stderr
    r = glmv("cache", "clear")
    assert r.returncode == 0 and "deleted 2 entries" in r.stderr
    assert glmv("cache", "ls").stdout == ""
    second = ask_json(glmv, "ask", str(image), "What is it?")
    assert second["cache"]["prefix"] == "miss"


def test_cache_clear_rejects_a_bad_age(glmv):
    r = glmv("cache", "clear", "--older-than", "soon")
    assert r.returncode == 2
    assert r.stderr.strip() == ("glmv: --older-than: 'soon' is not an age such as 30m, 12h, "
                                "7d or 2w")


def test_cache_size_from_config_caps_the_cache(glmv, image, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('cache_size = "1KB"\n')
    obj = ask_json(glmv, "ask", str(image), "What is it?", env={"GLMV_HOME": str(home)})
    assert obj["cache"]["prefix"] == "miss"
    assert json.loads(glmv("cache", "ls", "--json", env={"GLMV_HOME": str(home)}).stdout
                      )["entries"] == []  # every entry is bigger than 1 KB
    (home / "config.toml").write_text('cache_size = "lots"\n')
    r = glmv("ask", str(image), "What is it?", env={"GLMV_HOME": str(home)})
    assert r.returncode == 2 and "'cache_size' must be a size" in r.stderr


def test_processes_asking_at_once_share_the_cache(tmp_path):
    """Four glmv processes ask about the same image at the same time: each answers, each
    writes or reads whole entries, and the cache holds one good entry of each kind."""
    image = make_image(tmp_path / "photo.png")
    env = {**os.environ, "GLMV_MODEL": "tiny", "GLMV_CACHE_DIR": str(tmp_path / "c")}
    cmd = [sys.executable, "-m", "glmv_cli", "ask", str(image), "What is it?", "--json",
           "--threads", "1", *SHORT]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
             for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [e.decode() for _, e in outs]
    answers = {answer_of(json.loads(o)) for o, _ in outs}
    assert len(answers) == 1
    entries = json.loads(subprocess.run(
        [sys.executable, "-m", "glmv_cli", "cache", "ls", "--json"], env=env,
        capture_output=True, check=True).stdout)["entries"]
    assert sorted(e["kind"] for e in entries) == ["image", "prefix"]
    last = json.loads(subprocess.run(cmd, env=env, capture_output=True, check=True).stdout)
    assert last["cache"]["prefix"] == "hit" and answer_of(last) in answers


@pytest.mark.parametrize("command", ["ground", "act", "code"])
def test_other_answering_commands_use_the_cache(glmv, image, command):
    """(The tiny model's answers are rarely usable boxes or actions, so the hit is seen in
    the cache itself: the second run used the entry the first one wrote.)"""
    args = {"ground": ("the red square",), "act": ("Open settings",), "code": ()}[command]

    def prefix_entry() -> dict:
        (entry,) = [e for e in json.loads(glmv("cache", "ls", "--json").stdout)["entries"]
                    if e["kind"] == "prefix"]
        return entry

    first = glmv(command, str(image), *args, *SHORT)
    assert first.returncode in (0, 8), first.stderr
    before = prefix_entry()
    time.sleep(0.05)
    second = glmv(command, str(image), *args, *SHORT)
    assert second.returncode == first.returncode
    after = prefix_entry()
    assert after["created"] == before["created"]  # not written again: read
    assert after["last_used"] > before["last_used"]
