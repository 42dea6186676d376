"""Parsing agent answers into validated actions in pixels, per platform."""

from __future__ import annotations

import pytest

from glmv_cli.tasks.actions.parse import ActionError, parse_action

SIZE = (1080, 2400)  # a phone screenshot


def test_mobile_click_box_and_centre_in_pixels():
    a = parse_action('Memory: None\nReason: tap it\nAction: {"action_type": "click", '
                     '"box_2d": [[100,200,300,400]]}', "mobile", SIZE)
    assert a.type == "click"
    assert a.box == (108, 480, 324, 960) and a.point == (216, 720)
    assert a.normalized == {"box": [100.0, 200.0, 300.0, 400.0]}
    assert a.notes == {"memory": "None", "reason": "tap it"}


def test_mobile_input_text_and_box_tags_stripped():
    a = parse_action('Memory: x\nReason: y\nAction: <|begin_of_box|>{"action_type": '
                     '"input_text", "text": "Dr. Smith", "box_2d": [[0,0,999,100]], '
                     '"override": true}<|end_of_box|>', "mobile", SIZE)
    assert a.to_dict()["text"] == "Dr. Smith" and a.params["override"] is True
    assert a.to_dict()["box"] == [0, 0, 1079, 240]


def test_mobile_python_dict_as_in_the_reference_history():
    a = parse_action("Action: {'action_type': 'open_app', 'app_name': 'Clock'}", "mobile", SIZE)
    assert a.type == "open_app" and a.params == {"app": "Clock"} and a.box is None


@pytest.mark.parametrize(("answer", "why"), [
    ("Memory: x", "Action"),
    ('Action: {"action_type": "fly"}', "unknown"),
    ('Action: {"action_type": "click"}', "box_2d"),
    ('Action: {"action_type": "click", "box_2d": [[1,2,3]]}', "box_2d"),
    ('Action: {"action_type": "click", "box_2d": [[1,2,3,4000]]}', "box_2d"),
    ('Action: {"action_type": "swipe", "direction": "sideways"}', "direction"),
    ('Action: {"action_type": "status", "goal_status": "maybe"}', "goal_status"),
    ('Action: {"action_type": "input_text", "text": "a", "box_2d": [[1,2,3,4]], '
     '"override": "yes"}', "override"),
    ("Action: {not json", "JSON"),
])
def test_mobile_invalid(answer, why):
    with pytest.raises(ActionError, match=why):
        parse_action(answer, "mobile", SIZE)


def test_desktop_click_drag_scroll():
    size = (1920, 1080)
    a = parse_action("I click the search box.\n<|begin_of_box|>left_click(start_box='[500,500]', "
                     "element_info='Search')<|end_of_box|>\nMemory:\n[]", "desktop", size)
    assert a.type == "left_click" and a.point == (960, 540) and a.params == {"element": "Search"}
    assert a.notes["explanation"] == "I click the search box." and a.notes["memory"] == "[]"
    d = parse_action("x\nleft_drag(start_box='[0,0]', end_box='[1000,1000]')\nMemory:\n[]",
                     "desktop", size)
    assert d.point == (0, 0) and d.end_point == (1920, 1080)
    s = parse_action("x\nscroll(start_box='[10,10]', direction='down', step=3)\nMemory:\n[]",
                     "desktop", size)
    assert s.params == {"direction": "down", "step": 3}
    t = parse_action("x\ntype(content='hello \\'world\\'')\nMemory:\n[]", "desktop", size)
    assert t.params == {"text": "hello 'world'"}
    assert parse_action("x\nDONE()\nMemory:\n[]", "desktop", size).type == "done"


def test_desktop_invalid():
    with pytest.raises(ActionError):
        parse_action("just words\nMemory:\n[]", "desktop", (100, 100))
    with pytest.raises(ActionError, match="start_box"):
        parse_action("x\nleft_click(start_box='[5]')\nMemory:\n[]", "desktop", (100, 100))


@pytest.mark.parametrize(("call", "kind", "params"), [
    ("Click [12]", "click", {"label": 12}),
    ("Type [2]; [5$]", "type", {"label": 2, "text": "5$"}),
    ("Scroll [WINDOW]; [down]", "scroll", {"label": "WINDOW", "direction": "down"}),
    ("GoBack", "go_back", {}),
    ("ANSWER; <content>Guatemala</content>", "answer", {"text": "Guatemala"}),
    ("Key; [Return]", "key", {"keys": "Return"}),
])
def test_web(call, kind, params):
    a = parse_action(f"Thought: t\nAction: {call}\nMemory_Updated: {{}}", "web", (800, 600))
    assert a.type == kind and a.params == params and a.point is None
    assert a.notes == {"thought": "t", "memory": "{}"}


def test_web_invalid():
    with pytest.raises(ActionError):
        parse_action("Thought: t\nAction: Dance\nMemory_Updated: {}", "web", (800, 600))
