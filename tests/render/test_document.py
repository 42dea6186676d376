"""Document renderers, fed event sequences by hand (the real engine runs them in
tests/commands/test_pdf.py): what reaches stdout, stderr and a terminal."""

from __future__ import annotations

import io
import json

from rich.console import Console

from glmv_cli.engine.events import Answer, Done, Thinking, Timings, Usage
from glmv_cli.engine.transcript import Transcript
from glmv_cli.render.document import (
    AnswerRenderer,
    DocumentJsonRenderer,
    TranscribePlainRenderer,
    TranscribeTerminalRenderer,
    step_label,
)
from glmv_cli.render.document_json import DocumentInfo
from glmv_cli.render.plain import PlainRenderer
from glmv_cli.render.terminal import TerminalRenderer
from glmv_cli.tasks.documents import DocumentPage, DocumentTranscript, StepEnd, StepStart

INFO = DocumentInfo("r.pdf", 9, tuple(
    DocumentPage(n, "text", "text layer", f"text {n}", None, 0.01, tokens=100)
    for n in (1, 2, 3)), prepare_s=0.03, load_s=0.1)


def step(start: StepStart, *texts: str, thinking: str = "") -> list:
    """A step's events: start, thinking, answer pieces, Done, end."""
    events: list = [start]
    if thinking:
        events.append(Thinking(thinking))
    events += [Answer(t) for t in texts]
    done = Done("stop", Usage(prompt_text_tokens=100, generated_tokens=5), Timings(prefill_s=1))
    events.append(done)
    tr = Transcript()
    for e in events[1:]:
        tr.add(e)
    events.append(StepEnd(start, tr))
    return events


def feed(renderer, events) -> DocumentTranscript:
    result = DocumentTranscript(strategy="map-reduce")
    for e in events:
        result.add(e)
        renderer.event(e)
    renderer.close(result)
    return result


MAP_REDUCE = [
    *step(StepStart(1, 3, "map", (1, 2), False, 200), "map notes one (p. 1)"),
    *step(StepStart(2, 3, "map", (3,), False, 100), "map notes two"),
    *step(StepStart(3, 3, "reduce", (1, 2, 3), True, 50), "The margin ", "peaked (p. 2).",
          thinking="hmm"),
]


def test_plain_answer_is_the_final_step_only():
    out, err = io.StringIO(), io.StringIO()
    r = AnswerRenderer(lambda: PlainRenderer(out, err, False, None), None, INFO)
    feed(r, MAP_REDUCE)
    assert out.getvalue() == "The margin peaked (p. 2).\n"
    assert err.getvalue() == ""


def test_terminal_answer_shows_final_markdown_and_summary():
    buf = io.StringIO()
    console = Console(file=buf, width=100, force_terminal=False, color_system=None)
    r = AnswerRenderer(lambda: TerminalRenderer(console, hide_thinking=False), console, INFO,
                       summary_console=console)
    feed(r, MAP_REDUCE)
    text = buf.getvalue()
    assert "The margin peaked (p. 2)." in text and "map notes" not in text
    assert "3 of 9 pages: 3 as text, 0 as images · 3 steps" in text


def test_json_object_for_map_reduce():
    out = io.StringIO()
    feed(DocumentJsonRenderer(out, "tiny", INFO, None), MAP_REDUCE)
    obj = json.loads(out.getvalue())
    assert obj["answer"] == "The margin peaked (p. 2)." and obj["thinking"] == "hmm"
    assert obj["citations"] == [2] and obj["strategy"] == "map-reduce"
    assert [s["kind"] for s in obj["steps"]] == ["map", "map", "reduce"]
    assert obj["steps"][0]["citations"] == [1]
    assert obj["usage"]["generated_tokens"] == 15 and obj["timings"]["prefill_s"] == 3
    assert obj["pages_as_text"] == [1, 2, 3] and obj["pages_as_images"] == []


TRANSCRIBE = [
    *step(StepStart(1, 2, "text-layer", (1,), True, 0), "Heading\n\nBody text"),
    *step(StepStart(2, 2, "transcribe", (2,), True, 100), "\n| a | b |\n", "|---|---|\n\n"),
]


def test_transcribe_plain_pages_and_separators():
    out, err = io.StringIO(), io.StringIO()
    feed(TranscribePlainRenderer(out, err, False, None, INFO), TRANSCRIBE)
    assert out.getvalue() == ("<!-- page 1 (text layer) -->\n\nHeading\n\nBody text\n"
                              "\n---\n\n<!-- page 2 (image) -->\n\n| a | b |\n|---|---|\n")


def test_transcribe_terminal_prints_each_page():
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=False, color_system=None)
    feed(TranscribeTerminalRenderer(console, INFO), TRANSCRIBE)
    text = buf.getvalue()
    assert text.index("page 1 (text layer)") < text.index("Body text") < text.index(
        "page 2 (image)")


def test_step_labels():
    assert step_label(StepStart(1, 2, "map", (4, 5, 6), False, 1)) == "Reading pages 4-6"
    assert step_label(StepStart(1, 2, "transcribe", (3,), True, 1)) == "Transcribing page 3"
    many = step_label(StepStart(1, 2, "map", tuple(range(1, 40, 2)), False, 1))
    assert many.startswith("Reading pages 1, 3, 5") and many.endswith("…")
