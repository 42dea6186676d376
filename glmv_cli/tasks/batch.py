"""`glmv batch`: one question over many inputs, one JSON line per input.

- Inputs: files, folders (recursive; images, PDFs and videos, told apart by their bytes),
  globs, `@list.txt` and `-` (paths, one a line); each path once, in the order given.
- Each input is answered through the pipeline its kind has in `ask`, `pdf` and `video`,
  on one engine loaded once; several at a time on a remote engine (`parallel`).
- Each answer is one JSON line, written whole with a single write and flushed, so that a
  crash or `kill -9` leaves only complete lines (and at worst one cut-off last line, which
  the next run removes).
- A re-run with the same question, model and settings skips every input whose content
  (sha256) already has an answer line: a renamed file is not redone. An input whose line
  holds an error is tried again and its old line replaced, so each input keeps exactly
  one line.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from glmv_cli.atomic import write_atomic
from glmv_cli.engine.base import Engine
from glmv_cli.engine.boxes import to_pixels
from glmv_cli.engine.events import Done, Event, Usage
from glmv_cli.engine.request import Request
from glmv_cli.engine.transcript import Transcript
from glmv_cli.errors import (
    ExitCode,
    GlmvError,
    InputError,
    Interrupted,
    ModelError,
    RemoteUnavailable,
    UsageError,
    WriteError,
)
from glmv_cli.inputs.image import PreparedImage, prepare_image
from glmv_cli.inputs.sniff import Kind, sniff_file
from glmv_cli.inputs.source import read_source
from glmv_cli.inputs.video import VideoFile
from glmv_cli.tasks.document_file import ReadOptions, read_pdf, run_document
from glmv_cli.tasks.documents import DocumentTranscript, cited_pages
from glmv_cli.tasks.schema import SCHEMA_ANSWER_RESERVE, structured_answer
from glmv_cli.tasks.video import VideoOptions, read_video

KINDS = ("image", "pdf", "video")
_GLOB = frozenset("*?[")
_HASH_CHUNK = 1 << 20
# Failures that no other input can escape: the batch stops instead of failing them all.
FATAL = (ModelError, RemoteUnavailable)


# -- inputs ------------------------------------------------------------------------------


def expand_inputs(args: Iterable[str], stdin: BinaryIO | None) -> list[str]:
    """Every input path the arguments name, each once, in order.

    A folder gives the images, PDFs and videos under it (sorted; hidden entries skipped),
    a glob its matches, `@FILE` the paths listed in FILE, `-` those on stdin. A plain path
    is kept even when it is not there or not readable: its line will say why.
    """
    out: dict[str, None] = {}
    for arg in args:
        for path in _expand(arg, stdin):
            out.setdefault(os.path.normpath(path), None)
    if not out:
        raise UsageError("no inputs: the arguments name no file")
    return list(out)


def _expand(arg: str, stdin: BinaryIO | None) -> Iterator[str]:
    if arg == "-":
        if stdin is None:
            raise UsageError("-: no standard input")
        yield from _lines(stdin.read().decode("utf-8", "replace"))
        return
    if arg.startswith("@"):
        try:
            text = Path(arg[1:]).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{arg}: cannot read the list ({e})") from None
        yield from _lines(text)
        return
    path = Path(arg).expanduser()
    if path.is_dir():
        yield from _walk(path)
    elif _GLOB & set(arg) and not path.exists():
        matches = sorted(glob.glob(str(path), recursive=True))
        if not matches:
            raise UsageError(f"{arg}: no file matches")
        for match in matches:
            yield from (_walk(Path(match)) if Path(match).is_dir() else (match,))
    else:
        yield str(path)


def _lines(text: str) -> Iterator[str]:
    for line in text.splitlines():
        if line.strip():
            yield str(Path(line.strip()).expanduser())


def _walk(folder: Path) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and sniff_file(Path(root) / name) in KINDS:
                yield str(Path(root) / name)


def content_hash(path: str) -> str:
    """sha256 of the file's bytes (InputError when it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_HASH_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    return digest.hexdigest()


