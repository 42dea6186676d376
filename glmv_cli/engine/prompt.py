"""GLM-4.1V's chat format, split at the point after which only the question differs.

Rendered, the reference template gives
    [gMASK]<sop><|system|>\\nSYS<|user|>\\n<image>QUESTION<|assistant|>\\n
with no separators between turns. Through mtmd the prompt carries only a media marker per
image; mtmd adds `<|begin_of_image|>`, the image embeddings and `<|end_of_image|>` itself.
"""

from __future__ import annotations

# Control tokens whose text the output parser relies on; all other control tokens are
# dropped from the generated text.
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
BOX_OPEN, BOX_CLOSE = "<|begin_of_box|>", "<|end_of_box|>"
MEANINGFUL_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE, BOX_OPEN, BOX_CLOSE)

# The model ends its turn with any of these.
END_OF_TURN = ("<|user|>", "<|endoftext|>", "<|observation|>")

ASSISTANT = "<|assistant|>\n"
# Forced continuations: close thinking and open the answer (reference bench script).
FORCE_ANSWER = THINK_CLOSE + ANSWER_OPEN
NO_THINK = THINK_OPEN + THINK_CLOSE + ANSWER_OPEN


def prompt_prefix(system: str | None, n_images: int, marker: str) -> str:
    """Everything before the question: depends only on the system prompt and the media."""
    head = "[gMASK]<sop>"
    if system:
        head += "<|system|>\n" + system
    return head + "<|user|>\n" + marker * n_images
