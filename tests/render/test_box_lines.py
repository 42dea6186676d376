"""`glmv ask` box text: after the answer on a terminal, on stderr when piped."""

from __future__ import annotations

import io

from rich.console import Console

from glmv_cli.engine.events import Box
from glmv_cli.inputs.image import PreparedImage
from glmv_cli.render.plain import PlainRenderer
from glmv_cli.render.terminal import TerminalRenderer
from tests.render.fakes import events, play

IMG = PreparedImage("photo.png", b"", 28, 28, (640, 480), "PNG")
BOX = Box("[[100,200,500,1000]]", ((100.0, 200.0, 500.0, 1000.0),))


def test_piped_boxes_go_to_stderr_in_pixels():
    out, err = io.StringIO(), io.StringIO()
    play(PlainRenderer(out, err, False, None, images=(IMG,)), events(boxes=(BOX,)))
    assert out.getvalue() == "The answer is 42.\n"
    assert "glmv: box 1: 64,96,320,480 px in photo.png\n" in err.getvalue()


def test_terminal_lists_boxes_after_the_answer():
    buf = io.StringIO()
    console = Console(file=buf, width=100, color_system=None, force_terminal=False)
    play(TerminalRenderer(console, hide_thinking=False, images=(IMG,)), events(boxes=(BOX,)))
    text = buf.getvalue()
    assert text.index("The answer is 42.") < text.index("box 1: 64,96,320,480 px in photo.png")


def test_several_images_give_model_coordinates():
    out, err = io.StringIO(), io.StringIO()
    play(PlainRenderer(out, err, False, None, images=(IMG, IMG)), events(boxes=(BOX,)))
    assert "box 1: 100,200,500,1000 (0-1000 of the image)" in err.getvalue()
