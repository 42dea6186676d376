"""`glmv doctor`: what this install can do, and a self-test through the whole image path."""

from __future__ import annotations

import io
import json
import platform
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from glmv_cli import __version__, paths
from glmv_cli.errors import GlmvError, SelfTestFailed
from glmv_cli.models.gguf_check import DAMAGED, FINDINGS, find_problem
from glmv_cli.models.ref import LocalModel
from glmv_cli.models.registry import load_registry
from glmv_cli.models.sizes import human_size
from glmv_cli.models.store import locate, problems
from glmv_cli.streams import Streams

HELP = """Check this install and run a self-test.

Shows versions, llama.cpp's backends and whether GPU offload works, memory and disk, the
paths glmv uses, and one line per installed model: ok, damaged (size, or sha256 with
--verify, against the registry or what the pull recorded), stale build (converted before
llama.cpp supported GLM-4.1V vision), mismatch (text model and mmproj do not fit) or wrong
model; these read file headers only. Then it runs the built-in tiny model through the whole
image path and reports its timings.

\b
  glmv doctor
  glmv doctor --verify        # also check sha256 of installed models (reads every byte)
  glmv doctor --json

Exits 7 when the self-test fails.
"""


def doctor(
    verify: Annotated[bool, typer.Option(
        "--verify", help="Check installed models' sha256 (from the registry or their pull).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    streams = Streams.from_process()
    report = collect(verify)
    if json_out:
        streams.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    elif streams.stdout_isatty:
        _print_rich(report, streams)
    else:
        streams.stdout.write(plain_report(report))
    if not report["self_test"]["ok"]:
        raise SelfTestFailed(f"self-test failed: {report['self_test']['error']}")


def collect(verify: bool) -> dict[str, Any]:
    """Everything doctor reports, as plain data."""
    import psutil

    from glmv_cli.engine import system
    from glmv_cli.engine.settings import physical_cores

    mem = psutil.virtual_memory()
    cache = paths.hf_cache_dir()
    return {
        "versions": {"glmv": __version__, "llama_cpp_python": system.llama_cpp_version(),
                     "python": platform.python_version(), "platform": platform.platform()},
        "llama_cpp": {"backends": backends(system.system_info()),
                      "gpu_offload": system.gpu_offload_available()},
        "machine": {"physical_cores": physical_cores(), "ram_total": mem.total,
                    "ram_available": mem.available,
                    "disk_free": paths.free_bytes(cache)},
        "paths": {"config_dir": str(paths.config_dir()),
                  "config_file": str(paths.config_file()),
                  "user_registry": str(paths.user_registry()),
                  "hf_cache": str(cache)},
        "config": _config_state(),
        "models": _models(verify),
        "self_test": self_test(),
    }


def backends(system_info: str) -> dict[str, dict[str, str]]:
    """llama.cpp's system info (`CUDA : ARCHS = 890 | CPU : AVX2 = 1 | …`) by backend."""
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for item in (s.strip() for s in system_info.split("|")):
        if not item:
            continue
        if " : " in item:
            name, item = (s.strip() for s in item.split(" : ", 1))
            current = found.setdefault(name, {})
        key, _, value = (s.strip() for s in item.partition("="))
        if current is not None:
            current[key] = value
    return found


def _config_state() -> dict[str, Any]:
    from glmv_cli.config import load_config

    try:
        return {"ok": True, "settings": load_config()}
    except GlmvError as e:
        return {"ok": False, "error": e.message}


def _models(verify: bool) -> list[dict[str, Any]] | dict[str, str]:
    try:
        registry = load_registry()
        located = [(entry, locate(entry)) for entry in registry.entries.values()]
    except GlmvError as e:  # a broken models.toml or pulled.toml: report it, go on
        return {"error": e.message}
    out = []
    for entry, parts in located:
        if not any(p.path for p in parts):
            continue
        issues = [f"{p.name}: {msg}" for p in parts for msg in problems(p, verify)]
        state = DAMAGED if issues else "ok"
        if not issues:  # whole files: can the pair see images? (reads headers only)
            finding = find_problem(parts[0].path, parts[1].path,  # type: ignore[arg-type]
                                   file_names=True)
            if finding is not None:
                state, issues = finding.kind, [finding.message]
        out.append({"name": entry.name, "path": str(parts[0].path.parent) if parts[0].path
                    else None, "size": sum(p.size or 0 for p in parts),
                    "ok": state == "ok", "state": state, "problems": issues,
                    "sha256_checked": verify and all(p.sha256 for p in parts)})
    return out


def self_test(model: LocalModel | None = None) -> dict[str, Any]:
    """Run a model (the built-in tiny one) on a generated image through the real engine
    and image path."""
    from PIL import Image, ImageDraw

    from glmv_cli.engine.events import Done
    from glmv_cli.engine.factory import open_engine
    from glmv_cli.engine.request import Request
    from glmv_cli.inputs.image import prepare_image
    from glmv_cli.inputs.source import Source
    from glmv_cli.models.resolve import resolve_model

    t0 = time.perf_counter()
    engine = None
    try:
        img = Image.new("RGB", (320, 240), (30, 60, 200))
        ImageDraw.Draw(img).rectangle([60, 60, 200, 180], fill=(220, 20, 20))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        prepared = prepare_image(Source("self-test.png", buf.getvalue()), 256)
        engine = open_engine(model or resolve_model("tiny"))
        done = None
        for event in engine.generate(Request("What is in this picture?", media=(prepared,),
                                             max_tokens=24, think_budget=8)):
            if isinstance(event, Done):
                done = event
        if done is None or done.finish_reason == "interrupted":
            raise RuntimeError("the engine stopped without finishing")
        if done.usage.image_tokens != prepared.tokens or done.usage.generated_tokens == 0:
            raise RuntimeError(f"unexpected token counts: {done.usage}")
        t = done.timings
        return {"ok": True, "error": None, "image_tokens": done.usage.image_tokens,
                "generated_tokens": done.usage.generated_tokens,
                "timings": {"total_s": round(time.perf_counter() - t0, 3),
                            "load_s": round(t.load_s, 3), "encode_s": round(t.encode_s, 3),
                            "prefill_s": round(t.prefill_s, 3),
                            "generate_s": round(t.generate_s, 3)}}
    except GlmvError as e:
        return {"ok": False, "error": e.message}
    except Exception as e:  # the point of a self-test is to report, not to crash
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    finally:
        if engine is not None:
            engine.close()


def plain_report(r: dict[str, Any]) -> str:
    """The report as `key: value` lines, for pipes and logs."""
    v, m, lc = r["versions"], r["machine"], r["llama_cpp"]
    lines = [
        f"glmv: {v['glmv']}", f"llama-cpp-python: {v['llama_cpp_python']}",
        f"python: {v['python']} ({v['platform']})",
        "backends: " + "; ".join(f"{name} ({', '.join(k for k, x in feats.items() if x != '0')})"
                                 for name, feats in lc["backends"].items()),
        f"gpu offload: {'yes' if lc['gpu_offload'] else 'no (CPU only)'}",
        f"cores: {m['physical_cores']} physical",
        f"ram: {human_size(m['ram_available'])} available of {human_size(m['ram_total'])}",
        f"disk free (HF cache): {human_size(m['disk_free'])}",
    ]
    lines += [f"{k.replace('_', ' ')}: {p}" for k, p in r["paths"].items()]
    cfg = r["config"]
    lines.append("config: " + (", ".join(f"{k}={x}" for k, x in cfg["settings"].items())
                               or "defaults" if cfg["ok"] else f"ERROR {cfg['error']}"))
    models = r["models"]
    if isinstance(models, dict):
        lines.append(f"models: ERROR {models['error']}")
    else:
        for mod in models:
            state = "ok" + (" (sha256 verified)" if mod["sha256_checked"] else "") \
                if mod["ok"] else f"{mod['state'].upper()}: " + "; ".join(mod["problems"])
            lines.append(f"model {mod['name']}: {human_size(mod['size'])}, {state}")
    st = r["self_test"]
    if st["ok"]:
        t = st["timings"]
        lines.append(f"self-test: ok in {t['total_s']:.2f} s (load {t['load_s']:.2f} s, "
                     f"encode {t['encode_s']:.2f} s, generate {t['generate_s']:.2f} s)")
    else:
        lines.append(f"self-test: FAILED {st['error']}")
    return "\n".join(lines) + "\n"


def _print_rich(r: dict[str, Any], streams: Streams) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for line in plain_report(r).splitlines():
        key, _, value = line.partition(": ")
        alarms = ("FAILED", "ERROR", *(kind.upper() for kind in FINDINGS))
        style = "red" if any(word in value for word in alarms) else None
        table.add_row(key, value, style=style)
    streams.console().print(table)
