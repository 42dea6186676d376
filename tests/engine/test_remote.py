"""The remote engine against a stub server on loopback: the stream parsed like a local
one, the request laid out like the local prompt, and every fault turned into a clear
error (exit 10) after the retries the README promises."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from glmv_cli.engine.events import Answer, Done, Thinking
from glmv_cli.engine.remote import RemoteEngine
from glmv_cli.engine.request import Request, Turn
from glmv_cli.engine.transcript import Transcript
from glmv_cli.errors import ExitCode, RemoteError, RemoteUnavailable
from glmv_cli.inputs.image import prepare_image
from glmv_cli.inputs.source import Source
from glmv_cli.inputs.video import SampledFrame, Video
from glmv_cli.models.ref import RemoteModel
from tests.conftest import make_image
from tests.servers import SSE_HEADERS, Reply, StubServer, content_chunks, free_port, sse

GLM_TEXT = ("<think>The picture shows a total.</think><answer>The total is "
            "<|begin_of_box|>[10,20,300,400]<|end_of_box|></answer><|user|>")


def ok(text: str = GLM_TEXT, reasoning: str = "") -> Reply:
    return 200, SSE_HEADERS, sse(content_chunks(text, reasoning=reasoning)), 0.0


@pytest.fixture
def stub() -> Iterator[list[StubServer]]:
    servers: list[StubServer] = []
    yield servers
    for s in servers:
        s.stop()


def serve(servers: list[StubServer], script) -> StubServer:
    server = StubServer(script)
    servers.append(server)
    return server


def engine_at(url: str, timeout: float = 5.0, model: str | None = None) -> RemoteEngine:
    return RemoteEngine(RemoteModel("stub", url, model, timeout=timeout), retries=2,
                        backoff_s=0.01)


def run(engine: RemoteEngine, request: Request) -> tuple[Transcript, list]:
    transcript, events = Transcript(), []
    with engine:
        for event in engine.generate(request):
            transcript.add(event)
            events.append(event)
    return transcript, events


def test_raw_tags_split_across_chunks_give_thinking_answer_and_box(stub) -> None:
    server = serve(stub, lambda n, req: ok())
    transcript, events = run(engine_at(server.url), Request("What is the total?"))
    assert transcript.thinking.strip() == "The picture shows a total."
    assert transcript.answer.strip() == "The total is [10,20,300,400]"
    assert [b.coords for b in transcript.boxes] == [((10.0, 20.0, 300.0, 400.0),)]
    assert "<|user|>" not in transcript.answer
    done = events[-1]
    assert isinstance(done, Done) and done.finish_reason == "stop"
    assert done.usage.generated_tokens == 17  # the server's own count
    assert server.requests[0]["model"] == "stub"  # the name the server lists


def test_reasoning_content_is_the_thinking(stub) -> None:
    server = serve(stub, lambda n, req: ok("<answer>Forty-two</answer>",
                                           reasoning="Adding the lines up."))
    transcript, events = run(engine_at(server.url), Request("Total?"))
    assert transcript.thinking == "Adding the lines up."
    assert transcript.answer.strip() == "Forty-two"
    kinds = [type(e) for e in events if isinstance(e, Thinking | Answer)]
    assert kinds.index(Answer) > kinds.index(Thinking)


def test_media_go_in_the_local_prompt_order_with_exact_pixels(stub, tmp_path: Path) -> None:
    server = serve(stub, lambda n, req: ok())
    image = prepare_image(Source("a.png", make_image(tmp_path / "a.png").read_bytes()), 64)
    frame = prepare_image(Source("f.png", make_image(tmp_path / "f.png", (56, 56)).read_bytes()),
                          64)
    clip = Video("clip.mp4", (SampledFrame(0, 0.0, frame, 1, 0.5),
                                  SampledFrame(30, 1.0, frame, 31, 1.5)))
    run(engine_at(server.url), Request("Compare.", media=(image, clip), system="Be brief."))
    body = server.requests[0]
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    parts = body["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["image_url", "text", "image_url", "text",
                                          "image_url", "text"]
    assert parts[1]["text"] == "<|begin_of_video|>"
    assert parts[3]["text"] == "0"  # each frame followed by its timestamp
    assert parts[5]["text"] == "1<|end_of_video|>Compare."
    png = base64.b64decode(parts[0]["image_url"]["url"].split(",", 1)[1])
    sent = Image.open(io.BytesIO(png))
    assert sent.size == (image.width, image.height)
    assert sent.convert("RGB").tobytes() == image.rgb  # lossless: the prepared pixels
    assert body["stream"] is True and body["skip_special_tokens"] is False


def test_a_conversation_goes_as_turns_with_the_answers_alone(stub, tmp_path: Path) -> None:
    """`glmv chat` through a remote engine: earlier turns as user and assistant messages
    (the answer without its thinking), the new question's media with it."""
    server = serve(stub, lambda n, req: ok())
    image = prepare_image(Source("a.png", make_image(tmp_path / "a.png").read_bytes()), 64)
    other = prepare_image(Source("b.png", make_image(tmp_path / "b.png", (56, 56)).read_bytes()),
                          64)
    request = Request("And this one?", media=(other,),
                      history=(Turn("What is it?", "A square.", (image,)),))
    engine = engine_at(server.url)
    run(engine, request)
    roles = [m["role"] for m in server.requests[0]["messages"]]
    assert roles == ["user", "assistant", "user"]
    first, answer, second = server.requests[0]["messages"]
    assert [p["type"] for p in first["content"]] == ["image_url", "text"]
    assert first["content"][1]["text"] == "What is it?"
    assert answer["content"] == "A square."
    assert second["content"][1]["text"] == "And this one?"
    alone = engine.count_prompt(Request("And this one?", media=(other,)))
    assert engine.count_prompt(request) > alone + image.tokens


