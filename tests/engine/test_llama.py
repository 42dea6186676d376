"""The llama.cpp engine on the tiny model: real mtmd, real tokens, real generation."""

from __future__ import annotations

import ctypes
from pathlib import Path

import jinja2
import llama_cpp
import llama_cpp.mtmd_cpp as mtmd
import pytest

from glmv_cli.engine.events import Answer, Done, Progress, Thinking
from glmv_cli.engine.llama import LlamaEngine
from glmv_cli.engine.request import Request
from glmv_cli.engine.sampler import TokenSampler
from glmv_cli.engine.settings import EngineSettings
from glmv_cli.engine.transcript import Transcript
from glmv_cli.errors import ContextOverflowError, ModelError
from glmv_cli.inputs.image import prepare_image
from glmv_cli.inputs.media import Text
from glmv_cli.inputs.source import Source
from glmv_cli.models.ref import LocalModel
from tests.conftest import MISMATCH_MMPROJ, TINY, TINY_MMPROJ, TINY_MODEL, make_image


def ask(engine: LlamaEngine, request: Request) -> tuple[Transcript, list]:
    events = list(engine.generate(request))
    t = Transcript()
    for e in events:
        t.add(e)
    return t, events


def load(path: Path, max_tokens: int = 1024):
    return prepare_image(Source(path.name, path.read_bytes()), max_tokens)


