"""The decoder process (inputs/worker.py), with real child processes: results and glmv's
errors come back, and a call past its time or memory limit, or one that crashes, comes
back as LimitExceeded while the next call gets a fresh child."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from glmv_cli.errors import InputError
from glmv_cli.inputs.worker import LimitExceeded, Worker, WorkerError
from tests.inputs import worker_calls as calls


@pytest.fixture
def worker():
    with Worker("test worker") as w:
        yield w


def test_a_call_runs_in_the_child_and_the_child_is_reused(worker):
    assert worker.call(calls.add, 2, 3, timeout=30) == 5
    pid = worker.call(calls.remember, "page 7", timeout=30)
    assert pid != os.getpid() and pid == worker.pid
    assert worker.call(calls.recall, timeout=30) == "page 7"  # same child, same state
    assert worker.generation == 1


def test_glmv_errors_come_back_whole_and_bugs_as_worker_errors(worker):
    with pytest.raises(InputError) as e:
        worker.call(calls.refuse, "x.png", timeout=30)
    assert e.value.message == "x.png: not an image" and e.value.hint == "try another file"
    with pytest.raises(WorkerError, match="KeyError") as bug:
        worker.call(calls.buggy, timeout=30)
    assert "Traceback" in bug.value.remote_traceback
    assert worker.call(calls.add, 1, 1, timeout=30) == 2  # still the same child
    assert worker.generation == 1


def test_a_call_past_its_time_limit_is_killed_and_the_next_gets_a_new_child(worker):
    worker.call(calls.remember, "state", timeout=30)
    old = worker.pid
    t0 = time.monotonic()
    with pytest.raises(LimitExceeded) as e:
        worker.call(calls.spin, 30.0, timeout=0.5)
    took = time.monotonic() - t0
    assert e.value.kind == "time" and e.value.reason == "took over 0.5 s"
    assert 0.5 <= took < 2.5
    assert not psutil.pid_exists(old) or psutil.Process(old).status() == psutil.STATUS_ZOMBIE
    assert worker.call(calls.recall, timeout=30) is None  # a fresh child: the state is gone
    assert worker.generation == 2


def test_a_call_past_the_memory_limit_is_stopped():
    with Worker("test worker", memory_mb=200) as worker:
        with pytest.raises(LimitExceeded) as e:
            worker.call(calls.hog, 1000, timeout=60)
        assert e.value.kind == "memory" and "200 MB" in e.value.reason
        assert worker.call(calls.hog, 20, timeout=60) == 20 << 20


def test_a_crash_takes_only_the_child_down(worker):
    with pytest.raises(LimitExceeded) as e:
        worker.call(calls.crash, timeout=30)
    assert e.value.kind == "crash" and "SIGSEGV" in e.value.reason
    assert worker.call(calls.add, 4, 4, timeout=30) == 8


def test_progress_restarts_the_clock(worker):
    seen = []
    # 6 steps of 0.3 s: 1.8 s in all, but never 1 s without a sign of life.
    assert worker.call(calls.steps, 6, 0.3, timeout=1.0, on_progress=seen.append) == 6
    assert seen == list(range(6))
    with pytest.raises(LimitExceeded):
        worker.call(calls.steps, 2, 1.5, timeout=1.0)


def test_ctrl_c_at_a_terminal_reaches_the_child_too_and_is_ignored_there(worker):
    """A terminal sends SIGINT to the whole process group; the child leaves the decision to
    glmv, which kills it when it stops."""
    pid = worker.call(calls.remember, 1, timeout=30)
    os.kill(pid, signal.SIGINT)
    time.sleep(0.2)
    assert worker.call(calls.recall, timeout=30) == 1 and worker.pid == pid


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_child_dies_with_its_parent_even_when_busy(tmp_path: Path):
    """glmv killed with SIGKILL (no cleanup at all) must not leave a decoder spinning."""
    script = (
        "from glmv_cli.inputs.worker import Worker\n"
        "from tests.inputs import worker_calls as c\n"
        "w = Worker('t')\n"
        "print(w.call(c.remember, 0, timeout=30), flush=True)\n"
        "w.call(c.spin, 600.0, timeout=600)\n"
    )
    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              cwd=root)
    child = int(parent.stdout.readline())
    assert psutil.Process(child).is_running()
    parent.kill()
    parent.wait(10)
    deadline = time.monotonic() + 5
    while psutil.pid_exists(child) and time.monotonic() < deadline:
        try:
            if psutil.Process(child).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    assert not psutil.pid_exists(child) or \
        psutil.Process(child).status() == psutil.STATUS_ZOMBIE
