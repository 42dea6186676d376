"""`glmv batch` as users run it: the real command in a subprocess, the tiny model, real
images, a PDF, a video and a corrupt file; killed, interrupted and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_image
from tests.pdf_files import make_text_pdf
from tests.videos import write_video

FAST = ("--max-tokens", "8")


def lines(path: Path) -> list[dict]:
    """Every line of a JSONL file, each of which must be whole, valid JSON."""
    text = path.read_text()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Two images (one in a subfolder), a PDF, a video, a corrupt PNG, and a text file
    that a folder walk must leave out."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    make_image(folder / "a.png")
    make_image(folder / "sub" / "b.jpg", (200, 150), colour=(200, 60, 30))
    make_text_pdf(folder / "report.pdf", pages=2)
    write_video(folder / "clip.mp4", frames=12, fps=6)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (folder / "notes.txt").write_text("not an input")
    return folder


def test_mixed_inputs_one_line_each_and_a_bad_file_does_not_stop_it(glmv, mixed: Path,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = glmv("batch", "What is shown?", str(mixed), "--jsonl", str(out), *FAST)
    assert result.returncode == 3  # the broken file's class: an input error
    assert result.stdout == ""
    records = {Path(r["path"]).name: r for r in lines(out)}
    assert set(records) == {"a.png", "b.jpg", "report.pdf", "clip.mp4", "broken.png"}
    broken = records.pop("broken.png")
    assert broken["error"]["exit_code"] == 3 and broken["error"]["class"] == "input"
    assert "broken.png" in broken["error"]["message"]
    for name, record in records.items():
        assert record["error"] is None, name
        assert record["question"] == "What is shown?" and record["model"] == "tiny"
        assert len(record["sha256"]) == 64
        assert record["usage"]["generated_tokens"] > 0
    assert records["report.pdf"]["kind"] == "pdf" and records["report.pdf"]["pages"] == 2
    assert records["clip.mp4"]["kind"] == "video" and records["clip.mp4"]["frames"]
    assert "thinking" not in records["a.png"]
    assert "5 inputs: 4 answered, 0 skipped" in result.stderr
    assert "1 failed" in result.stderr


def test_inputs_from_folder_glob_list_and_stdin_are_the_same(glmv, tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    paths = [make_image(folder / f"p{i}.png", (60 + 28 * i, 60)) for i in range(3)]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(str(p) for p in paths) + "\n\n")

    def names(*args: str, stdin: bytes | None = None) -> list[str]:
        result = glmv("batch", "Q?", *args, *FAST, input=stdin)
        assert result.returncode == 0, result.stderr
        return sorted(Path(json.loads(line)["path"]).name
                      for line in result.stdout.splitlines())

    expected = ["p0.png", "p1.png", "p2.png"]
    assert names(str(folder)) == expected
    assert names(str(folder / "*.png")) == expected
    assert names(f"@{listing}") == expected
    assert names("-", stdin=listing.read_bytes()) == expected
    # Named twice (a folder and a file in it): still one line.
    assert names(str(folder), str(paths[0])) == expected


def test_rerun_skips_answered_inputs_even_renamed_and_retries_failures(
        glmv, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_image(folder / "a.png")
    make_image(folder / "b.png", colour=(0, 100, 0))
    broken = folder / "c.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    out = tmp_path / "out.jsonl"
    first = glmv("batch", "Q?", str(folder), "--jsonl", str(out), *FAST)
    assert first.returncode == 3
    (folder / "a.png").rename(folder / "renamed.png")
    make_image(broken, colour=(90, 0, 90))  # the broken file repaired
    second = glmv("batch", "Q?", str(folder), "--jsonl", str(out), *FAST)
    assert second.returncode == 0, second.stderr
    assert "1 answered, 2 skipped" in second.stderr
    records = lines(out)
    assert len(records) == 3  # the error line was replaced, nothing doubled
    assert all(r["error"] is None for r in records)
    # Another question is another job: all inputs answered again, appended.
    third = glmv("batch", "Other?", str(folder), "--jsonl", str(out), *FAST)
    assert third.returncode == 0 and "3 answered, 0 skipped" in third.stderr
    assert len(lines(out)) == 6


def start_batch(tmp_path: Path, folder: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "GLMV_MODEL": "tiny"}
    return subprocess.Popen(
        [sys.executable, "-m", "glmv_cli", "batch", "Describe in detail.", str(folder),
         "--jsonl", str(out), "--max-tokens", "400"],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)


def wait_for_lines(out: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= n:
            return
        assert proc.poll() is None, "the batch ended before it could be stopped"
        time.sleep(0.05)
    raise AssertionError("no lines appeared")


@pytest.fixture
def many(tmp_path: Path) -> Path:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(10):
        make_image(folder / f"img{i:02}.png", (300 + 28 * i, 200))
    return folder


def test_kill_9_mid_batch_then_resume_gives_exactly_one_line_per_input(
        tmp_path: Path, many: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = start_batch(tmp_path, many, out)
    wait_for_lines(out, 2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    done_before = len(lines(out))
    assert 2 <= done_before < 10
    # What a crash in the middle of a write would leave: a line cut short. (A single
    # write() of one line is not split by SIGKILL in practice, so it is made by hand.)
    with out.open("a") as f:
        f.write('{"path": "half a li')
    rerun = subprocess.run(
        [sys.executable, "-m", "glmv_cli", "batch", "Describe in detail.", str(many),
         "--jsonl", str(out), "--max-tokens", "400"],
        cwd=tmp_path, env={**os.environ, "GLMV_MODEL": "tiny"}, capture_output=True,
        timeout=300)
    assert rerun.returncode == 0, rerun.stderr.decode()
    records = lines(out)
    names = sorted(Path(r["path"]).name for r in records)
    assert names == [f"img{i:02}.png" for i in range(10)]  # each exactly once
    assert f"{10 - done_before} answered, {done_before} skipped" in rerun.stderr.decode()


def test_ctrl_c_keeps_whole_lines_says_what_was_done_and_exits_130(
        tmp_path: Path, many: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = start_batch(tmp_path, many, out)
    wait_for_lines(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    text = stderr.decode()
    assert proc.returncode == 130, text
    assert "glmv: batch: 10 inputs:" in text and text.rstrip().endswith("interrupted")
    assert "Traceback" not in text
    assert 1 <= len(lines(out)) < 10


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can write in: mode 555, or, for root (whom modes do not stop),
    the immutable attribute."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    subprocess.run(["chattr", "+i", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_an_output_folder_that_cannot_be_written_fails_before_any_work(
        glmv, read_only_folder: Path, image: Path) -> None:
    target = read_only_folder / "out.jsonl"
    result = glmv("batch", "Q?", str(image), "--jsonl", str(target))
    assert result.returncode == 9
    assert result.stderr.startswith("glmv: --jsonl") and "cannot write" in result.stderr
    assert "answered" not in result.stderr  # refused before the model was loaded
    assert not target.exists()


def test_no_inputs_and_unmatched_globs_are_usage_errors(glmv, tmp_path: Path) -> None:
    result = glmv("batch", "Q?", str(tmp_path / "nothing-*.png"))
    assert result.returncode == 2 and "no file matches" in result.stderr


def test_batch_with_schema_gives_structured_lines(glmv, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_image(folder / "a.png")
    make_image(folder / "b.png", colour=(0, 0, 0))
    make_text_pdf(folder / "c.pdf", pages=1)
    result = glmv("batch", "Is there a red square?", str(folder), "--schema",
                  '{"red_square": "boolean"}', "--max-tokens", "200", "--think-budget", "8",
                  "--thinking")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["kind"] for r in records) == ["image", "image", "pdf"]
    for record in records:
        assert isinstance(record["structured"]["red_square"], bool)
        assert json.loads(record["answer"]) == record["structured"]
        assert "thinking" in record


def test_a_jsonl_file_that_is_not_json_lines_is_left_alone(glmv, tmp_path: Path,
                                                          image: Path) -> None:
    out = tmp_path / "notes.txt"
    out.write_text("my notes\nabout things\n")
    result = glmv("batch", "Q?", str(image), "--jsonl", str(out))
    assert result.returncode == 2
    assert f"--jsonl {out}:1: not a JSON object line" in result.stderr
    assert out.read_text() == "my notes\nabout things\n"


def test_parallel_on_a_local_engine_says_it_runs_one_at_a_time(glmv, image: Path) -> None:
    result = glmv("batch", "Q?", str(image), "--parallel", "4", *FAST)
    assert result.returncode == 0, result.stderr
    assert "glmv: warning: --parallel 4: a local engine answers one input at a time" \
        in result.stderr
    assert len(result.stdout.splitlines()) == 1