def test_answer_ends_with_one_done_and_true_counts(engine, image):
    img = load(image)
    t, events = ask(engine, Request("What is in this picture?", media=(img,), max_tokens=16))
    assert isinstance(events[-1], Done) and sum(isinstance(e, Done) for e in events) == 1
    u = t.done.usage
    assert u.image_tokens == img.tokens == (308 // 28) * (196 // 28)
    assert u.generated_tokens == 16 and t.done.finish_reason == "length"
    # [gMASK] <sop> <|user|> \n <|begin_of_image|> | <|end_of_image|> question <|assistant|> \n
    question = engine.tokenize("What is in this picture?", special=False)
    assert u.prompt_text_tokens == 6 + len(question) + 2
    assert any(isinstance(e, Progress) and e.stage == "encode" for e in events)
    assert t.done.timings.encode_s > 0 and len(t.done.timings.per_image_encode_s) == 1


def test_token_counts_equal_what_mtmd_reports(engine, tmp_path):
    imgs = (load(make_image(tmp_path / "a.png", (300, 200))),
            load(make_image(tmp_path / "b.png", (640, 480))))
    t, _ = ask(engine, Request("Compare.", media=imgs, max_tokens=1))
    # Tokenize the same prompt with mtmd's helper and compare the totals.
    engine._load_vision()  # (freed after the first encode, when it came before the text)
    prompt = "[gMASK]<sop><|user|>\n<__media__><__media__>Compare.<|assistant|>\n"
    chunks = _mtmd_tokenize(engine, prompt, imgs)
    try:
        assert t.done.usage.prompt_tokens == mtmd.mtmd_helper_get_n_tokens(chunks)
    finally:
        mtmd.mtmd_input_chunks_free(chunks)
    assert t.done.usage.image_tokens == sum(i.tokens for i in imgs)


@pytest.mark.parametrize("size", [(308, 196), (196, 308)])
def test_image_embeddings_go_in_as_mtmds_helper_puts_them(engine, tmp_path, size):
    """Our decode of an encoded image (its M-RoPE positions above all) leaves the model in
    the state mtmd's own helper does: the same next position and the same logits for a
    token after it, for an image wider than tall and one taller than wide."""
    from glmv_cli.engine.prompt import ImageSlot

    engine._load_text()
    engine._load_vision()
    slot = ImageSlot(load(make_image(tmp_path / "i.png", size)), "image")
    enc, _ = engine._encode(slot)
    assert (enc.nx, enc.ny) == (size[0] // 28, size[1] // 28)
    probe = engine.tokenize("Hello", special=False)[:1]

    engine._ensure_context(200, 8, keep=0)
    engine._rewind(0)
    ours_pos = engine._decode_tokens(probe, engine._decode_image(enc, 3, "image"), True)
    ours = _last_logits(engine._ctx)

    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_ubatch = 512, 512, 512
    params.flash_attn_type = engine._flash_attn_type()
    lctx = llama_cpp.llama_init_from_model(engine._model, params)
    chunks = engine._tokenize_image(slot)
    try:
        new_pos = llama_cpp.llama_pos(0)
        assert mtmd.mtmd_helper_eval_chunks(engine._mtmd, lctx, chunks, 3, 0, 512, False,
                                            ctypes.byref(new_pos)) == 0
        batch = llama_cpp.llama_batch_init(1, 0, 1)
        batch.n_tokens, batch.token[0], batch.pos[0] = 1, probe[0], new_pos.value
        batch.n_seq_id[0], batch.seq_id[0][0], batch.logits[0] = 1, 0, True
        assert llama_cpp.llama_decode(lctx, batch) == 0
        llama_cpp.llama_batch_free(batch)
        theirs = _last_logits(lctx)
    finally:
        mtmd.mtmd_input_chunks_free(chunks)
        llama_cpp.llama_free(lctx)
    assert ours_pos == new_pos.value + 1 == 3 + 1 + max(enc.nx, enc.ny) + 1 + 1
    assert max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) < 1e-4


def _last_logits(ctx) -> list[float]:
    n_vocab = llama_cpp.llama_vocab_n_tokens(
        llama_cpp.llama_model_get_vocab(llama_cpp.llama_get_model(ctx)))
    row = llama_cpp.llama_get_logits_ith(ctx, -1)
    return [row[i] for i in range(n_vocab)]


def test_a_first_question_encodes_its_image_before_the_text_weights_load(tmp_path):
    """The vision encoder runs beside the vocabulary alone and is freed before the text
    weights load, so the two never share memory; once the text model is in, a later
    image is encoded beside it and the encoder stays. Both ways give the same answer."""
    eng = LlamaEngine(TINY, EngineSettings(threads=2))
    seen = []

    def spy_on(name):
        orig = getattr(eng, name)

        def spy():  # what the engine holds after each call
            orig()
            seen.append((name, "vocabulary" if eng._vocab_only else "weights", bool(eng._mtmd)))
        setattr(eng, name, spy)

    for name in ("_load_vision", "_free_vision", "_load_text"):
        spy_on(name)
    decoded = []  # what each request fed the text model for the image
    orig_decode = eng._decode_image
    eng._decode_image = lambda enc, *rest: decoded.append(enc) or orig_decode(enc, *rest)
    img = load(make_image(tmp_path / "a.png", (308, 196)))
    request = Request("What is this?", media=(img,), sampling=_greedy_no_penalty(),
                      max_tokens=8)
    try:
        first, _ = ask(eng, request)
        assert seen[:2] == [("_load_vision", "vocabulary", True),
                            ("_free_vision", "vocabulary", False)]
        assert seen[-1] == ("_load_text", "weights", False)
        assert eng._mtmd is None and not eng._vocab_only and eng.encodes == 1
        assert first.done.timings.load_s > 0

        seen.clear()
        eng.forget()  # the same image again, encoded again: now beside the text model
        second, _ = ask(eng, request)
        assert seen == [("_load_vision", "weights", True)] and eng._mtmd
        assert eng.encodes == 2
        assert second.answer == first.answer and second.thinking == first.thinking
        assert second.done.usage == first.done.usage
        # The same embeddings on the same grid (the grid sets the M-RoPE positions).
        assert [(e.nx, e.ny) for e in decoded] == [(11, 7), (11, 7)]
        assert decoded[0].embd == decoded[1].embd and decoded[0].before == decoded[1].before
    finally:
        eng.close()


def test_prompt_tokens_match_the_reference_chat_template(engine, tmp_path, monkeypatch):
    """For a 28-aligned image, the text tokens around the image are exactly those of the
    model's own chat template (the one in the GGUF), with the image expanded."""
    img = load(make_image(tmp_path / "aligned.png", (308, 196)))
    assert (img.width, img.height) == (308, 196)  # no resize happened
    template = _meta(engine, "tokenizer.chat_template")
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "image"},
                                             {"type": "text", "text": "What is this?"}]}]
    # transformers renders chat templates with these two settings
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    rendered = env.from_string(template).render(
        messages=messages, add_generation_prompt=True)
    assert "<|begin_of_image|><|image|><|end_of_image|>" in rendered
    expected = engine.tokenize(rendered.replace("<|image|>", "<|image|>" * img.tokens),
                               special=True)

    captured = _capture_decoded_tokens(engine, Request("What is this?", media=(img,),
                                                       system="Be brief.", max_tokens=1),
                                        monkeypatch)
    image_id = engine.tokenize("<|image|>", special=True)[0]
    ours = [tok if tok is not None else image_id for tok in captured]
    assert ours == expected


