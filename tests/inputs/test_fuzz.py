"""Fuzzing the input layer: valid PNG, JPEG, GIF, TIFF, WebP, PDF, MP4 and AVI files,
mutated, through the functions the commands read inputs with (read_source and sniff,
prepare_image, PdfReader, VideoReader with the frame plan). Only glmv's own errors may
come out: no other exception, no crash of glmv, no call past its bound.

hypothesis rather than atheris: it runs inside pytest with a fixed seed and a bounded
number of cases (so CI stays repeatable and within minutes), needs no instrumented
build, and shrinks a failing case to the fewest, smallest mutations, which is the
minimised input a regression test keeps. Coverage guidance, atheris's strength, would
only see glmv's Python: the decoders that can misbehave are native and uninstrumented.

The decoders run in worker processes (inputs/worker.py), so a decoder that crashes on an
input is contained and reported as an input error; such cases are counted as events
(`--hypothesis-show-statistics`) and each one found is kept in tests/inputs/regressions/
with a test of its own (test_regressions.py).

CI runs FUZZ_EXAMPLES cases per format with hypothesis's fixed seed. A longer run, with a
seed of your own:

    GLMV_FUZZ_EXAMPLES=2000 GLMV_FUZZ_SEED=$RANDOM pytest tests/inputs/test_fuzz.py \\
        --hypothesis-show-statistics
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pymupdf
import pytest
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from glmv_cli.errors import GlmvError, InputError
from glmv_cli.inputs.image import PreparedImage, prepare_image
from glmv_cli.inputs.pdf_worker import PdfReader, SkippedPage
from glmv_cli.inputs.sniff import sniff_file
from glmv_cli.inputs.source import read_source
from glmv_cli.inputs.video_worker import VideoReader
from glmv_cli.inputs.worker import Worker
from glmv_cli.tasks.video import VideoOptions, read_video
from tests.videos import write_video

FUZZ_EXAMPLES = int(os.environ.get("GLMV_FUZZ_EXAMPLES", "1000"))
FUZZ_SEED = os.environ.get("GLMV_FUZZ_SEED")
# Bounds for the fuzzed calls: seed files are tiny, so anything near these is a hang.
LIMIT_S = 5.0
SLACK_S = 3.0  # starting a fresh worker after one was killed, pickling, a loaded machine


def fuzz_settings(fn: Callable) -> Callable:
    fn = settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                  derandomize=FUZZ_SEED is None, print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow,
                                         HealthCheck.function_scoped_fixture,
                                         HealthCheck.data_too_large])(fn)
    return seed(int(FUZZ_SEED))(fn) if FUZZ_SEED is not None else fn


# -- seed files ----------------------------------------------------------------------------


def picture(size: tuple[int, int] = (64, 48)) -> Image.Image:
    img = Image.new("RGB", size, (30, 60, 200))
    d = ImageDraw.Draw(img)
    d.rectangle([8, 8, 30, 40], fill=(220, 20, 20))
    d.ellipse([34, 4, 60, 30], fill=(255, 255, 255))
    return img


def image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    img = picture()
    if fmt == "GIF":
        img = img.convert("P")
    img.save(buf, format=fmt, **({"compression": "tiff_lzw"} if fmt == "TIFF" else {}))
    return buf.getvalue()


def pdf_bytes() -> bytes:
    """Two pages: text, and a picture with vector graphics."""
    doc = pymupdf.open()
    page = doc.new_page(width=200, height=260)
    page.insert_text((20, 40), "Quarterly report: revenue rose to 4.2 million.", fontsize=8)
    page = doc.new_page(width=200, height=260)
    buf = io.BytesIO()
    picture().save(buf, format="PNG")
    page.insert_image(pymupdf.Rect(20, 20, 180, 140), stream=buf.getvalue())
    page.draw_rect(pymupdf.Rect(20, 160, 120, 240), color=(0, 0, 0), fill=(0.2, 0.4, 0.8))
    data = doc.tobytes(deflate=True)
    doc.close()
    return data


@functools.cache
def seed_file(fmt: str) -> bytes:
    """A small valid file of the format (made once per session)."""
    if fmt == "pdf":
        return pdf_bytes()
    if fmt in ("mp4", "avi"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"seed.{fmt}"
            return write_video(path, 8, 4, (64, 48), "mp4v" if fmt == "mp4" else "MJPG"
                               ).read_bytes()
    return image_bytes(fmt.upper())


# -- mutations -----------------------------------------------------------------------------

_INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00", b"\xff\xff",
                b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00",
                b"\x80\x00\x00\x00", b"\x00\x00\x01\x00"]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 512)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(0)),
    st.tuples(st.just("number"), st.floats(0, 1), st.sampled_from(_INTERESTING)),
    st.tuples(st.just("repeat"), st.floats(0, 1), st.integers(1, 4096)),
)
mutations = st.lists(mutation, min_size=1, max_size=6)


def mutate(data: bytes, ops: list[tuple[str, float, object]]) -> bytes:
    """Apply each mutation at a relative position of the data."""
    out = bytearray(data)
    for op, where, arg in ops:
        at = min(len(out), int(where * len(out)))
        if op == "flip" and at < len(out):
            out[at] = arg  # type: ignore[assignment]
        elif op == "insert":
            out[at:at] = arg  # type: ignore[assignment]
        elif op == "delete":
            del out[at:at + arg]  # type: ignore[operator]
        elif op == "truncate":
            del out[max(1, at):]
        elif op == "number":
            out[at:at + len(arg)] = arg  # type: ignore[arg-type]
        elif op == "repeat":
            piece = bytes(out[at:at + 64]) or b"\0"
            out[at:at] = (piece * (arg // len(piece) + 1))[:arg]  # type: ignore[operator]
    return bytes(out)


# -- the property --------------------------------------------------------------------------


def bounded(call: Callable[[], object], what: str) -> object:
    """Run one reading step; only glmv's errors may leave it, and it must end in time."""
    t0 = time.monotonic()
    try:
        result = call()
    except GlmvError as e:
        # The fuzzed calls take no options from a user: a usage error would blame the
        # user for the file (as '--start 0:00 is past the end' once did).
        assert isinstance(e, InputError), f"{what}: {type(e).__name__}: {e.message}"
        result = e
        if "crashed" in e.message:
            event(f"{what}: a decoder crashed (contained)")
        elif "took over" in e.message or "within" in e.message:
            event(f"{what}: past the time limit")
        else:  # the message without the file's name, which differs per case
            event(f"{what}: {type(e).__name__}: {e.message.split(': ', 1)[-1][:50]}")
    took = time.monotonic() - t0
    assert took <= LIMIT_S + SLACK_S, f"{what} took {took:.1f} s"
    return result


