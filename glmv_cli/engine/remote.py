"""The remote engine: GLM-4.1V behind an OpenAI-compatible chat-completions API (vLLM,
SGLang, llama.cpp's server), streamed.

The media go in the same order and at the same sizes as for the local engine (images as
PNG data URLs, so the server sees exactly the pixels glmv prepared; a video's frames each
followed by its timestamp as a text part, between the video markers), and the streamed
text goes through the same parser: thinking and answer are separated whether the server
splits them (`reasoning_content`, `reasoning`) or sends the raw `<think>`/`<answer>` tags.

What the API cannot express is mapped or refused (see `capabilities`):
- a thinking budget enforced mid-stream: not offered (check_request refuses it; the PDF
  planner's own map-step budgets are dropped, its `max_tokens` still bound each step);
- a GBNF grammar: not offered (`act`, `ground --strict` are refused);
- `--no-think`: sent as `chat_template_kwargs.enable_thinking = false`, which templates
  of hybrid models (GLM-4.5V, GLM-4.6V) honour; GLM-4.1V-Thinking always thinks;
- `--schema`: sent as `response_format` json_schema (vLLM and SGLang apply it to the
  answer after the reasoning when a reasoning parser runs); a server that rejects that
  form is asked with llama.cpp's server's (`json_object` with a `schema`, applied to the
  whole output, thinking included), then without any; the answer is validated on
  return either way.

HTTP goes through httpx2 (huggingface-hub's own client, so no new dependency): timeouts
per phase, a connection pool shared by concurrent requests, and server-sent events.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import urlparse

import httpx2

from glmv_cli.engine import prompt
from glmv_cli.engine.base import Capabilities
from glmv_cli.engine.events import Done, Event, Progress, Thinking, Timings, Usage
from glmv_cli.engine.parse import StreamParser
from glmv_cli.engine.prompt import END_OF_TURN, IMAGE_WRAP, ImageSlot, Piece
from glmv_cli.engine.request import Request
from glmv_cli.engine.settings import EngineSettings
from glmv_cli.errors import Interrupted, RemoteError, RemoteUnavailable
from glmv_cli.inputs.media import Media, PreparedImage
from glmv_cli.models.ref import RemoteModel

CONNECT_TIMEOUT_S = 10.0
RETRIES = 4  # after the first try, on 429, 5xx and timeouts
CONNECT_RETRIES = 2  # after the first try, on a refused connection (a replica restarting)
BACKOFF_S = 0.5  # the first wait; doubled after each try
MAX_BACKOFF_S = 30.0  # the longest wait, also for a server's Retry-After
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# --schema as the OpenAI API has it (vLLM, SGLang), then as llama.cpp's server has it.
STRUCTURED_FORMS = ("json_schema", "json_object")
BYTES_PER_TOKEN = 3  # for estimates: BPE text runs at 3-4 bytes per token, err high


class RemoteEngine:
    """A model on a server, asked over HTTP; safe to use from several threads at once."""

    capabilities = Capabilities(grammar=False, think_budget=False, state_cache=False,
                                exact_counts=False)

    def __init__(self, model: RemoteModel, settings: EngineSettings | None = None, *,
                 retries: int = RETRIES, backoff_s: float = BACKOFF_S) -> None:
        self.model = model
        self.name = model.model or model.name
        self.settings = settings or EngineSettings()
        self.retries, self.backoff_s = retries, backoff_s
        self.load_s = 0.0
        self.host = urlparse(model.url).netloc
        self._client: httpx2.Client | None = None
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._open: set[httpx2.Response] = set()
        # How --schema is asked for; a server that refuses one form is asked the next.
        self._structured: list[str] = list(STRUCTURED_FORMS)

    # -- lifecycle ---------------------------------------------------------------------

    def load(self) -> None:
        """Open the connection pool and check that the server serves the model (its name
        is taken from the server's list when none was given)."""
        if self._client is not None:
            return
        t0 = time.perf_counter()
        headers = {"Authorization": f"Bearer {self.model.api_key}"} if self.model.api_key \
            else {}
        self._client = httpx2.Client(
            base_url=self.model.url + "/", headers=headers,
            timeout=httpx2.Timeout(self.model.timeout, connect=CONNECT_TIMEOUT_S),
            limits=httpx2.Limits(max_connections=None, max_keepalive_connections=64))
        try:
            served = self._served_models()
        except BaseException:
            self.close()
            raise
        if self.model.model is None:
            if not served:
                self.close()
                raise RemoteUnavailable(f"{self.host} lists no model; name one with "
                                        "--model-name")
            self.name = served[0]
        elif served and self.model.model not in served:
            self.close()
            raise RemoteUnavailable(f"{self.host} does not serve '{self.model.model}' "
                                    f"(it serves: {', '.join(served)})",
                                    hint="check --model-name")
        self.load_s = time.perf_counter() - t0

    def _served_models(self) -> list[str]:
        """The model names the server lists at /models ([] when it has no such route)."""
        response = self._send("GET", "models", None)
        try:
            if response.status_code == 404:
                return []
            data = json.loads(response.read())
            return [str(m["id"]) for m in data.get("data", []) if "id" in m]
        except (ValueError, TypeError, KeyError, AttributeError):
            return []
        finally:
            response.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def cancel(self) -> None:
        """Stop every request in flight (from another thread: Ctrl-C in a batch)."""
        self._cancelled.set()
        with self._lock:
            responses = list(self._open)
        for response in responses:
            # Closing a socket that another thread reads from may complain: no matter.
            with contextlib.suppress(Exception):
                response.close()

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def context_limit(self) -> int:
        limit = self.model.context
        if self.settings.context_limit:
            limit = min(limit, self.settings.context_limit)
        return limit

    # -- counting: estimates, the server's tokenizer is out of reach ---------------------

    def count_media(self, media: tuple[Media, ...]) -> int:
        return sum(seg.image.tokens + IMAGE_WRAP if isinstance(seg, ImageSlot)
                   else _text_tokens(seg.text) for seg in prompt.media_segments(media))

    def count_prompt(self, request: Request) -> int:
        segments = [*prompt.prefix(request.system, request.media, request.history),
                    *prompt.question_pieces(request.question)]
        return sum(seg.image.tokens + IMAGE_WRAP if isinstance(seg, ImageSlot)
                   else _text_tokens(seg.text) for seg in segments) + 2  # `<think>`, slack

    # -- the request -------------------------------------------------------------------

    def generate(self, request: Request) -> Iterator[Event]:
        """Answer `request`; yields progress, thinking, answer and box events, then Done."""
        usage, timings = Usage(n_ctx=self.context_limit), Timings()
        usage.image_tokens = sum(img.tokens for img in request.images)
        if self._client is None:
            yield Progress("load", f"Connecting to {self.host}")
            self.load()
            timings.load_s = self.load_s
        yield Progress("prefill", f"Waiting for {self.host}")
        t0 = time.perf_counter()
        parser = StreamParser()
        finish: Literal["stop", "length", "interrupted"] = "length"
        pieces = 0
        first: float | None = None
        response: httpx2.Response | None = None
        try:
            response = self._open_stream(request)
            for chunk in self._chunks(response):
                if chunk.get("usage"):
                    _server_usage(usage, chunk["usage"])
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta") or {}
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    content = delta.get("content")
                    if reasoning is not None or content is not None:
                        pieces += 1
                        if first is None:
                            first = time.perf_counter()
                            timings.prefill_s = first - t0
                            yield Progress("generate", "Generating")
                    if reasoning:
                        usage.thinking_tokens += 1
                        yield Thinking(reasoning)
                    if content:
                        if parser.in_thinking:
                            usage.thinking_tokens += 1
                        yield from parser.feed(_strip_end_of_turn(content))
                    reason = choice.get("finish_reason")
                    if reason:
                        finish = "stop" if reason in ("stop", "eos") else "length"
        except Interrupted:
            finish = "interrupted"
        finally:
            if response is not None:
                self._forget(response)
        timings.generate_s = time.perf_counter() - (first or t0)
        if not usage.generated_tokens:
            usage.generated_tokens = pieces  # a server that sends no counts: one per piece
        yield from parser.finish()
        yield Done(finish, usage, timings)

    def _body(self, request: Request) -> dict[str, Any]:
        s = request.sampling
        body: dict[str, Any] = {
            "model": self.name,
            "messages": messages(request),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "top_k": s.top_k,
            # vLLM and SGLang name it so; llama.cpp's server `repeat_penalty`.
            "repetition_penalty": s.repeat_penalty,
            "repeat_penalty": s.repeat_penalty,
            # The box markers are control tokens: servers drop them unless told not to.
            "skip_special_tokens": False,
        }
        if s.seed is not None:
            body["seed"] = s.seed
        if not request.think or request.think_budget == 0:
            body["chat_template_kwargs"] = {"enable_thinking": False}
        form = self._structured[0] if self._structured else None
        if request.schema is not None and form == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "answer", "schema": request.schema, "strict": True}}
        elif request.schema is not None and form == "json_object":
            body["response_format"] = {"type": "json_object", "schema": request.schema}
        return body

    def _open_stream(self, request: Request) -> httpx2.Response:
        """A response whose status is 200, after retries; raises RemoteError otherwise."""
        while True:
            body = self._body(request)
            response = self._send("POST", "chat/completions", body)
            if response.status_code == 200:
                return response
            message = _error_text(response)
            response.close()
            self._forget(response)
            if "response_format" in body and "response_format" in message:
                with self._lock:  # ask again in the next form (at last without one)
                    if self._structured and self._structured[0] == \
                            body["response_format"]["type"]:
                        self._structured.pop(0)
                continue
            raise self._refusal(response.status_code, message)

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx2.Response:
        """Send, retrying refused connections, timeouts, 429 and 5xx with backoff; the
        response returned is open (streamed) and registered for `cancel`."""
        assert self._client is not None
        wait = self.backoff_s
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            if self._cancelled.is_set():
                raise Interrupted()
            try:
                req = self._client.build_request(method, path, json=body)
                response = self._client.send(req, stream=True)
            except httpx2.ConnectError as e:
                if attempt >= min(self.retries, CONNECT_RETRIES):
                    raise RemoteUnavailable(f"cannot reach {self.host}: {_reason(e)}",
                                            hint="is the server running?") from None
            except httpx2.TimeoutException:
                if last:
                    raise RemoteError(f"{self.host} did not answer within "
                                      f"{self.model.timeout:g} s") from None
            except httpx2.TransportError as e:
                if last:
                    raise RemoteError(f"{self.host}: {_reason(e)}") from None
            else:
                with self._lock:
                    self._open.add(response)
                if response.status_code not in RETRY_STATUS or last:
                    return response
                if body and "response_format" in body and "response_format" in \
                        _error_text(response):
                    return response  # llama.cpp's server refuses it with a 500
                retry_after = _retry_after(response)
                response.close()
                self._forget(response)
                wait = max(wait, retry_after or 0)
            self._sleep(min(wait, MAX_BACKOFF_S))
            wait *= 2
        raise AssertionError("unreachable")

    def _chunks(self, response: httpx2.Response) -> Iterator[dict[str, Any]]:
        """The JSON chunks of a streamed answer; a stream that breaks off is an error."""
        done = False
        try:
            for event in httpx2.EventSource(response):
                if event.data.strip() == "[DONE]":
                    done = True
                    break
                if not event.data.strip():
                    continue
                try:
                    chunk = json.loads(event.data)
                except ValueError:
                    raise RemoteError(f"{self.host} sent a piece that is not JSON: "
                                      f"{event.data[:80]!r}") from None
                if "error" in chunk:
                    raise RemoteError(f"{self.host}: {_message(chunk['error'])}")
                yield chunk
                if self._cancelled.is_set():
                    raise Interrupted()
        except httpx2.TimeoutException:
            raise RemoteError(f"{self.host} sent nothing for {self.model.timeout:g} s",
                              hint="raise `timeout` in the endpoint's config") from None
        except (httpx2.TransportError, httpx2.StreamError) as e:
            if self._cancelled.is_set():
                raise Interrupted() from None
            raise RemoteError(f"the answer from {self.host} broke off: {_reason(e)}") from None
        if not done:
            if self._cancelled.is_set():
                raise Interrupted()
            raise RemoteError(f"the answer from {self.host} broke off before its end")

    def _refusal(self, status: int, message: str) -> RemoteError:
        what = f"{self.host} refused the request ({status}): {message}"
        if status in (401, 403):
            return RemoteUnavailable(what, hint="check --api-key or GLMV_API_KEY")
        if status == 404:
            return RemoteUnavailable(what, hint="check the URL (it ends in /v1) and "
                                                "--model-name")
        return RemoteError(what)

    def _sleep(self, seconds: float) -> None:
        if self._cancelled.wait(seconds):
            raise Interrupted()

    def _forget(self, response: httpx2.Response) -> None:
        with self._lock:
            self._open.discard(response)
        response.close()


