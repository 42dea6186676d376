"""The agent's answer to an action: parsed, checked against the platform's action space,
and placed in screenshot pixels.

Types are the reference's action names in snake case (`click`, `left_double_click`,
`go_back`, `done`, ...). Parameters get one name across platforms: `text` (typed text or
an answer), `direction`, `app`, `keys`, `goal_status`, `override`, `step`, `element`
(element_info), `label` (web set-of-marks number, or "WINDOW").
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from glmv_cli.engine.boxes import to_pixels
from glmv_cli.engine.prompt import BOX_CLOSE, BOX_OPEN
from glmv_cli.tasks.actions import Platform


class ActionError(ValueError):
    """The answer holds no action valid for the platform; the message says why."""


@dataclass(frozen=True)
class Action:
    """One GUI action. Coordinates: `box`/`point`/`end_point` in pixels of the screenshot,
    `normalized` as the model wrote them (thousandths of the screenshot)."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)
    box: tuple[int, int, int, int] | None = None
    point: tuple[int, int] | None = None
    end_point: tuple[int, int] | None = None
    normalized: dict[str, list[float]] = field(default_factory=dict)
    call: str = ""  # the action exactly as the model wrote it
    notes: dict[str, str] = field(default_factory=dict)  # memory, reason/thought

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, **self.params}
        for key in ("box", "point", "end_point"):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value)
        if self.normalized:
            out["normalized"] = self.normalized
        out["call"] = self.call
        return out


MOBILE_TYPES = {
    "status": {"goal_status"}, "answer": {"text"}, "click": {"box_2d"},
    "long_press": {"box_2d"}, "input_text": {"text", "box_2d", "override"},
    "keyboard_enter": set(), "navigate_home": set(), "navigate_back": set(),
    "swipe": {"direction"}, "open_app": {"app_name"}, "wait": set(),
}
DESKTOP_POINTER = ("left_click", "right_click", "middle_click", "hover", "left_double_click")
DESKTOP_TYPES = (*DESKTOP_POINTER, "left_drag", "key", "type", "scroll", "WAIT", "DONE", "FAIL")


def parse_action(answer: str, platform: Platform, size: tuple[int, int]) -> Action:
    """The action in `answer`, for a screenshot of `size` (width, height) pixels."""
    text = answer.replace(BOX_OPEN, "").replace(BOX_CLOSE, "").strip()
    if platform == "mobile":
        return _mobile(text, size)
    if platform == "desktop":
        return _desktop(text, size)
    return _web(text)


def _section(text: str, name: str, stops: tuple[str, ...]) -> str | None:
    m = re.search(rf"(?:^|\n)\s*{name}:[ \t]*", text)
    if not m:
        return None
    rest = text[m.end():]
    ends = [i for i in (rest.find(f"\n{s}:") for s in stops) if i >= 0]
    return rest[: min(ends)].strip() if ends else rest.strip()


