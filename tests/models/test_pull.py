"""`glmv pull` for real: huggingface-hub downloading from a local fake Hub into a private
HF cache, then the downloaded files running through the real engine."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glmv_cli.errors import DownloadError, ExitCode
from tests.conftest import TINY_MMPROJ, TINY_MODEL, make_image
from tests.interrupting import PROMPT_EXIT_S, record
from tests.models.conftest import (
    BIG,
    BIG_FILE,
    MMPROJ_FILE,
    MODEL_FILE,
    REPO,
    registry_entry,
    snapshot,
)

SHORT = ("--think-budget", "4", "--max-tokens", "8")
CHUNK = 10 << 20  # huggingface-hub's write size: what a partial download keeps


def test_pull_downloads_verifies_and_the_model_answers(glmv, home, hub, tmp_path):
    r = glmv("pull", "fake:q8_0", "--json", env=home)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [f["name"] for f in out["files"]] == [MODEL_FILE, MMPROJ_FILE]
    assert all(f["downloaded"] and f["sha256_verified"] for f in out["files"])
    model = snapshot(home, MODEL_FILE)
    assert model.read_bytes() == TINY_MODEL.read_bytes()
    assert snapshot(home, MMPROJ_FILE).read_bytes() == TINY_MMPROJ.read_bytes()
    assert "fake:q8_0: downloaded" in r.stderr

    listed = glmv("models", "--json", env=home)
    row = next(m for m in json.loads(listed.stdout) if m["name"] == "fake:q8_0")
    assert row["installed"] and row["path"] == str(model.parent)

    image = make_image(tmp_path / "p.png")
    asked = glmv("ask", "-m", "fake:q8_0", str(image), "q", *SHORT, "--json", env=home)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["model"] == "fake:q8_0"

    again = glmv("pull", "fake:q8_0", env=home)
    assert again.returncode == 0 and "already downloaded" in again.stderr
    assert not [r for r in hub.requests[-2:] if r[0] == "GET" and r[1].endswith(MODEL_FILE)]


def test_a_dropped_connection_resumes_with_a_range_request(glmv, home, hub):
    hub.drop_after = 12 << 20
    r = glmv("pull", "big:q4_k_m", env=home)
    assert r.returncode == 0, r.stderr
    gets = [rng for method, path, rng in hub.requests
            if method == "GET" and path.endswith(BIG_FILE)]
    assert gets == [None, f"bytes={CHUNK}-"]  # the second request asks for the rest only
    assert snapshot(home, BIG_FILE).read_bytes() == BIG


def test_ctrl_c_mid_download_leaves_nothing_half_written(home, hub, tmp_path):
    """huggingface-hub (since PR #4228) downloads to a per-process temporary name and
    deletes it on failure: after Ctrl-C nothing partial is left, and a new pull starts over."""
    hub.stall_after = 15 << 20
    env = {**os.environ, **home}
    proc = subprocess.Popen([sys.executable, "-m", "glmv_cli", "pull", "big:q4_k_m"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    stalled = hub.stalled.wait(60)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    took = time.monotonic() - t0
    hub.release.set()
    assert stalled, err
    record("a download", took)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert took < PROMPT_EXIT_S
    assert err.decode() == "glmv: interrupted\n"
    assert not snapshot(home, BIG_FILE).exists()
    assert not [p for p in Path(home["HF_HUB_CACHE"]).rglob("blobs/*")]

    hub.requests.clear()
    r = subprocess.run([sys.executable, "-m", "glmv_cli", "pull", "big:q4_k_m"], env=env,
                       capture_output=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert snapshot(home, BIG_FILE).read_bytes() == BIG
    # It started over: the file was fetched from its first byte, with no Range request.
    gets = [rng for method, path, rng in hub.requests if method == "GET" and BIG_FILE in path]
    assert gets == [None]


def test_checksum_mismatch_deletes_the_download_and_says_so(glmv, home, hub):
    Path(home["GLMV_HOME"], "models.toml").write_text(registry_entry(model_sha="0" * 64))
    r = glmv("pull", "fake:q8_0", env=home)
    assert r.returncode == ExitCode.DOWNLOAD
    assert r.stderr.startswith("glmv: checksum mismatch for tiny-Q8_0.gguf")
    assert r.stderr.count("\n") == 1
    assert not snapshot(home, MODEL_FILE).exists()
    blobs = list(Path(home["HF_HUB_CACHE"]).rglob("blobs/*"))
    model_blob = hashlib.sha256(TINY_MODEL.read_bytes()).hexdigest()
    assert model_blob not in [b.name for b in blobs]


def test_a_file_name_the_repo_does_not_have_is_only_a_hint(glmv, home, hub):
    # The registry's names are hints: the repo's listing and the entry's quant decide.
    Path(home["GLMV_HOME"], "models.toml").write_text(
        registry_entry(file="nope.gguf", sha=False).replace("mmproj-tiny-F16", "nope-mmproj"))
    r = glmv("pull", "fake:q8_0", "--json", env=home)
    assert r.returncode == 0, r.stderr
    assert [f["name"] for f in json.loads(r.stdout)["files"]] == [MODEL_FILE, MMPROJ_FILE]
    assert snapshot(home, MODEL_FILE).read_bytes() == TINY_MODEL.read_bytes()


def test_a_quant_the_repo_lacks_lists_the_quants_it_has(glmv, home, hub):
    Path(home["GLMV_HOME"], "models.toml").write_text(
        registry_entry(file="nope.gguf").replace('"Q8_0"', '"Q5_K_S"'))
    r = glmv("pull", "fake:q8_0", env=home)
    assert r.returncode == ExitCode.DOWNLOAD
    assert r.stderr == (f"glmv: {REPO} has no Q5_K_S build; it has: Q8_0 (941.8 kB), "
                        f"Q4_K_M (26.1 MB) (`glmv models --remote hf:{REPO}` lists its files)\n")
    assert not [path for _, path, _ in hub.requests if "/resolve/" in path]


def test_a_file_named_on_the_command_line_must_be_in_the_repo(glmv, home, hub):
    r = glmv("pull", f"hf:{REPO}", "--file", "a-Q8_0.gguf", env=home)
    assert r.returncode == ExitCode.DOWNLOAD
    assert r.stderr.startswith(f"glmv: a-Q8_0.gguf is not in {REPO}; its builds: Q8_0")
    r = glmv("pull", f"hf:{REPO}", "--mmproj", "mmproj-x.gguf", env=home)
    assert r.returncode == ExitCode.DOWNLOAD
    assert r.stderr == (f"glmv: mmproj-x.gguf is not in {REPO}; its projectors: "
                        f"{MMPROJ_FILE}\n")


def test_offline_mode_refuses_to_download(glmv, home, hub):
    r = glmv("pull", "fake:q8_0", env={**home, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == ExitCode.DOWNLOAD
    assert "offline mode is on" in r.stderr and r.stderr.count("\n") == 1
    assert hub.requests == []


def test_not_enough_disk_space_stops_before_downloading(home, hub, monkeypatch):
    from huggingface_hub import constants

    from glmv_cli.models import download
    from glmv_cli.models.resolve import find_entry

    for key, value in home.items():
        monkeypatch.setenv(key, value)
    # huggingface-hub read its environment when this process first imported it.
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", home["HF_HUB_CACHE"])
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(download.paths, "hf_cache_dir", lambda: Path(home["HF_HUB_CACHE"]))
    usage = type("Usage", (), {"free": 10_000_000})
    monkeypatch.setattr(download.paths.shutil, "disk_usage", lambda _p: usage)
    with pytest.raises(DownloadError, match=r"not enough disk space .* needs 1\.7 MB, 10\.0 MB"):
        download.pull(find_entry("fake:q8_0"))
    # The sizes came from the repo's listing; no file was asked for.
    assert [path for _, path, _ in hub.requests if "/api/models/" in path] == [
        f"/api/models/{REPO}/revision/main?blobs=true"]
    assert not [path for _, path, _ in hub.requests if "/resolve/" in path]
    assert not Path(home["HF_HUB_CACHE"]).exists() or not list(
        Path(home["HF_HUB_CACHE"]).rglob("blobs/*"))


def test_pull_any_hub_pair_registers_it(glmv, home, tmp_path):
    r = glmv("pull", f"hf:{REPO}", "--file", MODEL_FILE, "--mmproj", MMPROJ_FILE,
             "--name", "mine", env=home)
    assert r.returncode == 0, r.stderr
    assert "glmv ask --model mine" in r.stderr
    listed = json.loads(glmv("models", "--json", env=home).stdout)
    mine = next(m for m in listed if m["name"] == "mine")
    assert mine["installed"] and mine["quant"] == "Q8_0" and mine["repo"] == REPO
    image = make_image(tmp_path / "p.png")
    asked = glmv("ask", "-m", "mine", str(image), "q", *SHORT, env=home)
    assert asked.returncode == 0, asked.stderr
    # A second pull of the same pair is fine; the same name for another pair is not.
    assert glmv("pull", f"hf:{REPO}", "--file", MODEL_FILE, "--mmproj", MMPROJ_FILE,
                "--name", "mine", env=home).returncode == 0
    clash = glmv("pull", f"hf:{REPO}", "--file", MMPROJ_FILE, "--mmproj", MMPROJ_FILE,
                 "--name", "mine", env=home)
    assert clash.returncode == ExitCode.USAGE and "already has a model named 'mine'" in \
        clash.stderr


@pytest.mark.parametrize("args, message", [
    (("hf:justone", "--file", "a.gguf", "--mmproj", "b.gguf"), "is not hf:OWNER/REPO"),
    ((f"hf:{REPO}:q8_0@main:x",), "is not hf:OWNER/REPO[:QUANT][@REVISION]"),
    (("fake:q8_0", "--file", "a.gguf"), "--file, --mmproj and --name go with hf:"),
    (("no-such-model",), "unknown model 'no-such-model'"),
    (("tiny",), "'tiny' is not a Hub model"),
])
def test_pull_usage_errors(glmv, home, args, message):
    r = glmv("pull", *args, env=home)
    assert r.returncode in (ExitCode.USAGE, ExitCode.MODEL)
    assert message in r.stderr and r.stderr.count("\n") == 1


def test_ask_with_a_model_not_downloaded_names_the_pull_command(glmv, home, image, hub):
    r = glmv("ask", "-m", "fake:q8_0", str(image), "q", env=home)
    assert r.returncode == ExitCode.MODEL
    assert r.stderr == ("glmv: model 'fake:q8_0' is not downloaded (get it with: "
                        "glmv pull fake:q8_0)\n")
    assert hub.requests == []  # never a silent download in a script


@pytest.mark.parametrize("answer, downloads", [(b"y\n", True), (b"n\n", False)])
def test_ask_on_a_terminal_offers_to_pull(home, hub, image, answer, downloads):
    import pty

    env = {**os.environ, **home, "TERM": "xterm"}
    pid, fd = pty.fork()
    if pid == 0:  # child: glmv on a terminal
        os.execve(sys.executable, [sys.executable, "-m", "glmv_cli", "ask", "-m", "fake:q8_0",
                                   str(image), "q", *SHORT], env)
    out = b""
    sent = False
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if not sent and b"[y/N]" in out:
            os.write(fd, answer)
            sent = True
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert "Model 'fake:q8_0' (1.7 MB) is not downloaded" not in text  # sizes not in entry
    assert "Model 'fake:q8_0' is not downloaded. Download it now" in text
    assert snapshot(home, MODEL_FILE).exists() == downloads
    code = os.waitstatus_to_exitcode(status)
    assert code == (0 if downloads else ExitCode.MODEL), text
