"""The agent prompts, in the GLM-4.1V reference's wording (templates/*.txt), and the
history of earlier steps that goes into them.

The reference sends one user turn: the screenshot, then the prompt with earlier steps
written into it (never as a multi-turn chat). Templates are the reference's text with
`#TASK#`-style placeholders; the desktop one drops the benchmark's account passwords.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from glmv_cli.engine.prompt import BOX_CLOSE, BOX_OPEN
from glmv_cli.errors import InputError
from glmv_cli.tasks.actions import Platform

# The mobile prompt lists the apps `open_app` may name; the reference fills in its
# benchmark's apps. Without --apps we say what holds on a real phone.
DEFAULT_APPS = "any app installed on the phone (give its name as shown under its icon)"
DEFAULT_URL = "the website in the screenshot"


@dataclass(frozen=True)
class Step:
    """An earlier step: the model's answer text as it was (memory, reasoning, action)."""

    answer: str


def template(platform: Platform) -> str:
    return resources.files("glmv_cli.tasks.actions").joinpath(
        f"templates/{platform}.txt").read_text(encoding="utf-8")


def build_prompt(platform: Platform, task: str, history: list[Step], *,
                 apps: str | None = None, url: str | None = None,
                 elements: str | None = None) -> str:
    """The full agent prompt for one step of `task` on `platform`."""
    steps = [_clean(s.answer) for s in history]
    fill = {"#TASK#": task.strip()}
    if platform == "mobile":
        fill["#APPS#"] = apps or DEFAULT_APPS
        fill["#HISTORY#"] = "\n".join(f"Step {i}:\n{a}" for i, a in enumerate(steps))
    elif platform == "desktop":
        done = [a.partition("\nMemory:")[0].strip() for a in steps]
        memory = _last_memory(steps, "\nMemory:", "[]")
        lines = [f"step {i}: {a}" for i, a in enumerate(done, 1)]
        fill["#HISTORY#"] = ("History actions:\n" + "\n".join(lines) + "\n" if lines else "") + (
            f"Memory:\n{memory}")
    else:
        fill["#URL#"] = url or DEFAULT_URL
        fill["#MEMORY#"] = _last_memory(steps, "Memory_Updated:", "{}")
        fill["#ELEMENTS#"] = (elements or "").strip()
        fill["#HISTORY#"] = "\n".join(
            f"{i}.{_web_step(a)}" for i, a in enumerate(steps))
    text = template(platform)
    for key, value in fill.items():
        text = text.replace(key, value)
    return text


def _clean(answer: str) -> str:
    # The reference removes the box tokens from earlier answers.
    return answer.replace(BOX_OPEN, "").replace(BOX_CLOSE, "").strip()


def _last_memory(steps: list[str], marker: str, empty: str) -> str:
    for answer in reversed(steps):
        if marker in answer:
            return answer.rsplit(marker, 1)[1].strip() or empty
    return empty


def _web_step(answer: str) -> str:
    body = answer.split("Memory_Updated:", 1)[0]
    parts = re.split(r"(?:^|\n)\s*(Thought|Action):\s*", body)
    found = dict(zip(parts[1::2], (p.strip() for p in parts[2::2]), strict=False))
    if not found:
        return body.strip()
    return f"Thought:{found.get('Thought', '')}    Action:{found.get('Action', '')}"


def load_history(path: Path) -> list[Step]:
    """Earlier steps from `path`: JSON Lines of `glmv act --json` results (so `--json >>
    steps.jsonl` builds it up), a JSON list of such objects or of answer strings, or
    plain text, which is taken as one earlier answer per block separated by a blank line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such history file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read history ({e})") from None
    stripped = text.strip()
    if not stripped:
        return []
    try:
        data = json.loads(stripped)
        items = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        lines = [ln for ln in stripped.splitlines() if ln.strip()]
        try:
            items = [json.loads(ln) for ln in lines]
        except json.JSONDecodeError:
            if stripped.startswith(("{", "[")):
                raise InputError(f"{path}: history is neither JSON nor JSON Lines") from None
            return [Step(block.strip()) for block in re.split(r"\n\s*\n", stripped)
                    if block.strip()]
    steps = []
    for n, item in enumerate(items, 1):
        if isinstance(item, str):
            steps.append(Step(item))
        elif isinstance(item, dict) and isinstance(item.get("answer"), str):
            steps.append(Step(item["answer"]))
        else:
            raise InputError(f"{path}: history entry {n} has no 'answer' text")
    return steps
