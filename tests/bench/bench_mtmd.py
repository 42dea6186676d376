#!/usr/bin/env python3
"""glmv against llama.cpp's own llama-mtmd-cli on a shape-true GLM-4.1V, side by side.

    python tests/bench/bench_mtmd.py [--work DIR] [--layers 4] [--pairs 3]
        [--sizes 644x476,1176x868] [--rows cold,cache,chat]

Needs the `bench` extra (`pip install -e ".[bench]"`), cmake and a C++ compiler, about
15 GB of disk in DIR (default $GLMV_BENCH_DIR, else ~/.cache/glmv-bench), and an
otherwise idle machine: llama.cpp's threads spin, so anything else running skews the
figures. Every step whose output exists in DIR is skipped on the next run:

1. llama-mtmd-cli, built from the llama.cpp source that the installed llama-cpp-python
   vendors (its sdist; cmake Release, no curl): the same kernels glmv runs (~9 min on 2
   cores).
2. A shape-true GLM-4.1V (tests/bench/shapetrue.py): real vision tower and text width,
   random weights, `--layers` text layers, text Q4_K_M, projector f16.
3. Deterministic test images (a gradient, shapes, noise); 644x476 gives 391 image tokens
   and 1176x868 (1 MP) gives 1,302.

Then, per image size, `--pairs` pairs of one cold question each, alternating glmv and
llama-mtmd-cli (A B A B ...): the same image, question, 32 greedy tokens, 2 threads, flash
attention, batch sizes, image token cap and context size. The table shows medians and the
ratio glmv / llama-mtmd-cli for wall time, time to the first answer token (from the end of
the model load), image encode, prefill, generation speed and peak RSS.

glmv-only rows (`--rows cache,chat`): each cold glmv run writes to a fresh cache
(GLMV_CACHE_DIR); the same image with a new question in a new process then hits it; and
`glmv chat IMAGE --json` with two questions on stdin gives a follow-up in memory. Where
this glmv has no cache or no chat, the rows say "not available". The cache entry of the
1 MP image is reported with its size and load time, and extrapolated to the real 40
layers (the KV part grows per layer; the image embeddings do not).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapetrue

QUESTION = "Describe this image in detail."
FOLLOW_UP = "What colour is the largest shape on the left?"
TOKENS = 32
THREADS = 2
N_BATCH = 512  # glmv's batch and micro-batch (engine/llama.py); llama-mtmd-cli gets the same
KV_BYTES_PER_TOKEN_LAYER = 2 * 2 * 128 * 2  # K and V, 2 KV heads of 128, f16


# -- building what the runs need -------------------------------------------------------

def llama_cpp_source(work: Path) -> Path:
    """vendor/llama.cpp of the installed llama-cpp-python's sdist, unpacked in `work`
    (or GLMV_LLAMA_CPP_SRC, as for tests/parity)."""
    if os.environ.get("GLMV_LLAMA_CPP_SRC"):
        return Path(os.environ["GLMV_LLAMA_CPP_SRC"])
    version = importlib.metadata.version("llama-cpp-python")
    root = work / f"llama_cpp_python-{version}"
    src = root / "vendor" / "llama.cpp"
    if (src / "CMakeLists.txt").exists():
        return src
    sdist = work / f"llama_cpp_python-{version}.tar.gz"
    if not sdist.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                        ":all:", f"llama-cpp-python=={version}", "-d", str(work)], check=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(work, filter="data")
    return src


def mtmd_cli(work: Path, src: Path) -> Path:
    """llama-mtmd-cli built from `src` (Release, like the Python package's build)."""
    version = importlib.metadata.version("llama-cpp-python")
    build = work / f"build-llama.cpp-{version}"
    binary = build / "bin" / "llama-mtmd-cli"
    if binary.exists():
        return binary
    print(f"building llama-mtmd-cli in {build} (about 9 minutes on 2 cores)", flush=True)
    subprocess.run(["cmake", "-S", str(src), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                    "-DLLAMA_CURL=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(build), "--target", "llama-mtmd-cli",
                    "-j", str(os.cpu_count() or 1)], check=True, stdout=subprocess.DEVNULL)
    return binary


def model_pair(out: Path, layers: int, src: Path) -> tuple[Path, Path]:
    """The shape-true (text, mmproj) pair, built by tests/bench/shapetrue.py in a child
    process when missing. Not in this one: a run's peak RSS comes from wait4, and Linux
    hands a child this process's high-water mark across fork and exec, so after torch
    and the quantizer (about 5 GB) every run would report at least that."""
    model, mmproj = (out / name for name in shapetrue.gguf_names(layers))
    if not (model.exists() and mmproj.exists()):
        subprocess.run([sys.executable, shapetrue.__file__, "--llama-cpp-src", str(src),
                        "--out", str(out), "--layers", str(layers)], check=True)
    return model, mmproj


def test_image(work: Path, w: int, h: int) -> Path:
    """A deterministic picture: a gradient, a dozen shapes, noise and a line of text."""
    path = work / "images" / f"bench-{w}x{h}.png"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(w * h)
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), (xx + yy) * 127 // (w + h - 2)], -1)
    arr = np.clip(arr + rng.integers(-20, 21, arr.shape), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
        x1, y1 = x0 + int(rng.integers(w // 8, w // 2)), y0 + int(rng.integers(h // 8, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)([x0, y0, x1, y1], fill=colour)
    draw.text((w // 10, h // 2), "GLM-4.1V shape-true test", fill=(255, 255, 255))
    img.save(path)
    return path


# -- running one process ---------------------------------------------------------------

@dataclass
class Proc:
    """A finished process, with the bench's own clock on its output."""

    returncode: int
    stdout: str
    stderr_lines: list[tuple[float, str]]  # (seconds since launch, line)
    first_stdout_s: float | None
    wall_s: float
    peak_rss_mb: float


def run_timed(cmd: list[str], env: dict[str, str] | None = None, stdin: str = "") -> Proc:
    """Run `cmd`, timing it from launch to exit, with its peak RSS from wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    out: list[bytes] = []
    err: list[tuple[float, str]] = []
    first: list[float] = []

    def read_stdout() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(65536):
            if not first:
                first.append(time.perf_counter() - t0)
            out.append(chunk)

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err.append((time.perf_counter() - t0, line.decode(errors="replace").rstrip("\n")))

    readers = [threading.Thread(target=f, daemon=True) for f in (read_stdout, read_stderr)]
    for r in readers:
        r.start()
    assert proc.stdin is not None
    proc.stdin.write(stdin.encode())
    proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join()
    return Proc(proc.returncode, b"".join(out).decode(errors="replace"), err,
                first[0] if first else None, wall, usage.ru_maxrss / 1024)


def _fail(what: str, p: Proc) -> None:
    tail = "\n".join(line for _, line in p.stderr_lines[-15:])
    raise SystemExit(f"{what} failed (exit {p.returncode}):\n{tail}")


# -- the two tools ---------------------------------------------------------------------

@dataclass
class Figures:
    """One run's figures; None where the tool does not say."""

    wall_s: float
    peak_rss_mb: float
    first_token_s: float | None = None
    encode_s: float | None = None
    prefill_s: float | None = None
    tokens_per_s: float | None = None
    generated: int | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Setup:
    glmv: list[str]
    cli: Path
    model: Path
    mmproj: Path


def glmv_args(s: Setup, image_tokens: int) -> list[str]:
    return ["--model-file", str(s.model), "--mmproj", str(s.mmproj), "--json", "--no-think",
            "--max-tokens", str(TOKENS), "--temperature", "0", "--repeat-penalty", "1.0",
            "--threads", str(THREADS), "--max-image-tokens", str(image_tokens)]


def glmv_figures(p: Proc, obj: dict) -> Figures:
    t = obj.get("timings", {})
    first = t.get("first_token_s")
    if first is None and "encode_s" in t:  # a glmv from before first_token_s: about this
        first = t["encode_s"] + t["prefill_s"]
    return Figures(
        wall_s=p.wall_s, peak_rss_mb=p.peak_rss_mb, first_token_s=first,
        encode_s=t.get("encode_s"), prefill_s=t.get("prefill_s"),
        tokens_per_s=t.get("tokens_per_s"), generated=obj.get("usage", {}).get("generated_tokens"),
        extra={"load_s": t.get("load_s"), "cache": obj.get("cache"), "usage": obj.get("usage"),
               "first_token_estimated": "first_token_s" not in t},
    )


def run_glmv(s: Setup, image: Path, image_tokens: int, question: str,
             cache_dir: Path) -> Figures:
    p = run_timed([*s.glmv, "ask", str(image), question, *glmv_args(s, image_tokens)],
                  env={"GLMV_CACHE_DIR": str(cache_dir)})
    if p.returncode != 0:
        _fail("glmv ask", p)
    return glmv_figures(p, json.loads(p.stdout))


def run_cli(s: Setup, image: Path, image_tokens: int, n_ctx: int) -> Figures:
    p = run_timed([str(s.cli), "-m", str(s.model), "--mmproj", str(s.mmproj),
                   "--image", str(image), "-p", QUESTION, "-n", str(TOKENS), "--temp", "0",
                   "-t", str(THREADS), "-tb", str(THREADS), "-fa", "on", "-c", str(n_ctx),
                   "-b", str(N_BATCH), "-ub", str(N_BATCH), "-lv", "4", "--image-max-tokens",
                   str(image_tokens)])
    if p.returncode != 0:
        _fail("llama-mtmd-cli", p)
    f = Figures(wall_s=p.wall_s, peak_rss_mb=p.peak_rss_mb)
    encode_ms = 0.0
    loaded = None
    for t, line in p.stderr_lines:
        if "loading model:" in line and loaded is None:  # printed once both are loaded
            loaded = t
        if m := re.search(r"(?:slice encoded|batch encoding done) in (\d+) ms", line):
            encode_ms += float(m.group(1))
        if m := re.search(r"\beval time =\s*([\d.]+) ms /\s*(\d+) runs", line):
            f.generated = int(m.group(2))
            if float(m.group(1)) > 0:
                f.tokens_per_s = f.generated / float(m.group(1)) * 1000
    f.encode_s = encode_ms / 1000
    # The answer starts on stdout with the newline printed once the prompt is evaluated,
    # just before the first token is sampled.
    if loaded is not None and p.first_stdout_s is not None:
        f.first_token_s = p.first_stdout_s - loaded
        # (Its own "prompt eval time" is no help: the clock starts at the first text
        # decode and runs on through the image encode.)
        f.prefill_s = f.first_token_s - f.encode_s
    return f


# -- the comparison ----------------------------------------------------------------------

ROWS = [("wall s", "wall_s"), ("first token s", "first_token_s"), ("encode s", "encode_s"),
        ("prefill s", "prefill_s"), ("generation tok/s", "tokens_per_s"),
        ("peak RSS MB", "peak_rss_mb")]


def median(runs: list[Figures], key: str) -> float | None:
    values = [getattr(r, key) for r in runs if getattr(r, key) is not None]
    return statistics.median(values) if values else None


def fmt(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def compare(s: Setup, work: Path, size: tuple[int, int], pairs: int,
            rows: set[str]) -> dict:
    w, h = size
    image = test_image(work, w, h)
    image_tokens = (w // 28) * (h // 28)
    glmv_runs: list[Figures] = []
    cli_runs: list[Figures] = []
    hits: list[Figures] = []
    cache_dirs: list[Path] = []
    scratch = Path(tempfile.mkdtemp(prefix="glmv-bench-cache-"))
    n_ctx = None
    for i in range(pairs):
        cache = scratch / f"cold-{i}"  # a fresh cache each time: a cold question
        cache_dirs.append(cache)
        glmv_runs.append(run_glmv(s, image, image_tokens, QUESTION, cache))
        if n_ctx is None:  # the context glmv sizes for this prompt: prompt + answer
            usage = glmv_runs[0].extra["usage"]
            n_ctx = max(usage["prompt_text_tokens"] + usage["image_tokens"] + TOKENS, N_BATCH)
        cli_runs.append(run_cli(s, image, image_tokens, n_ctx))
        # Same image, new question, new process (where this glmv has a cache at all).
        if "cache" in rows and glmv_runs[-1].extra["cache"] is not None:
            hits.append(run_glmv(s, image, image_tokens, FOLLOW_UP, cache))
        print(f"  {w}x{h} pair {i + 1}/{pairs}: glmv {glmv_runs[-1].wall_s:.2f} s, "
              f"llama-mtmd-cli {cli_runs[-1].wall_s:.2f} s", flush=True)
    chat = run_chat(s, image, image_tokens, scratch / "chat") if "chat" in rows else None
    return {"size": size, "image_tokens": image_tokens, "n_ctx": n_ctx, "glmv": glmv_runs,
            "cli": cli_runs, "hits": hits, "chat": chat, "cache_dir": cache_dirs[0]}


def run_chat(s: Setup, image: Path, image_tokens: int, cache: Path) -> list[Figures] | str:
    """`glmv chat IMAGE --json`, two questions on stdin: one figure set per turn."""
    p = run_timed([*s.glmv, "chat", str(image), *glmv_args(s, image_tokens)],
                  env={"GLMV_CACHE_DIR": str(cache)}, stdin=f"{QUESTION}\n{FOLLOW_UP}\n")
    if p.returncode != 0:
        said = [line.strip(" │╭╮╰╯─") for _, line in p.stderr_lines]
        said = [line for line in said if line]
        return f"not available ({said[-1][:60] if said else f'exit {p.returncode}'})"
    turns = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    if len(turns) != 2:
        return f"not available ({len(turns)} JSON lines for 2 questions)"
    return [glmv_figures(p, t) for t in turns]


def report(result: dict, pairs: int, rows: set[str]) -> None:
    w, h = result["size"]
    g, c = result["glmv"], result["cli"]
    print(f"\n{w}x{h} image, {result['image_tokens']} image tokens, context {result['n_ctx']}, "
          f"{TOKENS} tokens, {THREADS} threads, flash attention; medians of {pairs} pairs")
    print(f"  {'':18s} {'glmv':>10s} {'mtmd-cli':>10s} {'glmv/cli':>9s}")
    for label, key in ROWS:
        a, b = median(g, key), median(c, key)
        ratio = fmt(a / b, 3) if a is not None and b else "n/a"
        print(f"  {label:18s} {fmt(a):>10s} {fmt(b):>10s} {ratio:>9s}")
    print(f"  glmv generated {sorted({r.generated for r in g}, key=str)} tokens, "
          f"llama-mtmd-cli timed {sorted({r.generated for r in c}, key=str)} decodes; "
          f"glmv load {fmt(statistics.median(r.extra['load_s'] or 0 for r in g))} s")
    if any(r.extra["first_token_estimated"] for r in g):
        print("  (this glmv reports no first_token_s: its first token is encode + prefill)")
    if not rows & {"cache", "chat"}:
        return
    cold = median(g, "first_token_s")
    print(f"  glmv only          {'first token s':>14s} {'wall s':>8s} {'vs cold':>8s}  cache")
    print(f"  {'cold (miss)':18s} {fmt(cold):>14s} {fmt(median(g, 'wall_s')):>8s} "
          f"{'1.000':>8s}  {_cache_summary(g)}")
    if "cache" in rows:
        hits = result["hits"]
        if not hits:
            print(f"  {'cache hit':18s} not available (no `cache` in glmv's --json)")
        else:
            ft = median(hits, "first_token_s")
            print(f"  {'cache hit':18s} {fmt(ft):>14s} {fmt(median(hits, 'wall_s')):>8s} "
                  f"{fmt(ft / cold if ft is not None and cold else None, 3):>8s}  "
                  f"{_cache_summary(hits)}")
    if "chat" in rows:
        chat = result["chat"]
        if isinstance(chat, str):
            print(f"  {'chat follow-up':18s} {chat}")
        else:
            ft = chat[1].first_token_s
            print(f"  {'chat follow-up':18s} {fmt(ft):>14s} {'':>8s} "
                  f"{fmt(ft / cold if ft is not None and cold else None, 3):>8s}  "
                  f"(turn 1: {fmt(chat[0].first_token_s)} s)")


def _cache_summary(runs: list[Figures]) -> str:
    caches = [r.extra["cache"] for r in runs if r.extra["cache"]]
    if not caches:
        return "n/a"
    last = caches[-1]
    saved = statistics.median(float(c.get("saved_s") or 0) for c in caches)
    return f"prefix {last.get('prefix')}, images {last.get('images')}, saved {saved:.2f} s"


def cache_entry(result: dict, layers: int) -> None:
    """The 1 MP image's cache entry: size and load time, measured and at 40 layers."""
    files = [p for p in result["cache_dir"].rglob("*") if p.is_file()]
    if not files:
        print("\ncache entry: not available (the cold run wrote no cache)")
        return
    size = sum(p.stat().st_size for p in files)
    t0 = time.perf_counter()
    for p in files:
        p.read_bytes()
    read_s = time.perf_counter() - t0
    w, h = result["size"]
    usage = result["glmv"][0].extra["usage"]
    prefix_tokens = usage["prompt_text_tokens"] + usage["image_tokens"]
    extra_kv = (shapetrue.REAL_LAYERS - layers) * prefix_tokens * KV_BYTES_PER_TOKEN_LAYER
    real = size + extra_kv
    hits = result["hits"]
    hit_ft = median(hits, "first_token_s") if hits else None
    print(f"\ncache entry for the {w}x{h} image ({prefix_tokens} prefix tokens), "
          f"{len(files)} file(s):")
    for p in sorted(files):
        print(f"  {p.relative_to(result['cache_dir'])}: {p.stat().st_size / 1e6:.1f} MB")
    print(f"  {layers} layers (measured): {size / 1e6:.1f} MB; read {read_s * 1000:.0f} ms "
          f"(page cache warm); a hit's first token {fmt(hit_ft)} s")
    print(f"  {shapetrue.REAL_LAYERS} layers (estimated): {real / 1e6:.1f} MB: the KV cache "
          f"grows by {prefix_tokens} tokens x {KV_BYTES_PER_TOKEN_LAYER} B per layer; "
          f"reading it at the rate above takes {read_s * real / size * 1000:.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path(os.environ.get(
        "GLMV_BENCH_DIR", Path.home() / ".cache" / "glmv-bench")))
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--sizes", default="644x476,1176x868",
                    help="image sizes, multiples of 28 (no resizing by either tool)")
    ap.add_argument("--rows", default="cold,cache,chat",
                    help="cold (always), cache (a hit in a new process), chat (a follow-up)")
    args = ap.parse_args()
    rows = set(args.rows.split(","))
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)

    src = llama_cpp_source(args.work)
    cli = mtmd_cli(args.work, src)
    model, mmproj = model_pair(args.work / "shapetrue", args.layers, src)
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if own_peak > 500:
        print(f"warning: this process peaked at {own_peak:.0f} MB, and every run's peak RSS "
              "reads as at least that (see model_pair)", flush=True)
    s = Setup([sys.executable, "-m", "glmv_cli"], cli, model, mmproj)
    print(f"glmv: {sys.executable} -m glmv_cli; llama-mtmd-cli: {cli}\nmodel: {model.name} "
          f"({args.layers} text layers), {mmproj.name}", flush=True)
    results = [compare(s, args.work, size, args.pairs, rows) for size in sizes]
    for r in results:
        report(r, args.pairs, rows)
    big = max(results, key=lambda r: r["image_tokens"])
    if "cache" in rows:
        cache_entry(big, args.layers)


if __name__ == "__main__":
    main()
