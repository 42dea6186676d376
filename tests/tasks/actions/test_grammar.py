"""The action grammars on the real engine: the tiny model (random weights) gives a valid
action every time, for each platform, greedy and sampled, thinking or not."""

from __future__ import annotations

import pytest

from glmv_cli.engine.llama import LlamaEngine
from glmv_cli.engine.request import Request, Sampling
from glmv_cli.engine.settings import EngineSettings
from glmv_cli.engine.transcript import Transcript
from glmv_cli.inputs.image import prepare_image
from glmv_cli.inputs.source import Source
from glmv_cli.tasks.actions import PLATFORMS
from glmv_cli.tasks.actions.grammar import ANSWER_RESERVE, action_grammar
from glmv_cli.tasks.actions.parse import parse_action
from tests.conftest import TINY, make_image

SAMPLINGS = [Sampling(), Sampling(temperature=0.8, seed=1), Sampling(temperature=1.5, seed=7),
             Sampling(temperature=1.0, top_k=0, top_p=1.0, seed=42)]


def run(engine, request: Request) -> Transcript:
    t = Transcript()
    for event in engine.generate(request):
        t.add(event)
    return t


@pytest.fixture(scope="module")
def engine():
    """An engine of our own: long grammar answers size its context beyond what other
    tests of the shared engine expect."""
    eng = LlamaEngine(TINY, EngineSettings(threads=2))
    eng.load()
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def screen(tmp_path_factory):
    path = make_image(tmp_path_factory.mktemp("s") / "screen.png", (280, 560))
    return prepare_image(Source(path.name, path.read_bytes()), 256)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("sampling", SAMPLINGS, ids=lambda s: f"t{s.temperature}-s{s.seed}")
def test_every_answer_is_a_valid_action(engine, screen, platform, sampling):
    t = run(engine, Request("Open the settings", media=(screen,), sampling=sampling,
                            think_budget=8, grammar=action_grammar(platform),
                            answer_reserve=ANSWER_RESERVE[platform]))
    assert t.done.finish_reason == "stop"
    # The whole answer reached the text: it ends where the grammar ends (a `</answer>`
    # matched as text inside it would have hidden the rest).
    assert t.answer.rstrip()[-1] in "}]"
    action = parse_action(t.answer, platform, screen.original_size)
    assert action.type and action.call
    for xy in filter(None, (action.point, action.end_point)):
        assert 0 <= xy[0] <= screen.original_size[0] and 0 <= xy[1] <= screen.original_size[1]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_thinking_that_never_closes_is_cut_to_leave_room_for_the_action(engine, screen, platform):
    # No --think-budget: the tiny model would think forever; the reserve closes it.
    reserve = ANSWER_RESERVE[platform]
    t = run(engine, Request("q", media=(screen,), max_tokens=reserve + 40,
                            grammar=action_grammar(platform), answer_reserve=reserve))
    assert t.done.finish_reason == "stop"
    assert t.done.usage.thinking_tokens == 40
    parse_action(t.answer, platform, screen.original_size)


def test_no_think_goes_straight_to_the_grammar(engine, screen):
    t = run(engine, Request("q", media=(screen,), think=False, grammar=action_grammar("desktop"),
                            answer_reserve=ANSWER_RESERVE["desktop"]))
    assert t.thinking == "" and t.done.usage.thinking_tokens == 0
    assert parse_action(t.answer, "desktop", screen.original_size).type


def test_grammar_is_free_of_control_tokens_but_for_box_tags(engine, screen):
    t = run(engine, Request("q", media=(screen,), think_budget=4,
                            grammar=action_grammar("mobile"), answer_reserve=2500))
    for tag in ("<|user|>", "<|assistant|>", "<think>", "<answer>"):
        assert tag not in t.answer
    assert t.answer.startswith("Memory: ")
