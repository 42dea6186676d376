"""`glmv act`: the next GUI action for a task, from a screenshot (GUI agent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from glmv_cli.commands.options import OUTPUT, TASK, AnswerOptions, shared_options
from glmv_cli.commands.running import answer, json_result, print_json, resolve, unusable
from glmv_cli.errors import InputError, UsageError
from glmv_cli.inputs.image import prepare_image
from glmv_cli.inputs.source import read_source
from glmv_cli.render.draw import Mark, check_draw_path, draw_marks, open_oriented, save_atomic
from glmv_cli.streams import Streams
from glmv_cli.tasks.actions import Platform
from glmv_cli.tasks.actions.grammar import ANSWER_RESERVE, action_grammar
from glmv_cli.tasks.actions.parse import Action, ActionError, parse_action
from glmv_cli.tasks.actions.prompt import build_prompt, load_history

HELP = """Decide the next GUI action for a task, from a screenshot.

\b
  glmv act screen.png "Create a meeting with Dr. Smith at 3 PM two weeks from now"
  glmv act screen.png "Turn on Wi-Fi" --json | jq .action
  glmv act desktop.png "Open the Downloads folder" --platform desktop --draw target.png
  glmv act screen.png "..." --history steps.jsonl --json >> steps.jsonl   # step by step

The model is prompted in the GLM-4.1V reference's agent format for the platform (mobile: \
AndroidWorld, desktop: OSWorld, web: WebVoyager set-of-marks) and its answer is sampled \
under a grammar, so it always holds one valid action. Piped, stdout gets the action as one \
JSON object: type, its parameters, and box/point in pixels of the screenshot.
"""

PlatformChoice = Literal["auto", "mobile", "desktop", "web"]


@shared_options()
def act(
    screenshot: Annotated[str, typer.Argument(metavar="SCREENSHOT", show_default=False,
                                              help="The current screen, or - for stdin.")],
    task: Annotated[str, typer.Argument(metavar="TASK", show_default=False,
                                        help="What the user wants done.")],
    *,
    platform: Annotated[PlatformChoice, typer.Option(
        "--platform", rich_help_panel=TASK,
        help="Action space: mobile (tap/swipe/type, boxes), desktop (mouse/keyboard, "
             "points) or web (set-of-marks labels). auto: mobile for a portrait "
             "screenshot, desktop for a landscape one.")] = "auto",
    history: Annotated[Path | None, typer.Option(
        "--history", metavar="FILE", rich_help_panel=TASK,
        help="Earlier steps: JSON Lines of `glmv act --json` results, a JSON list, or text "
             "(one earlier answer per paragraph).")] = None,
    apps: Annotated[str | None, typer.Option(
        "--apps", rich_help_panel=TASK,
        help="mobile: the apps open_app may name, comma-separated.")] = None,
    url: Annotated[str | None, typer.Option(
        "--url", rich_help_panel=TASK, help="web: the site the task is on.")] = None,
    elements: Annotated[Path | None, typer.Option(
        "--elements", metavar="FILE", rich_help_panel=TASK,
        help="web: the labelled elements of the page, as text ([1]: <input> \"\"; ...).")
    ] = None,
    draw: Annotated[Path | None, typer.Option(
        "--draw", metavar="OUT", rich_help_panel=OUTPUT,
        help="Write a copy of the screenshot with the action's target marked.")] = None,
    opts: AnswerOptions,
) -> None:
    streams = Streams.from_process()
    if not task.strip():
        raise UsageError("give the task, e.g. \"Turn on Wi-Fi\"")
    if draw is not None:
        check_draw_path(draw)
    steps = load_history(history) if history else []
    element_text = _read_text(elements, "--elements") if elements else None
    model = resolve(opts.model, streams)
    src = read_source(screenshot, streams.stdin)
    image = prepare_image(src, opts.engine.max_image_tokens)
    width, height = image.original_size
    chosen: Platform = (("mobile" if height > width else "desktop") if platform == "auto"
                        else platform)
    if (apps and chosen != "mobile") or ((url or elements) and chosen != "web"):
        raise UsageError("--apps is for --platform mobile, --url and --elements for web")
    reserve = ANSWER_RESERVE[chosen]
    request = opts.generation.request(
        build_prompt(chosen, task, steps, apps=apps, url=url, elements=element_text),
        (image,), model.sampling, grammar=action_grammar(chosen), answer_reserve=reserve)
    transcript = answer(streams, opts, model, request)
    try:
        action = parse_action(transcript.answer, chosen, image.original_size)
    except ActionError as e:
        raise unusable(transcript, f"no valid action in the answer: {e}",
                       f"the answer may need {reserve} tokens after the thinking") from None
    drawn = None
    if draw is not None:
        drawn = _draw(src.data, src.name, action, draw, streams)
    if opts.output.json:
        print_json(streams, json_result(transcript, model.name, request, {
            "platform": chosen, "action": action.to_dict(), **action.notes,
            "drawn": str(drawn) if drawn else None}))
    elif streams.stdout_isatty:
        streams.console().print(f"[bold]{_describe(action)}[/bold]")
    else:
        streams.stdout.write(json.dumps(action.to_dict(), ensure_ascii=False) + "\n")
        streams.stdout.flush()


def _describe(action: Action) -> str:
    """One line for a person: what to do, and where in pixels."""
    parts = [f"→ {action.type}"]
    for key, value in action.params.items():
        parts.append(f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}")
    if action.point:
        parts.append(f"at ({action.point[0]}, {action.point[1]}) px")
    if action.end_point:
        parts.append(f"to ({action.end_point[0]}, {action.end_point[1]}) px")
    if action.box:
        parts.append("box " + ",".join(str(v) for v in action.box))
    return " ".join(parts)


def _draw(data: bytes, name: str, action: Action, out: Path, streams: Streams) -> Path | None:
    marks = []
    if action.box:
        marks.append(Mark(action.box, action.type))
    elif action.point:
        marks.append(Mark(action.point, action.type))
    if action.end_point:
        marks.append(Mark(action.end_point, "end"))
    if not marks:
        streams.stderr.write(f"glmv: warning: nothing to draw: a {action.type} action has no "
                             "position\n")
        return None
    save_atomic(draw_marks(open_oriented(data, name), marks), out)
    return out


def _read_text(path: Path, flag: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{flag} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{flag} {path}: cannot read ({e})") from None
