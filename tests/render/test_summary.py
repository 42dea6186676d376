"""The stats line and truncation warning shared by the renderers."""

from __future__ import annotations

from glmv_cli.engine.events import CacheUse, Done, Timings, Usage
from glmv_cli.render.summary import stats_line, truncation_warning
from tests.render.fakes import done, timings, usage


def test_stats_line_reports_tokens_phases_and_rate():
    assert stats_line(done()) == (
        "256 image + 10 text tokens in · load 1.5s · encode 0.5s · prefill 0.2s"
        " · 30 tokens out at 15.0/s"
    )


def test_stats_line_omits_load_and_encode_when_not_spent():
    # Model already loaded, text-only question; no time measured for generation.
    line = stats_line(Done("stop", Usage(prompt_text_tokens=7, generated_tokens=3),
                           Timings(prefill_s=0.1)))

    assert line == "0 image + 7 text tokens in · prefill 0.1s · 3 tokens out at 0.0/s"


def test_truncation_warning_only_when_cut_off_by_length():
    warning = truncation_warning(done("length"))

    assert warning is not None
    assert "cut off" in warning
    assert "--max-tokens" in warning
    assert truncation_warning(done("stop")) is None
    assert truncation_warning(done("interrupted")) is None


def test_stats_line_says_what_the_cache_saved():
    hit = Done("stop", usage(), Timings(prefill_s=0.1, generate_s=2.0),
               cache=CacheUse(prefix="hit", saved_s=95.24))
    assert stats_line(hit) == ("256 image + 10 text tokens in · cached prefix (saved 95.2s)"
                               " · prefill 0.1s · 30 tokens out at 15.0/s")
    kept = Done("stop", usage(), Timings(generate_s=2.0),
                cache=CacheUse(prefix="memory", saved_s=3.0))
    assert "prefix kept from the last question (saved 3.0s)" in stats_line(kept)
    images = Done("stop", usage(), timings(), cache=CacheUse(prefix="miss", images_hit=2,
                                                             images_encoded=1))
    assert "encode 0.5s (2 cached)" in stats_line(images)
