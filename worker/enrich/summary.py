"""Summary, reading time and word count: cheap facts a desk shows next to a headline."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

#: Summaries stop at the sentence that crosses this many characters.
SUMMARY_CHARS = 300
#: Adult silent reading speed for non-fiction (Brysbaert, 2019: about 238 words/minute).
WORDS_PER_MINUTE = 238

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’»)]?\s+(?=[\"“‘«(]?[A-ZÀ-ÖØ-Þ0-9])")
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")


def summarize(
    lead: str | None, paragraphs: Sequence[str], limit: int = SUMMARY_CHARS
) -> str | None:
    """The standfirst when there is one, else whole first sentences up to ``limit``
    characters (at least one sentence, cut at a word if that alone is longer)."""
    if lead and lead.strip():
        return lead.strip()
    text = " ".join(p.strip() for p in paragraphs if p.strip())
    if not text:
        return None
    out = ""
    for sentence in _SENTENCE_END.split(text):
        if out and len(out) + 1 + len(sentence) > limit:
            break
        out = f"{out} {sentence}".strip()
        if len(out) >= limit:
            break
    if len(out) > limit:
        out = out[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return out


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def reading_time_minutes(word_count: int) -> int:
    """Whole minutes, rounded up; 0 only for an empty text."""
    return math.ceil(word_count / WORDS_PER_MINUTE) if word_count > 0 else 0