# -- the job -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchJob:
    """What every input is asked, and how.

    `template` carries the question and generation settings; `settings` is everything
    else that changes an answer (image budget, PDF and video handling), for the resume key.
    """

    question: str
    model: str
    template: Request
    max_image_tokens: int
    settings: dict[str, Any] = field(default_factory=dict)
    thinking: bool = False  # put the thinking in the lines
    video: VideoOptions = field(default_factory=VideoOptions)

    @property
    def key(self) -> str:
        """Equal for runs whose answers are interchangeable: same question, model,
        schema and settings."""
        t = self.template
        parts = {"question": self.question, "model": self.model, "system": t.system,
                 "sampling": asdict(t.sampling), "max_tokens": t.max_tokens,
                 "think": t.think, "think_budget": t.think_budget, "schema": t.schema,
                 "max_image_tokens": self.max_image_tokens, "video": asdict(self.video),
                 **self.settings}
        text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Summary:
    """What a run did; `failed_codes` are the exit codes of its failures."""

    total: int = 0
    answered: int = 0
    skipped: int = 0
    failed: int = 0
    failed_codes: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when every input has an answer; else the lowest exit code among failures."""
        return min(self.failed_codes) if self.failed_codes else ExitCode.OK


# -- the output file ---------------------------------------------------------------------


class Journal:
    """The JSONL output: what earlier runs answered, and lines appended whole.

    `path` None writes to `out` (stdout) with nothing to resume.
    """

    def __init__(self, path: Path | None, out: TextIO, key: str) -> None:
        self.path, self.out, self.key = path, out, key
        self.answered: set[str] = set()  # content hashes with an answer for this key
        self._fd: int | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        """Read what is there, drop a cut-off last line and this job's error lines (their
        inputs are tried again), then open for appending. WriteError if it cannot be."""
        if self.path is None:
            return
        lines: list[str] = []
        changed = False
        try:
            raw = self.path.read_bytes() if self.path.exists() else b""
        except OSError as e:
            raise WriteError(f"--jsonl {self.path}: cannot read ({e.strerror or e})") from None
        text = raw.decode("utf-8", "replace")
        all_lines = text.splitlines(keepends=True)
        for number, line in enumerate(all_lines, 1):
            record = _record(line)
            if record is None:
                if number == len(all_lines) and not line.endswith("\n"):
                    changed = True  # the last line, cut off by a crash: dropped
                    continue
                raise UsageError(f"--jsonl {self.path}:{number}: not a JSON object line; "
                                 "glmv appends only to JSON Lines files (it leaves this "
                                 "one as it is)")
            if record.get("key") == self.key:
                if record.get("error"):
                    changed = True  # tried again below
                    continue
                self.answered.add(str(record.get("sha256")))
            lines.append(line)
        if changed:
            body = "".join(lines).encode()
            write_atomic(self.path, lambda f: f.write(body), f"--jsonl {self.path}")
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            raise WriteError(f"--jsonl {self.path}: cannot write ({e.strerror or e})") from None

    def write(self, record: dict[str, Any]) -> None:
        """Append one line, whole, and flush it to the OS."""
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        with self._lock:
            if self._fd is None:
                self.out.write(data.decode())
                self.out.flush()
                return
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._fd, view):]
            except OSError as e:
                raise WriteError(f"--jsonl {self.path}: cannot write "
                                 f"({e.strerror or e})") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _record(line: str) -> dict[str, Any] | None:
    if not line.endswith("\n"):
        return None
    if not line.strip():
        return {}  # a blank line: kept, ignored
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# -- running -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    path: str
    sha256: str


def plan(paths: list[str], journal: Journal, job: BatchJob,
         summary: Summary) -> tuple[list[Pending], list[dict[str, Any]]]:
    """The inputs still to answer, and the lines of those that cannot even be read."""
    todo: list[Pending] = []
    unreadable: list[dict[str, Any]] = []
    summary.total = len(paths)
    for path in paths:
        try:
            sha = content_hash(path)
        except InputError as e:
            unreadable.append(_base(path, None, None, job) | {"error": _error(e)})
            continue
        if sha in journal.answered:
            summary.skipped += 1
        else:
            todo.append(Pending(path, sha))
    return todo, unreadable


def run_batch(engine: Engine, todo: list[Pending], job: BatchJob, journal: Journal,
              summary: Summary, parallel: int = 1,
              on_line: Callable[[dict[str, Any]], None] | None = None) -> Summary:
    """Answer each input, writing its line as soon as it is done. Ctrl-C stops after the
    lines already written (raises Interrupted); a fatal error (the model cannot load, the
    server is unreachable) stops the batch and is raised."""
    t0 = time.perf_counter()

    def finished(record: dict[str, Any]) -> None:
        journal.write(record)
        _count(summary, record)
        if on_line:
            on_line(record)

    try:
        if parallel <= 1:
            for item in todo:
                finished(answer_input(engine, item, job))
        else:
            _run_parallel(engine, todo, job, parallel, finished)
    finally:
        summary.seconds = time.perf_counter() - t0
    return summary


def _run_parallel(engine: Engine, todo: list[Pending], job: BatchJob, parallel: int,
                  finished: Callable[[dict[str, Any]], None]) -> None:
    """`parallel` inputs in flight at once (a remote engine); lines in completion order."""
    items = iter(todo)
    running: set[Future[dict[str, Any]]] = set()
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="glmv-batch")
    try:
        while True:
            while len(running) < parallel:
                item = next(items, None)
                if item is None:
                    break
                running.add(pool.submit(answer_input, engine, item, job))
            if not running:
                break
            done, running = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                finished(future.result())
    except BaseException:
        cancel = getattr(engine, "cancel", None)
        if cancel:
            cancel()  # stops the requests in flight, so that the workers return at once
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def answer_input(engine: Engine, item: Pending, job: BatchJob) -> dict[str, Any]:
    """The line for one input: its answer, or the error that stopped it. Fatal errors and
    Ctrl-C are raised, not recorded."""
    kind = sniff_file(item.path)
    base = _base(item.path, item.sha256, kind, job)
    t0 = time.perf_counter()
    try:
        if kind == "image":
            record = _image(engine, item.path, job)
        elif kind == "pdf":
            record = _pdf(engine, item.path, job)
        elif kind == "video":
            record = _video(engine, item.path, job)
        else:
            raise InputError(f"{item.path}: not an image, PDF or video")
        return base | record | {"seconds": round(time.perf_counter() - t0, 3)}
    except FATAL:
        raise
    except GlmvError as e:
        return base | {"error": _error(e)}
    except Exception as e:  # a bug, or a decoder's surprise: the other inputs go on
        return base | {"error": {"message": f"internal error: {type(e).__name__}: {e}",
                                 "exit_code": int(ExitCode.FAILURE), "class": "internal"}}


def _image(engine: Engine, path: str, job: BatchJob) -> dict[str, Any]:
    image = prepare_image(read_source(path, None), job.max_image_tokens)  # type: ignore[arg-type]
    request = _request(job, (image,))
    transcript = _collect(engine.generate(request))
    return _result(transcript, request, job, [image])


def _video(engine: Engine, path: str, job: BatchJob) -> dict[str, Any]:
    with VideoFile(path) as vf:
        clip, warning = read_video(vf, job.video.plan(vf.info))
    request = _request(job, (clip,))
    transcript = _collect(engine.generate(request))
    line = _result(transcript, request, job, []) | {
        "frames": [{"time": round(f.time, 3), "timestamp": f.timestamp}
                   for f in clip.frames]}
    return line | {"warning": warning} if warning else line


def _pdf(engine: Engine, path: str, job: BatchJob) -> dict[str, Any]:
    template = _request(job, ())
    pdf = read_pdf(Path(path), job.question,
                   ReadOptions(max_image_tokens=job.max_image_tokens), engine, template)
    result = DocumentTranscript()
    _, events = run_document(engine, pdf, job.question, template, result)
    for _event in events:  # the plan's steps fold into `result`
        pass
    final = result.final or Transcript()
    usage = Usage()
    for step in result.steps:
        if step.transcript.done:
            u = step.transcript.done.usage
            usage.prompt_text_tokens += u.prompt_text_tokens
            usage.image_tokens += u.image_tokens
            usage.generated_tokens += u.generated_tokens
            usage.thinking_tokens += u.thinking_tokens
    if final.done:
        final.done = replace(final.done, usage=usage)
    line = _result(final, _request(job, ()), job, [])
    numbers = [p.number for p in pdf.pages]
    return line | {"pages": len(pdf.pages), "strategy": result.strategy,
                   "citations": cited_pages(final.answer, numbers)}


def _request(job: BatchJob, media: tuple[Any, ...]) -> Request:
    reserve = SCHEMA_ANSWER_RESERVE if job.template.schema is not None else 0
    return replace(job.template, media=media, answer_reserve=reserve)


def _collect(events: Iterator[Event]) -> Transcript:
    transcript = Transcript()
    for event in events:
        transcript.add(event)
    if transcript.done and transcript.done.finish_reason == "interrupted":
        raise Interrupted()
    return transcript


def _result(transcript: Transcript, request: Request, job: BatchJob,
            images: list[PreparedImage]) -> dict[str, Any]:
    """An answered input's fields (an unusable structured answer raises AnswerError)."""
    done: Done | None = transcript.done
    line: dict[str, Any] = {"answer": transcript.answer.strip()}
    if job.thinking:
        line["thinking"] = transcript.thinking.strip()
    line["boxes"] = [_box(box.text, box.coords, images) for box in transcript.boxes]
    if request.schema is not None:
        line["structured"] = structured_answer(transcript.answer, request.schema)
    line["truncated"] = bool(done and done.truncated)
    line["finish_reason"] = done.finish_reason if done else None
    if done:
        usage = asdict(done.usage)
        usage["prompt_tokens"] = done.usage.prompt_tokens
        line["usage"] = usage
        line["timings"] = {k: round(v, 3) for k, v in asdict(done.timings).items()
                           if isinstance(v, float)}
    return line


