"""GLM-4.1V's chat format, split at the point after which only the question differs.

Rendered, the reference template gives
    [gMASK]<sop><|system|>\\nSYS<|user|>\\n<image>QUESTION<|assistant|>\\n
with no separators between turns. Each image goes through mtmd on its own, which adds
`<|begin_of_image|>`, the image embeddings and `<|end_of_image|>`; text between media
(timestamps, page text) is tokenized by llama.cpp.
"""

from __future__ import annotations

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
# Forced continuations: close thinking and open the answer (reference bench script).
FORCE_ANSWER = THINK_CLOSE + ANSWER_OPEN
NO_THINK = THINK_OPEN + THINK_CLOSE + ANSWER_OPEN


def prompt_head(system: str | None) -> list[tuple[str, bool]]:
    """The turn opening before the media, as (text, parse control tokens) pieces.

    The system prompt is user text: its control tokens are not parsed.
    """
    pieces = [("[gMASK]<sop>", True)]
    if system:
        pieces += [("<|system|>", True), ("\n" + system, False)]
    return [*pieces, ("<|user|>", True), ("\n", False)]
