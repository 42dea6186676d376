"""`glmv act` end to end: a schema-valid action every time, on the real engine."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from glmv_cli.actions.parse import parse_action
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
    if "point" in obj["action"]:
        x, y = obj["action"]["point"]
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
    if "point" in obj["action"]:
        assert obj["drawn"] == "target.png"
        assert Image.open(tmp_path / "target.png").size == (300, 600)


def test_cut_off_answer_is_a_clear_error(glmv, tmp_path):
    shot = make_image(tmp_path / "s.png", (300, 600))
    r = glmv("act", str(shot), "x", "--max-tokens", "30", *SHORT)
    assert r.returncode == 5 and "cut off" in r.stderr and "Traceback" not in r.stderr


def test_bad_options(glmv, tmp_path):
    shot = make_image(tmp_path / "s.png", (300, 600))
    r = glmv("act", str(shot), "x", "--platform", "desktop", "--apps", "Clock")
    assert r.returncode == 2
    r = glmv("act", str(shot), "x", "--history", str(tmp_path / "none.jsonl"))
    assert r.returncode == 3 and "history" in r.stderr
