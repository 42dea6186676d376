"""Servers the remote-engine tests talk to, on 127.0.0.1 only.

- `LlamaServer`: llama-cpp-python's own OpenAI-compatible server (the `server` extra)
  serving the tiny model with its multimodal (mtmd) chat handler: the real thing.
- `StubServer`: a few lines of http.server that answer as scripted, for the faults a real
  server will not produce on demand (429, 500, a stream cut halfway, a stall, ...).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import TINY_MMPROJ, TINY_MODEL

START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """`python -m llama_cpp.server` on the tiny model; `url` is its API base."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(TINY_MODEL),
             "--clip_model_path", str(TINY_MMPROJ), "--chat_format", "mtmd",
             "--model_alias", "tiny", "--host", "127.0.0.1", "--port", str(self.port),
             "--n_ctx", "4096", "--n_threads", "2", "--verbose", "False",
             # Its default cuts a streaming answer short when the next request arrives;
             # concurrent requests must queue instead, as on vLLM or SGLang.
             "--interrupt_requests", "False"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: see {log}")
            try:
                with urllib.request.urlopen(self.url + "/models", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not start in {START_TIMEOUT_S} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


# A chat-completions reply, scripted: returns (status, headers, body parts, pause before
# each part). A part of None closes the connection there, without finishing the stream.
Reply = tuple[int, dict[str, str], list[bytes | None], float]
Script = Callable[[int, dict[str, Any]], Reply]


def sse(chunks: list[dict[str, Any]], done: bool = True) -> list[bytes | None]:
    """Server-sent events for these chunks (and `[DONE]`)."""
    parts: list[bytes | None] = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks]
    if done:
        parts.append(b"data: [DONE]\n\n")
    return parts


def content_chunks(text: str, size: int = 5, reasoning: str = "") -> list[dict[str, Any]]:
    """`text` streamed `size` characters at a time (tags split across chunks), after
    `reasoning` as reasoning_content when given; then a stop and usage."""
    chunks = [{"choices": [{"index": 0, "delta": {"reasoning_content": reasoning[i:i + size]},
                            "finish_reason": None}]}
              for i in range(0, len(reasoning), size)]
    chunks += [{"choices": [{"index": 0, "delta": {"content": text[i:i + size]},
                             "finish_reason": None}]}
               for i in range(0, len(text), size)]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({"choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 17,
                                            "total_tokens": 57}})
    return chunks


class StubServer:
    """Answers /v1/models with one model, and /v1/chat/completions as `script` says;
    keeps every request body it got in `requests`."""

    def __init__(self, script: Script, model: str = "stub") -> None:
        self.script, self.model = script, model
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps({"data": [{"id": stub.model}]}).encode()
                self._send(200, {"Content-Type": "application/json"}, [body], 0.0)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length))
                stub.requests.append(request)
                self._send(*stub.script(len(stub.requests), request))

            def _send(self, status: int, headers: dict[str, str],
                      parts: list[bytes | None], pause: float) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if None in parts:  # cut off: no length, close mid-body
                    self.send_header("Connection", "close")
                else:
                    self.send_header("Content-Length", str(sum(len(p) for p in parts)))  # type: ignore[arg-type]
                self.end_headers()
                self.wfile.flush()
                for part in parts:
                    time.sleep(pause)
                    if part is None:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.wfile.write(part)
                    self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


SSE_HEADERS = {"Content-Type": "text/event-stream"}
