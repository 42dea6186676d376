"""PlainRenderer: the answer alone on stdout, for pipes and files."""

from __future__ import annotations

import io

from glmv_cli.engine.events import Answer, Box
from glmv_cli.render.plain import PlainRenderer
from tests.render.fakes import done, events, play


def render(evs, show_thinking=False):
    out, err = io.StringIO(), io.StringIO()
    play(PlainRenderer(out, err, show_thinking=show_thinking, status=None), evs)
    return out.getvalue(), err.getvalue()


def test_stdout_is_the_answer_and_one_newline():
    out, err = render(events(boxes=(Box("42"),)))

    assert out == "The answer is 42.\n"
    assert "\x1b" not in out
    assert "I look at the image." not in out
    assert err == ""


def test_show_thinking_writes_thinking_to_err_only():
    out, err = render(events(), show_thinking=True)

    assert out == "The answer is 42.\n"
    assert err == "I look at the image.\n"


def test_trailing_whitespace_is_held_back():
    out, _ = render(events(answer=("line one  ", "\n\n", "line two", "  \n\n")))

    assert out == "line one  \n\nline two\n"


def test_trailing_whitespace_is_written_once_more_text_follows():
    out_stream, err_stream = io.StringIO(), io.StringIO()
    renderer = PlainRenderer(out_stream, err_stream, show_thinking=False, status=None)

    renderer.event(Answer("a \n"))
    assert out_stream.getvalue() == "a"

    renderer.event(Answer("b"))
    assert out_stream.getvalue() == "a \nb"


def test_no_answer_writes_nothing_to_stdout():
    out, _ = render(events(answer=()))

    assert out == ""


def test_truncated_answer_warns_on_err_not_out():
    out, err = render(events(finish_reason="length"))

    assert out == "The answer is 42.\n"
    assert "warning" not in out
    assert err.startswith("glmv: warning: the answer was cut off")
    assert err.endswith("\n")


def test_stop_gives_no_warning():
    _, err = render([Answer("ok"), done("stop")])

    assert "warning" not in err