def test_output_matches_llama_cpp_pythons_own_multimodal_path(engine, tmp_path, monkeypatch):
    """Greedy tokens from our loop equal those of llama-cpp-python's MTMDChatHandler for the
    same image and prompt (both without repetition penalty): our positions, batches and
    image decoding are right."""
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import MTMDChatHandler

    from glmv_cli.engine import llama as llama_mod

    # The library's chat path does not open the thinking; neither may we, for this test.
    monkeypatch.setattr(llama_mod, "THINK_OPEN", "")

    path = make_image(tmp_path / "aligned.png", (308, 196))
    img = load(path)
    request = Request("Describe this image.", media=(img,), max_tokens=12)
    request = Request(request.question, request.images, sampling=_greedy_no_penalty(),
                      max_tokens=12)
    ours = _generated_tokens(engine, request)

    handler = MTMDChatHandler(clip_model_path=str(TINY_MMPROJ), verbose=False)
    llm = Llama(model_path=str(TINY_MODEL), chat_handler=handler, n_ctx=512, n_threads=2,
                flash_attn=True, verbose=False)
    try:
        import base64
        url = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
        start = {}
        orig = llm.create_completion

        def spy(*a, **kw):
            start["n"] = llm.n_tokens
            return orig(*a, **kw)

        llm.create_completion = spy
        llm.create_chat_completion(messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}},
            {"type": "text", "text": "Describe this image."}]}],
            max_tokens=12, temperature=0.0, repeat_penalty=1.0)
        theirs = llm.input_ids[start["n"]:llm.n_tokens].tolist()
    finally:
        llm.close()
    assert len(theirs) >= 8
    assert ours[:len(theirs)] == theirs


def test_media_text_between_images_in_prompt_order(engine, tmp_path, monkeypatch):
    """Text parts sit where they are given, as plain text: a media text cannot forge a
    turn or a video marker."""
    img = load(make_image(tmp_path / "f.png", (308, 196)))
    request = Request("q", media=(Text("<|begin_of_video|>"), img, Text("3"),
                                  Text("<|user|>")), max_tokens=1)
    seen = _capture_decoded_tokens(engine, request, monkeypatch)
    begin_image, end_image = (engine.tokenize(t, special=True)[0]
                              for t in ("<|begin_of_image|>", "<|end_of_image|>"))
    head = engine.tokenize("[gMASK]<sop><|user|>", special=True) + engine.tokenize(
        "\n", special=False)
    expected = [*head, *engine.tokenize("<|begin_of_video|>", special=False),
                begin_image, *[None] * img.tokens, end_image,
                *engine.tokenize("3", special=False),
                *engine.tokenize("<|user|>", special=False)]  # plain text, not a turn
    assert seen[:len(expected)] == expected
    assert seen.count(engine.tokenize("<|user|>", special=True)[0]) == 1  # the head's only
    assert engine.tokenize("<|begin_of_video|>", special=True)[0] not in seen


def test_counts_equal_the_tokens_the_prompt_takes(engine, tmp_path):
    """Planners (documents) count with count_media / count_prompt; the counts must equal
    what generate() then puts in the context."""
    imgs = (load(make_image(tmp_path / "a.png", (300, 200))), Text("Page 2:\nsome text"),
            load(make_image(tmp_path / "b.png", (200, 300))))
    request = Request("Compare them.", media=imgs, system="Be brief.", max_tokens=1)
    t, _ = ask(engine, request)
    assert engine.count_prompt(request) == t.done.usage.prompt_tokens + 1  # + <think>
    bare = Request("Compare them.", system="Be brief.", max_tokens=1)
    assert engine.count_media(imgs) == engine.count_prompt(request) - engine.count_prompt(bare)


def test_system_prompt_control_tokens_are_not_parsed(engine, monkeypatch):
    seen = _capture_decoded_tokens(engine, Request("q", system="<|assistant|>", max_tokens=1),
                                   monkeypatch)
    assert seen.count(engine.tokenize("<|assistant|>", special=True)[0]) == 1  # ours only


def test_several_images_and_text_only(engine, tmp_path):
    imgs = tuple(load(make_image(tmp_path / f"{i}.png", (200 + 50 * i, 150))) for i in range(3))
    t, events = ask(engine, Request("Which differs?", media=imgs, max_tokens=4))
    assert t.done.usage.image_tokens == sum(i.tokens for i in imgs)
    assert sum(1 for e in events if isinstance(e, Progress) and e.stage == "encode") == 3
    t, _ = ask(engine, Request("Hello", max_tokens=4))
    assert t.done.usage.image_tokens == 0 and t.done.usage.generated_tokens == 4


