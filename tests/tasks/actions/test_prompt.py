"""Agent prompts in the reference's formats, and the history that goes into them."""

from __future__ import annotations

import json

import pytest

from glmv_cli.errors import InputError
from glmv_cli.tasks.actions.prompt import Step, build_prompt, load_history


def test_mobile_prompt_has_task_apps_and_numbered_history():
    steps = [Step("Memory: None\nReason: open it\nAction: <|begin_of_box|>{\"action_type\": "
                  "\"open_app\", \"app_name\": \"Clock\"}<|end_of_box|>")]
    p = build_prompt("mobile", "Set an alarm", steps, apps="Clock,Settings")
    assert "The current user goal/request is: Set an alarm" in p
    assert "supported app_names: Clock,Settings" in p
    assert "Step 0:\nMemory: None\nReason: open it\nAction: {\"action_type\"" in p
    assert "<|begin_of_box|>" not in p and "#" + "TASK#" not in p


def test_desktop_prompt_history_and_latest_memory():
    steps = [Step("I click.\nleft_click(start_box='[1,2]')\nMemory:\n[]"),
             Step("I type.\ntype(content='x')\nMemory:\n[{\"k\": \"v\"}]")]
    p = build_prompt("desktop", "Do it", steps)
    assert "History actions:\nstep 1: I click.\nleft_click(start_box='[1,2]')\nstep 2: I type." in p
    assert p.rstrip().endswith('Memory:\n[{"k": "v"}]')
    assert "password" not in p.split("Here are some helpful tips:")[1]


def test_web_prompt():
    steps = [Step("Thought: search\nAction: Type [1]; [lasagna]\nMemory_Updated: {\"a\": \"b\"}")]
    p = build_prompt("web", "Find lasagna", steps, url="https://x.org", elements="[1]: <input>")
    assert 'final mission: "Find lasagna", Please interact with https://x.org' in p
    assert "0.Thought:search    Action:Type [1]; [lasagna]" in p
    assert 'Memory:{"a": "b"}' in p and "[1]: <input>" in p


def test_history_from_json_lines_of_act_results(tmp_path):
    f = tmp_path / "steps.jsonl"
    f.write_text("\n".join(json.dumps({"answer": a, "action": {}}) for a in ("one", "two")))
    assert load_history(f) == [Step("one"), Step("two")]


def test_history_from_list_and_text(tmp_path):
    (tmp_path / "h.json").write_text(json.dumps(["a", {"answer": "b"}]))
    assert load_history(tmp_path / "h.json") == [Step("a"), Step("b")]
    (tmp_path / "h.txt").write_text("Memory: 1\nAction: x\n\nMemory: 2\nAction: y\n")
    assert load_history(tmp_path / "h.txt") == [Step("Memory: 1\nAction: x"),
                                                Step("Memory: 2\nAction: y")]


def test_bad_history(tmp_path):
    with pytest.raises(InputError, match="no such"):
        load_history(tmp_path / "missing.jsonl")
    (tmp_path / "bad.json").write_text('[{"no_answer": 1}]')
    with pytest.raises(InputError, match="entry 1"):
        load_history(tmp_path / "bad.json")
