"""Option types shared by the commands, declared once so a flag reads the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glmv_cli.engine.request import DEFAULT_MAX_TOKENS
from glmv_cli.inputs.image import DEFAULT_MAX_IMAGE_TOKENS, MAX_IMAGE_TOKENS_LIMIT

MODEL = "Model"
OUTPUT = "Output"
GENERATION = "Generation"
PERFORMANCE = "Performance"

ModelName = Annotated[str | None, typer.Option(
    "--model", "-m", envvar="GLMV_MODEL", show_envvar=True, rich_help_panel=MODEL,
    help="A name from models.toml, e.g. glm-4.1v-9b-thinking:q4_k_m, or 'tiny' (a self-test "
         "model: real architecture, random weights, nonsense answers).")]
ModelFile = Annotated[Path | None, typer.Option(
    "--model-file", rich_help_panel=MODEL, help="A text GGUF to use instead of --model.")]
Mmproj = Annotated[Path | None, typer.Option(
    "--mmproj", rich_help_panel=MODEL, help="The vision projector GGUF for --model-file.")]

Json = Annotated[bool, typer.Option(
    "--json", rich_help_panel=OUTPUT,
    help="Print one JSON object (answer, thinking, boxes, inputs, usage, timings).")]
HideThinking = Annotated[bool, typer.Option(
    "--hide-thinking", rich_help_panel=OUTPUT,
    help="On a terminal, collapse the thinking into a one-line summary.")]
ShowThinking = Annotated[bool, typer.Option(
    "--show-thinking", rich_help_panel=OUTPUT,
    help="When piped, send the thinking to stderr (stdout keeps the answer only).")]
Verbose = Annotated[bool, typer.Option(
    "--verbose", "-v", rich_help_panel=OUTPUT, help="Show llama.cpp's own log lines.")]

MaxTokens = Annotated[int, typer.Option(
    "--max-tokens", min=1, rich_help_panel=GENERATION,
    help="Most tokens to generate, thinking included.")]
ThinkBudget = Annotated[int | None, typer.Option(
    "--think-budget", min=0, rich_help_panel=GENERATION,
    help="After this many thinking tokens, close the thinking and make the model answer.")]
NoThink = Annotated[bool, typer.Option(
    "--no-think", rich_help_panel=GENERATION, help="Skip thinking: answer at once.")]
System = Annotated[str | None, typer.Option(
    "--system", rich_help_panel=GENERATION, help="A system prompt.")]
Temperature = Annotated[float, typer.Option(
    "--temperature", "-t", min=0.0, rich_help_panel=GENERATION,
    help="0 decodes greedily, like the reference scripts; try 0.8 for varied answers.")]
TopK = Annotated[int, typer.Option(
    "--top-k", min=0, rich_help_panel=GENERATION, help="Sample from the k likeliest tokens "
    "(when temperature > 0; 0 = no limit).")]
TopP = Annotated[float, typer.Option(
    "--top-p", min=0.0, max=1.0, rich_help_panel=GENERATION,
    help="Nucleus sampling threshold (when temperature > 0).")]
RepeatPenalty = Annotated[float, typer.Option(
    "--repeat-penalty", min=0.0, rich_help_panel=GENERATION,
    help="Penalty on repeating recent tokens (1.0 = off); guards against loops.")]
Seed = Annotated[int | None, typer.Option(
    "--seed", min=0, rich_help_panel=GENERATION, help="Random seed, for repeatable sampling.")]

MaxImageTokens = Annotated[int, typer.Option(
    "--max-image-tokens", min=16, max=MAX_IMAGE_TOKENS_LIMIT, rich_help_panel=PERFORMANCE,
    help="Token budget per image (one token = 28x28 pixels). The main speed lever on a CPU: "
         "1024 tokens is about 1 MP; raise it (e.g. 4096) for small text and precise boxes.")]
Threads = Annotated[int | None, typer.Option(
    "--threads", min=1, rich_help_panel=PERFORMANCE,
    help="CPU threads [default: physical cores].")]
GpuLayers = Annotated[int | None, typer.Option(
    "--gpu-layers", min=-1, rich_help_panel=PERFORMANCE,
    help="Layers to offload to the GPU (-1 all, 0 none) [default: all when llama.cpp was "
         "built with a GPU backend].")]
Context = Annotated[int | None, typer.Option(
    "--context", min=64, rich_help_panel=PERFORMANCE,
    help="Cap on the context window [default: the model's, 64K]; glmv sizes the context to "
         "the prompt plus --max-tokens within it.")]

DEFAULTS = {"max_tokens": DEFAULT_MAX_TOKENS, "max_image_tokens": DEFAULT_MAX_IMAGE_TOKENS}