def _box(text: str, coords: tuple[tuple[float, float, float, float], ...],
         images: list[PreparedImage]) -> dict[str, Any]:
    item: dict[str, Any] = {"text": text, "coords": [list(c) for c in coords]}
    if len(images) == 1 and coords:
        item["pixels"] = [list(to_pixels(c, images[0].original_size)) for c in coords]
    return item


def _base(path: str, sha: str | None, kind: Kind | None, job: BatchJob) -> dict[str, Any]:
    return {"path": path, "sha256": sha, "kind": kind, "question": job.question,
            "model": job.model, "key": job.key, "error": None}


def _error(e: GlmvError) -> dict[str, Any]:
    message = e.message + (f" ({e.hint})" if e.hint else "")
    return {"message": message, "exit_code": int(e.exit_code),
            "class": ExitCode(e.exit_code).name.lower()}


def _count(summary: Summary, record: dict[str, Any]) -> None:
    if record.get("error"):
        summary.failed += 1
        summary.failed_codes.append(int(record["error"]["exit_code"]))
        return
    summary.answered += 1
    usage = record.get("usage") or {}
    summary.prompt_tokens += int(usage.get("prompt_tokens") or 0)
    summary.generated_tokens += int(usage.get("generated_tokens") or 0)


def record_unreadable(lines: list[dict[str, Any]], journal: Journal, summary: Summary,
                      on_line: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Write the lines of inputs that could not be read at all (no content hash)."""
    for record in lines:
        journal.write(record)
        _count(summary, record)
        if on_line:
            on_line(record)
