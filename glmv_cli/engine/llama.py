"""The local engine: GLM-4.1V through llama.cpp's C API and its mtmd multimodal library.

We drive llama.cpp directly rather than through `Llama.create_chat_completion`, because
the tool needs what that path hides: raw RGB bitmaps instead of re-encoded PNGs, true
token counts, the meaning-bearing control tokens in the output, a context sized to the
prompt, per-phase timings, and a clean boundary after the media where the state can be
saved and restored (the prefix cache).

Memory: a one-shot question encodes its images before the text model's weights load.
The vision encoder then runs beside the vocabulary alone, its output is copied out and
the encoder is freed, and only then do the text weights come in. The two never share
memory, so the peak is the larger of the two, not their sum (llama.cpp's own
`llama-mtmd-cli` holds both). We feed the copied embeddings to llama_decode ourselves,
with mtmd's M-RoPE positions, so nothing after the encode needs the vision encoder.
"""

from __future__ import annotations

import codecs
import ctypes
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import llama_cpp
import llama_cpp.mtmd_cpp as mtmd

from glmv_cli.engine import malloc, native_log, prompt
from glmv_cli.engine.base import Capabilities
from glmv_cli.engine.cache_keys import chain, file_identity, pixels_key
from glmv_cli.engine.cache_store import CacheStore
from glmv_cli.engine.events import CacheUse, Done, Event, Progress, Timings, Usage
from glmv_cli.engine.parse import StreamParser
from glmv_cli.engine.prompt import (
    ANSWER_OPEN,
    END_OF_TURN,
    FORCE_ANSWER,
    GRAMMAR_TAGS,
    IMAGE_WRAP,
    MEANINGFUL_TAGS,
    NO_THINK,
    THINK_OPEN,
    ImageSlot,
    Piece,
    Segment,
)
from glmv_cli.engine.request import Request, Sampling
from glmv_cli.engine.sampler import TokenSampler
from glmv_cli.engine.schema_grammar import schema_grammar
from glmv_cli.engine.settings import EngineSettings
from glmv_cli.errors import NATIVE_THREAD, ContextOverflowError, Interrupted, ModelError
from glmv_cli.inputs.image import PATCH
from glmv_cli.inputs.media import Media, Text
from glmv_cli.models.gguf_check import ARCH, TEXT_WIDTH, check_pair
from glmv_cli.models.gguf_header import read_header
from glmv_cli.models.ref import LocalModel

N_BATCH = 512
PENALTY_LAST_N = 64  # llama.cpp's default window for the repetition penalty
# After Ctrl-C, how long an aborted decode may take to stop (it stops at the next node
# of the compute graph, well under a second on any machine).
ABORT_WAIT_S = 5.0
# A model load stops at its next tensor once asked; reading the vocabulary (seconds for a
# huge one) cannot be stopped, and Ctrl-C must not wait for it: the load is then left to
# die with the process.
LOAD_ABORT_WAIT_S = 0.3
_NO_ABORT = llama_cpp.ggml_abort_callback()  # likewise

# A state is worth saving to disk when its prefix holds an image or this many tokens.
CACHE_MIN_TOKENS = 1024


@dataclass
class _Item:
    """One piece of the prompt, with the chained key of the prompt up to and including it
    (engine/cache_keys.py). Keys come first, from the text and pixels alone; text is
    tokenized once a vocabulary is loaded, an image encoded only when it must be
    evaluated and no cache holds it."""

    key: str
    piece: Piece | None = None
    text: list[int] | None = None
    image: ImageSlot | None = None
    encoded: _Encoded | None = None
    encode_s: float = 0.0  # what encoding the image cost (part of the state's cost)


@dataclass
class _Encoded:
    """One image ready for the text model: the vision encoder's output (float32 rows of
    the model's width, row-major over an `nx` by `ny` grid), copied into our memory so
    that the encoder can be freed, and the tokens mtmd wraps it in."""

    before: list[int]
    after: list[int]
    embd: bytearray
    nx: int
    ny: int
    n_embd: int

    @property
    def n_tokens(self) -> int:
        return self.nx * self.ny

    @property
    def wrap_tokens(self) -> int:
        return len(self.before) + len(self.after)


@dataclass(frozen=True)
class _Mark:
    """What the KV cache holds after an item: the next position (M-RoPE positions are
    not token counts), the tokens so far, and the seconds they took to compute."""

    key: str
    n_past: int
    text_tokens: int
    image_tokens: int
    cost_s: float


_START = _Mark("", 0, 0, 0, 0.0)


def gpu_offload_available() -> bool:
    return bool(llama_cpp.llama_supports_gpu_offload())


def check_gguf(path: Path, what: str) -> None:
    """Fail early, with a clear message, on a missing or non-GGUF file."""
    if not path.is_file():
        raise ModelError(f"{what} not found: {path}")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ModelError(f"{what} is not a GGUF file: {path}")