def test_settings_map_to_server_options(stub) -> None:
    server = serve(stub, lambda n, req: ok())
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    run(engine_at(server.url), Request("Q", max_tokens=77, think=False, schema=schema))
    body = server.requests[0]
    assert body["max_tokens"] == 77
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == schema


def test_a_refused_response_format_falls_back_to_the_next_form(stub) -> None:
    def script(n: int, req: dict) -> Reply:
        form = (req.get("response_format") or {}).get("type")
        if form == "json_schema":  # as llama.cpp's server does
            return 500, {"Content-Type": "application/json"}, [json.dumps(
                {"error": {"message": "response_format.type: Input should be 'text' or "
                                      "'json_object'"}}).encode()], 0.0
        return ok('{"a": "x"}')

    server = serve(stub, script)
    engine = engine_at(server.url)
    transcript, _ = run(engine, Request("Q", schema={"type": "object"}))
    assert transcript.answer.strip() == '{"a": "x"}'
    forms = [(r.get("response_format") or {}).get("type") for r in server.requests]
    assert forms == ["json_schema", "json_object"]  # not retried as a 500


def test_429_then_success_is_retried(stub) -> None:
    def script(n: int, req: dict) -> Reply:
        if n == 1:
            return 429, {"Retry-After": "0", "Content-Type": "application/json"}, \
                [b'{"error": {"message": "slow down"}}'], 0.0
        return ok()

    server = serve(stub, script)
    transcript, _ = run(engine_at(server.url), Request("Q"))
    assert len(server.requests) == 2
    assert "The total is" in transcript.answer


def test_500_every_time_fails_after_the_retries(stub) -> None:
    server = serve(stub, lambda n, req: (500, {"Content-Type": "application/json"},
                                         [b'{"error": {"message": "GPU on fire"}}'], 0.0))
    with pytest.raises(RemoteError, match="GPU on fire") as info:
        run(engine_at(server.url), Request("Q"))
    assert info.value.exit_code == ExitCode.REMOTE
    assert len(server.requests) == 3  # the first try and two retries


def test_a_stream_cut_halfway_is_an_error(stub) -> None:
    parts = sse(content_chunks(GLM_TEXT), done=False)
    server = serve(stub, lambda n, req: (200, SSE_HEADERS, [*parts[:4], None], 0.0))
    with pytest.raises(RemoteError, match="broke off"):
        run(engine_at(server.url), Request("Q"))