def messages(request: Request) -> list[dict[str, Any]]:
    """The request as chat messages: earlier turns of a conversation (each answer without
    its thinking), then the media in GLM order and the question."""
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    for turn in request.history:
        out.append({"role": "user", "content": _user_parts(turn.media, turn.question)})
        out.append({"role": "assistant", "content": turn.answer})
    out.append({"role": "user", "content": _user_parts(request.media, request.question)})
    return out


def _user_parts(media: tuple[Media, ...], question: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for seg in prompt.media_segments(media):
        if isinstance(seg, ImageSlot):
            parts.append({"type": "image_url", "image_url": {"url": data_url(seg.image)}})
        else:
            _add_text(parts, seg)
    _add_text(parts, Piece(question))
    return parts


def _add_text(parts: list[dict[str, Any]], piece: Piece) -> None:
    """Text joins the text part before it, so that a frame's timestamp and the markers
    around a video read as the reference's prompt does."""
    if parts and parts[-1]["type"] == "text":
        parts[-1]["text"] += piece.text
    else:
        parts.append({"type": "text", "text": piece.text})


def data_url(image: PreparedImage) -> str:
    """The prepared pixels as a PNG data URL: lossless, so the server's decoder gets the
    exact RGB values the local engine would encode."""
    from PIL import Image

    buf = io.BytesIO()
    Image.frombytes("RGB", (image.width, image.height), image.rgb).save(
        buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _text_tokens(text: str) -> int:
    return -(-len(text.encode()) // BYTES_PER_TOKEN)


def _strip_end_of_turn(text: str) -> str:
    for tag in END_OF_TURN:
        text = text.replace(tag, "")
    return text


def _server_usage(usage: Usage, counts: dict[str, Any]) -> None:
    prompt_tokens = int(counts.get("prompt_tokens") or 0)
    usage.prompt_text_tokens = max(0, prompt_tokens - usage.image_tokens)
    usage.generated_tokens = int(counts.get("completion_tokens") or 0)
    details = counts.get("completion_tokens_details") or {}
    if details.get("reasoning_tokens"):
        usage.thinking_tokens = int(details["reasoning_tokens"])


def _retry_after(response: httpx2.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def _error_text(response: httpx2.Response) -> str:
    """The server's own words for a failed request, on one line."""
    try:
        raw = response.read()
    except httpx2.HTTPError:
        return response.reason_phrase or "no reason given"
    try:
        data = json.loads(raw)
        text = _message(data.get("error", data) if isinstance(data, dict) else data)
    except ValueError:
        text = raw.decode("utf-8", "replace")
    text = " ".join(text.split())
    return (text[:300] + "…") if len(text) > 300 else text or "no reason given"


def _message(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("detail") or error)
    return str(error)


def _reason(e: Exception) -> str:
    text = str(e) or type(e).__name__
    return text.split("] ", 1)[-1] if text.startswith("[Errno") else text
