"""Options shared by the answering commands: declared once, the same everywhere, and the
sampling defaults layered flag > config.toml > the model's recommendation > glmv's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.main

from glmv_cli.app import app
from glmv_cli.commands.options import (
    AnswerOptions,
    EngineOptions,
    GenerationOptions,
    ModelChoice,
    OutputOptions,
    _leaves,
)
from tests.conftest import TINY_MMPROJ, TINY_MODEL

ANSWERING = ("ask", "pdf", "video", "ground", "act", "code")
GROUPS = (ModelChoice, OutputOptions, GenerationOptions, EngineOptions)


def _command(name: str):
    """The command `glmv NAME` runs (the root app lists its commands without loading them)."""
    group = typer.main.get_command(app)
    with group.make_context("glmv", [name]) as ctx:
        return group.resolve_command(ctx, [name])[1]


def _options(name: str) -> dict[str, object]:
    return {p.name: p for p in _command(name).params if p.param_type_name == "option"}


@pytest.mark.parametrize("name", ANSWERING)
def test_every_answering_command_takes_every_shared_option(name):
    shared = {p.name for group in GROUPS for p in _leaves(group, frozenset())}
    missing = shared - set(_options(name))
    # video sizes its frames with its own budget, not --max-image-tokens
    assert missing == ({"max_image_tokens"} if name == "video" else set())


@pytest.mark.parametrize("name", ANSWERING)
def test_a_shared_option_reads_the_same_in_every_command(name):
    ask = _options("ask")
    for key, param in _options(name).items():
        if key in ask:
            assert param.opts == ask[key].opts and param.help == ask[key].help, key


def test_short_flags_mean_one_thing_everywhere():
    meaning: dict[str, set[str]] = {}
    for name in typer.main.get_command(app).commands:
        for param in _command(name).params:
            for flag in (*param.opts, *param.secondary_opts):
                if flag.startswith("-") and not flag.startswith("--"):
                    meaning.setdefault(flag, set()).add(param.name)
    assert {flag: names for flag, names in meaning.items() if len(names) > 1} == {}
    assert meaning["-p"] == {"pages"}


def test_pages_and_password_are_one_option_in_pdf_and_ground():
    pdf, ground = _options("pdf"), _options("ground")
    for key in ("pages", "password"):
        assert pdf[key].opts == ground[key].opts and pdf[key].help == ground[key].help
        assert pdf[key].envvar == ground[key].envvar
    assert pdf["password"].envvar == "GLMV_PDF_PASSWORD"


def test_no_input_option_is_listed_under_output():
    inputs = {"pages", "password", "platform", "history", "apps", "url", "elements",
              "framework", "instructions", "vision", "dpi", "fps", "start", "end"}
    for name in ANSWERING:
        for key, param in _options(name).items():
            if key in inputs:
                assert param.rich_help_panel != "Output", (name, key)


def test_defaults_are_written_once():
    # The groups' defaults are what an unconfigured command gets.
    opts = AnswerOptions()
    sampling = opts.generation.sampling()
    assert (sampling.temperature, sampling.top_k, sampling.top_p,
            sampling.repeat_penalty) == (0.0, 2, 0.6, 1.1)
    assert opts.generation.max_tokens == 8192 and opts.engine.max_image_tokens == 1024


# -- recommended sampling, through the real CLI ---------------------------------------


@pytest.fixture
def home(tmp_path) -> dict[str, str]:
    """A config dir whose registry has the tiny model with recommended sampling."""
    (tmp_path / "models.toml").write_text(f"""
[models."rec"]
family = "tiny"
quant = "F16"
file = "{TINY_MODEL}"
mmproj = "{TINY_MMPROJ}"
sampling = {{ temperature = 0.8, top_k = 5, top_p = 0.9, repeat_penalty = 1.05 }}
""")
    return {"GLMV_HOME": str(tmp_path)}


def _settings(glmv, image: Path, env: dict[str, str], *flags: str) -> dict:
    r = glmv("ask", str(image), "q", "--model", "rec", "--max-tokens", "2", "--json",
             "--seed", "3", *flags, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["settings"]


def test_the_models_recommended_sampling_is_the_default(glmv, image, home):
    s = _settings(glmv, image, home)
    assert (s["temperature"], s["top_k"], s["top_p"], s["repeat_penalty"]) == (
        0.8, 5, 0.9, 1.05)


def test_a_flag_beats_the_recommendation(glmv, image, home):
    s = _settings(glmv, image, home, "--temperature", "0.2", "--top-k", "7")
    assert (s["temperature"], s["top_k"], s["top_p"]) == (0.2, 7, 0.9)


def test_config_beats_the_recommendation_and_a_flag_beats_config(glmv, image, home):
    Path(home["GLMV_HOME"], "config.toml").write_text("temperature = 0.3\ntop_p = 0.5\n")
    s = _settings(glmv, image, home)
    assert (s["temperature"], s["top_p"], s["top_k"]) == (0.3, 0.5, 5)
    s = _settings(glmv, image, home, "--temperature", "0")
    assert s["temperature"] == 0.0


def test_a_model_without_recommendations_gets_glmvs_defaults(glmv, image):
    r = glmv("ask", str(image), "q", "--max-tokens", "2", "--json")
    s = json.loads(r.stdout)["settings"]
    assert (s["temperature"], s["top_k"], s["top_p"], s["repeat_penalty"]) == (
        0.0, 2, 0.6, 1.1)
