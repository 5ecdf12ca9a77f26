"""Words of an article with what the entity and keyword rules ask of each: its folded key,
whether it is capitalised or an acronym, and what separates it from the word before."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from worker.enrich.gazetteer import fold

# Words with inner hyphens, apostrophes, "&" ("CD&V") and dots ("U.S", "5.99"); one run of
# \w per step keeps the regex engine quick (a per-character alternation was twice as slow).
# Possessive quantifiers: giving characters back never makes a match here (a run of \w or
# \W ends where the other kind starts), and keeping no backtrack points makes the
# tokenizer's findall a fifth faster.
_TOKEN = re.compile(r"\w++(?:[-‐'’&.]\w++)*+")
# French/Italian elision: "l'Europa", "d'Ukraine", "dell'Unione" → the name after it.
_ELISION = re.compile(r"^[a-zà-ÿ]{1,5}['’](?=[^\W\d_])")
#: "'s", Turkish case suffixes ("Türkiye'de", "İstanbul'da") and a bare trailing apostrophe.
SUFFIX = re.compile(r"['’][a-zçğıöşü]{0,5}$")


def strip_suffix(text: str) -> str:
    """``text`` without a trailing case suffix or "'s"; the regex runs only when there is an
    apostrophe to find (most words have none, and the call costs more than the test)."""
    return SUFFIX.sub("", text) if "'" in text or "’" in text else text


# What may end a sentence, for capitalisation: a word after these is capitalised by position.
_BREAKS = frozenset('.!?:;"“”‘«»([–—-\n')
_SENTENCE_ENDS = frozenset(".!?…\n")
_ROMAN_ORDINAL = re.compile(r"[IVXLC]+(?:e|er|ème|th|st|nd|rd|\.)?")

#: Token.gap values
SPACE, PUNCTUATION, SENTENCE = 0, 1, 2


# No generated __init__: ``tokenize`` fills in an empty Token, which tokenises a tenth
# faster than a Python __init__ call with nine arguments per word.
@dataclass(slots=True, eq=False, init=False)
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


def tokenize(text: str, lower_keys: set[str] | None = None) -> list[Token]:
    """The words of ``text``; the keys of its words written in lower case are added to
    ``lower_keys`` when given (the entity rules ask it of the whole article, and collecting
    them here saves a second pass over every word)."""
    tokens: list[Token] = []
    append = tokens.append
    add_lower = (lower_keys if lower_keys is not None else set()).add
    known = _FORMS.get
    pos = 0
    # The first word starts a sentence; after it a single space (the commonest gap) needs no
    # look-up. One C-level findall gives each word with the non-word run before it, so
    # positions come from running lengths and no match object is built per word.
    sentence_start, gap = True, SENTENCE
    for between, raw in _WORD_AFTER_GAP.findall(text):
        if between == " ":
            start = pos + 1
        else:
            start = pos + len(between)
            if tokens:
                sentence_start, gap = _gap(between)
        pos = start + len(raw)
        tok = Token()
        if raw.isascii() and "'" not in raw:
            # Most words: cheaper to read off than to look up among a stream's vocabulary
            # (the key is the lower case; an acronym needs a second capital).
            tok.text = raw
            tok.start = start
            tok.suffixed = False
            if raw.islower():  # the commonest kind: its own key, no lower-case copy
                tok.key = raw
                tok.cap = tok.acronym = False
                add_lower(raw)
            else:
                tok.key = key = raw.lower()
                tok.cap = cap = raw[0].isupper()
                tok.acronym = cap and not raw[1:].islower() and is_acronym(raw)
                if not cap:
                    add_lower(key)
        else:
            word, skip, key, cap, acronym, suffixed = known(raw) or _remember(raw)
            if skip and tokens:
                # An elided article counts as separator: "de l'Union" is not one run of words.
                sentence_start, gap = _gap(between + raw[:skip])
            if not cap:
                add_lower(key)
            tok.text = word
            tok.start = start + skip
            tok.key = key
            tok.cap = cap
            tok.acronym = acronym
            tok.suffixed = suffixed
        tok.end = pos
        tok.sentence_start = sentence_start
        tok.gap = gap
        append(tok)
        sentence_start, gap = False, SPACE
    return tokens


# Between two words there are only non-word characters (a connector not followed by a word
# character is not part of the word), so this splits the text exactly as _TOKEN.finditer.
_WORD_AFTER_GAP = re.compile(r"(\W*+)(" + _TOKEN.pattern + ")")

_Form = tuple[str, int, str, bool, bool, bool]
# What a word's form alone decides, remembered across articles (an article repeats its
# words, a stream its vocabulary). A plain dict emptied when full rather than an LRU cache:
# a hit is one dict look-up, and a stream's vocabulary comes back within a few articles.
_FORMS: dict[str, _Form] = {}
_MAX_FORMS = 1 << 17


def _remember(raw: str) -> _Form:
    if len(_FORMS) >= _MAX_FORMS:
        _FORMS.clear()
    form = _FORMS[raw] = _form(raw)
    return form


def _form(raw: str) -> _Form:
    """The word without an elided article, how many characters that cut, its key,
    capitalised, acronym, and whether a case suffix was cut."""
    word, skip = raw, 0
    if "'" in word or "’" in word:
        elided = _ELISION.match(word)
        if elided:
            skip = elided.end()
            word = word[skip:]
        stripped = SUFFIX.sub("", word) or word
    else:
        stripped = word
    cap = word[0].isupper()
    return word, skip, fold(stripped), cap, cap and is_acronym(stripped), stripped != word


@lru_cache(maxsize=1 << 12)
def _gap(between: str) -> tuple[bool, int]:
    """(sentence_start, gap) for what separates a word from the one before it."""
    sentence_start = not _BREAKS.isdisjoint(between)
    if not _SENTENCE_ENDS.isdisjoint(between):
        return sentence_start, SENTENCE
    return sentence_start, PUNCTUATION if between.strip() else SPACE