class LlamaEngine:
    """A GGUF text model plus its mmproj, loaded once and asked many times."""

    capabilities = Capabilities(grammar=True, think_budget=True, exact_counts=True,
                                state_cache=True)

    def __init__(self, model: LocalModel, settings: EngineSettings | None = None) -> None:
        self.model = model
        self.name = model.name
        self.settings = settings or EngineSettings()
        self._model: llama_cpp.llama_model_p | None = None
        self._vocab: llama_cpp.llama_vocab_p | None = None
        self._mtmd: mtmd.mtmd_context_p | None = None
        self._ctx: llama_cpp.llama_context_p | None = None
        self._n_ctx = 0
        self._batch: llama_cpp.llama_batch | None = None
        self._piece_buf = ctypes.create_string_buffer(256)
        self._banned: list[int] | None = None  # control tokens a grammar's answer excludes
        self.load_s = 0.0
        # What sequence 0 of the KV cache holds: a mark per prompt item evaluated, in
        # order (None where a state restored from disk skipped the items before it).
        # A request that starts like the last one evaluates only what differs.
        self._marks: list[_Mark | None] = []
        self._store = (CacheStore(self.settings.cache_dir, self.settings.cache_bytes)
                       if self.settings.cache_dir is not None else None)
        self._state_key = ""  # the chain every prompt key starts from (set by _setup)
        self._vision_key = ""  # likewise for image encodings
        self._use_gpu = False
        self._n_gpu_layers = 0
        self._n_embd = 0  # the text model's input width, from its header
        self._n_ctx_train = 0  # its trained context, likewise
        self._vocab_only = False  # _model holds the vocabulary alone (see _load_vocab)
        self.encodes = 0  # image encodes run (the caches' tests count them)
        # Ctrl-C sets this; llama.cpp polls it between the nodes of a decode's graph.
        self._abort = threading.Event()
        self._abort_callback = llama_cpp.ggml_abort_callback(lambda _: self._abort.is_set())
        # A model load asks this between tensors whether to go on.
        self._load_progress = llama_cpp.llama_progress_callback(
            lambda _progress, _data: not self._abort.is_set())
        # Set while a native call runs in a worker thread that Ctrl-C left behind (an
        # image encode cannot be aborted): its memory must then not be freed.
        self._abandoned = False

    # -- lifecycle ---------------------------------------------------------------------

    def load(self) -> None:
        """Check the model files and read the vocabulary, so that a bad file fails here.
        The weights load when a request needs them: the vision encoder first, for a
        question whose images must be encoded (see the module's docstring)."""
        self._load_vocab()

    def _setup(self) -> None:
        """What comes before any weights: the files checked (llama.cpp aborts on some
        bad pairs: refuse them first), llama.cpp's backends, and the cache keys, which
        say what makes a state or an image encoding (see engine/cache_keys.py)."""
        if self._state_key:
            return
        s, files = self.settings, self.model
        check_gguf(files.model, "model file")
        check_gguf(files.mmproj, "mmproj file")
        check_pair(files.model, files.mmproj)
        header = read_header(files.model, {TEXT_WIDTH, f"{ARCH}.context_length"})
        self._n_embd = int(header.get(TEXT_WIDTH, 0))
        self._n_ctx_train = int(header.get(f"{ARCH}.context_length", 0))
        native_log.install(s.verbose)
        malloc.use_one_arena()  # before the first worker thread allocates
        llama_cpp.llama_backend_init()
        use_gpu = gpu_offload_available()
        self._n_gpu_layers = s.gpu_layers if s.gpu_layers is not None else (-1 if use_gpu else 0)
        self._use_gpu = use_gpu and self._n_gpu_layers != 0
        version = getattr(llama_cpp, "__version__", "?")
        mmproj_id = file_identity(files.mmproj)
        self._vision_key = chain("glmv-image-encoding-2", mmproj_id, version, self._use_gpu)
        self._state_key = chain("glmv-state-1", file_identity(files.model), mmproj_id, version,
                                s.flash_attn, self._use_gpu, self._n_gpu_layers, N_BATCH)

    def _load_vocab(self) -> None:
        """A model to tokenize with: the one loaded, or else the vocabulary alone (a
        fraction of a second, no weights)."""
        if self._model:
            return
        self._setup()
        t0 = time.perf_counter()
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        native_log.clear()
        # Reading a vocabulary has no hook to stop it, and a huge one takes seconds: in a
        # worker thread, left to die with the process on Ctrl-C (see _native).
        model = self._native(llama_cpp.llama_model_load_from_file,
                             str(self.model.model).encode(), params, abortable=False)
        if not model:
            raise ModelError(f"cannot load model {self.model.model}: "
                             + native_log.last_error("llama.cpp rejected the file"))
        self._adopt(model, vocab_only=True)
        self.load_s += time.perf_counter() - t0

    def _load_text(self) -> None:
        """Load the text model's weights (a no-op once loaded)."""
        if self._model and not self._vocab_only:
            return
        self._setup()
        files = self.model
        t0 = time.perf_counter()
        self._free_vision()  # (it holds on to the vocabulary it was made beside)
        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = self._n_gpu_layers
        mparams.progress_callback = self._load_progress
        native_log.clear()
        # Loading takes seconds to minutes (GPU uploads, a cold disk): in a worker thread,
        # so that Ctrl-C is handled at once (see _native).
        model = self._native(llama_cpp.llama_model_load_from_file,
                             str(files.model).encode(), mparams, abortable=True,
                             wait_s=LOAD_ABORT_WAIT_S)
        if not model:
            raise ModelError(
                f"cannot load model {files.model}: "
                + native_log.last_error("llama.cpp rejected the file")
            )
        # The vocabulary alone, if loaded, goes once the whole model has taken its place
        # (freeing a vocabulary takes a while too, and Ctrl-C could not stop that).
        vocab_only = self._model if self._vocab_only else None
        self._adopt(model, vocab_only=False)
        if vocab_only:
            llama_cpp.llama_model_free(vocab_only)
        if llama_cpp.llama_model_n_embd_inp(model) != self._n_embd:
            self.close()
            raise ModelError(f"{files.model}: llama.cpp reads a width other than its header's")
        self.load_s += time.perf_counter() - t0

    def _adopt(self, model: llama_cpp.llama_model_p, vocab_only: bool) -> None:
        self._model, self._vocab_only = model, vocab_only
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        if self._arch() != "glm4":
            arch = self._arch()
            self.close()
            raise ModelError(
                f"{self.model.model} is a '{arch}' model; glmv runs GLM-4.1V / GLM-4.6V "
                "(arch 'glm4')"
            )
        self._tag_ids = frozenset(self._single_token(t) for t in MEANINGFUL_TAGS)
        self._stop_ids = {self._single_token(t) for t in END_OF_TURN}
        self._marker = mtmd.mtmd_default_marker()

    def _load_vision(self) -> None:
        """Load the vision encoder, beside the text model or the vocabulary alone."""
        if self._mtmd:
            return
        self._load_vocab()
        s, files = self.settings, self.model
        t0 = time.perf_counter()
        cparams = mtmd.mtmd_context_params_default()
        cparams.use_gpu = self._use_gpu
        cparams.print_timings = False
        cparams.n_threads = self.threads
        cparams.flash_attn_type = self._flash_attn_type()
        # Our images arrive pre-sized within this budget, so mtmd never resizes them; the
        # cap also bounds the compute buffer mtmd reserves at start-up.
        cparams.image_max_tokens = s.max_image_tokens
        native_log.clear()
        # The projector is read whole (no memory map, no progress hook): not abortable.
        ctx = self._native(mtmd.mtmd_init_from_file, str(files.mmproj).encode(),
                           self._model, cparams, abortable=False)
        if not ctx:
            reason = native_log.last_error("it does not fit this model")
            self.close()
            raise ModelError(f"mmproj {files.mmproj} does not match the model: {reason}")
        self._mtmd = ctx
        if not mtmd.mtmd_support_vision(ctx):
            self.close()
            raise ModelError(f"mmproj {files.mmproj} has no vision encoder")
        self.load_s += time.perf_counter() - t0

    # Each handle is cleared before it is freed: a Ctrl-C handled right after a free
    # returns (Python runs signal handlers between bytecodes) must not leave a freed
    # pointer behind for close() to free again.

    def _free_vision(self) -> None:
        if self._mtmd and not self._abandoned:
            ctx, self._mtmd = self._mtmd, None
            mtmd.mtmd_free(ctx)

    def _free_model(self) -> None:
        model, self._model, self._vocab, self._vocab_only = self._model, None, None, False
        if model:
            llama_cpp.llama_model_free(model)

    def close(self) -> None:
        if self._abandoned:
            return
        if self._batch is not None:
            batch, self._batch = self._batch, None
            llama_cpp.llama_batch_free(batch)
        if self._ctx:
            ctx, self._ctx = self._ctx, None
            llama_cpp.llama_free(ctx)
        self._marks = []
        self._free_vision()
        self._free_model()

    def forget(self) -> None:
        """Drop the state kept from earlier requests: the next is evaluated whole."""
        if self._ctx:
            self._rewind(0)

    def __enter__(self) -> LlamaEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def threads(self) -> int:
        return self.settings.cores

    @property
    def n_ctx_train(self) -> int:
        # The header's key is the one llama.cpp itself reads (and requires) at load.
        self._setup()
        return self._n_ctx_train

    @property
    def context_limit(self) -> int:
        limit = self.n_ctx_train
        if self.settings.context_limit:
            limit = min(limit, self.settings.context_limit)
        return limit

    # -- counting, for callers that plan (documents) -----------------------------------

    def count_media(self, media: tuple[Media, ...]) -> int:
        self._load_vocab()
        return self._count_segments(prompt.media_segments(media))

    def count_prompt(self, request: Request) -> int:
        self._load_vocab()
        segments = [*prompt.prefix(request.system, request.media, request.history),
                    *prompt.question_pieces(request.question)]
        think = request.think and request.think_budget != 0
        return (self._count_segments(segments)
                + len(self.tokenize(THINK_OPEN if think else NO_THINK, special=True)))

    def _count_segments(self, segments: list[Segment]) -> int:
        return sum(seg.image.tokens + IMAGE_WRAP if isinstance(seg, ImageSlot)
                   else len(self.tokenize(seg.text, special=seg.control))
                   for seg in segments)

    # -- the request -------------------------------------------------------------------

    def generate(self, request: Request) -> Iterator[Event]:
        """Answer `request`; yields progress, thinking, answer and box events, then Done."""
        usage, timings = Usage(), Timings()
        if request.schema is not None and request.grammar is None:
            request = replace(request, grammar=schema_grammar(request.schema))
        if self._abandoned:
            raise ModelError("the engine was left unusable by an interrupted image encode")
        cache = CacheUse(prefix="off" if self._store is None else "miss")
        try:
            yield from self._answer(request, usage, timings, cache)
        except Interrupted:
            if self._abandoned:
                raise  # the process must leave now, without a Done
            yield Done("interrupted", usage, timings, cache=cache)

    def _answer(self, request: Request, usage: Usage, timings: Timings,
                cache: CacheUse) -> Iterator[Event]:
        t_start = time.perf_counter()
        load_before = self.load_s
        think = request.think and request.think_budget != 0
        forced_text = THINK_OPEN if think else NO_THINK
        self._setup()
        prefix = self._items(prompt.prefix(request.system, request.media, request.history),
                             self._state_key)
        n_prefix = len(prefix)
        items = prefix + self._items(
            [*prompt.question_pieces(request.question), Piece(forced_text, True)],
            prefix[-1].key if prefix else self._state_key)

        try:
            n_past = yield from self._eval_prompt(items, n_prefix, forced_text, request,
                                                  usage, timings, cache)
        finally:
            timings.load_s = self.load_s - load_before
        n_used = usage.prompt_tokens + usage.forced_tokens

        parser = StreamParser()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        yield from parser.feed(forced_text)

        grammar = request.grammar
        constrained = grammar is not None and _answer_open(parser)
        sampler = (self._make_sampler(request.sampling, grammar) if constrained
                   else self._make_sampler(request.sampling))
        recent: list[int] = []  # for the repetition penalty of a grammar sampler
        think_limit = _think_limit(request)
        finish: Literal["stop", "length", "interrupted"] = "length"
        context_full = False
        t0 = time.perf_counter()
        yield Progress("generate", "Generating")
        try:
            while True:
                tok = sampler.sample(self._ctx)
                if not timings.first_token_s:
                    timings.first_token_s = time.perf_counter() - t_start - timings.load_s
                stop = tok in self._stop_ids or llama_cpp.llama_vocab_is_eog(self._vocab, tok)
                if stop and (grammar is None or constrained):
                    finish = "stop"
                    break
                feed: list[int] = []
                if not stop:  # (a stop token before a grammar's answer is dropped)
                    usage.generated_tokens += 1
                    if parser.in_thinking:
                        usage.thinking_tokens += 1
                    yield from parser.feed(decoder.decode(self._piece(tok)))
                    if usage.generated_tokens >= request.max_tokens:
                        break
                    feed.append(tok)
                    recent = [*recent, tok][-PENALTY_LAST_N:]
                forced = ""
                if parser.in_thinking and (
                    stop or (think_limit is not None and usage.thinking_tokens >= think_limit)
                ):
                    forced = FORCE_ANSWER  # the reference's way to get an answer
                elif grammar is not None and not constrained and parser.state == "between":
                    forced = ANSWER_OPEN  # the model closed its thinking: open the answer
                elif stop:
                    forced = FORCE_ANSWER  # a grammar's answer must come: open it
                if forced:
                    ids = self.tokenize(forced, special=True)
                    feed += ids
                    usage.forced_tokens += len(ids)
                    yield from parser.feed(forced)
                if grammar is not None and not constrained and _answer_open(parser):
                    # The answer has opened: from here on it is sampled under the grammar.
                    # The new sampler is built before the old one is freed, so a failure
                    # leaves exactly one sampler for the `finally` to free.
                    constrained_sampler = self._make_sampler(request.sampling, grammar, recent)
                    sampler.free()
                    sampler = constrained_sampler
                    constrained = True
                if n_used + len(feed) > self._n_ctx:
                    context_full = True
                    break  # the context window is full
                n_past = self._decode_tokens(feed, n_past, logits_last=True)
                n_used += len(feed)
        except Interrupted:
            finish = "interrupted"
        finally:
            sampler.free()
            timings.generate_s = time.perf_counter() - t0
        yield from parser.feed(decoder.decode(b"", final=True))
        yield from parser.finish()
        yield Done(finish, usage, timings, context_full, cache)

    # -- prompt evaluation -------------------------------------------------------------

    def _items(self, segments: list[Segment], key: str) -> list[_Item]:
        """The segments as items with keys chained on from `key`; nothing tokenized or
        encoded yet."""
        items: list[_Item] = []
        for seg in segments:
            if isinstance(seg, ImageSlot):
                img = seg.image
                key = chain(key, "image", pixels_key(img.rgb, img.width, img.height))
                items.append(_Item(key, image=seg))
            elif seg.text:  # (an empty question: nothing to evaluate, nothing to key)
                key = chain(key, "text", seg.control, seg.text)
                items.append(_Item(key, piece=seg))
        return items

    def _eval_prompt(self, items: list[_Item], n_prefix: int, forced_text: str,
                     request: Request, usage: Usage, timings: Timings,
                     cache: CacheUse) -> Iterator[Event]:
        """Bring the KV cache to the state after `items` (which end with `forced_text`),
        evaluating only what neither memory (the last request's state) nor the disk
        cache holds. Returns the next position; the logits of the last item's last
        token are ready."""
        start = self._reusable(items)
        if start >= n_prefix or any(item.image is not None for item in items[:start]):
            cache.prefix = "memory"  # the images at least, if not the whole prefix
        saved = self._marks[start - 1] if start else None
        # A conversation's later turns are not saved: their prefixes (the earlier answers
        # included) come back in this process's memory, not in another process.
        disk = self._store is not None and not request.history \
            and _worth_saving(items[:n_prefix])
        restore = None
        if start < n_prefix and disk:
            restore = self._store.get("prefix", items[n_prefix - 1].key)
            if restore is not None:
                start, saved = n_prefix, _mark_from(items[n_prefix - 1].key, restore[0])
        todo = range(start, len(items))
        images = [items[i] for i in todo if items[i].image is not None]
        yield from self._encode_images(images, timings, cache)
        if not self._model or self._vocab_only:
            yield Progress("load", "Loading model")
            self._load_text()
        for item in items:
            if item.piece is not None and item.text is None:
                item.text = self.tokenize(item.piece.text, special=item.piece.control)
        usage.forced_tokens = len(self.tokenize(forced_text, special=True))
        base = saved or _START
        text = base.text_tokens + sum(len(items[i].text or ()) for i in todo)
        image = base.image_tokens
        for item in images:
            assert item.encoded is not None
            text, image = text + item.encoded.wrap_tokens, image + item.encoded.n_tokens
        usage.prompt_text_tokens = text - usage.forced_tokens
        usage.image_tokens = image
        self._ensure_context(text + image, request.max_tokens, keep=0 if restore else start)
        usage.n_ctx = self._n_ctx

        if restore is not None:
            t0 = time.perf_counter()
            if not self._set_state(restore[1]):
                raise ModelError("llama.cpp could not read a cached state back "
                                 "(run `glmv cache clear`)")
            timings.restore_s = time.perf_counter() - t0
            self._marks = [None] * (n_prefix - 1) + [saved]
            cache.prefix = "hit"
        else:
            self._rewind(start)
        if saved is not None:
            cache.saved_s = max(0.0, saved.cost_s - timings.restore_s)

        mark = base
        image_i = 0
        for i in todo:
            item = items[i]
            if i == n_prefix:
                yield Progress("prefill", "Reading the question")
            t0 = time.perf_counter()
            if item.encoded is not None:
                assert item.image is not None
                yield Progress("prefill", f"Reading {item.image.what} into the context",
                               image_i, len(images))
                image_i += 1
                n_past = self._decode_image(item.encoded, mark.n_past, item.image.what)
                t, m = item.encoded.wrap_tokens, item.encoded.n_tokens
            else:
                tokens = item.text or []
                if len(tokens) > N_BATCH:  # long text (a system prompt, a page): say so
                    yield Progress("prefill", f"Reading the prompt ({len(tokens)} tokens)")
                n_past = self._decode_tokens(tokens, mark.n_past, logits_last=i == len(items) - 1)
                t, m = len(tokens), 0
            timings.prefill_s += time.perf_counter() - t0
            mark = _Mark(item.key, n_past, mark.text_tokens + t, mark.image_tokens + m,
                         mark.cost_s + item.encode_s + time.perf_counter() - t0)
            self._marks.append(mark)
            if i == n_prefix - 1 and disk and cache.prefix != "hit":
                self._save_prefix(mark, items[:n_prefix], request)
        return mark.n_past

    def _reusable(self, items: list[_Item]) -> int:
        """How many leading items the KV cache already holds the state after (never all:
        the last item is evaluated again for its logits)."""
        for n in range(min(len(self._marks), len(items) - 1), 0, -1):
            mark = self._marks[n - 1]
            if mark is not None and mark.key == items[n - 1].key:
                return n
        return 0

    def _rewind(self, n: int) -> None:
        """Keep the state after the first `n` items; drop everything evaluated since."""
        mem = llama_cpp.llama_get_memory(self._ctx)
        if n == 0:
            llama_cpp.llama_memory_clear(mem, True)
        else:
            mark = self._marks[n - 1]
            assert mark is not None
            llama_cpp.llama_memory_seq_rm(mem, 0, mark.n_past, -1)
        del self._marks[n:]

    def _get_state(self) -> ctypes.Array[ctypes.c_uint8]:
        size = llama_cpp.llama_state_seq_get_size(self._ctx, 0)
        buf = (ctypes.c_uint8 * size)()
        n = llama_cpp.llama_state_seq_get_data(self._ctx, buf, size, 0)
        return (ctypes.c_uint8 * n).from_buffer(buf) if n != size else buf

    def _set_state(self, data: bytearray | ctypes.Array[ctypes.c_uint8]) -> bool:
        """Load sequence 0's state (from _get_state); False if llama.cpp refused it."""
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._ctx), True)
        buf = ((ctypes.c_uint8 * len(data)).from_buffer(data)
               if isinstance(data, bytearray) else data)
        if llama_cpp.llama_state_seq_set_data(self._ctx, buf, len(data), 0) == 0:
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._ctx), True)
            self._marks = []
            return False
        return True

    def _save_prefix(self, mark: _Mark, prefix: list[_Item], request: Request) -> None:
        """Save the state after the prompt's prefix, for later questions about it."""
        assert self._store is not None
        meta = {"n_past": mark.n_past, "text_tokens": mark.text_tokens,
                "image_tokens": mark.image_tokens, "cost_s": mark.cost_s}
        self._store.put("prefix", mark.key, _describe(prefix, request, mark), meta,
                        self._get_state())

    # -- images ------------------------------------------------------------------------

    def _encode_images(self, images: list[_Item], timings: Timings,
                       cache: CacheUse) -> Iterator[Event]:
        """Give each image item its encoding: from the image cache, or from the vision
        encoder. When the text weights are not loaded yet, the encoder runs beside the
        vocabulary alone and is freed before they load (see the module's docstring)."""
        pending: list[_Item] = []
        for item in images:
            assert item.image is not None
            stored = self._stored_encoding(item.image)
            if stored is None:
                pending.append(item)
            else:
                item.encoded, item.encode_s = stored
                cache.images_hit += 1
                cache.saved_s += stored[1]
        if not pending:
            return
        before_text = not self._model or self._vocab_only
        if not self._mtmd:
            yield Progress("load", "Loading the vision encoder")
            self._load_vision()
        for n, item in enumerate(pending):
            assert item.image is not None
            yield Progress("encode", f"Encoding {item.image.what} ({item.image.image.tokens} "
                           "tokens)", n, len(pending))
            item.encoded, item.encode_s = self._encode(item.image)
            self.encodes += 1
            cache.images_encoded += self._store is not None
            timings.encode_s += item.encode_s
            timings.per_image_encode_s.append(item.encode_s)
        if before_text:
            self._free_vision()

    def _image_key(self, slot: ImageSlot) -> str:
        img = slot.image
        return chain(self._vision_key, pixels_key(img.rgb, img.width, img.height), img.tokens)

    def _stored_encoding(self, slot: ImageSlot) -> tuple[_Encoded, float] | None:
        """The image's encoding and what it cost, from the cache; None if it has none
        (or one that does not add up)."""
        hit = self._store.get("image", self._image_key(slot)) if self._store else None
        if hit is None:
            return None
        meta, data = hit[0].get("meta", {}), hit[1]
        try:
            enc = _Encoded([int(t) for t in meta["before"]], [int(t) for t in meta["after"]],
                           data, int(meta["nx"]), int(meta["ny"]), int(meta["n_embd"]))
            cost = float(meta["encode_s"])
        except (KeyError, TypeError, ValueError):
            return None
        if enc.n_embd != self._n_embd or len(data) != 4 * enc.n_tokens * enc.n_embd:
            return None
        return enc, cost

    def _encode(self, slot: ImageSlot) -> tuple[_Encoded, float]:
        """Run one image through the vision encoder; its output is copied out of mtmd's
        buffer (and saved in the cache)."""
        img = slot.image
        chunks = self._tokenize_image(slot)
        try:
            before: list[int] = []
            after: list[int] = []
            image = None
            for i in range(mtmd.mtmd_input_chunks_size(chunks)):
                chunk = mtmd.mtmd_input_chunks_get(chunks, i)
                if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                    (after if image else before).extend(_chunk_tokens(chunk))
                else:
                    image = chunk
            assert image is not None  # one bitmap for one marker: one image chunk
            # The grid from the image's size, which is a multiple of the token side (our
            # images arrive pre-sized): mtmd reports its grid as 1 row when its context
            # was made beside the vocabulary alone, which tells it nothing of M-RoPE.
            nx, ny = img.width // PATCH, img.height // PATCH
            if mtmd.mtmd_input_chunk_get_n_tokens(image) != nx * ny:
                raise ModelError(f"mmproj {self.model.mmproj} lays images out in a way "
                                 "glmv does not know (not one token per grid cell)")
            t0 = time.perf_counter()
            # The vision encoder has no abort hook: Ctrl-C here leaves it running.
            if self._native(mtmd.mtmd_encode_chunk, self._mtmd, image, abortable=False) != 0:
                raise ModelError(
                    f"image encoder failed: {native_log.last_error('unknown error')}")
            encode_s = time.perf_counter() - t0
            data = bytearray(4 * nx * ny * self._n_embd)
            ctypes.memmove((ctypes.c_char * len(data)).from_buffer(data),
                           mtmd.mtmd_get_output_embd(self._mtmd), len(data))
        finally:
            if not self._abandoned:  # an abandoned encode may still be reading them
                mtmd.mtmd_input_chunks_free(chunks)
        enc = _Encoded(before, after, data, nx, ny, self._n_embd)
        if self._store is not None:
            self._store.put("image", self._image_key(slot),
                            f"{img.source}: {slot.what} ({enc.n_tokens} tokens)",
                            {"encode_s": encode_s, "n_tokens": enc.n_tokens, "nx": nx,
                             "ny": ny, "n_embd": enc.n_embd, "before": before,
                             "after": after}, data)
        return enc, encode_s

    def _tokenize_image(self, slot: ImageSlot) -> mtmd.mtmd_input_chunks_p:
        """One image through mtmd: `<|begin_of_image|>`, the image chunk, `<|end_of_image|>`."""
        img = slot.image
        data = (ctypes.c_uint8 * len(img.rgb)).from_buffer_copy(img.rgb)
        bitmap = mtmd.mtmd_bitmap_init(img.width, img.height, data)
        chunks = mtmd.mtmd_input_chunks_init()
        try:
            inp = mtmd.mtmd_input_text()
            inp.text, inp.text_len = self._marker, len(self._marker)
            inp.add_special, inp.parse_special = False, True
            arr = (mtmd.mtmd_bitmap_p_ctypes * 1)(bitmap)
            rc = mtmd.mtmd_tokenize(self._mtmd, chunks, ctypes.byref(inp), arr, 1)
            if rc != 0:
                mtmd.mtmd_input_chunks_free(chunks)
                raise ModelError(f"mtmd could not tokenize image {img.source} (code {rc})")
        finally:
            mtmd.mtmd_bitmap_free(bitmap)
        return chunks

    def _decode_image(self, enc: _Encoded, n_past: int, what: str) -> int:
        """Decode an image's wrap tokens and embeddings at n_past…; returns the next
        position."""
        n_past = self._decode_tokens(enc.before, n_past, logits_last=False)
        n_past = self._decode_embeddings(enc, n_past, what)
        return self._decode_tokens(enc.after, n_past, logits_last=False)

    def _decode_embeddings(self, enc: _Encoded, n_past: int, what: str) -> int:
        """Decode an image's embeddings at n_past…; returns the next position.

        The embeddings carry M-RoPE positions as mtmd gives them (mtmd.cpp,
        mtmd_image_tokens_get_decoder_pos): every cell of the grid shares the temporal
        position n_past, its row and column add to it in the second and third sections,
        and the image then advances the position by its longer side, not its token
        count. (GLM-4.1V decodes images causally, unlike Gemma 3: no attention switch.)
        """
        mrope = llama_cpp.llama_model_rope_type(self._model) in (
            llama_cpp.LLAMA_ROPE_TYPE_MROPE, llama_cpp.LLAMA_ROPE_TYPE_IMROPE)
        sections = 4 if mrope else 1
        n = enc.n_tokens
        row_bytes = 4 * enc.n_embd
        for start in range(0, n, N_BATCH):
            m = min(N_BATCH, n - start)
            pos = (llama_cpp.llama_pos * (m * sections))()
            for j in range(m):
                i = start + j
                if mrope:
                    pos[j] = n_past
                    pos[m + j] = n_past + i // enc.nx
                    pos[2 * m + j] = n_past + i % enc.nx
                else:
                    pos[j] = n_past + i
            n_seq = (ctypes.c_int32 * m)(*([1] * m))
            seq0 = (llama_cpp.llama_seq_id * 1)(0)
            seq = (ctypes.POINTER(llama_cpp.llama_seq_id) * (m + 1))(*([seq0] * m))
            logits = (ctypes.c_int8 * m)()
            rows = (ctypes.c_float * (m * enc.n_embd)).from_buffer(enc.embd, start * row_bytes)
            batch = llama_cpp.llama_batch(n_tokens=m, embd=rows, pos=pos, n_seq_id=n_seq,
                                          seq_id=seq, logits=logits)
            rc = self._native(llama_cpp.llama_decode, self._ctx, batch, abortable=True)
            self._check_decode(rc, f"the embeddings of {what}")
        return n_past + (max(enc.nx, enc.ny) if mrope else n)

    def _native(self, fn: Callable[..., Any], *args: object, abortable: bool,
                wait_s: float = ABORT_WAIT_S) -> Any:
        """Run a long native call (model load, image encode, prefill) in a worker thread.

        Python runs signal handlers only between bytecodes, so Ctrl-C during a minutes-long
        CPU call would otherwise wait for it to finish. The main thread waits instead. On
        Ctrl-C an `abortable` call (a llama.cpp decode, a model load) is stopped through
        llama.cpp's abort or progress callback, waiting at most `wait_s` for it, and the
        engine stays usable; any other call, or one that does not stop in time, is left
        running, the engine is marked unusable and the process must exit without freeing
        its memory.
        """
        result: list[Any] = []
        finished = threading.Event()

        def work() -> None:
            try:
                result.append(fn(*args))
            finally:
                finished.set()

        worker = threading.Thread(target=work, daemon=True,
                                  name=f"{NATIVE_THREAD}-{getattr(fn, '__name__', 'call')}")
        if abortable and self._ctx:
            llama_cpp.llama_set_abort_callback(self._ctx, self._abort_callback, None)
        # Marked before starting, so that a Ctrl-C at any point after leaves it marked.
        self._abandoned = True
        worker.start()
        # (Not Thread.join: a join interrupted by Ctrl-C can mark a running thread as
        # stopped in CPython 3.11, and then nothing here would know it still runs.)
        try:
            while not finished.wait(0.05):
                pass
        except Interrupted:
            if abortable:
                self._abort.set()
                finished.wait(wait_s)
            raise
        finally:
            if finished.is_set():
                self._abandoned = False
                if abortable:
                    if self._ctx:
                        llama_cpp.llama_set_abort_callback(self._ctx, _NO_ABORT, None)
                    self._abort.clear()
        return result[0] if result else -1

    def _check_decode(self, rc: int, what: str) -> None:
        """A llama.cpp decode's status, turned into an error by its cause."""
        if rc == 0:
            return
        if rc == 1:  # no room in the KV cache
            raise ContextOverflowError(f"the context window is full while reading {what}",
                                       hint="raise --context or lower --max-image-tokens")
        if rc == 2:  # stopped by the abort callback
            raise Interrupted()
        raise ModelError(f"llama.cpp failed to decode {what} (code {rc}): "
                         + native_log.last_error("no reason given"),
                         hint="out of memory? lower --max-image-tokens or --gpu-layers")

    def _decode_tokens(self, tokens: list[int], n_past: int, logits_last: bool) -> int:
        """Decode text tokens at positions n_past…; returns the next position."""
        batch = self._batch
        assert batch is not None
        for start in range(0, len(tokens), N_BATCH):
            part = tokens[start : start + N_BATCH]
            batch.n_tokens = len(part)
            for j, tok in enumerate(part):
                batch.token[j] = tok
                batch.pos[j] = n_past + j
                batch.n_seq_id[j] = 1
                batch.seq_id[j][0] = 0
                batch.logits[j] = False
            if logits_last and start + len(part) == len(tokens):
                batch.logits[len(part) - 1] = True
            # One generated token decodes in well under a second; a prompt may take minutes.
            rc = (llama_cpp.llama_decode(self._ctx, batch) if len(part) == 1
                  else self._native(llama_cpp.llama_decode, self._ctx, batch, abortable=True))
            self._check_decode(rc, "the prompt" if len(part) > 1 else "a token")
            n_past += len(part)
        return n_past

    def _ensure_context(self, prompt_tokens: int, max_tokens: int, keep: int) -> None:
        """A context that holds the prompt and `max_tokens`, capped at the model's window.

        The state after the first `keep` prompt items survives a context that has to grow
        (it is copied over); anything else the context held may be dropped.
        """
        limit = self.context_limit
        if prompt_tokens + 1 > limit:
            raise ContextOverflowError(
                f"the prompt needs {prompt_tokens} tokens but the context holds {limit}",
                hint="lower --max-image-tokens, use fewer images, or raise --context",
            )
        want = min(limit, prompt_tokens + max_tokens)
        if self._ctx and self._n_ctx >= want:
            return
        kept = None
        if self._ctx:
            if keep:
                self._rewind(keep)
                kept = self._get_state()
            llama_cpp.llama_free(self._ctx)
            self._ctx = None
        self._marks = self._marks[:keep] if kept is not None else []
        params = llama_cpp.llama_context_default_params()
        # llama.cpp clamps n_batch to the n_ctx asked for, and mtmd's image batches hold
        # n_batch tokens: a context below N_BATCH, reused later for a bigger image, aborts.
        params.n_ctx = max(want, min(N_BATCH, limit))
        params.n_batch = N_BATCH
        params.n_ubatch = N_BATCH
        params.n_threads = params.n_threads_batch = self.threads
        params.flash_attn_type = self._flash_attn_type()
        ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not ctx:
            self._marks = []
            raise ModelError(
                f"cannot create a {want}-token context: "
                + native_log.last_error("out of memory?"),
                hint="lower --max-tokens or --context",
            )
        self._ctx, self._n_ctx = ctx, llama_cpp.llama_n_ctx(ctx)
        if self._batch is None:
            self._batch = llama_cpp.llama_batch_init(N_BATCH, 0, 1)
        if kept is not None and not self._set_state(kept):
            raise ModelError("llama.cpp could not move the state to a larger context")

    # -- tokens ------------------------------------------------------------------------

    def tokenize(self, text: str, special: bool) -> list[int]:
        raw = text.encode()
        n_max = len(raw) + 8
        buf = (llama_cpp.llama_token * n_max)()
        n = llama_cpp.llama_tokenize(self._vocab, raw, len(raw), buf, n_max, False, special)
        if n < 0:  # buffer too small: -n is the size needed
            buf = (llama_cpp.llama_token * -n)()
            n = llama_cpp.llama_tokenize(self._vocab, raw, len(raw), buf, -n, False, special)
        return list(buf[:n])

    def _single_token(self, text: str) -> int:
        ids = self.tokenize(text, special=True)
        if len(ids) != 1:
            raise ModelError(f"this model's vocabulary has no '{text}' token: not a GLM-4.1V model")
        return ids[0]

    def _piece(self, tok: int) -> bytes:
        """Bytes of one token; control tokens vanish except the tags the parser needs."""
        special = tok in self._tag_ids
        buf = self._piece_buf
        n = llama_cpp.llama_token_to_piece(self._vocab, tok, buf, len(buf), 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, tok, buf, len(buf), 0, special)
        return buf.raw[:n]

    def _make_sampler(self, s: Sampling, grammar: str | None = None,
                      history: list[int] | None = None) -> TokenSampler:
        """The sampler; with `grammar`, only tokens it allows can be drawn.

        Control tokens other than end-of-turn and the answer's own tags are banned under a
        grammar, so that its character rules cannot match e.g. `<|assistant|>` as text.
        `history`: recent tokens, so the repetition penalty keeps its memory.
        """
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        add = llama_cpp.llama_sampler_chain_add
        n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        if grammar is not None:
            add(chain, self._control_ban(n_vocab))
        if s.repeat_penalty != 1.0:
            penalties = llama_cpp.llama_sampler_init_penalties(
                n_vocab, PENALTY_LAST_N, s.repeat_penalty, 0.0, 0.0)
            for tok in history or ():
                llama_cpp.llama_sampler_accept(penalties, tok)
            add(chain, penalties)
        if s.temperature <= 0:
            add(chain, llama_cpp.llama_sampler_init_greedy())
        else:
            if s.top_k > 0:
                add(chain, llama_cpp.llama_sampler_init_top_k(s.top_k))
            add(chain, llama_cpp.llama_sampler_init_top_p(s.top_p, 1))
            add(chain, llama_cpp.llama_sampler_init_temp(s.temperature))
            seed = llama_cpp.LLAMA_DEFAULT_SEED if s.seed is None else s.seed
            add(chain, llama_cpp.llama_sampler_init_dist(seed))
        g = None
        if grammar is not None:
            native_log.clear()
            g = llama_cpp.llama_sampler_init_grammar(self._vocab, grammar.encode(), b"root")
            if not g:
                llama_cpp.llama_sampler_free(chain)
                raise ValueError("llama.cpp rejected the grammar: "
                                 + native_log.last_error("parse error"))
        return TokenSampler(chain, g, n_vocab)

    def _control_ban(self, n_vocab: int) -> llama_cpp.llama_sampler_p:
        """A logit bias of -inf on control tokens a grammar's answer must not contain."""
        if self._banned is None:
            keep = {self._single_token(t) for t in GRAMMAR_TAGS}
            self._banned = [
                t for t in range(n_vocab)
                if llama_cpp.llama_vocab_is_control(self._vocab, t)
                and not llama_cpp.llama_vocab_is_eog(self._vocab, t) and t not in keep
            ]
        banned = self._banned
        biases = (llama_cpp.llama_logit_bias * len(banned))()
        for i, t in enumerate(banned):
            biases[i].token, biases[i].bias = t, float("-inf")
        return llama_cpp.llama_sampler_init_logit_bias(n_vocab, len(banned), biases)

    def _flash_attn_type(self) -> int:
        return (llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if self.settings.flash_attn
                else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED)

    def _arch(self) -> str:
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_model_meta_val_str(self._model, b"general.architecture", buf, 64)
        return buf.value.decode() if n >= 0 else "unknown"


