"""Lexical page ranking: which pages of a document a question is most likely about, from
what is cheap to read (text layers, headings, captions, the outline), before anything
reaches the model.

BM25 from bm25s (sparse, numpy only, fast enough to index 500 pages in a fraction of a
second). Words are lower-cased and stemmed with the Snowball English stemmer (PyStemmer),
so "resolving" finds "resolved"; Chinese, written without spaces, is indexed as character
bigrams (a lone character as itself), the usual way to search it without a dictionary.
Headings, figure and table captions and the titles of the outline sections a page belongs
to count extra, and a page takes a share of its neighbours' scores, so that a table
continued on the next page comes along with its caption.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

import bm25s
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

# Extra copies of a heading's or caption's words (a cheap stand-in for BM25F's field
# weights): 3 copies in all, so a page titled "Solar installation" outranks one that
# mentions solar once in passing.
HEADING_EXTRA = 2
OUTLINE_EXTRA_FIRST = 2  # the outline title, on the page its section starts on
OUTLINE_EXTRA_REST = 1  # ... and on the section's other pages
# Share of a neighbour's score a page takes: most from the page before (a table or a
# paragraph continued onto this one), less from the page after (an introduction to it).
FROM_PREVIOUS = 0.4
FROM_NEXT = 0.2
# The model's search terms count as much as the question's own words: a question that
# shares no word with its page matches other pages instead, and only the model's terms
# can outweigh them. A term in both counts once.
EXPANSION_WEIGHT = 1.0

_CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK_CHARS}]+|[^\W_{_CJK_CHARS}]+")
# Line breaks inside Chinese text are layout, not word breaks.
_CJK_BREAK = re.compile(rf"(?<=[{_CJK_CHARS}])\s+(?=[{_CJK_CHARS}])")
# Questions are phrased with words that say nothing of what is asked about.
_QUESTION_WORDS = frozenset([
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "does", "do", "did",
    "done", "doing", "many", "much", "has", "have", "had", "having", "can", "could", "would",
    "should", "may", "might", "shall", "been", "being", "were", "am", "about", "from", "than",
    "any", "some", "all", "each", "every", "other", "its", "our", "your", "his", "her", "them",
    "those", "me", "tell", "please", "give", "show", "explain", "describe", "find", "according",
    "also", "there", "here", "what's", "whats",
])
STOPWORDS = frozenset(STOPWORDS_EN) | _QUESTION_WORDS
# Chinese: question words go, and function characters split a run (their bigrams with
# the characters around them match nothing useful).
_ZH_QUESTION = re.compile("什么|哪个|哪些|哪一|哪里|多少|怎么|怎样|如何|为什么|是否|请问|是不是")
_ZH_SPLIT = re.compile("[的了吗呢吧啊呀么和与及或]")
_CAPTION = re.compile(
    r"^\s*(?:fig(?:ure)?\.?|table|tab\.|chart|exhibit|graph|图|表)\s*"
    r"[\dIVXivx一二三四五六七八九十]+", re.IGNORECASE)
_NUMBERED = re.compile(
    r"^\s*(?:\d+(?:\.\d+)*\.?|[IVX]+\.|第.{1,4}[章节部分]|[一二三四五六七八九十]+、)\s*\S")


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokens(text: str, *, drop: frozenset[str] = STOPWORDS) -> list[str]:
    """Index terms of `text`: stemmed words (without stop words and one-letter words),
    numbers as written (thousands separators dropped), Chinese as character bigrams."""
    text = _CJK_BREAK.sub("", unicodedata.normalize("NFKC", text).lower())
    text = re.sub(r"(?<=\d)[,'](?=\d{3})", "", text)
    words: list[str] = []
    out: list[str] = []
    for run in _TOKEN.findall(text):
        if "\u3400" <= run[0] <= "\ufaff":
            out += _cjk_terms(run)
        elif run.isdigit() or (len(run) > 1 and run not in drop):
            words.append(run)
    return out + _stemmer().stemWords(words)


def _cjk_terms(run: str) -> list[str]:
    out: list[str] = []
    for piece in _ZH_SPLIT.split(_ZH_QUESTION.sub("的", run)):
        if len(piece) == 1:
            out.append(piece)
        out += [piece[i:i + 2] for i in range(len(piece) - 1)]
    return out


def fields_of(text: str) -> list[str]:
    """The lines of a page's text that say what it is about: headings (numbered, or short
    title-case lines without a full stop) and figure and table captions."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or len(line) > 90:
            continue
        if _CAPTION.match(line) or _is_heading(line):
            found.append(line)
    return found


