"""GLM-4.1V's chat format: the engine alone turns a request's media into it.

Rendered, the reference template gives
    [gMASK]<sop><|system|>\\nSYS<|user|>\\n<image>QUESTION<|assistant|>\\n
with no separators between turns. Each image goes through mtmd on its own, which adds
`<|begin_of_image|>`, the image embeddings and `<|end_of_image|>`. A video is laid out as
the reference processor does: `<|begin_of_video|>`, each frame followed by its integer
timestamp in seconds, `<|end_of_video|>`.

The prompt is split at the point after which only the question differs: `prefix` (system
prompt and media) does not depend on the question, so the state after it can be reused.
"""

from __future__ import annotations

from dataclasses import dataclass

from glmv_cli.engine.request import Turn
from glmv_cli.inputs.media import Media, PreparedImage, Text, Video
from glmv_cli.inputs.video import format_time

# Control tokens whose text the output parser relies on; all other control tokens are
# dropped from the generated text.
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
BOX_OPEN, BOX_CLOSE = "<|begin_of_box|>", "<|end_of_box|>"
MEANINGFUL_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE, BOX_OPEN, BOX_CLOSE)
# Control tokens an answer written under a grammar may contain (as `<|begin_of_box|>`
# token literals in the GBNF); every other control token is banned there.
GRAMMAR_TAGS = (ANSWER_CLOSE, BOX_OPEN, BOX_CLOSE)

# The model ends its turn with any of these.
END_OF_TURN = ("<|user|>", "<|endoftext|>", "<|observation|>")

ASSISTANT = "<|assistant|>\n"
USER = "<|user|>"
# Forced continuations: close thinking and open the answer (reference bench script).
FORCE_ANSWER = THINK_CLOSE + ANSWER_OPEN
NO_THINK = THINK_OPEN + THINK_CLOSE + ANSWER_OPEN

VIDEO_OPEN, VIDEO_CLOSE = "<|begin_of_video|>", "<|end_of_video|>"
# mtmd wraps every image in `<|begin_of_image|>` … `<|end_of_image|>`: two text tokens.
IMAGE_WRAP = 2


@dataclass(frozen=True)
class Piece:
    """Prompt text to tokenize. Control-token text in it is parsed only when `control` is
    set, which only glmv's own markup does: user and document text cannot forge a turn."""

    text: str
    control: bool = False


@dataclass(frozen=True)
class ImageSlot:
    """An image in the prompt, with what progress calls it ('image 2/3', 'frame 4/32 at
    0:12', 'page 5')."""

    image: PreparedImage
    what: str


Segment = Piece | ImageSlot


def head(system: str | None) -> list[Piece]:
    """The turn opening before the media. The system prompt is user text."""
    pieces = [Piece("[gMASK]<sop>", True)]
    if system:
        pieces += [Piece("<|system|>", True), Piece("\n" + system)]
    return [*pieces, Piece(USER, True), Piece("\n")]


def media_segments(media: tuple[Media, ...]) -> list[Segment]:
    """The media in prompt order: texts, images, videos in the reference's video layout."""
    n_images = sum(1 for m in media if isinstance(m, PreparedImage))
    segments: list[Segment] = []
    image_i = 0
    for item in media:
        if isinstance(item, Text):
            segments.append(Piece(item.text))
        elif isinstance(item, PreparedImage):
            image_i += 1
            what = (f"page {item.page}" if item.page is not None
                    else f"image {image_i}/{n_images}")
            segments.append(ImageSlot(item, what))
        elif isinstance(item, Video):
            segments.append(Piece(VIDEO_OPEN, True))
            n = len(item.frames)
            for i, frame in enumerate(item.frames, 1):
                segments.append(ImageSlot(frame.image,
                                          f"frame {i}/{n} at {format_time(frame.time)}"))
                segments.append(Piece(str(frame.timestamp)))
            segments.append(Piece(VIDEO_CLOSE, True))
    return segments


def prefix(system: str | None, media: tuple[Media, ...],
           history: tuple[Turn, ...] = ()) -> list[Segment]:
    """Everything before the question: the part of the prompt a cache can reuse.

    Earlier turns of a conversation come first, each as the reference's chat template
    keeps it: the user's media and question, then the assistant's answer without its
    thinking.
    """
    segments: list[Segment] = [*head(system)]
    for turn in history:
        segments += [*media_segments(turn.media), *question_pieces(turn.question),
                     Piece(turn.answer), Piece(USER, True), Piece("\n")]
    return [*segments, *media_segments(media)]


def question_pieces(question: str) -> list[Piece]:
    """The question and the assistant turn's opening (its text is the user's)."""
    return [Piece(question), Piece(ASSISTANT, True)]

