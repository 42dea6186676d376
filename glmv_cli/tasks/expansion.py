"""Search terms from the model, for questions that share no word with the page they are
about ("French rooftop panels" for a page on "solar installation on the Lyon roof").

A short generation without thinking, asked through the Engine interface only when the
model is loaded anyway: on a 2-core CPU the prompt is about 10 s to read and the terms
about as long to write, against minutes for each page read in vain.
"""

from __future__ import annotations

import re
from dataclasses import replace

from glmv_cli.engine.base import Engine
from glmv_cli.engine.events import Answer, Done
from glmv_cli.engine.request import Request
from glmv_cli.errors import Interrupted

EXPAND = (
    "Write search keywords for finding the pages of a document that answer the question "
    "below: its key terms, their synonyms, the specific names they may stand for, and "
    "their translation into English and into Chinese. Reply with the keywords only, "
    "separated by commas.\n\nQuestion: {question}")
MAX_TOKENS = 48  # about a dozen terms
MAX_TERMS = 24
MAX_TERM_CHARS = 40

_SPLIT = re.compile(r"[,;，；、\n]|\s+-\s+|^\s*[-*•\d.]+\s+", re.MULTILINE)


def expansion_request(question: str, template: Request) -> Request:
    """The request for search terms: `template`'s sampling, greedy, no thinking, no media."""
    return replace(template, question=EXPAND.format(question=question), media=(), system=None,
                   think=False, think_budget=None, max_tokens=MAX_TOKENS, grammar=None,
                   answer_reserve=0, sampling=replace(template.sampling, temperature=0.0))


def expand_query(engine: Engine, question: str, template: Request) -> tuple[str, ...]:
    """Search terms the model suggests for `question` (none if it suggests nothing)."""
    text = []
    for event in engine.generate(expansion_request(question, template)):
        if isinstance(event, Answer):
            text.append(event.text)
        elif isinstance(event, Done) and event.finish_reason == "interrupted":
            raise Interrupted()
    return parse_terms("".join(text))


def parse_terms(text: str) -> tuple[str, ...]:
    """Comma- or line-separated terms, trimmed and without repeats; a list's bullets and
    numbers dropped, and anything too long to be a search term."""
    terms: dict[str, None] = {}
    for item in _SPLIT.split(text):
        term = item.strip().strip("\"'“”‘’.*:()[]").strip()
        if term and len(term) <= MAX_TERM_CHARS and term.lower() not in terms:
            terms[term.lower()] = None
    return tuple(terms)[:MAX_TERMS]
