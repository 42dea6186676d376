"""Resolving a repo and a quant to files, through huggingface-hub's real listing call
against the fake Hub, and what a pull records and verifies."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import pytest

from glmv_cli.errors import DownloadError, ExitCode
from glmv_cli.models import hub as resolution
from tests.conftest import MISMATCH_MMPROJ, TINY_MMPROJ, TINY_MODEL, make_image
from tests.models.conftest import (
    BIG_FILE,
    MMPROJ_FILE,
    MODEL_FILE,
    REPO,
    registry_entry,
    snapshot,
)
from tests.models.gguf_files import ROPE_SECTIONS, rewrite_gguf
from tests.models.hub import COMMIT, FakeHub

SHORT = ("--think-budget", "2", "--max-tokens", "4")
MANY = "glmv-test/Many-GGUF"  # a repo laid out like the big uploaders' ones


@pytest.fixture
def many(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """The fake Hub with a repo of many builds, reachable from this process."""
    from huggingface_hub import constants

    for name, size in [("Many-Q4_K_M.gguf", 40), ("Many-UD-Q4_K_M.gguf", 41),
                       ("Many-Q8_0-00001-of-00002.gguf", 50),
                       ("Many-Q8_0-00002-of-00002.gguf", 51), ("sub/Many-Q6_K.gguf", 60),
                       ("imatrix_many.gguf", 5), ("mmproj-Q8_0.gguf", 20),
                       ("mmproj-BF16.gguf", 21), ("mmproj-F16.gguf", 22),
                       ("sub/mmproj-Q8_0.gguf", 23), ("README.md", 3)]:
        hub.add(MANY, name, b"GGUF" + bytes([len(name)]) * (size - 4))
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    return hub


def names(pair: resolution.Pair) -> tuple[list[str], str]:
    return [f.name for f in pair.model], pair.mmproj.name


def test_the_listing_gives_the_commit_sizes_and_lfs_sha256(many):
    listing = resolution.list_repo(MANY, "main")
    assert listing.commit == COMMIT and listing.revision == "main"
    files = {f.name: f for f in listing.files}
    data = many.files[f"{MANY}/mmproj-F16.gguf"]
    assert files["mmproj-F16.gguf"].size == len(data) == 22
    assert files["mmproj-F16.gguf"].sha256 == hashlib.sha256(data).hexdigest()


def test_a_quant_tag_picks_the_text_gguf_in_any_case(many):
    listing = resolution.list_repo(MANY, "main")
    # The exact tag at the top of the repo beats UD-Q4_K_M; F16 is the first projector.
    assert names(resolution.choose(listing, "q4_k_m")) == (["Many-Q4_K_M.gguf"],
                                                           "mmproj-F16.gguf")
    assert names(resolution.choose(listing, "Q6_K")) == (["sub/Many-Q6_K.gguf"],
                                                         "sub/mmproj-Q8_0.gguf")


def test_a_split_build_resolves_to_all_its_parts_in_order(many):
    pair = resolution.choose(resolution.list_repo(MANY, "main"), "Q8_0")
    assert names(pair) == (["Many-Q8_0-00001-of-00002.gguf", "Many-Q8_0-00002-of-00002.gguf"],
                           "mmproj-F16.gguf")
    del many.files[f"{MANY}/Many-Q8_0-00002-of-00002.gguf"]
    with pytest.raises(DownloadError, match="Many-Q8_0 is split in 2 parts but part 2 is not"):
        resolution.choose(resolution.list_repo(MANY, "main"), "Q8_0")


def test_the_projector_is_the_hint_else_f16_then_bf16_then_q8_0(many):
    listing = resolution.list_repo(MANY, "main")
    assert resolution.choose(listing, "Q4_K_M", mmproj_hint="mmproj-Q8_0.gguf").mmproj.name \
        == "mmproj-Q8_0.gguf"
    assert resolution.choose(listing, "Q4_K_M", mmproj_hint="gone.gguf").mmproj.name == \
        "mmproj-F16.gguf"
    del many.files[f"{MANY}/mmproj-F16.gguf"]
    assert resolution.choose(resolution.list_repo(MANY, "main"), "Q4_K_M").mmproj.name == \
        "mmproj-BF16.gguf"
    del many.files[f"{MANY}/mmproj-BF16.gguf"]
    assert resolution.choose(resolution.list_repo(MANY, "main"), "Q4_K_M").mmproj.name == \
        "mmproj-Q8_0.gguf"


def test_the_repos_builds_by_quant_with_sizes(many):
    listing = resolution.list_repo(MANY, "main")
    assert [(q.tag, q.size) for q in resolution.quants(listing)] == [
        ("Q4_K_M", 40), ("Q8_0", 101), ("Q6_K", 60)]  # UD-Q4_K_M shares the Q4_K_M tag
    with pytest.raises(DownloadError) as err:
        resolution.choose(listing, "IQ2_XXS")
    assert err.value.message == (f"{MANY} has no IQ2_XXS build; it has: Q4_K_M (40 B), "
                                 "Q8_0 (101 B), Q6_K (60 B)")


def test_models_remote_lists_a_repo_without_downloading(glmv, home, hub):
    r = glmv("models", "--remote", "fake:q8_0", env=home)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "kind\tquant\tsize\tfiles\tpick",
        f"model\tQ8_0\t941.8 kB\t{MODEL_FILE}\t*",
        f"model\tQ4_K_M\t26.1 MB\t{BIG_FILE}\t",
        f"mmproj\tF16\t762.6 kB\t{MMPROJ_FILE}\t*",
    ]
    assert r.stderr == (f"{REPO} at main (commit {COMMIT[:12]}): `glmv pull fake:q8_0` takes "
                        "the rows marked *\n")
    missing = glmv("models", "--remote", f"hf:{REPO}:q5_k_s", "--json", env=home)
    listing = json.loads(missing.stdout)
    assert listing["commit"] == COMMIT and listing["pick_error"].startswith(
        f"{REPO} has no Q5_K_S build; it has: Q8_0 (941.8 kB), Q4_K_M (26.1 MB)")
    assert not [q for q in listing["quants"] if q["pick"]]
    assert not [path for _, path, _ in hub.requests if "/resolve/" in path]

    offline = glmv("models", "--remote", "fake:q8_0", env={**home, "HF_HUB_OFFLINE": "1"})
    assert offline.returncode == ExitCode.DOWNLOAD and "offline mode is on" in offline.stderr
    local = glmv("models", "--remote", "tiny", env=home)
    assert local.returncode == ExitCode.USAGE and "'tiny' is not a Hub model" in local.stderr


def test_pull_by_repo_and_quant_records_what_it_resolved(glmv, home, hub, tmp_path):
    r = glmv("pull", f"hf:{REPO}:q8_0", "--json", env=home)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    name = "tiny-glm-4.1v:q8_0"
    assert out["model"] == name and out["revision"] == COMMIT
    assert [(f["name"], f["sha256_verified"]) for f in out["files"]] == [
        (MODEL_FILE, True), (MMPROJ_FILE, True)]

    registry = tomllib.loads(Path(home["GLMV_HOME"], "models.toml").read_text())
    assert registry["models"][name] == {"family": "tiny-glm-4.1v", "quant": "Q8_0",
                                        "repo": REPO, "revision": "main",
                                        "file": MODEL_FILE, "mmproj": MMPROJ_FILE}
    record = tomllib.loads(Path(home["GLMV_HOME"], "pulled.toml").read_text())["pulled"][name]
    assert record["revision"] == COMMIT and record["repo"] == REPO
    assert record["model"] == [{"name": MODEL_FILE, "size": TINY_MODEL.stat().st_size,
                                "sha256": hashlib.sha256(TINY_MODEL.read_bytes()).hexdigest()}]
    assert record["mmproj"]["sha256"] == hashlib.sha256(TINY_MMPROJ.read_bytes()).hexdigest()

    asked = glmv("ask", "-m", name, str(make_image(tmp_path / "p.png")), "q", *SHORT, env=home)
    assert asked.returncode == 0, asked.stderr


def test_a_download_that_differs_from_the_hubs_sha256_is_deleted(glmv, home, hub):
    Path(home["GLMV_HOME"], "models.toml").write_text(registry_entry(sha=False))
    hub.listed_sha256[f"{REPO}/{MODEL_FILE}"] = "0" * 64
    r = glmv("pull", "fake:q8_0", env=home)
    assert r.returncode == ExitCode.DOWNLOAD
    real = hashlib.sha256(TINY_MODEL.read_bytes()).hexdigest()
    assert r.stderr == (f"glmv: checksum mismatch for {MODEL_FILE}: sha256 {real}, the Hub "
                        f"expects {'0' * 64}; the download was deleted (the transfer was "
                        "corrupted; pull again)\n")
    assert not snapshot(home, MODEL_FILE).exists()
    assert real not in [b.name for b in Path(home["HF_HUB_CACHE"]).rglob("blobs/*")]
    assert not Path(home["GLMV_HOME"], "pulled.toml").exists()  # nothing recorded


def test_the_registrys_sha256_wins_over_the_hubs(glmv, home, hub):
    real = hashlib.sha256(TINY_MODEL.read_bytes()).hexdigest()
    r = glmv("pull", "fake:q8_0", "--json", env=home)  # the registry and the Hub agree
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files"][0]["sha256"] == real
    glmv("rm", "fake:q8_0", "-y", env=home)

    hub.listed_sha256[f"{REPO}/{MODEL_FILE}"] = "f" * 64  # the Hub's file changed
    fetched = len([1 for m, path, _ in hub.requests if m == "GET" and "/resolve/" in path])
    r = glmv("pull", "fake:q8_0", env=home)
    assert r.returncode == ExitCode.DOWNLOAD
    assert r.stderr == (f"glmv: checksum mismatch for {MODEL_FILE}: the Hub lists sha256 "
                        f"{'f' * 64}, the registry expects {real}; nothing was downloaded "
                        "(the file on the Hub changed or the registry entry is wrong)\n")
    assert fetched == len([1 for m, path, _ in hub.requests
                           if m == "GET" and "/resolve/" in path])


def test_doctor_verifies_a_pull_offline_against_its_recorded_sha256(glmv, home, hub):
    Path(home["GLMV_HOME"], "models.toml").write_text(registry_entry(sha=False))
    assert glmv("pull", "fake:q8_0", env=home).returncode == 0
    offline = {**home, "HF_HUB_OFFLINE": "1"}
    asked = len(hub.requests)
    ok = glmv("doctor", "--verify", env=offline)
    assert ok.returncode == 0, ok.stderr
    assert "model fake:q8_0: 1.7 MB, ok (sha256 verified)" in ok.stdout
    again = glmv("pull", "fake:q8_0", env=offline)  # offline, a recorded pull is enough
    assert again.returncode == 0 and "already downloaded" in again.stderr

    blob = snapshot(home, MODEL_FILE).resolve()
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF  # a flipped bit in the weights: the header still reads fine
    blob.write_bytes(bytes(data))
    bad = glmv("doctor", "--verify", "--json", env=offline)
    row = next(m for m in json.loads(bad.stdout)["models"] if m["name"] == "fake:q8_0")
    assert row["state"] == "damaged" and row["problems"][0].startswith(
        f"{MODEL_FILE}: sha256 ")
    assert len(hub.requests) == asked  # all of it without the Hub


def test_a_split_model_pulls_every_part_and_answers(glmv, home, hub, tmp_path):
    parts = rewrite_gguf(TINY_MODEL, tmp_path / "tiny-split-F16.gguf", split_max_tensors=12)
    assert len(parts) == 3
    for part in parts:
        hub.add("glmv-test/Split-GGUF", part.name, part.read_bytes())
    hub.add("glmv-test/Split-GGUF", "mmproj-F16.gguf", TINY_MMPROJ.read_bytes())
    r = glmv("pull", "hf:glmv-test/Split-GGUF:f16", "--json", env=home)
    assert r.returncode == 0, r.stderr
    pulled = json.loads(r.stdout)["files"]
    # The first part and the projector come first: that is what llama.cpp is given.
    assert [f["name"] for f in pulled] == [parts[0].name, "mmproj-F16.gguf",
                                           parts[1].name, parts[2].name]
    asked = glmv("ask", "-m", "split:f16", str(make_image(tmp_path / "p.png")), "q", *SHORT,
                 "--json", env=home)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["usage"]["image_tokens"] > 0

    removed = glmv("rm", "split:f16", "-y", env=home)
    assert removed.returncode == 0, removed.stderr
    assert not list(Path(home["HF_HUB_CACHE"]).rglob("blobs/*"))


@pytest.mark.parametrize(("mmproj", "state", "message"), [
    (None, "STALE BUILD", "is a stale build: converted before llama.cpp supported GLM-4.1V"),
    (MISMATCH_MMPROJ, "MISMATCH", "mismatch between text model (n_embd = 128) and mmproj"),
])
def test_a_pair_that_cannot_see_images_is_reported_by_pull_and_doctor(
        glmv, home, hub, tmp_path, mmproj, state, message):
    repo = "glmv-test/Old-GGUF"
    text = TINY_MODEL
    if mmproj is None:  # the stale build: the tiny model without its M-RoPE sections
        text = rewrite_gguf(TINY_MODEL, tmp_path / "old.gguf", drop=[ROPE_SECTIONS])[0]
    hub.add(repo, "Old-Q8_0.gguf", text.read_bytes())
    hub.add(repo, "mmproj-F16.gguf", (mmproj or TINY_MMPROJ).read_bytes())

    r = glmv("pull", f"hf:{repo}:q8_0", env=home)
    assert r.returncode == ExitCode.MODEL
    error = r.stderr.splitlines()[-1]
    assert error.startswith("glmv: old:q8_0: ") and message in error
    assert error.endswith("the files stay in the HF cache until `glmv rm old:q8_0`)")

    doctor = glmv("doctor", env=home)
    line = next(x for x in doctor.stdout.splitlines() if x.startswith("model old:q8_0:"))
    assert f", {state}: " in line and message in line
    assert "model tiny: 1.7 MB, ok" in doctor.stdout
    asked = glmv("ask", "-m", "old:q8_0", str(make_image(tmp_path / "p.png")), "q", env=home)
    assert asked.returncode == ExitCode.MODEL and message in asked.stderr
    assert glmv("rm", "old:q8_0", "-y", env=home).returncode == 0
