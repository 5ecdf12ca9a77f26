"""Words of an article with what the entity and keyword rules ask of each: its folded key,
whether it is capitalised or an acronym, and what separates it from the word before."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from worker.enrich.gazetteer import fold

# Words with inner hyphens, apostrophes, "&" ("CD&V") and dots ("U.S", "5.99"); one run of
# \w per step keeps the regex engine quick (a per-character alternation was twice as slow).
_TOKEN = re.compile(r"\w+(?:[-‐'’&.]\w+)*")
# French/Italian elision: "l'Europa", "d'Ukraine", "dell'Unione" → the name after it.
_ELISION = re.compile(r"^[a-zà-ÿ]{1,5}['’](?=[^\W\d_])")
#: "'s", Turkish case suffixes ("Türkiye'de", "İstanbul'da") and a bare trailing apostrophe.
SUFFIX = re.compile(r"['’][a-zçğıöşü]{0,5}$")
# What may end a sentence, for capitalisation: a word after these is capitalised by position.
_BREAKS = frozenset('.!?:;"“”‘«»([–—-\n')
_SENTENCE_ENDS = frozenset(".!?…\n")
_ROMAN_ORDINAL = re.compile(r"[IVXLC]+(?:e|er|ème|th|st|nd|rd|\.)?")

#: Token.gap values
SPACE, PUNCTUATION, SENTENCE = 0, 1, 2


@dataclass(slots=True, eq=False)
class Token:
    text: str
    start: int
    end: int
    key: str  # folded, case suffix removed
    cap: bool
    sentence_start: bool
    acronym: bool
    gap: int  # what precedes it: SPACE, PUNCTUATION or SENTENCE (a sentence end)
    suffixed: bool  # a case ending was cut off ("İzmir'in", "France's"): a name ends here


@lru_cache(maxsize=1 << 15)
def is_acronym(word: str) -> bool:
    """ "CGT", "AfD", "BVerfG", "CD&V" — not "Berlin", "XXe" or "IV"."""
    if len(word) < 2 or not word[0].isupper() or word[1:].islower():
        return False
    if _ROMAN_ORDINAL.fullmatch(word):
        return False  # "XXe siècle", "Louis XIV"
    letters = [c for c in word if c.isalpha()]
    if not 2 <= len(letters) <= 7 or not all(c.isalpha() or c == "&" for c in word):
        return False
    upper = sum(c.isupper() for c in letters)
    return upper >= 2 and upper * 2 >= len(letters)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    append = tokens.append
    prev_end = -1
    for m in _TOKEN.finditer(text):
        word = m.group()
        start, end = m.span()
        if "'" in word or "’" in word:
            elided = _ELISION.match(word)
            if elided:
                word, start = word[elided.end() :], start + elided.end()
            stripped = SUFFIX.sub("", word) or word
        else:
            stripped = word
        suffixed = stripped != word
        if prev_end < 0:
            sentence_start, gap = True, SENTENCE
        elif start - prev_end == 1 and text[prev_end] == " ":
            sentence_start, gap = False, SPACE
        else:
            between = text[prev_end:start]
            sentence_start = not _BREAKS.isdisjoint(between)
            if not _SENTENCE_ENDS.isdisjoint(between):
                gap = SENTENCE
            else:
                gap = PUNCTUATION if between.strip() else SPACE
        first_upper = word[0].isupper()
        append(
            Token(
                word,
                start,
                end,
                fold(stripped),
                first_upper,
                sentence_start,
                first_upper and is_acronym(stripped),
                gap,
                suffixed,
            )
        )
        prev_end = end
    return tokens
