"""Options shared by the commands, each declared once, with its default in one place.

Typer has no option groups, so groups are dataclasses whose fields carry the Typer
declaration. A command names the groups it takes as parameters; `@shared_options` spreads
each group's fields into the command's signature (so Typer and `--help` see ordinary
options) and hands the command one dataclass per group. Adding a flag to every answering
command is one field here.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from glmv_cli import paths
from glmv_cli.config import cache_bytes
from glmv_cli.engine.request import DEFAULT_MAX_TOKENS, Request, Sampling
from glmv_cli.engine.settings import EngineSettings
from glmv_cli.inputs.image import (
    DEFAULT_MAX_IMAGE_TOKENS,
    MAX_IMAGE_TOKENS_LIMIT,
    MIN_BUDGET,
)
from glmv_cli.inputs.media import Media
from glmv_cli.inputs.worker import DEFAULT_PAGE_TIMEOUT_S
from glmv_cli.render.choose import Display

# Help panels, in the order `--help` shows them; a command may add its own (Video).
TASK = "Task"
DOCUMENT = "Document"
MODEL = "Model"
OUTPUT = "Output"
GENERATION = "Generation"
PERFORMANCE = "Performance"

_GLMV = Sampling()  # glmv's own sampling defaults, written once (engine/request.py)


class OptionGroup:
    """Base of the dataclasses whose fields `@shared_options` spreads into a command."""


@dataclasses.dataclass(frozen=True)
class ModelChoice(OptionGroup):
    """Which model answers."""

    model: Annotated[str | None, typer.Option(
        "--model", "-m", envvar="GLMV_MODEL", show_envvar=True, rich_help_panel=MODEL,
        help="A name from `glmv models`, e.g. glm-4.1v:q4_k_m, or 'tiny' (a self-test "
             "model: real architecture, random weights, nonsense answers).")] = None
    model_file: Annotated[Path | None, typer.Option(
        "--model-file", rich_help_panel=MODEL,
        help="A text GGUF to use instead of --model.")] = None
    mmproj: Annotated[Path | None, typer.Option(
        "--mmproj", rich_help_panel=MODEL,
        help="The vision projector GGUF for --model-file.")] = None
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", rich_help_panel=MODEL, show_default=False,
        help="Ask a remote OpenAI-compatible server instead (vLLM, SGLang, llama.cpp's "
             "server), e.g. http://gpu-box:8000/v1. Same preprocessing and output; it "
             "cannot stop the thinking mid-stream (--think-budget) nor sample under a "
             "grammar (act, ground --strict); --schema becomes its structured-output "
             "request.")] = None
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="GLMV_API_KEY", show_envvar=True, rich_help_panel=MODEL,
        show_default=False, help="Bearer key for --endpoint.")] = None
    model_name: Annotated[str | None, typer.Option(
        "--model-name", rich_help_panel=MODEL, show_default=False,
        help="The model's name on the --endpoint server \\[default: the first it lists].")
    ] = None


@dataclasses.dataclass(frozen=True)
class OutputOptions(OptionGroup):
    """How the answer is shown."""

    json: Annotated[bool, typer.Option(
        "--json", rich_help_panel=OUTPUT,
        help="Print one JSON object (answer, thinking, boxes, inputs, usage, timings).")
    ] = False
    hide_thinking: Annotated[bool, typer.Option(
        "--hide-thinking", rich_help_panel=OUTPUT,
        help="On a terminal, collapse the thinking into a one-line summary.")] = False
    show_thinking: Annotated[bool, typer.Option(
        "--show-thinking", rich_help_panel=OUTPUT,
        help="When piped, send the thinking to stderr (stdout keeps the answer only).")
    ] = False
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", rich_help_panel=OUTPUT,
        help="Show llama.cpp's own log lines.")] = False

    @property
    def display(self) -> Display:
        return Display(json=self.json, hide_thinking=self.hide_thinking,
                       show_thinking=self.show_thinking)


@dataclasses.dataclass(frozen=True)
class GenerationOptions(OptionGroup):
    """How the answer is generated. Sampling flags left unset take the model's
    recommended settings from the registry, else glmv's (engine/request.py)."""

    max_tokens: Annotated[int, typer.Option(
        "--max-tokens", min=1, rich_help_panel=GENERATION,
        help="Most tokens to generate, thinking included.")] = DEFAULT_MAX_TOKENS
    think_budget: Annotated[int | None, typer.Option(
        "--think-budget", min=0, rich_help_panel=GENERATION, show_default=False,
        help="After this many thinking tokens, close the thinking and make the model "
             "answer.")] = None
    no_think: Annotated[bool, typer.Option(
        "--no-think", rich_help_panel=GENERATION,
        help="Skip thinking: answer at once.")] = False
    system: Annotated[str | None, typer.Option(
        "--system", rich_help_panel=GENERATION, show_default=False,
        help="A system prompt.")] = None
    temperature: Annotated[float | None, typer.Option(
        "--temperature", "-t", min=0.0, rich_help_panel=GENERATION, show_default=False,
        help=f"0 decodes greedily, like the reference scripts; try 0.8 for varied answers "
             f"\\[default: the model's, else {_GLMV.temperature:g}].")] = None
    top_k: Annotated[int | None, typer.Option(
        "--top-k", min=0, rich_help_panel=GENERATION, show_default=False,
        help=f"Sample from the k likeliest tokens (when temperature > 0; 0 = no limit) "
             f"\\[default: the model's, else {_GLMV.top_k}].")] = None
    top_p: Annotated[float | None, typer.Option(
        "--top-p", min=0.0, max=1.0, rich_help_panel=GENERATION, show_default=False,
        help=f"Nucleus sampling threshold (when temperature > 0) "
             f"\\[default: the model's, else {_GLMV.top_p:g}].")] = None
    repeat_penalty: Annotated[float | None, typer.Option(
        "--repeat-penalty", min=0.0, rich_help_panel=GENERATION, show_default=False,
        help=f"Penalty on repeating recent tokens (1.0 = off); guards against loops "
             f"\\[default: the model's, else {_GLMV.repeat_penalty:g}].")] = None
    seed: Annotated[int | None, typer.Option(
        "--seed", min=0, rich_help_panel=GENERATION, show_default=False,
        help="Random seed, for repeatable sampling.")] = None

    def sampling(self, recommended: dict[str, float] | None = None) -> Sampling:
        """Flags (and config.toml, which fills them) over the model's recommended
        settings over glmv's defaults."""
        flags = {f.name: getattr(self, f.name) for f in dataclasses.fields(Sampling)}
        return _GLMV.with_overrides(recommended or {}).with_overrides(flags)

    def request(self, question: str, media: tuple[Media, ...] = (),
                recommended: dict[str, float] | None = None, **task: Any) -> Request:
        """A request for `question` about `media` with these settings; `task` sets the
        fields a task chooses itself (grammar, answer_reserve, ...)."""
        return Request(question=question, media=media, system=self.system,
                       sampling=self.sampling(recommended), max_tokens=self.max_tokens,
                       think_budget=self.think_budget, think=not self.no_think, **task)


