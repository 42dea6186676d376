"""parse_coords: every [x1, y1, x2, y2] inside a box, in the bracket styles the model uses."""

from __future__ import annotations

import pytest

from glmv_cli.engine.boxes import parse_coords


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1,2,3,4]", ((1.0, 2.0, 3.0, 4.0),)),
        ("[[1,2,3,4]]", ((1.0, 2.0, 3.0, 4.0),)),
        ("(1, 2, 3, 4)", ((1.0, 2.0, 3.0, 4.0),)),
        ("[ 10 ,20,  30 , 40 ]", ((10.0, 20.0, 30.0, 40.0),)),
        ("[[12.5,0.25,300.75,999.0]]", ((12.5, 0.25, 300.75, 999.0),)),
        ("the cat at [[100,200,300,400]] is black", ((100.0, 200.0, 300.0, 400.0),)),
    ],
)
def test_single_box(text, expected):
    assert parse_coords(text) == expected


def test_several_boxes_in_order():
    assert parse_coords("[[1,2,3,4],[5,6,7,8]]") == ((1.0, 2.0, 3.0, 4.0), (5.0, 6.0, 7.0, 8.0))
    assert parse_coords("[1,2,3,4] and (5, 6, 7, 8)") == (
        (1.0, 2.0, 3.0, 4.0),
        (5.0, 6.0, 7.0, 8.0),
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "42",
        "[1,2,3]",  # three numbers
        "[1,2,3,4,5]",  # five numbers
        "[a,b,c,d]",  # letters
        "[1,2,x,4]",
        "[1,2,3,4",  # unclosed bracket
        "1,2,3,4",  # no brackets
    ],
)
def test_malformed_gives_nothing(text):
    assert parse_coords(text) == ()


def test_only_valid_quadruples_are_kept():
    assert parse_coords("[[1,2,3],[5,6,7,8],[a,b,c,d],[9,10,11,12]]") == (
        (5.0, 6.0, 7.0, 8.0),
        (9.0, 10.0, 11.0, 12.0),
    )


def test_values_are_floats():
    (box,) = parse_coords("[1,2,3,4]")
    assert all(isinstance(v, float) for v in box)
