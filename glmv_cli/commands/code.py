"""`glmv code`: UI-to-code, from a screenshot or mock-up to HTML, React or Vue files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glmv_cli import options as opt
from glmv_cli.code_blocks import (
    WriteRefused,
    extract_blocks,
    main_block,
    plan_folder,
    write_folder,
    write_text_atomic,
)
from glmv_cli.commands.answer import answer, print_json
from glmv_cli.engine.request import Request, Sampling
from glmv_cli.errors import ContextOverflowError, GlmvError, InputError, UsageError
from glmv_cli.inputs.image import prepare_image
from glmv_cli.inputs.source import read_source
from glmv_cli.models.resolve import resolve_model
from glmv_cli.run import EngineOptions, OutputMode
from glmv_cli.streams import Streams

HELP = """Turn a UI screenshot or mock-up into code.

\b
  glmv code mock.png > page.html
  glmv code mock.png --framework react -o page.jsx
  glmv code mock.png --framework html -o site/        # index.html, styles.css, ... in site/
  glmv code mock.png --json | jq -r '.files[].name'

Code blocks are taken from the answer. Piped without -o, stdout gets the main file's \
code alone. -o FILE writes the main file; -o DIR/ (a trailing slash, or an existing \
folder) writes every block under the file name the answer gives it, or a default \
(index.html, styles.css, script.js, App.jsx, App.vue). Names that would leave the folder \
are replaced by defaults; existing files are kept unless --force.
"""

# glmv's own wording: the reference names UI-to-code as a use case but publishes no prompt.
PROMPTS = {
    "html": "a single HTML page (HTML with CSS; plain JavaScript only if the UI needs it)",
    "react": "a React function component (JSX; styles in a CSS file or inline)",
    "vue": "a Vue 3 single-file component (template, script setup, scoped style)",
}
PROMPT = (
    "Write the code for this user interface as {what}. Reproduce the layout, text, colours, "
    "fonts and spacing as closely as you can. Give complete, runnable code in fenced code "
    "blocks, one block per file, and put the file name on the line before each block."
)


def code(
    image: Annotated[str, typer.Argument(metavar="IMAGE", show_default=False,
                                         help="A screenshot or mock-up, or - for stdin.")],
    framework: Annotated[str, typer.Option(
        "--framework", "-f", rich_help_panel=opt.OUTPUT,
        help="html, react or vue.")] = "html",
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="PATH", rich_help_panel=opt.OUTPUT,
        help="A file for the main code, or a folder (DIR/) for every file.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", rich_help_panel=opt.OUTPUT, help="Overwrite existing files.")] = False,
    instructions: Annotated[str | None, typer.Option(
        "--instructions", "-i", rich_help_panel=opt.GENERATION,
        help="Extra wishes, e.g. \"use Tailwind\".")] = None,
    model: opt.ModelName = None,
    model_file: opt.ModelFile = None,
    mmproj: opt.Mmproj = None,
    json_out: opt.Json = False,
    hide_thinking: opt.HideThinking = False,
    show_thinking: opt.ShowThinking = False,
    verbose: opt.Verbose = False,
    max_tokens: opt.MaxTokens = opt.DEFAULTS["max_tokens"],
    think_budget: opt.ThinkBudget = None,
    no_think: opt.NoThink = False,
    temperature: opt.Temperature = 0.0,
    top_k: opt.TopK = 2,
    top_p: opt.TopP = 0.6,
    repeat_penalty: opt.RepeatPenalty = 1.1,
    seed: opt.Seed = None,
    max_image_tokens: opt.MaxImageTokens = opt.DEFAULTS["max_image_tokens"],
    threads: opt.Threads = None,
    gpu_layers: opt.GpuLayers = None,
    context: opt.Context = None,
) -> None:
    streams = Streams.from_process()
    fw = framework.lower()
    if fw not in PROMPTS:
        raise UsageError(f"--framework must be html, react or vue, not '{framework}'")
    target = Path(output) if output else None
    folder = bool(output) and (output.endswith(("/", "\\")) or Path(output).is_dir())
    if target is not None and not folder:
        _check_file_target(target, force)
    files = resolve_model(model, model_file, mmproj, streams)
    img = prepare_image(read_source(image, streams.stdin), max_image_tokens)
    question = PROMPT.format(what=PROMPTS[fw])
    if instructions:
        question += " " + instructions.strip()
    request = Request(
        question=question, media=(img,),
        sampling=Sampling(temperature, top_k, top_p, repeat_penalty, seed),
        max_tokens=max_tokens, think_budget=think_budget, think=not no_think,
    )
    mode = OutputMode(json=json_out, hide_thinking=hide_thinking, show_thinking=show_thinking)
    opts = EngineOptions(threads, gpu_layers, context, max_image_tokens, verbose)
    transcript = answer(streams, files, request, opts, mode)
    blocks = extract_blocks(transcript.answer, fw)  # type: ignore[arg-type]
    if not blocks:
        done = transcript.done
        if done and done.finish_reason == "length":
            raise ContextOverflowError("the answer was cut off before any code",
                                       hint="raise --max-tokens or cap --think-budget")
        raise GlmvError("the answer holds no code")
    main = main_block(blocks, fw)  # type: ignore[arg-type]
    written: list[Path] = []
    try:
        if target is not None and folder:
            targets = plan_folder(blocks, target, force)
            target.mkdir(parents=True, exist_ok=True)
            write_folder(blocks, targets)
            written = targets
        elif target is not None:
            _check_file_target(target, force)  # again: it may have appeared meanwhile
            write_text_atomic(target, main.code)
            written = [target]
    except WriteRefused as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise InputError(f"cannot write {output}: {e.strerror or e}") from None
    if json_out:
        print_json(streams, transcript, files.name, request, {
            "framework": fw, "code": main.code,
            "files": [{"name": b.name, "language": b.language, "lines": b.code.count("\n"),
                       "named_by_model": b.named_by_model,
                       **({"path": str(p)} if written and folder else {})}
                      for b, p in zip(blocks, written or [None] * len(blocks), strict=True)],
            "written": [str(p) for p in written]})
        return
    if written:
        for p in written:
            streams.stdout.write(f"{p}\n")
        if target is not None and not folder and len(blocks) > 1:
            others = ", ".join(b.name for b in blocks if b is not main)
            streams.stderr.write(f"glmv: note: also in the answer: {others} "
                                 f"(use -o DIR/ to write every file)\n")
    elif not streams.stdout_isatty:
        streams.stdout.write(main.code)
        if len(blocks) > 1:
            others = ", ".join(b.name for b in blocks if b is not main)
            streams.stderr.write(f"glmv: note: stdout has {main.name}; also in the answer: "
                                 f"{others} (use -o DIR/ to write every file)\n")
    streams.stdout.flush()


def _check_file_target(path: Path, force: bool) -> None:
    if path.is_dir():
        raise UsageError(f"-o {path}: is a folder (write -o {path}/ to fill it)")
    if path.exists() and not force:
        raise UsageError(f"-o {path}: file exists (use --force to overwrite)")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"-o {path}: folder {parent} does not exist")

