"""`glmv models`, `glmv rm`, `glmv doctor` and config.toml, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glmv_cli.errors import ExitCode, SelfTestFailed
from tests.models.conftest import MMPROJ_FILE, MODEL_FILE, REPO, registry_entry, snapshot


def test_models_lists_the_registry_as_tsv_when_piped(glmv, tmp_path):
    r = glmv("models", env={"GLMV_HOME": str(tmp_path)})
    lines = r.stdout.splitlines()
    assert lines[0] == "name\tquant\tsize\tinstalled\tpath\tdefault"
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert rows["glm-4.1v:q4_k_m"][5] == "*"
    assert rows["tiny"][3] == "yes" and rows["tiny"][2] == "1.7 MB"
    assert rows["glm-4.6v-flash:q4_k_m"][2] == "7.1 GB"


def test_rm_deletes_the_files_and_keeps_a_shared_mmproj(glmv, home):
    registry = Path(home["GLMV_HOME"], "models.toml")
    registry.write_text(registry_entry() + registry_entry("other:f16", sha=False))
    assert glmv("pull", "fake:q8_0", env=home).returncode == 0
    assert glmv("pull", "other:f16", env=home).returncode == 0

    refused = glmv("rm", "fake:q8_0", env=home)  # stdin is not a terminal
    assert refused.returncode == ExitCode.USAGE and "add --yes" in refused.stderr
    assert snapshot(home, MODEL_FILE).exists()

    # Both entries use the same two files of the same repo: rm keeps what other still uses.
    kept = glmv("rm", "fake:q8_0", "--yes", env=home)
    assert kept.returncode == 0, kept.stderr
    assert "used by other:f16" in kept.stderr and snapshot(home, MMPROJ_FILE).exists()

    registry.write_text(registry_entry())
    gone = glmv("rm", "fake:q8_0", "-y", env=home)
    assert gone.returncode == 0, gone.stderr
    assert "freed 1.7 MB" in gone.stderr
    assert not snapshot(home, MODEL_FILE).exists() and not snapshot(home, MMPROJ_FILE).exists()
    blobs = Path(home["HF_HUB_CACHE"], f"models--{REPO.replace('/', '--')}", "blobs")
    assert list(blobs.iterdir()) == []
    again = glmv("rm", "fake:q8_0", "-y", env=home)
    assert again.returncode == ExitCode.MODEL and "not downloaded" in again.stderr


def test_rm_refuses_the_builtin_model(glmv):
    r = glmv("rm", "tiny", "--yes")
    assert r.returncode == ExitCode.USAGE and "ships with glmv" in r.stderr


def test_doctor_reports_and_runs_the_self_test(glmv, tmp_path):
    r = glmv("doctor", "--json", env={"GLMV_HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["versions"]["llama_cpp_python"] == "0.3.36"
    assert "CPU" in report["llama_cpp"]["backends"]
    assert isinstance(report["llama_cpp"]["gpu_offload"], bool)
    assert report["machine"]["ram_total"] > 0 and report["machine"]["disk_free"] > 0
    assert report["paths"]["config_dir"] == str(tmp_path)
    st = report["self_test"]
    assert st["ok"] and st["image_tokens"] > 0 and st["generated_tokens"] > 0
    assert st["timings"]["encode_s"] > 0
    tiny = next(m for m in report["models"] if m["name"] == "tiny")
    assert tiny["ok"] and not tiny["problems"]

    plain = glmv("doctor", "--verify", env={"GLMV_HOME": str(tmp_path)})
    assert plain.returncode == 0
    assert "model tiny: 1.7 MB, ok (sha256 verified)" in plain.stdout
    assert "self-test: ok in" in plain.stdout


def test_doctor_flags_a_damaged_download(glmv, home):
    assert glmv("pull", "fake:q8_0", env=home).returncode == 0
    blob = snapshot(home, MODEL_FILE).resolve()
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.write_bytes(bytes(data))
    r = glmv("doctor", "--verify", env=home)
    assert "model fake:q8_0: 1.7 MB, DAMAGED: tiny-Q8_0.gguf: sha256" in r.stdout
    pull = glmv("pull", "fake:q8_0", env=home)  # pull does not overwrite what you have
    assert pull.returncode == ExitCode.DOWNLOAD and "already in the cache but damaged" in \
        pull.stderr


def test_a_failing_self_test_raises_exit_7(tmp_path, monkeypatch):
    from glmv_cli.commands import doctor as doctor_cmd
    from glmv_cli.models.ref import LocalModel

    broken = []
    for name in ("tiny-glm41v-f16.gguf", "mmproj-tiny-glm41v-f16.gguf"):
        (tmp_path / name).write_bytes(b"GGUF" + b"\0" * 64)  # a GGUF header, nothing inside
        broken.append(tmp_path / name)
    result = doctor_cmd.self_test(LocalModel("tiny", *broken))
    assert not result["ok"] and "cannot load model" in result["error"]
    monkeypatch.setattr(doctor_cmd, "self_test", lambda: result)
    monkeypatch.setenv("GLMV_HOME", str(tmp_path))
    with pytest.raises(SelfTestFailed) as err:
        doctor_cmd.doctor(verify=False, json_out=True)
    assert err.value.exit_code == ExitCode.SELF_TEST == 7


def test_config_file_sets_defaults_that_flags_override(glmv, tmp_path, image):
    (tmp_path / "config.toml").write_text("max_image_tokens = 64\nthreads = 1\n")
    env = {"GLMV_HOME": str(tmp_path)}
    short = ("--think-budget", "2", "--max-tokens", "4", "--json")
    r = glmv("ask", str(image), "q", *short, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["inputs"][0]["tokens"] <= 64
    wide = glmv("ask", str(image), "q", *short, "--max-image-tokens", "1024", env=env)
    assert json.loads(wide.stdout)["inputs"][0]["tokens"] > 64


def test_config_model_is_the_default_and_glmv_model_beats_it(glmv, tmp_path, image):
    (tmp_path / "config.toml").write_text('model = "no-such-model"\n')
    env = {"GLMV_HOME": str(tmp_path), "GLMV_MODEL": ""}
    r = glmv("ask", str(image), "q", env=env)
    assert r.returncode == ExitCode.MODEL and "unknown model 'no-such-model'" in r.stderr
    ok = glmv("ask", str(image), "q", "--think-budget", "2", "--max-tokens", "4",
              env={"GLMV_HOME": str(tmp_path), "GLMV_MODEL": "tiny"})
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("text, message", [
    ("threads = 0\n", "config.toml:1: 'threads' must be at least 1"),
    ("colour = 1\n", "config.toml:1: unknown setting 'colour'"),
    ("model = 3\n", "config.toml:1: 'model' must be a string"),
    ("model = \n", "config.toml: invalid TOML"),
])
def test_a_bad_config_is_a_one_line_error(glmv, tmp_path, image, text, message):
    (tmp_path / "config.toml").write_text(text)
    r = glmv("ask", str(image), "q", env={"GLMV_HOME": str(tmp_path)})
    assert r.returncode == ExitCode.USAGE
    assert message in r.stderr and r.stderr.count("\n") == 1
    doctor = glmv("doctor", "--json", env={"GLMV_HOME": str(tmp_path)})
    assert doctor.returncode == 0  # doctor reports a broken config instead of failing
    assert not json.loads(doctor.stdout)["config"]["ok"]


def test_ctrl_c_during_the_self_test_is_not_a_failed_self_test(monkeypatch):
    """Ctrl-C is not an error to report: it must reach main() as Interrupted (exit 130),
    not become "self-test failed" (exit 7). Fault injection: the image step is
    interrupted."""
    from glmv_cli.commands import doctor as doctor_cmd
    from glmv_cli.errors import Interrupted
    from glmv_cli.inputs import image

    def interrupted(*_a, **_k):
        raise Interrupted()

    monkeypatch.setattr(image, "prepare_image", interrupted)
    with pytest.raises(Interrupted):
        doctor_cmd.self_test()


def test_doctor_reports_a_damaged_pull_record_and_goes_on(glmv, tmp_path):
    (tmp_path / "pulled.toml").write_text("[pulled.x]\nrepo = 1\n")
    r = glmv("doctor", env={"GLMV_HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert f"models: ERROR {tmp_path / 'pulled.toml'} is damaged" in r.stdout
    assert "self-test: ok in" in r.stdout