def _answer_open(parser: StreamParser) -> bool:
    return parser.state in ("answer", "after")


def _think_limit(request: Request) -> int | None:
    """Thinking tokens before the answer is forced: the budget, and with a grammar, early
    enough that `answer_reserve` tokens are left for the answer."""
    limit = request.think_budget
    if request.grammar is not None:
        room = max(0, request.max_tokens - request.answer_reserve)
        limit = room if limit is None else min(limit, room)
    return limit


def _chunk_tokens(chunk: mtmd.mtmd_input_chunk_p) -> list[int]:
    n = ctypes.c_size_t()
    ptr = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
    return [ptr[i] for i in range(n.value)]


def _worth_saving(prefix: list[_Item]) -> bool:
    """A prefix with an image, or long text, costs more to compute than to read back."""
    return any(item.image is not None for item in prefix) or \
        sum(len(item.text or ()) for item in prefix) >= CACHE_MIN_TOKENS


def _mark_from(key: str, header: dict[str, Any]) -> _Mark:
    meta = header["meta"]
    return _Mark(key, int(meta["n_past"]), int(meta["text_tokens"]),
                 int(meta["image_tokens"]), float(meta["cost_s"]))


def _describe(prefix: list[_Item], request: Request, mark: _Mark) -> str:
    """What a saved state holds, in words, for `glmv cache ls`."""
    sources: dict[str, int] = {}
    for item in prefix:
        if item.image is not None:
            src = item.image.image.source
            sources[src] = sources.get(src, 0) + 1
    parts = [src if n == 1 else f"{src} ({n} images)" for src, n in sources.items()]
    if any(isinstance(m, Text) for m in request.media):
        parts.append("text")
    if request.system:
        parts.append("system prompt")
    if request.history:
        parts.append(f"{len(request.history)} earlier turns")
    return f"{', '.join(parts) or 'prompt'} ({mark.text_tokens + mark.image_tokens} tokens)"
