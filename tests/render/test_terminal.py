"""TerminalRenderer: dim thinking, the answer as Markdown, then warnings and stats."""

from __future__ import annotations

import io

from rich.console import Console

from glmv_cli.render.terminal import TerminalRenderer
from tests.render.fakes import events, play


def render(evs, hide_thinking=False, show_stats=True) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=80, color_system=None, force_terminal=False,
                      legacy_windows=False)
    play(TerminalRenderer(console, hide_thinking=hide_thinking, show_stats=show_stats), evs)
    return buf.getvalue()


MARKDOWN = ("# Title\n\nSome ", "**bold** text.\n\n- first item\n")


def test_answer_is_rendered_as_markdown_once():
    out = render(events(answer=MARKDOWN))

    assert "Title" in out
    assert "#" not in out
    assert "Some bold text." in out
    assert "*" not in out
    assert "first item" in out
    assert out.count("Title") == 1  # the live preview leaves nothing behind


def test_thinking_is_shown_when_not_hidden():
    out = render(events())

    assert "Thinking" in out
    assert "I look at the image." in out
    assert "Thought for" not in out
    assert out.index("I look at the image.") < out.index("The answer is 42.")


def test_hide_thinking_shows_only_how_long_it_took():
    out = render(events(), hide_thinking=True)

    assert "I look at the image." not in out
    assert "Thought for" in out
    assert "The answer is 42." in out


def test_truncation_warning_when_cut_off():
    out = " ".join(render(events(finish_reason="length")).split())

    assert "warning: the answer was cut off" in out
    assert "cut off" not in " ".join(render(events()).split())


def test_stats_line_mentions_token_counts():
    out = " ".join(render(events()).split())  # undo the wrapping at 80 columns

    assert "256 image + 10 text tokens in" in out
    assert "30 tokens out at 15.0/s" in out


def test_no_stats_when_disabled():
    out = render(events(), show_stats=False)

    assert "tokens out" not in out


def test_interrupted_is_said():
    out = render(events(finish_reason="interrupted"))

    assert "interrupted" in out
    assert "cut off" not in out
