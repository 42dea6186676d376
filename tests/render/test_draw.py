"""--draw: the boxes really are in the written image, which is written atomically."""

from __future__ import annotations

import pytest
from PIL import Image

from glmv_cli.errors import UsageError
from glmv_cli.render.draw import PALETTE, Mark, draw_marks, line_width, save_atomic


def test_box_outline_is_drawn_where_the_box_is(tmp_path):
    base = Image.new("RGB", (400, 300), (0, 0, 0))
    out = draw_marks(base, [Mark((50, 60, 200, 250), ""), Mark((300, 20, 380, 100), "b")])
    path = tmp_path / "boxed.png"
    save_atomic(out, path)
    img = Image.open(path).convert("RGB")
    w = line_width((400, 300))
    # The first box's edges carry the first colour, its inside and the outside stay black.
    assert img.getpixel((50, 150)) == PALETTE[0]
    assert img.getpixel((200 - w + 1, 150)) == PALETTE[0]
    assert img.getpixel((120, 60)) == PALETTE[0] and img.getpixel((120, 250 - w + 1)) == PALETTE[0]
    assert img.getpixel((120, 150)) == (0, 0, 0)
    assert img.getpixel((20, 150)) == (0, 0, 0)
    assert img.getpixel((380 - w + 1, 60)) == PALETTE[1]
    assert base.getpixel((50, 150)) == (0, 0, 0)  # the original is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["boxed.png"]  # no temp file left


def test_point_mark(tmp_path):
    out = draw_marks(Image.new("RGB", (200, 200)), [Mark((100, 100), "tap")])
    assert out.getpixel((100, 100)) == PALETTE[0]  # the cross-hair centre


def test_jpeg_output_and_bad_extension(tmp_path):
    img = draw_marks(Image.new("RGBA", (64, 64)), [Mark((1, 1, 30, 30))])
    save_atomic(img, tmp_path / "x.jpg")
    assert Image.open(tmp_path / "x.jpg").format == "JPEG"
    with pytest.raises(UsageError):
        save_atomic(img, tmp_path / "x.nothing")
    with pytest.raises(UsageError):
        save_atomic(img, tmp_path / "missing" / "x.png")