def _is_heading(line: str) -> bool:
    if line[-1] in ".,;:!?。，；：！？" or not any(c.isalpha() for c in line):
        return False
    if _NUMBERED.match(line):
        return True
    words = [w for w in re.findall(r"[^\W\d_]+", line) if len(w) > 3]
    if not 1 <= len(words) <= 10 or any("\u3400" <= c <= "\ufaff" for c in line):
        return False
    return sum(w[0].isupper() for w in words) >= 0.6 * len(words)


@dataclass(frozen=True)
class RankedPage:
    number: int  # 1-based page number
    score: float  # with the neighbours' shares
    own_score: float  # the page's own text, headings and titles
    matched: tuple[str, ...]  # the query's words found on the page, as the user wrote them


@dataclass(frozen=True)
class Query:
    """Search terms with weights, and the word each term came from (to show the user)."""

    weights: dict[str, float] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.weights


def make_query(question: str, expansion: Iterable[str] = ()) -> Query:
    """The question's terms at full weight; the model's suggested search terms, where they
    add anything, at EXPANSION_WEIGHT."""
    weights: dict[str, float] = {}
    words: dict[str, str] = {}
    for text, weight in [(question, 1.0), *((t, EXPANSION_WEIGHT) for t in expansion)]:
        for word in _display_words(text):
            for term in tokens(word):
                if term not in weights:
                    weights[term] = weight
                    words[term] = word
    return Query(weights, words)


def _display_words(text: str) -> list[str]:
    """`text` split into the words a user would recognise (Chinese runs kept whole)."""
    normal = unicodedata.normalize("NFKC", text)
    return [w for w in _TOKEN.findall(normal) if w]


@dataclass(frozen=True)
class PageText:
    """What ranking reads of one page."""

    number: int  # 1-based
    text: str
    titles: tuple[tuple[str, int], ...] = ()  # outline titles over it, with extra copies


class PageIndex:
    """BM25 over a document's pages; pages with no text score 0 on every query."""

    def __init__(self, pages: Sequence[PageText]) -> None:
        self.numbers = [p.number for p in pages]
        self._docs: list[set[str]] = []
        corpus: list[list[str]] = []
        for page in pages:
            terms = tokens(page.text)
            for line in fields_of(page.text):
                terms += tokens(line) * HEADING_EXTRA
            for title, extra in page.titles:
                terms += tokens(title) * extra
            corpus.append(terms)
            self._docs.append(set(terms))
        self._bm25 = bm25s.BM25()
        self._bm25.index(corpus, show_progress=False)

    def rank(self, query: Query) -> list[RankedPage]:
        """Every page with its score for `query`, in page order."""
        own = [0.0] * len(self.numbers)
        for term, weight in query.weights.items():
            if term in self._bm25.vocab_dict:
                scores = self._bm25.get_scores([term])
                own = [s + weight * float(t) for s, t in zip(own, scores, strict=True)]
        by_number = dict(zip(self.numbers, own, strict=True))
        ranked = []
        for i, number in enumerate(self.numbers):
            score = (own[i] + FROM_PREVIOUS * by_number.get(number - 1, 0.0)
                     + FROM_NEXT * by_number.get(number + 1, 0.0))
            matched = tuple(dict.fromkeys(query.words[t] for t in query.weights
                                          if t in self._docs[i]))
            ranked.append(RankedPage(number, score, own[i], matched))
        return ranked


def section_titles(outline: Iterable[tuple[int, str, int]], n_pages: int
                   ) -> dict[int, list[tuple[str, int]]]:
    """Outline entries (level, title, first page) → per page, the titles of the sections
    it belongs to, with their extra copies. A section runs until the next entry of the
    same or a higher level."""
    entries = sorted(outline, key=lambda e: e[2])
    titles: dict[int, list[tuple[str, int]]] = {}
    for i, (level, title, first) in enumerate(entries):
        end = n_pages
        for later_level, _, later_first in entries[i + 1:]:
            if later_level <= level and later_first > first:
                end = later_first - 1
                break
        for page in range(first, max(first, end) + 1):
            extra = OUTLINE_EXTRA_FIRST if page == first else OUTLINE_EXTRA_REST
            titles.setdefault(page, []).append((title, extra))
    return titles
