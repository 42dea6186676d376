"""`glmv act` end to end: a schema-valid action every time, on the real engine."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from glmv_cli.tasks.actions.parse import parse_action
from tests.conftest import make_image

SHORT = ("--think-budget", "6")


@pytest.mark.parametrize("platform", ["mobile", "desktop", "web"])
def test_json_action_for_each_platform(glmv, tmp_path, platform):
    shot = make_image(tmp_path / "screen.png", (360, 640))
    r = glmv("act", str(shot), "Create a meeting with Dr. Smith at 3 PM", "--platform",
             platform, "--json", *SHORT)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["platform"] == platform and obj["finish_reason"] == "stop"
    # The action object is exactly what parsing the answer again gives.
    again = parse_action(obj["answer"], platform, (360, 640)).to_dict()
    assert obj["action"] == again
    x, y = obj["action"].get("point") or (0, 0)  # (actions without a position have none)
    assert 0 <= x <= 360 and 0 <= y <= 640


def test_piped_stdout_is_the_action_object_and_auto_platform(glmv, tmp_path):
    phone = make_image(tmp_path / "phone.png", (300, 600))
    desk = make_image(tmp_path / "desk.png", (640, 400))
    a = json.loads(glmv("act", str(phone), "Open the clock", *SHORT).stdout)
    assert a["type"] in {"status", "answer", "click", "long_press", "input_text",
                         "keyboard_enter", "navigate_home", "navigate_back", "swipe",
                         "open_app", "wait"}
    d = json.loads(glmv("act", str(desk), "Open the clock", *SHORT).stdout)
    assert "action_type" not in d["call"]  # desktop calls are function calls


def test_history_chain_and_draw(glmv, tmp_path):
    shot = make_image(tmp_path / "s.png", (300, 600))
    steps = tmp_path / "steps.jsonl"
    first = glmv("act", str(shot), "Open the clock", "--json", *SHORT)
    steps.write_text(first.stdout)
    r = glmv("act", str(shot), "Open the clock", "--history", str(steps), "--json",
             "--draw", "target.png", "--platform", "desktop", *SHORT)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    # Whichever action the random model picks, --draw marks its position or says why not.
    drawn = tmp_path / "target.png"
    has_position = "point" in obj["action"]
    assert (obj["drawn"] == "target.png") == has_position == drawn.is_file()
    assert has_position or "nothing to draw" in r.stderr
    assert not has_position or Image.open(drawn).size == (300, 600)


def test_answer_cut_off_by_max_tokens_is_unusable_exit_8(glmv, tmp_path):
    shot = make_image(tmp_path / "s.png", (300, 600))
    r = glmv("act", str(shot), "x", "--max-tokens", "30", *SHORT)
    assert r.returncode == 8 and "cut off by --max-tokens" in r.stderr
    assert "Traceback" not in r.stderr


def test_answer_cut_off_by_the_context_is_exit_5(glmv, tmp_path):
    shot = make_image(tmp_path / "s.png", (300, 600))
    probe = json.loads(glmv("act", str(shot), "x", "--json", *SHORT).stdout)["usage"]
    # Room for the prompt and a few tokens, not for the answer's action.
    context = probe["prompt_tokens"] + probe["forced_tokens"] + 12
    r = glmv("act", str(shot), "x", "--context", str(context), *SHORT)
    assert r.returncode == 5 and "context window filled up" in r.stderr


def test_bad_options(glmv, tmp_path):
    shot = make_image(tmp_path / "s.png", (300, 600))
    r = glmv("act", str(shot), "x", "--platform", "desktop", "--apps", "Clock")
    assert r.returncode == 2
    r = glmv("act", str(shot), "x", "--history", str(tmp_path / "none.jsonl"))
    assert r.returncode == 3 and "history" in r.stderr