def test_no_think_opens_the_answer(engine, image):
    t, events = ask(engine, Request("q", media=(load(image),), think=False, max_tokens=8))
    assert not any(isinstance(e, Thinking) for e in events)
    assert t.done.usage.forced_tokens == 3  # <think></think><answer>
    assert t.answer.strip()


def test_thinking_is_opened_and_runs_until_max_tokens(engine, image):
    t, _events = ask(engine, Request("q", media=(load(image),), max_tokens=12))
    assert t.done.usage.forced_tokens == 1  # <think>
    assert t.done.usage.thinking_tokens == 12 and not t.answer and t.thinking
    assert t.done.finish_reason == "length"


def test_think_budget_forces_the_answer(engine, image):
    """The tiny model never closes its thinking by itself; after the budget, glmv does."""
    t, events = ask(engine, Request("q", media=(load(image),), max_tokens=30, think_budget=5))
    assert t.done.usage.thinking_tokens == 5
    assert t.done.usage.forced_tokens == 3  # <think> + </think><answer>
    kinds = [type(e).__name__ for e in events if isinstance(e, Thinking | Answer)]
    assert kinds and kinds[0] == "Thinking" and "Answer" in kinds
    assert kinds.index("Answer") > max(i for i, k in enumerate(kinds) if k == "Thinking")


def test_think_budget_zero_is_no_thinking(engine, image):
    t, events = ask(engine, Request("q", media=(load(image),), max_tokens=6, think_budget=0))
    assert not any(isinstance(e, Thinking) for e in events) and t.answer
    assert t.done.usage.thinking_tokens == 0


def test_meaningful_special_tokens_survive_detokenization(engine):
    for tag in ("<think>", "</think>", "<answer>", "</answer>", "<|begin_of_box|>",
                "<|end_of_box|>"):
        (tok,) = engine.tokenize(tag, special=True)
        assert engine._piece(tok) == tag.encode()
    (image_tok,) = engine.tokenize("<|image|>", special=True)
    assert engine._piece(image_tok) == b""  # other control tokens vanish


def test_generation_stops_on_end_of_turn(engine, image, monkeypatch):
    """Make <|user|> the only possible token: generation stops at once, finish 'stop'."""
    (user,) = engine.tokenize("<|user|>", special=True)
    bias_chain = _force_token_sampler(engine, user)
    n_vocab = llama_cpp.llama_vocab_n_tokens(engine._vocab)
    monkeypatch.setattr(engine, "_make_sampler",
                        lambda s: TokenSampler(bias_chain, None, n_vocab))
    t, _ = ask(engine, Request("q", media=(load(image),), max_tokens=50))
    assert t.done.finish_reason == "stop" and t.done.usage.generated_tokens == 0


def test_context_is_sized_to_the_prompt(engine, image):
    t, _ = ask(engine, Request("q", media=(load(image),), max_tokens=100))
    assert t.done.usage.prompt_tokens + 100 <= t.done.usage.n_ctx < 4096


def test_context_overflow_is_a_clear_error(tmp_path):
    eng = LlamaEngine(TINY, EngineSettings(context_limit=64))
    try:
        img = load(make_image(tmp_path / "big.png", (640, 480)))
        with pytest.raises(ContextOverflowError, match=r"needs \d+ tokens but .* holds 64"):
            list(eng.generate(Request("q", media=(img,))))
    finally:
        eng.close()


def test_full_context_truncates_the_answer(tmp_path):
    eng = LlamaEngine(TINY, EngineSettings(context_limit=256))
    try:
        img = load(make_image(tmp_path / "a.png", (308, 196)))
        t, _ = ask(eng, Request("q", media=(img,), max_tokens=10_000))
        assert t.done.finish_reason == "length"
        # The context filled up exactly: the last token was sampled but had no room to be
        # fed back.
        u = t.done.usage
        assert u.prompt_tokens + u.forced_tokens + u.generated_tokens - 1 == 256
    finally:
        eng.close()


@pytest.mark.parametrize(("model", "mmproj", "message"), [
    (Path("missing.gguf"), TINY_MMPROJ, "model file not found"),
    (TINY_MODEL, Path("missing.gguf"), "mmproj file not found"),
    (TINY_MMPROJ, TINY_MMPROJ, "CLIP cannot be used as main model"),
    (TINY_MODEL, TINY_MODEL, "does not match the model"),
    (TINY_MODEL, MISMATCH_MMPROJ, r"mismatch between text model \(n_embd = 128\)"),
])
def test_wrong_model_files_are_model_errors(model, mmproj, message):
    eng = LlamaEngine(LocalModel("x", model, mmproj))
    with pytest.raises(ModelError, match=message):
        eng.load()
    eng.close()


