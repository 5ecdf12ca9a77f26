"""People, organisations and places named in an article, offline and rule-based.

How a name is found, most certain first:

1. gazetteers (``gazetteer.py``): countries in ~30 languages, cities with alternate names,
   regions, well-known organisations — "Prancis", "Moskow", "Uni Eropa" resolve to France,
   Moscow, European Union;
2. titles and roles in several languages put a person's name right after them: "Presiden
   Armenia Vahagn Khachaturyan", "Foreign Minister X", "Bundeskanzler X", "Mme X";
3. a capitalised phrase that holds an organisation word ("Partai", "University", "Stiftung")
   or follows a broadcaster/company cue ("saluran TV France 2") is an organisation;
4. a capitalised phrase that starts with a known given name is a person;
5. linking: a later (or earlier) "Putin" is the "Vladimir Putin" found elsewhere.

Capitalised words nothing vouches for are left out: precision matters more to a monitoring
desk than recall, and German capitalises every noun. Mentions inside a longer name are not
counted on their own ("Bank Indonesia" is one organisation, not also a place).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from worker.enrich import gazetteer as gz
from worker.enrich import lexicon

PERSON, ORGANIZATION, PLACE = "person", "organization", "place"

_TOKEN = re.compile(r"(?:[^\W\d_]\.){2,}|\w(?:[\w'’]|[-‐](?=\w))*")
# Between two tokens of one name there is only a space (a line break is a new paragraph).
_SAME_PHRASE = re.compile(r"[ \u00a0]{1,2}")
_POSSESSIVE = re.compile(r"['’]s?$")
_MAX_NAME_TOKENS = 4


@dataclass(slots=True)
class Token:
    text: str
    start: int
    end: int
    key: str  # folded, possessive removed
    cap: bool
    sentence_start: bool


@dataclass(slots=True)
class Entity:
    """One entity with every surface form that named it."""

    text: str
    type: str
    count: int = 0
    aliases: set[str] = field(default_factory=set)
    first: int = 10**9  # order of first mention, for stable output
    country: str | None = None  # places only
    kind: str | None = None  # places only: country | city | region
    in_headline: bool = False
    in_first_paragraph: bool = False


@dataclass(slots=True)
class _Mention:
    type: str
    canonical: str
    surface: str
    order: int
    segment: int  # 0 = headline, 1 = first paragraph, 2 = later
    place: gz.Place | None = None


_BREAKS = frozenset('.!?:;"“”‘«»([–—-\n')


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    fold = gz.fold
    prev_end = -1
    for m in _TOKEN.finditer(text):
        word = m.group()
        start = m.start()
        if prev_end < 0:
            sentence_start = True
        else:
            gap = text[prev_end:start]
            sentence_start = gap != " " and not _BREAKS.isdisjoint(gap)
        key = fold(_POSSESSIVE.sub("", word) if "'" in word or "’" in word else word)
        tokens.append(Token(word, start, m.end(), key, word[0].isupper(), sentence_start))
        prev_end = m.end()
    return tokens


class _Context:
    """What the rules need to know about the whole article."""

    def __init__(self, lang: str, segments: Sequence[list[Token]]) -> None:
        self.lang = lang
        self.stop = gz.stop_words(lang) if lang != "und" else gz.any_stop_words()
        self.countries = gz.countries()
        self.cities = gz.cities()
        self.regions = gz.regions()
        self.orgs = gz.organisations()
        self.names = gz.given_names()
        self.alias_langs = gz.country_alias_languages()
        # Indonesian "di" and "dan" are "in" and "and", never part of a name.
        self.particles = lexicon.NAME_PARTICLES - lexicon.NOT_PARTICLES.get(lang, frozenset())
        # Words the article also writes in lower case are ordinary words when they start a
        # sentence ("Moskow bersikeras" is a city; "Hal ini" is not a name).
        self.lower_words = {t.key for seg in segments for t in seg if not t.cap}

    def place(self, key: str) -> gz.Place | None:
        found = self.countries.get(key)
        if found is not None:
            langs = self.alias_langs.get(key)
            if langs and self.lang not in langs:
                return None
            return found
        return self.regions.get(key) or self.cities.get(key)

    def is_title(self, key: str) -> bool:
        key = key.rstrip(".")
        if key in lexicon.TITLE_HEADS:
            return True
        tail = key.rsplit("-", 1)[-1]
        return tail in lexicon.TITLE_HEADS or key.endswith(lexicon.TITLE_SUFFIXES)

    def ordinary(self, token: Token) -> bool:
        """A capitalised word that is only capitalised because a sentence starts with it."""
        if token.key in self.stop:
            return True
        return token.sentence_start and token.key in self.lower_words


def _phrases(
    tokens: list[Token], text: str, particles: frozenset[str]
) -> Iterable[tuple[int, int]]:
    """Index ranges [i, j) of capitalised phrases; particles may join two capitalised words,
    and a short number may close one ("France 2")."""
    i, n = 0, len(tokens)
    while i < n:
        if not tokens[i].cap:
            i += 1
            continue
        j = i + 1
        while j < n and _SAME_PHRASE.fullmatch(text[tokens[j - 1].end : tokens[j].start]):
            tok = tokens[j]
            if tok.cap:
                j += 1
            elif (
                tok.key in particles
                and j + 1 < n
                and tokens[j + 1].cap
                and _SAME_PHRASE.fullmatch(text[tok.end : tokens[j + 1].start])
            ):
                j += 2
            elif tok.text.isdigit() and len(tok.text) <= 2:
                j += 1
                break
            else:
                break
        yield i, j
        i = j


class _Extractor:
    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.mentions: list[_Mention] = []
        self.unresolved: list[tuple[str, str, int, int]] = []  # key, surface, order, segment
        self.order = 0

    def add(
        self, type_: str, canonical: str, surface: str, segment: int, place: gz.Place | None = None
    ) -> None:
        self.order += 1
        self.mentions.append(_Mention(type_, canonical, surface, self.order, segment, place))

    def run(self, text: str, tokens: list[Token], segment: int, headline: bool) -> None:
        for i, j in _phrases(tokens, text, self.ctx.particles):
            prev = (
                tokens[i - 1]
                if i > 0 and _SAME_PHRASE.fullmatch(text[tokens[i - 1].end : tokens[i].start])
                else None
            )
            self.phrase(tokens[i:j], text, prev, segment, headline)

    def phrase(
        self, toks: list[Token], text: str, prev: Token | None, segment: int, headline: bool
    ) -> None:
        ctx = self.ctx
        # Drop words capitalised only by position: "Dia", "The", "Pada", "Die".
        while toks and (
            ctx.ordinary(toks[0])
            or toks[0].key in ctx.particles
            or (toks[0].key in lexicon.ORG_CUES and len(toks) > 1)
        ):
            if ctx.is_title(toks[0].key) and toks[0].key not in lexicon.ORG_CUES:
                break
            prev = toks[0]
            toks = toks[1:]
        while toks and (toks[-1].key in ctx.particles or toks[-1].key in ctx.stop):
            toks = toks[:-1]
        if not toks:
            return
        surface = text[toks[0].start : toks[-1].end]
        key = gz.fold(_POSSESSIVE.sub("", surface))

        org = ctx.orgs.get(key)
        if org is not None:
            self.add(ORGANIZATION, org.name, surface, segment)
            return
        place = ctx.place(key) if len(toks) > 1 else None
        if place is not None:
            self.add(PLACE, place.name, surface, segment, place)
            return
        if prev is not None and prev.key in lexicon.ORG_CUES and not ctx.place(key):
            self.add(ORGANIZATION, surface, surface, segment)
            return
        if toks[-1].text.isdigit():  # a trailing number belongs only to a cued name
            toks = toks[:-1]
            if not toks:
                return
            surface = text[toks[0].start : toks[-1].end]
            key = gz.fold(surface)
        if len(toks) > 1 and any(t.key in lexicon.ORG_HEADS for t in toks) and not headline:
            # An organisation word makes the whole phrase one name, places inside included.
            self.add(ORGANIZATION, surface, surface, segment)
            return

        titled = prev is not None and ctx.is_title(prev.key)
        k = 0
        while k < len(toks):
            tok = toks[k]
            if ctx.is_title(tok.key) or (k and tok.key in lexicon.TITLE_WORDS):
                titled = titled or ctx.is_title(tok.key)
                k += 1
                continue
            found = ctx.place(tok.key) if titled else None
            if found is not None and found.kind == "city" and tok.key in ctx.names:
                found = None  # "Presiden Rusia Vladimir Putin": Vladimir starts the name
            if titled and (found is not None or tok.text.endswith(("'s", "’s"))):
                if found is not None:
                    self.add(PLACE, found.name, tok.text, segment, found)
                k += 1
                continue
            break
        rest = toks[k:]
        if not rest:
            return
        if titled and len(rest) <= _MAX_NAME_TOKENS and all(t.text[0].isupper() for t in rest):
            name = text[rest[0].start : rest[-1].end]
            self.add(PERSON, _POSSESSIVE.sub("", name), name, segment)
            return
        self.untitled(rest, text, segment, headline)

    def untitled(self, toks: list[Token], text: str, segment: int, headline: bool) -> None:
        """A phrase no title introduced: places, known organisations, given names."""
        ctx = self.ctx
        i = 0
        while i < len(toks):
            # Longest gazetteer match starting at i.
            for j in range(min(len(toks), i + _MAX_NAME_TOKENS), i, -1):
                surface = text[toks[i].start : toks[j - 1].end]
                key = gz.fold(_POSSESSIVE.sub("", surface))
                org = ctx.orgs.get(key)
                if org is not None:
                    self.add(ORGANIZATION, org.name, surface, segment)
                    break
                place = ctx.place(key)
                if place is not None:
                    self.add(PLACE, place.name, surface, segment, place)
                    break
                if (
                    j - i >= 2
                    and not headline
                    and toks[i].key in ctx.names
                    and toks[i].key not in ctx.stop
                    and j - i <= 3
                    and all(
                        ctx.place(t.key) is None and t.key not in ctx.stop for t in toks[i + 1 : j]
                    )
                    and j == len(toks)
                ):
                    self.add(PERSON, _POSSESSIVE.sub("", surface), surface, segment)
                    break
            else:
                j = i + 1
                if len(toks) == 1 or not toks[i].sentence_start:
                    self.order += 1
                    self.unresolved.append(
                        (toks[i].key, _POSSESSIVE.sub("", toks[i].text), self.order, segment)
                    )
            i = j

    def entities(self) -> list[Entity]:
        by_key: dict[tuple[str, str], Entity] = {}
        persons: dict[str, str] = {}  # folded last/first/full name → canonical full name
        for m in sorted(self.mentions, key=lambda m: -len(m.canonical)):
            if m.type == PERSON:
                full = gz.fold(m.canonical)
                target = persons.get(full, m.canonical)
                m.canonical = target
                parts = full.split()
                for part_key in (full, parts[-1], " ".join(parts[-2:])):
                    persons.setdefault(part_key, target)
        for key, surface, order, segment in self.unresolved:
            if key in persons:
                self.mentions.append(_Mention(PERSON, persons[key], surface, order, segment))
        for m in self.mentions:
            if (
                m.type == PLACE
                and gz.fold(m.canonical) in persons
                and m.place is not None
                and m.place.kind == "city"
            ):
                m.type, m.canonical, m.place = PERSON, persons[gz.fold(m.canonical)], None
            ent = by_key.get((m.type, m.canonical))
            if ent is None:
                ent = by_key[(m.type, m.canonical)] = Entity(m.canonical, m.type)
                if m.place is not None:
                    ent.country, ent.kind = m.place.country or None, m.place.kind
            ent.count += 1
            ent.first = min(ent.first, m.order)
            ent.in_headline |= m.segment == 0
            ent.in_first_paragraph |= m.segment == 1
            if m.surface != m.canonical:
                ent.aliases.add(m.surface)
        return sorted(by_key.values(), key=lambda e: (-e.count, e.first))


def extract_entities(
    paragraphs: Sequence[str],
    *,
    lang: str = "und",
    title: str | None = None,
    dateline: str | None = None,
) -> list[Entity]:
    """Entities in an article: the headline, then each paragraph in order."""
    texts = [title or "", *paragraphs]
    segments = [tokenize(t) for t in texts]
    ex = _Extractor(_Context(lang, segments[1:]))
    if dateline:
        place = dateline_place(dateline, lang)
        if place is not None:
            ex.add(PLACE, place.name, dateline.strip(), 1, place)
    for n, (text, tokens) in enumerate(zip(texts, segments, strict=True)):
        ex.run(text, tokens, min(n, 2), headline=n == 0)
    return ex.entities()


def dateline_place(dateline: str, lang: str = "und") -> gz.Place | None:
    """The place a dateline names: "YEREVAN", "Berlin (dpa)", "JAKARTA, KOMPAS.com"."""
    head = re.split(r"[,(/–—]| - ", dateline, maxsplit=1)[0].strip()
    if not head:
        return None
    ctx_place = gz.countries().get(gz.fold(head)) or gz.regions().get(gz.fold(head))
    return ctx_place or gz.cities().get(gz.fold(head))