def test_a_stalled_stream_times_out(stub) -> None:
    parts = sse(content_chunks(GLM_TEXT))
    server = serve(stub, lambda n, req: (200, SSE_HEADERS, parts[:2], 2.0))
    with pytest.raises(RemoteError, match=r"sent nothing for 0\.5 s"):
        run(engine_at(server.url, timeout=0.5), Request("Q"))


def test_a_refused_connection_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with pytest.raises(RemoteUnavailable, match="cannot reach"):
        engine_at(url).load()


def test_a_model_the_server_lacks_is_refused_at_load(stub) -> None:
    server = serve(stub, lambda n, req: ok())
    with pytest.raises(RemoteUnavailable, match=r"does not serve .other.*stub"):
        engine_at(server.url, model="other").load()


def test_counts_are_estimates_that_cover_images(stub, tmp_path: Path) -> None:
    server = serve(stub, lambda n, req: ok())
    image = prepare_image(Source("a.png", make_image(tmp_path / "a.png").read_bytes()), 64)
    engine = engine_at(server.url)
    assert engine.count_media((image,)) == image.tokens + 2
    assert engine.capabilities.exact_counts is False
    assert engine.capabilities.grammar is False


# -- through the command line ------------------------------------------------------------


def test_cli_exit_10_when_the_server_fails(stub, glmv, image: Path) -> None:
    server = serve(stub, lambda n, req: (503, {"Content-Type": "application/json"},
                                         [b'{"error": {"message": "overloaded"}}'], 0.0))
    # Retries back off 0.5, 1, 2, 4 s: this takes about 8 s.
    result = glmv("ask", str(image), "Q?", "--endpoint", server.url, timeout=60)
    assert result.returncode == 10
    assert result.stderr.startswith("glmv: ") and "overloaded" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(server.requests) == 5


def test_cli_exit_10_when_nothing_listens(glmv, image: Path) -> None:
    result = glmv("ask", str(image), "Q?", "--endpoint", f"http://127.0.0.1:{free_port()}/v1")
    assert result.returncode == 10
    assert "cannot reach" in result.stderr and result.stdout == ""


def test_cli_refuses_what_a_remote_engine_cannot_do(stub, glmv, image: Path) -> None:
    server = serve(stub, lambda n, req: ok())
    budget = glmv("ask", str(image), "Q?", "--endpoint", server.url, "--think-budget", "10")
    assert budget.returncode == 2 and "--think-budget" in budget.stderr
    act = glmv("act", str(image), "Tap OK", "--endpoint", server.url)
    assert act.returncode == 2 and "grammar" in act.stderr
    assert server.requests == []  # refused before anything was sent


def test_cli_named_endpoint_from_config(stub, glmv, image: Path, tmp_path: Path) -> None:
    server = serve(stub, lambda n, req: ok())
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'[endpoints.gpu]\nurl = "{server.url}"\n'
                                      'model = "stub"\napi_key = "sekrit"\n')
    result = glmv("ask", str(image), "Q?", "--model", "gpu", "--json",
                  env={"GLMV_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["answer"] == "The total is [10,20,300,400]"
    assert obj["thinking"] == "The picture shows a total."
    assert obj["boxes"][0]["pixels"]  # mapped onto the image, as for a local run


def test_cli_bad_endpoint_table_is_a_config_error(glmv, image: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[endpoints.gpu]\nmodel = "x"\n')
    result = glmv("ask", str(image), "Q?", "--model", "gpu", env={"GLMV_HOME": str(home)})
    assert result.returncode == 2
    assert "endpoint 'gpu'" in result.stderr and "'url' is required" in result.stderr


def test_cli_ctrl_c_mid_stream_keeps_what_came_and_exits_130(stub, image: Path,
                                                             tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    text = "<answer>" + "word " * 200 + "</answer>"
    server = serve(stub, lambda n, req: (200, SSE_HEADERS, sse(content_chunks(text)), 0.05))
    proc = subprocess.Popen(
        [sys.executable, "-m", "glmv_cli", "ask", str(image), "Q?", "--endpoint", server.url],
        cwd=tmp_path, env=os.environ.copy(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # some of the answer has streamed by
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()
    assert time.monotonic() - t0 < 3.0
    assert err.decode().rstrip().endswith("glmv: interrupted")
    shown = out.decode()
    assert shown.startswith("word word") and len(shown) < len(text) - 200  # a part of it