@dataclasses.dataclass(frozen=True)
class EngineOptions(OptionGroup):
    """How the engine runs."""

    max_image_tokens: Annotated[int, typer.Option(
        "--max-image-tokens", min=MIN_BUDGET, max=MAX_IMAGE_TOKENS_LIMIT,
        rich_help_panel=PERFORMANCE,
        help="Token budget per image (one token = 28x28 pixels). The main speed lever on a "
             "CPU: 1024 tokens is about 1 MP; raise it (e.g. 4096) for small text and "
             "precise boxes.")] = DEFAULT_MAX_IMAGE_TOKENS
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, rich_help_panel=PERFORMANCE, show_default=False,
        help="CPU threads \\[default: physical cores].")] = None
    gpu_layers: Annotated[int | None, typer.Option(
        "--gpu-layers", min=-1, rich_help_panel=PERFORMANCE, show_default=False,
        help="Layers to offload to the GPU (-1 all, 0 none) \\[default: all when llama.cpp "
             "was built with a GPU backend].")] = None
    context: Annotated[int | None, typer.Option(
        "--context", min=64, rich_help_panel=PERFORMANCE, show_default=False,
        help="Cap on the context window \\[default: the model's, 64K]; glmv sizes the "
             "context to the prompt plus --max-tokens within it.")] = None
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", rich_help_panel=PERFORMANCE,
        help="Neither read nor save the prefix cache (the model state after the images, "
             "which makes a second question about them start in seconds; see `glmv "
             "cache`).")] = False

    def settings(self, verbose: bool = False, max_image_tokens: int | None = None
                 ) -> EngineSettings:
        """Engine settings; `max_image_tokens` overrides the per-image budget (a video's
        frames are sized by their own plan)."""
        return EngineSettings(threads=self.threads, gpu_layers=self.gpu_layers,
                              context_limit=self.context,
                              max_image_tokens=max_image_tokens or self.max_image_tokens,
                              verbose=verbose,
                              cache_dir=None if self.no_cache else paths.cache_dir(),
                              cache_bytes=cache_bytes())