def _box(value: Any, size: tuple[int, int]) -> tuple[list[float], tuple[int, int, int, int]]:
    """A `box_2d` ([[x1,y1,x2,y2]] or [x1,y1,x2,y2], 0-999) in order and in pixels."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if not (isinstance(value, list) and len(value) == 4 and all(_is_coord(v) for v in value)):
        raise ActionError(f"box_2d must be [[x1,y1,x2,y2]] with values 0-1000, got {value!r}")
    x1, y1, x2, y2 = (float(v) for v in value)
    norm = [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]  # corners in either order
    return norm, to_pixels(tuple(norm), size)  # type: ignore[return-value]


def _is_coord(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1000


def _centre(box: tuple[int, ...]) -> tuple[int, int]:
    return (box[0] + box[2]) // 2, (box[1] + box[3]) // 2


# -- mobile: Memory / Reason / Action: {"action_type": ...} ----------------------------------


def _mobile(text: str, size: tuple[int, int]) -> Action:
    call = _section(text, "Action", ())
    if not call:
        raise ActionError("no 'Action:' line in the answer")
    m = re.search(r"\{.*\}", call, re.DOTALL)
    if not m:
        raise ActionError(f"the action is not a JSON object: {call[:80]!r}")
    call = m.group(0)
    try:
        obj = json.loads(call)
    except json.JSONDecodeError:
        try:  # the reference's history shows Python dicts ('...'); accept those too
            obj = ast.literal_eval(call)
        except (ValueError, SyntaxError):
            raise ActionError(f"the action is not valid JSON: {call[:80]!r}") from None
    if not isinstance(obj, dict):
        raise ActionError("the action is not a JSON object")
    kind = obj.get("action_type")
    if kind not in MOBILE_TYPES:
        raise ActionError(f"unknown mobile action_type {kind!r}")
    missing = MOBILE_TYPES[kind] - obj.keys()
    if missing:
        raise ActionError(f"{kind} needs {', '.join(sorted(missing))}")
    params: dict[str, Any] = {}
    box = point = None
    normalized: dict[str, list[float]] = {}
    if "box_2d" in obj and (kind != "swipe" or obj["box_2d"]):
        normalized["box"], box = _box(obj["box_2d"], size)
        point = _centre(box)
    if kind == "status":
        if obj["goal_status"] not in ("complete", "infeasible"):
            raise ActionError("goal_status must be complete or infeasible")
        params["goal_status"] = obj["goal_status"]
    if kind in ("answer", "input_text"):
        params["text"] = _string(obj["text"], "text")
    if kind == "input_text":
        if not isinstance(obj["override"], bool):
            raise ActionError("override must be true or false")
        params["override"] = obj["override"]
    if kind == "swipe":
        if obj["direction"] not in ("up", "down", "left", "right"):
            raise ActionError("direction must be up, down, left or right")
        params["direction"] = obj["direction"]
    if kind == "open_app":
        params["app"] = _string(obj["app_name"], "app_name")
    notes = {k: v for k, v in (("memory", _section(text, "Memory", ("Reason", "Action"))),
                               ("reason", _section(text, "Reason", ("Action",)))) if v}
    return Action(kind, params, box, point, None, normalized, call, notes)


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ActionError(f"{name} must be a string")
    return value


# -- desktop: explanation, then name(arg='...'), then Memory: [...] --------------------------

_CALL = re.compile(r"\b(" + "|".join(DESKTOP_TYPES) + r")\((.*?)\)(?=\s*(?:\n|$))", re.DOTALL)
_ARG = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[\w.]+)")


def _desktop(text: str, size: tuple[int, int]) -> Action:
    body, _, memory = text.partition("\nMemory:")
    found = list(_CALL.finditer(body))
    if not found:
        raise ActionError("no action call such as left_click(start_box='[x,y]') in the answer")
    m = found[-1]
    kind, call = m.group(1), m.group(0)
    args: dict[str, Any] = {}
    for name, raw in _ARG.findall(m.group(2)):
        try:
            args[name] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            args[name] = raw
    params: dict[str, Any] = {}
    point = end = None
    normalized: dict[str, list[float]] = {}
    if kind in (*DESKTOP_POINTER, "left_drag", "scroll"):
        normalized["point"], point = _point(args.get("start_box"), size, "start_box")
    if kind == "left_drag":
        normalized["end_point"], end = _point(args.get("end_box"), size, "end_box")
    if kind == "key":
        params["keys"] = _required_str(args, "keys")
    if kind == "type":
        params["text"] = _required_str(args, "content")
    if kind == "scroll":
        if args.get("direction") not in ("up", "down"):
            raise ActionError("scroll direction must be up or down")
        params["direction"] = args["direction"]
        step = args.get("step", 5)  # the reference's default
        if not isinstance(step, int) or isinstance(step, bool) or step < 1:
            raise ActionError("scroll step must be a positive integer")
        params["step"] = step
    if args.get("element_info"):
        params["element"] = str(args["element_info"])
    notes = {"explanation": body[: m.start()].strip()} if body[: m.start()].strip() else {}
    if memory.strip():
        notes["memory"] = memory.strip()
    return Action(kind.lower(), params, None, point, end, normalized, call, notes)


def _point(value: Any, size: tuple[int, int], name: str
           ) -> tuple[list[float], tuple[int, int]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = None
    if not (isinstance(value, list) and len(value) == 2 and all(_is_coord(v) for v in value)):
        raise ActionError(f"{name} must be '[x,y]' with values 0-1000")
    norm = [float(value[0]), float(value[1])]
    return norm, to_pixels(tuple(norm), size)  # type: ignore[return-value]


def _required_str(args: dict[str, Any], name: str) -> str:
    if not isinstance(args.get(name), str):
        raise ActionError(f"the action needs {name}='...'")
    return args[name]


# -- web: Thought / Action: Click [3] / Memory_Updated: {...} --------------------------------

_WEB = [
    ("click", re.compile(r"Click \[(\d+)\]")),
    ("type", re.compile(r"Type \[(\d+)\];\s*\[(.*)\]", re.DOTALL)),
    ("scroll", re.compile(r"Scroll \[(\d+|WINDOW)\];\s*\[(up|down)\]")),
    ("wait", re.compile(r"Wait\b")),
    ("go_back", re.compile(r"GoBack\b")),
    ("bing", re.compile(r"Bing\b")),
    ("answer", re.compile(r"ANSWER;\s*<content>(.*?)</content>", re.DOTALL)),
    ("key", re.compile(r"Key;\s*\[([^\]]+)\]")),
]


def _web(text: str) -> Action:
    call = _section(text, "Action", ("Memory_Updated", "Thought"))
    if not call:
        raise ActionError("no 'Action:' line in the answer")
    for kind, pattern in _WEB:
        m = pattern.match(call)
        if not m:
            continue
        params: dict[str, Any] = {}
        if kind in ("click", "type", "scroll"):
            label = m.group(1)
            params["label"] = int(label) if label.isdigit() else label
        if kind == "type":
            params["text"] = m.group(2)
        if kind == "scroll":
            params["direction"] = m.group(2)
        if kind == "answer":
            params["text"] = m.group(1).strip()
        if kind == "key":
            params["keys"] = m.group(1)
        notes = {k: v for k, v in (
            ("thought", _section(text, "Thought", ("Action",))),
            ("memory", _section(text, "Memory_Updated", ()))) if v}
        return Action(kind, params, call=m.group(0), notes=notes)
    raise ActionError(f"unknown web action {call[:60]!r}")