def test_not_a_gguf(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelError, match="not a GGUF file"):
        LlamaEngine(LocalModel("x", fake, TINY_MMPROJ)).load()


# -- helpers --------------------------------------------------------------------------


def _greedy_no_penalty():
    from glmv_cli.engine.request import Sampling
    return Sampling(temperature=0.0, repeat_penalty=1.0)


def _meta(engine: LlamaEngine, key: str) -> str:
    buf = ctypes.create_string_buffer(8192)
    n = llama_cpp.llama_model_meta_val_str(engine._model, key.encode(), buf, len(buf))
    assert n > 0, key
    return buf.value.decode()


def _mtmd_tokenize(engine, prompt, imgs):
    bitmaps = [mtmd.mtmd_bitmap_init(i.width, i.height,
                                     (ctypes.c_uint8 * len(i.rgb)).from_buffer_copy(i.rgb))
               for i in imgs]
    chunks = mtmd.mtmd_input_chunks_init()
    inp = mtmd.mtmd_input_text()
    raw = prompt.encode()
    inp.text, inp.text_len, inp.add_special, inp.parse_special = raw, len(raw), False, True
    arr = (mtmd.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
    assert mtmd.mtmd_tokenize(engine._mtmd, chunks, ctypes.byref(inp), arr, len(bitmaps)) == 0
    for b in bitmaps:
        mtmd.mtmd_bitmap_free(b)
    return chunks


def _capture_decoded_tokens(engine, request, monkeypatch):
    """Every token the prompt put into the context, in order: text token ids, and None
    for each image token (an image goes in as embeddings, not ids)."""
    seen: list[int | None] = []
    inside_image = []
    orig_decode = engine._decode_tokens
    orig_image = engine._decode_image

    def decode(tokens, n_past, logits_last):
        if not inside_image:
            seen.extend(tokens)
        return orig_decode(tokens, n_past, logits_last)

    def decode_image(enc, n_past, what):
        seen.extend([*enc.before, *[None] * enc.n_tokens, *enc.after])
        inside_image.append(True)
        try:
            return orig_image(enc, n_past, what)
        finally:
            inside_image.pop()

    monkeypatch.setattr(engine, "_decode_tokens", decode)
    monkeypatch.setattr(engine, "_decode_image", decode_image)
    t, _ = ask(engine, request)
    monkeypatch.undo()
    return seen[: t.done.usage.prompt_tokens]


def _generated_tokens(engine, request):
    out: list[int] = []
    orig = engine._decode_tokens

    def decode(tokens, n_past, logits_last):
        out.extend(tokens)
        return orig(tokens, n_past, logits_last)

    engine._decode_tokens = decode
    try:
        t, _ = ask(engine, request)
    finally:
        del engine._decode_tokens
    n_prompt = t.done.usage.prompt_text_tokens
    return out[n_prompt:]


def _force_token_sampler(engine, token: int):
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    n_vocab = llama_cpp.llama_vocab_n_tokens(engine._vocab)
    bias = (llama_cpp.llama_logit_bias * 1)()
    bias[0].token, bias[0].bias = token, 1e9
    llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_logit_bias(
        n_vocab, 1, bias))
    llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
    return chain


def test_a_small_context_reused_for_a_bigger_image_holds_it(tmp_path):
    """llama.cpp clamps n_batch to the n_ctx asked for; mtmd's image batches are n_batch
    long. A first request of ~280 tokens used to leave a context whose batch could not take
    the 391-token image of the next request (an abort in mtmd)."""
    eng = LlamaEngine(TINY, EngineSettings(threads=2))
    try:
        small = load(make_image(tmp_path / "f.png", (320, 240)), 256)
        ask(eng, Request("q", media=(small, small, small), max_tokens=1))
        big = load(make_image(tmp_path / "b.png", (640, 480)))
        t, _ = ask(eng, Request("Compare.", media=(small, big), max_tokens=1))
        assert t.done.usage.image_tokens == small.tokens + big.tokens == small.tokens + 391
        assert llama_cpp.llama_n_batch(eng._ctx) >= big.tokens
    finally:
        eng.close()
