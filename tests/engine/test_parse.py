"""StreamParser: generated text, in any chunking, to Thinking / Answer / Box events."""

from __future__ import annotations

import random

import pytest

from glmv_cli.engine.events import Answer, Box, Event, Thinking
from glmv_cli.engine.parse import UNTAGGED_LIMIT, StreamParser

WELL_FORMED = (
    "<think>\nThe image shows a cat; a < b and <div> are not tags.\n</think>\n"
    "<answer>\nThe answer is <|begin_of_box|>42<|end_of_box|>, and the cat is at "
    "<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>.</answer>"
)


def parse(*pieces: str) -> list[Event]:
    """Feed `pieces` one after another, then finish; all events in order."""
    parser = StreamParser()
    events: list[Event] = []
    for piece in pieces:
        events += parser.feed(piece)
    events += parser.finish()
    return events


def thinking(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, Thinking))


def answer(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, Answer))


def boxes(events: list[Event]) -> list[Box]:
    return [e for e in events if isinstance(e, Box)]


def summary(events: list[Event]) -> tuple[str, str, list[Box]]:
    return thinking(events), answer(events), boxes(events)


def random_chunks(text: str, rng: random.Random) -> list[str]:
    """`text` cut at up to 12 random places (pieces of 1 character and more)."""
    n = rng.randint(1, min(12, len(text) - 1))
    cuts = sorted(rng.sample(range(1, len(text)), n))
    return [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def test_well_formed_stream_splits_thinking_and_answer():
    events = parse(WELL_FORMED)

    assert thinking(events) == "The image shows a cat; a < b and <div> are not tags.\n"
    assert answer(events) == "The answer is 42, and the cat is at [[100,200,300,400]]."
    assert boxes(events) == [
        Box(text="42"),
        Box(text="[[100,200,300,400]]", coords=((100.0, 200.0, 300.0, 400.0),)),
    ]


def test_one_character_at_a_time_matches_whole():
    assert summary(parse(*WELL_FORMED)) == summary(parse(WELL_FORMED))


@pytest.mark.parametrize(
    "text",
    [
        WELL_FORMED,
        "template-opened thinking</think><answer>x <|begin_of_box|>[1,2,3,4]<|end_of_box|>",
        "<think>t</think>final <|begin_of_box|>7<|end_of_box|> done",
        "no tags, a < b, and <answe without the r",
        "x" * (UNTAGGED_LIMIT + 10) + " <|begin_of_box|>[[1,2,3,4]]<|end_of_box|>",
        "short <|begin_of_box|>[[1,2,3,4]]<|end_of_box|> tail",
    ],
)
def test_random_chunkings_match_whole(text):
    whole = summary(parse(text))
    for seed in range(200):
        pieces = random_chunks(text, random.Random(seed))
        assert summary(parse(*pieces)) == whole, (seed, pieces)


def test_tags_split_across_pieces_are_recognised():
    events = parse(
        "<th", "ink>hm</thi", "nk><ans", "wer>ok <|begin_of", "_box|>1<|end_of_box", "|>"
    )

    assert thinking(events) == "hm"
    assert answer(events) == "ok 1"
    assert boxes(events) == [Box(text="1")]


def test_missing_think_open_leading_text_is_thinking():
    # Some chat templates open <think> themselves: the model starts inside it.
    events = parse("I should look closely.</think><answer>x</answer>")

    assert thinking(events) == "I should look closely."
    assert answer(events) == "x"


def test_missing_answer_wrapper_text_after_think_is_answer():
    events = parse("<think>t</think>final")

    assert thinking(events) == "t"
    assert answer(events) == "final"


def test_no_tags_everything_is_the_answer_after_finish():
    parser = StreamParser()

    assert parser.feed("Just a short reply.") == []  # could still be template thinking
    assert parser.finish() == [Answer("Just a short reply.")]


def test_long_untagged_text_streams_as_answer_before_finish():
    parser = StreamParser()
    text = "A model that does not think writes its answer straight away, like this. " * 2
    assert len(text) > UNTAGGED_LIMIT

    fed = parser.feed(text[:40]) + parser.feed(text[40:])

    assert fed and all(isinstance(e, Answer) for e in fed)
    assert answer(fed) == text
    assert parser.finish() == []


def test_untagged_text_before_a_box_is_kept_as_answer():
    events = parse("The total is <|begin_of_box|>12<|end_of_box|>")

    assert answer(events) == "The total is 12"
    assert boxes(events) == [Box(text="12")]


def test_answer_cut_off_keeps_answer_text_and_open_box():
    events = parse("<think>t</think><answer>The box is <|begin_of_box|>[1,2,3,4]")

    assert answer(events) == "The box is [1,2,3,4]"
    assert boxes(events) == [Box(text="[1,2,3,4]", coords=((1.0, 2.0, 3.0, 4.0),))]


def test_cut_off_inside_think_keeps_thinking_and_no_answer():
    events = parse("<think>Still pondering the")

    assert thinking(events) == "Still pondering the"
    assert answer(events) == ""
    assert not any(isinstance(e, Answer) for e in events)


def test_final_answer_box_is_unwrapped_into_answer_text():
    events = parse("<answer>The answer is <|begin_of_box|>42<|end_of_box|></answer>")

    assert answer(events) == "The answer is 42"
    assert "<|" not in answer(events)
    assert boxes(events) == [Box(text="42", coords=())]


def test_grounding_box_coords():
    events = parse("<answer><|begin_of_box|>[[100,200,300,400]]<|end_of_box|></answer>")

    assert boxes(events) == [
        Box(text="[[100,200,300,400]]", coords=((100.0, 200.0, 300.0, 400.0),))
    ]


def test_several_boxes_in_order():
    events = parse(
        "<answer>cat <|begin_of_box|>[[1,2,3,4]]<|end_of_box|> and dogs "
        "<|begin_of_box|>[[5,6,7,8],[9,10,11,12]]<|end_of_box|></answer>"
    )

    assert [b.coords for b in boxes(events)] == [
        ((1.0, 2.0, 3.0, 4.0),),
        ((5.0, 6.0, 7.0, 8.0), (9.0, 10.0, 11.0, 12.0)),
    ]


def test_angle_brackets_that_are_not_tags_pass_through():
    events = parse("<answer>a < b, and <div>x</div> is html<</answer>")

    assert answer(events) == "a < b, and <div>x</div> is html<"


def test_partial_tag_at_end_of_stream_is_text():
    events = parse("<answer>x <ans")

    assert answer(events) == "x <ans"


def test_text_after_answer_close_is_dropped():
    events = parse("<think>t</think><answer>kept</answer>\nignored <think>more</think>")

    assert thinking(events) == "t"
    assert answer(events) == "kept"


def test_leading_whitespace_of_thinking_and_answer_is_stripped():
    events = parse("<think>\n\n  ", "  idea\n</think>\n\n<answer>\n", "\n  result  </answer>")

    assert thinking(events) == "idea\n"
    assert answer(events) == "result  "


def test_in_thinking_only_inside_think():
    parser = StreamParser()
    assert not parser.in_thinking

    parser.feed("<think>hm")
    assert parser.in_thinking

    parser.feed("</think>")
    assert not parser.in_thinking

    parser.feed("<answer>x")
    assert not parser.in_thinking

    parser.feed("</answer>")
    parser.finish()
    assert not parser.in_thinking
