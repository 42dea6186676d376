"""Boxes from the model's 0-1000 space to pixels, and the bracket styles the model uses."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from glmv_cli.engine.boxes import parse_coords, to_pixels
from glmv_cli.engine.events import Box
from glmv_cli.engine.transcript import Transcript
from glmv_cli.inputs.image import prepare_image
from glmv_cli.inputs.source import Source
from glmv_cli.tasks.grounding import find_boxes


@pytest.mark.parametrize("text", ["<10,20,30,40>", "{10,20,30,40}", "[[10,20,30,40]]",
                                  "(10, 20, 30, 40)", "[ 10 , 20 , 30 , 40 ]"])
def test_every_bracket_style(text):
    assert parse_coords(text) == ((10.0, 20.0, 30.0, 40.0),)


@pytest.mark.parametrize("text", ["<10,20,30>", "{10,20,30,40", "10,20,30,40]", "[1,2,3,4,5]",
                                  "<a,b,c,d>"])
def test_malformed_boxes_give_nothing(text):
    assert parse_coords(text) == ()


def test_to_pixels_exact_values():
    assert to_pixels((0, 0, 1000, 1000), (640, 480)) == (0, 0, 640, 480)
    assert to_pixels((250, 500, 750, 1000), (640, 480)) == (160, 240, 480, 480)
    assert to_pixels((333, 333), (300, 200)) == (100, 67)  # a point: 99.9 -> 100, 66.6 -> 67


def test_to_pixels_clamps_outside_values():
    assert to_pixels((-10, 0, 1200, 500), (100, 100)) == (0, 0, 100, 50)


def _jpeg_with_orientation(size: tuple[int, int], orientation: int) -> bytes:
    img = Image.new("RGB", size, (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def test_boxes_map_to_the_rotated_original_not_the_stored_pixels():
    # Stored 400x300 with orientation 6 (rotate 90): a viewer shows it 300 wide, 400 high.
    src = Source("rot.jpg", _jpeg_with_orientation((400, 300), 6))
    img = prepare_image(src, max_tokens=64)  # resized well below the original
    assert img.original_size == (300, 400)
    assert (img.width, img.height) != img.original_size
    t = Transcript(boxes=[Box("[[100,250,500,1000]]", ((100.0, 250.0, 500.0, 1000.0),))])
    (box,) = find_boxes(t, img.original_size)
    assert box.pixels == (30, 100, 150, 400)
    assert box.normalized == (100.0, 250.0, 500.0, 1000.0)


def test_corners_in_either_order_and_untagged_boxes():
    t = Transcript(answer="The car is at [[500,600,100,200]].")
    (box,) = find_boxes(t, (1000, 500))
    assert box.pixels == (100, 100, 500, 300)


def test_pdf_points():
    t = Transcript(boxes=[Box("[0,0,500,1000]", ((0.0, 0.0, 500.0, 1000.0),))])
    (box,) = find_boxes(t, (850, 1100), page_size=(612.0, 792.0))
    assert box.points == (0.0, 0.0, 306.0, 792.0) and box.pixels == (0, 0, 425, 1100)
