"""`glmv code`: UI-to-code, from a screenshot or mock-up to HTML, React or Vue files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glmv_cli.atomic import write_text_atomic
from glmv_cli.commands.options import OUTPUT, TASK, AnswerOptions, shared_options
from glmv_cli.commands.running import answer, json_result, print_json, resolve, unusable
from glmv_cli.errors import UsageError, WriteError
from glmv_cli.inputs.image import prepare_image
from glmv_cli.inputs.source import read_source
from glmv_cli.streams import Streams
from glmv_cli.tasks.code import (
    WriteRefused,
    extract_blocks,
    main_block,
    plan_folder,
    write_folder,
)

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


@shared_options()
def code(
    image: Annotated[str, typer.Argument(metavar="IMAGE", show_default=False,
                                         help="A screenshot or mock-up, or - for stdin.")],
    *,
    framework: Annotated[str, typer.Option(
        "--framework", "-f", rich_help_panel=TASK,
        help="html, react or vue.")] = "html",
    instructions: Annotated[str | None, typer.Option(
        "--instructions", "-i", rich_help_panel=TASK,
        help="Extra wishes, e.g. \"use Tailwind\".")] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="PATH", rich_help_panel=OUTPUT,
        help="A file for the main code, or a folder (DIR/) for every file.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", rich_help_panel=OUTPUT, help="Overwrite existing files.")] = False,
    opts: AnswerOptions,
) -> None:
    streams = Streams.from_process()
    fw = framework.lower()
    if fw not in PROMPTS:
        raise UsageError(f"--framework must be html, react or vue, not '{framework}'")
    target = Path(output) if output else None
    folder = bool(output) and (output.endswith(("/", "\\")) or Path(output).is_dir())
    if target is not None and not folder:
        _check_file_target(target, force)
    model = resolve(opts.model, streams)
    img = prepare_image(read_source(image, streams.stdin), opts.engine.max_image_tokens)
    question = PROMPT.format(what=PROMPTS[fw])
    if instructions:
        question += " " + instructions.strip()
    request = opts.generation.request(question, (img,), model.sampling)
    transcript = answer(streams, opts, model, request)
    blocks = extract_blocks(transcript.answer, fw)  # type: ignore[arg-type]
    if not blocks:
        raise unusable(transcript, "the answer holds no code",
                       "code often follows a long thinking")
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
            write_text_atomic(target, main.code, f"-o {target}")
            written = [target]
    except WriteRefused as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise WriteError(f"cannot write {output}: {e.strerror or e}") from None
    if opts.output.json:
        print_json(streams, json_result(transcript, model.name, request, {
            "framework": fw, "code": main.code,
            "files": [{"name": b.name, "language": b.language, "lines": b.code.count("\n"),
                       "named_by_model": b.named_by_model,
                       **({"path": str(p)} if written and folder else {})}
                      for b, p in zip(blocks, written or [None] * len(blocks), strict=True)],
            "written": [str(p) for p in written]}))
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

