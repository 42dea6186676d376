"""`glmv ground` end to end: the real CLI, the real engine, the tiny model, real files."""

from __future__ import annotations

import json

import pymupdf
from PIL import Image, ImageChops

from tests.conftest import make_image

SHORT = ("--think-budget", "6", "--max-tokens", "600")


def test_strict_gives_boxes_in_pixels_and_draws_them(glmv, tmp_path):
    img = make_image(tmp_path / "photo.png", (400, 300))
    before = img.read_bytes()
    r = glmv("ground", str(img), "the red square", "--strict", "--draw", "boxed.png", "--json",
             *SHORT)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["query"] == "the red square" and obj["boxes"]
    for b in obj["boxes"]:
        x1, y1, x2, y2 = b["box"]
        n = b["normalized"]
        assert (x1, y1, x2, y2) == (round(n[0] * 0.4), round(n[1] * 0.3), round(n[2] * 0.4),
                                    round(n[3] * 0.3))
        assert 0 <= x1 <= x2 <= 400 and 0 <= y1 <= y2 <= 300
    assert img.read_bytes() == before  # the input is untouched
    drawn = Image.open(tmp_path / "boxed.png").convert("RGB")
    orig = Image.open(img).convert("RGB")
    assert drawn.size == orig.size
    # The drawing changed pixels, all of them on or around the boxes (outline and label).
    changed = ImageChops.difference(drawn, orig).getbbox()
    assert changed is not None
    margin = 40  # the outline's width and the label above the box
    left = min(b["box"][0] for b in obj["boxes"]) - margin
    top = min(b["box"][1] for b in obj["boxes"]) - margin
    # A label may run past a narrow box's right edge by its own width.
    right = max(b["box"][2] for b in obj["boxes"]) + margin + 12 * len("the red square")
    bottom = max(b["box"][3] for b in obj["boxes"]) + margin
    assert left <= changed[0] and top <= changed[1]
    assert changed[2] <= right and changed[3] <= bottom


def test_piped_output_is_one_box_per_line(glmv, tmp_path):
    img = make_image(tmp_path / "p.png", (300, 200))
    r = glmv("ground", str(img), "the disc", "--strict", *SHORT)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines
    for line in lines:
        vals = [int(v) for v in line.split(",")]
        assert len(vals) == 4 and vals[2] <= 300 and vals[3] <= 200


def test_without_strict_no_boxes_is_a_warning_not_an_error(glmv, tmp_path):
    img = make_image(tmp_path / "p.png")
    args = ("ground", str(img), "a unicorn", "--think-budget", "4", "--max-tokens", "12")
    r = glmv(*args)
    boxes = json.loads(glmv(*args, "--json").stdout)["boxes"]
    assert r.returncode == 0, r.stderr
    # One line per box found, and the warning exactly when there is none.
    assert len(r.stdout.splitlines()) == len(boxes)
    assert ("the answer has no boxes" in r.stderr) == (not boxes)


def test_pdf_page_boxes_in_points(glmv, tmp_path):
    doc = pymupdf.open()
    for _ in range(3):
        page = doc.new_page(width=612, height=792)
        page.insert_text((72, 72), "Signature: ________")
    doc.save(tmp_path / "doc.pdf")
    r = glmv("ground", str(tmp_path / "doc.pdf"), "the signature", "--pages", "2", "--strict",
             "--json", "--max-image-tokens", "256", "--draw", "page.png", *SHORT)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["page"] == 2 and obj["page_size_points"] == [612.0, 792.0]
    for b in obj["boxes"]:
        n, pt = b["normalized"], b["points"]
        assert pt == [round(n[0] * 0.612, 2), round(n[1] * 0.792, 2), round(n[2] * 0.612, 2),
                      round(n[3] * 0.792, 2)]
    w, h = obj["image"]["size"]
    assert abs(w / h - 612 / 792) < 0.01
    assert Image.open(tmp_path / "page.png").size == (w, h)


def test_bad_input(glmv, tmp_path):
    img = make_image(tmp_path / "p.png")
    r = glmv("ground", str(img), "x", "--draw", str(img))
    assert r.returncode == 2 and "new file" in r.stderr
    r = glmv("ground", str(img), "x", "--draw", "out.xyz")
    assert r.returncode == 2 and "unknown image type" in r.stderr
    r = glmv("ground", str(img), "x", "--pages", "2")
    assert r.returncode == 2 and "PDF" in r.stderr
    r = glmv("ground", str(tmp_path / "missing.png"), "x")
    assert r.returncode == 3 and r.stderr.startswith("glmv: ")