@dataclasses.dataclass(frozen=True)
class AnswerOptions(OptionGroup):
    """Everything an answering command takes besides its inputs: the same flags, read the
    same way, in ask, pdf, video, ground, act and code."""

    model: ModelChoice = ModelChoice()
    output: OutputOptions = OutputOptions()
    generation: GenerationOptions = GenerationOptions()
    engine: EngineOptions = EngineOptions()


@dataclasses.dataclass(frozen=True)
class PdfSource(OptionGroup):
    """Which pages of a PDF, and how to open it (pdf, ground)."""

    pages: Annotated[str | None, typer.Option(
        "--pages", "-p", rich_help_panel=DOCUMENT, show_default=False,
        help="PDF pages, counted from 1: 4-6, 1,3,5, 9- (to the end) \\[default: all].")
    ] = None
    password: Annotated[str | None, typer.Option(
        "--password", rich_help_panel=DOCUMENT, envvar="GLMV_PDF_PASSWORD",
        show_default=False,
        help="Password of an encrypted PDF.")] = None
    page_timeout: Annotated[float, typer.Option(
        "--page-timeout", min=0.1, rich_help_panel=DOCUMENT, metavar="SECONDS",
        help="Most seconds to read or render one PDF page; a page that takes longer (or "
             "needs too much memory) is skipped with a warning, its text layer used where "
             "it has one.")] = DEFAULT_PAGE_TIMEOUT_S


@dataclasses.dataclass(frozen=True)
class SchemaOption(OptionGroup):
    """A structured answer (ask, batch)."""

    schema: Annotated[str | None, typer.Option(
        "--schema", rich_help_panel=OUTPUT, show_default=False,
        help="Make the answer a JSON value that follows this schema: a JSON Schema "
             "(inline or @file.json) or a short form like '{\"total\": \"number\", "
             "\"date\": \"string\"}'. The model thinks freely, then answers under a "
             "grammar (a remote server: its structured output); the answer is validated "
             "(exit 8 if it does not follow) and lands in --json as `structured`.")] = None


# -- the decorator -----------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def shared_options(*, exclude: frozenset[str] = frozenset()) -> Callable[[F], F]:
    """Spread the `OptionGroup` parameters of a command into its options.

    `exclude` names leaf fields a command does not offer (they keep their defaults).
    """

    def decorate(fn: F) -> F:
        hints = typing.get_type_hints(fn, include_extras=True)
        sig = inspect.signature(fn)
        params: list[inspect.Parameter] = []
        groups: dict[str, type] = {}
        for name, param in sig.parameters.items():
            kind = hints.get(name)
            if isinstance(kind, type) and issubclass(kind, OptionGroup):
                groups[name] = kind
                params += _leaves(kind, exclude)
            else:
                params.append(param.replace(annotation=kind))
        names = [p.name for p in params]
        duplicated = {n for n in names if names.count(n) > 1}
        if duplicated:
            raise TypeError(f"{fn.__name__}: option names used twice: {duplicated}")

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            for name, kind in groups.items():
                kwargs[name] = _build(kind, kwargs)
            return fn(**kwargs)

        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # Typer must read the new signature, not the original's
        return command  # type: ignore[return-value]

    return decorate


def _leaves(kind: type, exclude: frozenset[str]) -> list[inspect.Parameter]:
    hints = typing.get_type_hints(kind, include_extras=True)
    out: list[inspect.Parameter] = []
    for f in dataclasses.fields(kind):
        hint = hints[f.name]
        if isinstance(hint, type) and issubclass(hint, OptionGroup):
            out += _leaves(hint, exclude)
        elif f.name not in exclude:
            out.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                         default=f.default, annotation=hint))
    return out


def _build(kind: type, kwargs: dict[str, Any]) -> Any:
    """The group `kind`, from (and consuming) its leaf values in `kwargs`."""
    hints = typing.get_type_hints(kind, include_extras=True)
    values = {}
    for f in dataclasses.fields(kind):
        hint = hints[f.name]
        if isinstance(hint, type) and issubclass(hint, OptionGroup):
            values[f.name] = _build(hint, kwargs)
        elif f.name in kwargs:
            values[f.name] = kwargs.pop(f.name)
    return kind(**values)
