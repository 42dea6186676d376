"""The prefix cache through the real engine on the tiny model: a state restored from disk,
kept in memory, or an image encoding read back gives the very answer a cold run gives,
token for token (greedy), and is used only where everything that made it matches."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from glmv_cli.engine.cache_store import CacheStore
from glmv_cli.engine.llama import LlamaEngine
from glmv_cli.engine.request import Request, Turn
from glmv_cli.engine.settings import EngineSettings
from glmv_cli.engine.transcript import Transcript
from glmv_cli.errors import ContextOverflowError
from glmv_cli.inputs.image import prepare_image
from glmv_cli.inputs.media import Text
from glmv_cli.inputs.source import Source
from glmv_cli.models.ref import LocalModel
from tests.conftest import TINY, TINY_MMPROJ, TINY_MODEL, make_image

TOKENS = 24


def engine_with(cache: Path | None, model: LocalModel = TINY, **kw) -> LlamaEngine:
    return LlamaEngine(model, EngineSettings(threads=2, cache_dir=cache, **kw))


def run(engine: LlamaEngine, request: Request) -> Transcript:
    t = Transcript()
    for event in engine.generate(request):
        t.add(event)
    return t


def text_of(t: Transcript) -> str:
    return t.thinking + "|" + t.answer


def picture(tmp_path: Path, name: str = "p.png", size=(300, 200), colour=(30, 60, 200),
            budget: int = 1024):
    path = make_image(tmp_path / name, size, colour=colour)
    return prepare_image(Source(path.name, path.read_bytes()), budget)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def cold(request: Request) -> Transcript:
    with engine_with(None) as eng:
        return run(eng, request)


def test_a_restored_prefix_answers_as_a_cold_run_does(tmp_path, cache):
    img = picture(tmp_path)
    first = Request("What is in this picture?", media=(img,), max_tokens=TOKENS)
    second = replace(first, question="What colour is the square?")
    with engine_with(cache) as eng:  # one process: computes and saves the prefix
        a = run(eng, first)
    assert a.done.cache.prefix == "miss" and eng.encodes == 1
    with engine_with(cache) as eng:  # another process: restores it
        b = run(eng, second)
        assert eng.encodes == 0
        assert eng._mtmd is None  # the vision encoder was never loaded
    assert b.done.cache.prefix == "hit" and b.done.timings.encode_s == 0
    assert b.done.cache.saved_s > 0 and b.done.timings.restore_s > 0
    assert b.done.usage == cold(second).done.usage
    assert text_of(b) == text_of(cold(second))
    assert text_of(a) == text_of(cold(first))


def test_memory_keeps_the_prefix_between_questions(tmp_path):
    img = picture(tmp_path)
    first = Request("What is in this picture?", media=(img,), max_tokens=TOKENS)
    second = replace(first, question="Describe the disc.")
    with engine_with(None) as eng:
        run(eng, first)
        b = run(eng, second)
        same = run(eng, second)  # the very same prompt: only its last piece again
        assert eng.encodes == 1
    assert b.done.cache.prefix == "memory"  # no disk cache, but the state in memory
    assert text_of(b) == text_of(cold(second)) == text_of(same)


def test_a_follow_up_evaluates_only_the_new_turn(tmp_path):
    img = picture(tmp_path)
    first = Request("What is in this picture?", media=(img,), max_tokens=TOKENS)
    with engine_with(None) as eng:
        a = run(eng, first)
        follow = Request("And its colour?", history=(Turn(first.question, a.answer, (img,)),),
                         max_tokens=TOKENS)
        b = run(eng, follow)
        assert eng.encodes == 1
    assert b.done.timings.encode_s == 0
    assert b.done.usage.image_tokens == img.tokens
    assert text_of(b) == text_of(cold(follow))


@pytest.mark.parametrize("change", ["image", "budget", "system", "text", "order"])
def test_anything_that_makes_the_state_different_misses(tmp_path, cache, change):
    img = picture(tmp_path)
    base = Request("What is it?", media=(Text("Page 1"), img), max_tokens=4)
    with engine_with(cache) as eng:
        run(eng, base)
    other = {
        "image": replace(base, media=(Text("Page 1"), picture(tmp_path, "q.png",
                                                              colour=(30, 60, 201)))),
        "budget": replace(base, media=(Text("Page 1"), picture(tmp_path, budget=64))),
        "system": replace(base, system="Be brief."),
        "text": replace(base, media=(Text("Page 2"), img)),
        "order": replace(base, media=(img, Text("Page 1"))),
    }[change]
    with engine_with(cache) as eng:
        t = run(eng, other)
    assert t.done.cache.prefix == "miss"
    assert text_of(t) == text_of(cold(other))


def test_another_model_file_misses(tmp_path, cache):
    """The key covers the files' content: a copy of the model with other bytes at its end
    (as a re-quantised or re-converted build would have) does not see the entry."""
    img = picture(tmp_path)
    request = Request("What is it?", media=(img,), max_tokens=4)
    with engine_with(cache) as eng:
        run(eng, request)
    other = tmp_path / "other.gguf"
    shutil.copy(TINY_MODEL, other)
    with other.open("ab") as f:
        f.write(b"\0" * 32)  # past the last tensor: llama.cpp ignores it
    with engine_with(cache, LocalModel("other", other, TINY_MMPROJ)) as eng:
        assert run(eng, request).done.cache.prefix == "miss"
    with engine_with(cache) as eng:
        assert run(eng, request).done.cache.prefix == "hit"


def test_the_image_encoding_is_reused_in_another_prompt(tmp_path, cache):
    img = picture(tmp_path)
    with engine_with(cache) as eng:
        run(eng, Request("What is it?", media=(img,), max_tokens=4))
    other = Request("What is it?", media=(img,), system="Answer in French.",
                    max_tokens=TOKENS)
    with engine_with(cache) as eng:
        t = run(eng, other)
        assert eng.encodes == 0
    assert t.done.cache.prefix == "miss" and t.done.cache.images == "hit"
    assert text_of(t) == text_of(cold(other))


def test_a_damaged_entry_is_recomputed_and_replaced(tmp_path, cache):
    img = picture(tmp_path)
    request = Request("What is it?", media=(img,), max_tokens=TOKENS)
    with engine_with(cache) as eng:
        expected = text_of(run(eng, request))
    for entry in cache.rglob("*.entry"):
        raw = bytearray(entry.read_bytes())
        raw[-3] ^= 0x55
        entry.write_bytes(bytes(raw))
    with engine_with(cache) as eng:
        t = run(eng, request)
        assert eng.encodes == 1
    assert t.done.cache.prefix == "miss" and text_of(t) == expected
    with engine_with(cache) as eng:
        assert run(eng, request).done.cache.prefix == "hit"


def test_a_state_that_llama_cpp_refuses_is_a_clean_error(tmp_path, cache):
    """An entry with a valid checksum but a state llama.cpp cannot read (written by a
    bug, or an edited file): ModelError naming the way out, not a crash."""
    img = picture(tmp_path)
    request = Request("What is it?", media=(img,), max_tokens=4)
    with engine_with(cache) as eng:
        run(eng, request)
    store = CacheStore(cache, 1 << 30)
    (entry,) = [e for e in store.entries() if e.kind == "prefix"]
    header, _ = store.get("prefix", entry.key)
    store.put("prefix", entry.key, header["what"], header["meta"], b"\x01" * 64)
    with engine_with(cache) as eng, pytest.raises(Exception, match="cache clear"):
        run(eng, request)


def test_small_text_prompts_are_not_saved(tmp_path, cache):
    with engine_with(cache) as eng:
        t = run(eng, Request("Hello", max_tokens=2))
    assert t.done.cache.prefix == "miss"
    assert not list(cache.rglob("*.entry"))


def test_a_growing_context_keeps_the_state(tmp_path):
    """A follow-up that needs a larger context moves the state into it."""
    img = picture(tmp_path)
    with engine_with(None) as eng:
        a = run(eng, Request("What is it?", media=(img,), max_tokens=2))
        small = eng._n_ctx
        follow = Request("Tell me more.", history=(Turn("What is it?", a.answer, (img,)),),
                         max_tokens=600)
        b = run(eng, follow)
        assert eng._n_ctx > small and eng.encodes == 1
    assert text_of(b) == text_of(cold(follow))


def test_a_conversation_beyond_the_context_is_a_context_error(tmp_path):
    img = picture(tmp_path)
    turns = tuple(Turn(f"Question {i}?", "An answer " * 40, (img,) if i == 0 else ())
                  for i in range(12))
    with engine_with(None, context_limit=600) as eng, pytest.raises(ContextOverflowError):
        run(eng, Request("And now?", history=turns, max_tokens=8))