@pytest.fixture
def fuzz_env(monkeypatch):
    monkeypatch.setenv("GLMV_DECODE_TIMEOUT", str(LIMIT_S))


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("fmt", ["png", "jpeg", "gif", "tiff", "webp"])
@fuzz_settings
@given(ops=mutations)
def test_fuzz_images(tmp_path, fuzz_env, fmt, ops):
    data = mutate(seed_file(fmt), ops)
    path = write(tmp_path, f"fuzz.{fmt}", data)
    kind = bounded(lambda: sniff_file(path), "sniff")
    assert kind in ("image", "pdf", "video", "audio", "unknown")
    src = bounded(lambda: read_source(str(path), io.BytesIO()), "read")
    if isinstance(src, GlmvError):
        return
    image = bounded(lambda: prepare_image(src, 64), "image")
    if isinstance(image, PreparedImage):
        assert image.width % 28 == image.height % 28 == 0 and image.tokens <= 64
        assert len(image.rgb) == image.width * image.height * 3


@pytest.fixture(scope="module")
def pdf_worker():
    with Worker("PDF reader (fuzzing)", preload=("glmv_cli.inputs.pdf_worker",)) as w:
        yield w


@fuzz_settings
@given(ops=mutations)
def test_fuzz_pdf(tmp_path, pdf_worker, ops):
    data = mutate(seed_file("pdf"), ops)
    path = write(tmp_path, "fuzz.pdf", data)
    reader = bounded(lambda: PdfReader.open(path, page_timeout=LIMIT_S, worker=pdf_worker),
                     "open")
    if isinstance(reader, GlmvError):
        return
    with reader:
        assert reader.page_count >= 1
        for index in range(min(reader.page_count, 3)):
            for step in (lambda i=index: reader.content(i, layout=False),
                         lambda i=index: reader.content(i),
                         lambda i=index: reader.render(i, 64)):
                got = bounded(step, "page")
                assert not isinstance(got, GlmvError), got  # pages skip, they do not raise
                if isinstance(got, SkippedPage):
                    event(f"page skipped: {got.reason.split(' (')[0][:60]}")


@pytest.fixture(scope="module")
def video_worker():
    with Worker("video reader (fuzzing)", preload=("glmv_cli.inputs.video_worker",
                                                    "cv2")) as w:
        yield w


@pytest.mark.parametrize("fmt", ["mp4", "avi"])
@fuzz_settings
@given(ops=mutations)
def test_fuzz_video(tmp_path, fuzz_env, video_worker, fmt, ops):
    data = mutate(seed_file(fmt), ops)
    path = write(tmp_path, f"fuzz.{fmt}", data)
    reader = bounded(lambda: VideoReader(str(path), timeout=LIMIT_S, worker=video_worker),
                     "open")
    if isinstance(reader, GlmvError):
        return
    with reader:
        plan = bounded(lambda: VideoOptions(max_frames=4, max_video_tokens=256).plan(
            reader.info), "plan")
        if isinstance(plan, GlmvError):
            return
        got = bounded(lambda: read_video(reader, plan), "frames")
        if not isinstance(got, GlmvError):
            video, _warning = got
            assert 1 <= len(video.frames) <= len(plan.frames)
