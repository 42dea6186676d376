"""`glmv batch` on a remote engine, against a stub server on loopback: requests in
parallel, Ctrl-C while they stream, and a server that refuses the batch."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_image
from tests.pdf_files import make_text_pdf
from tests.servers import SSE_HEADERS, Reply, StubServer, content_chunks, sse

ANSWER = "<think>Looking.</think><answer>A picture.</answer>"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "in"
    path.mkdir()
    for i in range(6):
        make_image(path / f"p{i}.png", (84 + 28 * i, 84))
    return path


@pytest.fixture
def stubs() -> Iterator[list[StubServer]]:
    servers: list[StubServer] = []
    yield servers
    for s in servers:
        s.stop()


def test_parallel_requests_are_in_flight_together(glmv, stubs, folder: Path,
                                                   tmp_path: Path) -> None:
    active, peak, lock = [0], [0], threading.Lock()

    def script(n: int, req: dict) -> Reply:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.3)  # each answer takes a while: requests overlap if sent together
        with lock:
            active[0] -= 1
        return 200, SSE_HEADERS, sse(content_chunks(ANSWER)), 0.0

    stub = StubServer(script)
    stubs.append(stub)
    out = tmp_path / "out.jsonl"
    result = glmv("batch", "What?", str(folder), "--endpoint", stub.url, "--parallel", "3",
                  "--jsonl", str(out), "--thinking")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 6 and len(stub.requests) == 6
    assert all(r["answer"] == "A picture." and r["thinking"] == "Looking." for r in records)
    assert all(r["model"] == "stub" for r in records)
    assert peak[0] == 3


def test_ctrl_c_with_requests_in_flight_stops_at_once(stubs, folder: Path,
                                                      tmp_path: Path) -> None:
    def script(n: int, req: dict) -> Reply:
        if n <= 2:
            return 200, SSE_HEADERS, sse(content_chunks(ANSWER)), 0.0
        return 200, SSE_HEADERS, sse(content_chunks(ANSWER, size=1)), 0.5  # ~25 s each

    stub = StubServer(script)
    stubs.append(stub)
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "glmv_cli", "batch", "What?", str(folder), "--endpoint",
         stub.url, "--parallel", "2", "--jsonl", str(out)],
        cwd=tmp_path, env=os.environ.copy(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(stub.requests) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(stub.requests) >= 4, "the slow requests never started"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr.decode()
    assert time.monotonic() - t0 < 3.0  # the streams in flight were closed, not awaited
    text = stderr.decode()
    assert "2 answered" in text and "Traceback" not in text
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2 and all(r["error"] is None for r in records)


def test_a_server_that_refuses_stops_the_batch_with_exit_10(glmv, stubs, folder: Path,
                                                            tmp_path: Path) -> None:
    stub = StubServer(lambda n, req: (401, {"Content-Type": "application/json"},
                                      [b'{"error": {"message": "bad key"}}'], 0.0))
    stubs.append(stub)
    out = tmp_path / "out.jsonl"
    result = glmv("batch", "What?", str(folder), "--endpoint", stub.url, "--jsonl", str(out))
    assert result.returncode == 10
    assert "bad key" in result.stderr and "--api-key" in result.stderr
    assert "glmv: batch: 6 inputs: 0 answered" in result.stderr
    assert len(stub.requests) == 1  # not once per input
    assert out.read_text() == ""  # nothing recorded: a re-run tries them all


def test_a_pdf_goes_to_the_server_as_labelled_pages(glmv, stubs, tmp_path: Path) -> None:
    stub = StubServer(lambda n, req: (200, SSE_HEADERS,
                                      sse(content_chunks("<answer>Margins rose (p. 2).</answer>")),
                                      0.0))
    stubs.append(stub)
    pdf = make_text_pdf(tmp_path / "report.pdf", pages=2)
    result = glmv("pdf", str(pdf), "What rose?", "--endpoint", stub.url, "--json")
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["answer"] == "Margins rose (p. 2)." and obj["citations"] == [2]
    text = stub.requests[0]["messages"][-1]["content"][0]["text"]
    assert text.startswith("Page 1:\n") and "Page 2:\n" in text


def test_progress_bar_on_a_terminal_only(stubs, folder: Path, tmp_path: Path) -> None:
    stub = StubServer(lambda n, req: (200, SSE_HEADERS, sse(content_chunks(ANSWER)), 0.2))
    stubs.append(stub)
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "160"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "glmv_cli", "batch", "What?", str(folder), "--endpoint",
         stub.url, "--jsonl", str(tmp_path / "out.jsonl")],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(60)
    os.close(leader)
    text = seen.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "Answering" in text and "ETA" in text and "/6" in text
    assert "6 answered" in text
