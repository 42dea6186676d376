"""`glmv chat`: a conversation about some media, one question at a time.

The conversation is kept as the reference chat template keeps one: each earlier turn is
its media, its question and the answer without the thinking. The engine sees the whole
conversation in every request and evaluates only what its state does not hold yet (the
new answer-only turn and the new question), so a follow-up starts in about the time the
question takes to read.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

from glmv_cli.engine.request import Request, Turn
from glmv_cli.errors import UsageError
from glmv_cli.inputs.media import Media, PreparedImage, Video, images_of
from glmv_cli.inputs.sniff import sniff_file

COMMANDS = {
    "/image PATH": "add an image, a PDF's pages or a video's frames to the conversation",
    "/clear": "forget the questions and answers so far (the images stay)",
    "/save FILE": "write the conversation to FILE as Markdown",
    "/think on|off": "let the model think before answering, or answer at once",
    "/help": "show these commands",
    "/exit": "leave (Ctrl-D does too)",
}
MAX_PDF_PAGES = 20  # pages of a PDF that /image adds; more would not fit most contexts


@dataclass(frozen=True)
class Command:
    """A line that starts with `/`: the command's name and its argument."""

    name: str
    arg: str


def parse_command(line: str) -> Command | None:
    """The command on `line`, None if it is a question. UsageError for an unknown one."""
    text = line.strip()
    if not text.startswith("/"):
        return None
    name, _, arg = text.partition(" ")
    arg = arg.strip()
    if name in ("/exit", "/quit"):
        return Command("exit", "")
    if name in ("/clear", "/help"):
        return Command(name[1:], "")
    if name in ("/image", "/save"):
        if not arg:
            raise UsageError(f"{name} needs a file: {name} PATH")
        parts = shlex.split(arg)
        return Command(name[1:], parts[0] if len(parts) == 1 else arg)
    if name == "/think":
        if arg not in ("on", "off"):
            raise UsageError("/think on, or /think off")
        return Command("think", arg)
    raise UsageError(f"unknown command {name} (/help lists them)")


def load_media(path: str, max_image_tokens: int, pages: str | None = None,
               password: str | None = None, page_timeout: float | None = None
               ) -> tuple[tuple[Media, ...], list[str]]:
    """An input for the conversation, and warnings: an image, a PDF's pages as images
    (`pages`, else the first MAX_PDF_PAGES), or a video's frames sampled as `glmv video`
    does."""
    # (The readers are imported here: `glmv --help` must not load MuPDF or OpenCV.)
    from glmv_cli.inputs.image import prepare_image
    from glmv_cli.inputs.source import read_source

    kind = sniff_file(path)
    if kind == "pdf":
        return _pdf_pages(Path(path), max_image_tokens, pages, password, page_timeout)
    if kind == "video":
        from glmv_cli.inputs.video_worker import VideoReader
        from glmv_cli.tasks.video import VideoOptions, read_video

        with VideoReader(path) as vf:
            clip, warning = read_video(vf, VideoOptions().plan(vf.info))
        return (clip,), [warning] if warning else []
    return (prepare_image(read_source(path, None), max_image_tokens),), []


def _pdf_pages(path: Path, max_image_tokens: int, spec: str | None, password: str | None,
               page_timeout: float | None) -> tuple[tuple[Media, ...], list[str]]:
    from glmv_cli.inputs.pdf import parse_pages
    from glmv_cli.inputs.pdf_worker import PdfReader, SkippedPage

    kw = {} if page_timeout is None else {"page_timeout": page_timeout}
    pages: list[Media] = []
    warnings = []
    with PdfReader.open(path, password, **kw) as pdf:
        indexes = parse_pages(spec, pdf.page_count, str(path))
        if len(indexes) > MAX_PDF_PAGES:
            warnings.append(f"{path}: read the first {MAX_PDF_PAGES} of {len(indexes)} "
                            "pages (choose others with --pages, or ask about all of them "
                            "with `glmv pdf`)")
            indexes = indexes[:MAX_PDF_PAGES]
        for index in indexes:
            page = pdf.render(index, max_image_tokens)
            if isinstance(page, SkippedPage):
                warnings.append(f"{path}: skipped page {page.number}: {page.reason}")
                continue
            pages.append(page.image)
    return tuple(pages), warnings


def describe(media: tuple[Media, ...]) -> str:
    """What joined the conversation, in a few words."""
    names = []
    for item in media:
        if isinstance(item, Video):
            names.append(f"{item.source} ({len(item.frames)} frames)")
        elif isinstance(item, PreparedImage):
            name = item.source if item.page is None else f"{item.source} p. {item.page}"
            names.append(name)
    return ", ".join(names)


@dataclass
class Exchange:
    """One question and what came back, for the transcript."""

    question: str
    answer: str
    thinking: str
    media: str  # what joined the conversation with this question


@dataclass
class Conversation:
    """The turns so far, the media waiting for the next question, and the settings every
    question is asked with (`template`)."""

    template: Request
    history: list[Turn] = field(default_factory=list)
    pending: list[Media] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)  # every input given, in order
    exchanges: list[Exchange] = field(default_factory=list)

    def add(self, media: tuple[Media, ...]) -> None:
        """Media that join with the next question."""
        self.pending += media
        self.media += media

    def request(self, question: str) -> Request:
        return replace(self.template, question=question, media=tuple(self.pending),
                       history=tuple(self.history))

    def answered(self, question: str, answer: str, thinking: str) -> None:
        """Record a finished turn: its media and question, and the answer alone."""
        self.exchanges.append(Exchange(question, answer, thinking,
                                       describe(tuple(self.pending))))
        self.history.append(Turn(question, answer, tuple(self.pending)))
        self.pending = []

    def clear(self) -> None:
        """Forget the turns; every input given so far comes with the next question."""
        self.history = []
        self.pending = list(self.media)
        self.exchanges.append(Exchange("/clear", "", "", ""))

    def set_think(self, on: bool) -> None:
        self.template = replace(self.template, think=on)

    @property
    def images(self) -> int:
        return len(images_of(tuple(self.media)))

    def markdown(self) -> str:
        """The conversation as Markdown, for /save."""
        lines = ["# glmv chat", ""]
        first = describe(tuple(self.media[:1])) if self.media else ""
        if first:
            lines += [f"Inputs: {describe(tuple(self.media))}", ""]
        for ex in self.exchanges:
            if ex.question == "/clear":
                lines += ["---", "", "*(conversation cleared)*", ""]
                continue
            if ex.media:
                lines += [f"*Added: {ex.media}*", ""]
            lines += [f"**You:** {ex.question}", ""]
            if ex.thinking:
                lines += ["<details><summary>Thinking</summary>", "", ex.thinking, "",
                          "</details>", ""]
            lines += [f"**GLM:** {ex.answer}", ""]
        return "\n".join(lines)
