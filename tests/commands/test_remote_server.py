"""glmv against a real OpenAI-compatible server: llama-cpp-python's own, serving the tiny
model with its multimodal chat handler on 127.0.0.1, compared with the local engine on
the same inputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_image
from tests.servers import LlamaServer

# A schema whose answers are bounded, so that the random tiny model cannot run past it.
SCHEMA = json.dumps({"type": "object",
                     "properties": {"red_square": {"type": "boolean"},
                                    "colour": {"enum": ["red", "blue"]}},
                     "required": ["red_square", "colour"], "additionalProperties": False})


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LlamaServer]:
    srv = LlamaServer(tmp_path_factory.mktemp("server") / "server.log")
    yield srv
    srv.stop()


def test_ask_json_matches_the_local_run_on_the_same_input(glmv, server: LlamaServer,
                                                          image: Path) -> None:
    args = ("ask", str(image), "What is in the picture?", "--json", "--max-tokens", "24")
    remote = glmv(*args, "--endpoint", server.url)
    local = glmv(*args)
    assert remote.returncode == 0, remote.stderr
    assert local.returncode == 0, local.stderr
    r, loc = json.loads(remote.stdout), json.loads(local.stdout)
    assert r["model"] == "tiny"  # the name the server lists
    # Same preprocessing: the same image size and tokens reach both engines.
    assert r["inputs"] == loc["inputs"]
    assert r["usage"]["image_tokens"] == loc["usage"]["image_tokens"] == 77
    assert r["finish_reason"] == loc["finish_reason"] == "length"
    assert 0 < r["usage"]["generated_tokens"] <= 24
    assert (r["answer"] + r["thinking"]).strip()
    assert set(r) == set(loc)  # the same --json object


def test_ask_piped_prints_the_answer_alone(glmv, server: LlamaServer, image: Path) -> None:
    result = glmv("ask", str(image), "What?", "--max-tokens", "16", "--endpoint", server.url,
                  "--model-name", "tiny")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_schema_remote_and_local_both_give_valid_objects(glmv, server: LlamaServer,
                                                         image: Path) -> None:
    args = ("ask", str(image), "Is there a red square?", "--schema", SCHEMA, "--json",
            "--max-tokens", "200", "--think-budget", "16")
    local = glmv(*args)
    assert local.returncode == 0, local.stderr
    # The server refuses response_format json_schema, so glmv asks in its own form.
    remote = glmv(*[a for a in args if a not in ("--think-budget", "16")],
                  "--endpoint", server.url)
    assert remote.returncode == 0, remote.stderr
    for obj in (json.loads(local.stdout), json.loads(remote.stdout)):
        assert set(obj["structured"]) == {"red_square", "colour"}
        assert isinstance(obj["structured"]["red_square"], bool)


def test_batch_parallel_against_the_server_covers_the_same_inputs(
        glmv, server: LlamaServer, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(5):
        make_image(folder / f"p{i}.png", (84 + 28 * i, 84), colour=(40 * i, 80, 160))
    remote_out, local_out = tmp_path / "remote.jsonl", tmp_path / "local.jsonl"
    remote = glmv("batch", "Is there a red square?", str(folder), "--schema", SCHEMA,
                  "--max-tokens", "200", "--endpoint", server.url, "--parallel", "2",
                  "--jsonl", str(remote_out))
    local = glmv("batch", "Is there a red square?", str(folder), "--schema", SCHEMA,
                 "--max-tokens", "200", "--think-budget", "16", "--jsonl", str(local_out))
    assert remote.returncode == 0, remote.stderr
    assert local.returncode == 0, local.stderr
    r = {(x["path"], x["sha256"]): x for x in map(json.loads, remote_out.read_text().splitlines())}
    loc = {(x["path"], x["sha256"]): x for x in map(json.loads, local_out.read_text().splitlines())}
    assert set(r) == set(loc) and len(r) == 5
    for record in r.values():
        assert record["error"] is None
        assert record["model"] == "tiny"
        assert record["structured"]["colour"] in ("red", "blue")
    assert "5 answered" in remote.stderr
