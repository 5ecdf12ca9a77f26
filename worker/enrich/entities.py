"""People, organisations and places named in an article, offline and rule-based.

How a name is found, most certain first:

1. gazetteers (``gazetteer.py``): countries in ~30 languages, cities with alternate names,
   states and provinces, seas and regions, well-known organisations — "Prancis", "Moskow",
   "Uni Eropa" resolve to France, Moscow, European Union;
2. titles and roles in several languages put a person's name right after them: "Presiden
   Armenia Vahagn Khachaturyan", "Foreign Minister X", "Bundeskanzler X", "Mme X"; a name
   in apposition to a role ("Ursula von der Leyen" after "la presidenta de la Comisión,")
   counts too;
3. a capitalised phrase that holds an organisation word ("Partai", "University",
   "Landgericht") or follows a broadcaster/company cue ("saluran TV France 2") is an
   organisation; so is an acronym that is not a unit, title or technology ("CGT", "AfD");
4. a capitalised phrase that starts with a known given name is a person;
5. linking: a later (or earlier) "Putin" is the "Vladimir Putin" found elsewhere, and
   "Office for Budget Responsibility (OBR)" makes "OBR" the same organisation.

Capitalised words nothing vouches for are left out: precision matters more to a monitoring
desk than recall, and German capitalises every noun. A place inside an unknown name is
not a mention of the place ("Harry Chandler", "Los Angeles Coliseum"), nor is one inside an
organisation's name ("Bank Indonesia").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import compress, count
from operator import attrgetter
from typing import Any

from worker.enrich import gazetteer as gz
from worker.enrich import lexicon, spacy_ner
from worker.enrich.tokens import SPACE, Token, is_acronym, strip_suffix, tokenize

PERSON, ORGANIZATION, PLACE = "person", "organization", "place"

# Between two tokens of one name there is only a space (a line break is a new paragraph).
_MAX_NAME_TOKENS = 4
_GENITIVE_S_LANGS = frozenset({"de", "nl", "sv", "da", "no", "nb"})
# Languages that write noun compounds with a capitalised hyphenated tail ("AfD-Kandidat").
_COMPOUNDING_LANGS = frozenset({"de", "nl", "sv", "da", "no", "nb", "fi", "pl", "cs"})

# The word lists, folded the way tokens are (accents off, lower case): "Universität" is
# looked up as "universitat".
_TITLE_HEADS = frozenset(map(gz.fold, lexicon.TITLE_HEADS))
_TITLE_SUFFIXES = tuple(map(gz.fold, lexicon.TITLE_SUFFIXES))
_TITLE_WORDS = frozenset(map(gz.fold, lexicon.TITLE_WORDS))
_ORG_HEADS = frozenset(map(gz.fold, lexicon.ORG_HEADS))
_ORG_SUFFIXES = tuple(map(gz.fold, lexicon.ORG_SUFFIXES))
_SINGLE_WORD_ORG_SUFFIXES = tuple(map(gz.fold, lexicon.SINGLE_WORD_ORG_SUFFIXES))
_SINGLE_WORD_ORG_STEMS = tuple(map(gz.fold, lexicon.SINGLE_WORD_ORG_STEMS))
_ORG_CUES = frozenset(map(gz.fold, lexicon.ORG_CUES))
_NAME_PARTICLES = frozenset(map(gz.fold, lexicon.NAME_PARTICLES))
_CONJUNCTIONS = frozenset(map(gz.fold, lexicon.CONJUNCTIONS))
_CAP = attrgetter("cap")
_ORG_ROLES = frozenset(map(gz.fold, lexicon.ORG_ROLES))
_PLACE_UNITS_BEFORE = frozenset(map(gz.fold, lexicon.PLACE_UNITS_BEFORE))
_PLACE_UNITS_AFTER = frozenset(map(gz.fold, lexicon.PLACE_UNITS_AFTER))
_UNASKED: Any = object()  # a place not looked up yet in this article
# What may stand between a name and its other name in brackets: "Office (OBR)".
_OPENING_BRACKET = re.compile(r"\s*\(")


# The word tests below depend on the word alone and run for most capitalised words of every
# article, so they are cached across articles.
@lru_cache(maxsize=1 << 15)
def is_title(key: str) -> bool:
    key = key.rstrip(".")
    if key in _TITLE_HEADS:
        return True
    tail = key.rsplit("-", 1)[-1]
    return tail in _TITLE_HEADS or key.endswith(_TITLE_SUFFIXES)


@lru_cache(maxsize=1 << 15)
def is_org_word(key: str) -> bool:
    return key in _ORG_HEADS or (len(key) > 6 and key.endswith(_ORG_SUFFIXES))


@lru_cache(maxsize=1 << 15)
def is_org_compound(key: str) -> bool:
    """A lone word that is an organisation: "Landgericht", "Bundesministerium"."""
    return len(key) > 8 and key.endswith(_SINGLE_WORD_ORG_SUFFIXES)


@lru_cache(maxsize=1 << 15)
def _read_alone(key: str) -> bool:
    """Whether some rule reads this word on its own: a gazetteer name, the start of a name
    that goes on in lower case, a title or an organisation compound. One cached answer
    instead of four look-ups in large tables for every lone capitalised word."""
    return (
        key in gz.all_keys()
        or key in gz.lowercase_tail_heads()
        or is_title(key)
        or is_org_compound(key)
    )


def _folded_text(tok: Token) -> str:
    """``fold(tok.text)``: the key already is, unless a case suffix was cut from it."""
    return gz.fold(tok.text) if tok.suffixed else tok.key


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


class _Context:
    """What the rules need to know about the whole article."""

    def __init__(self, lang: str, lower_words: set[str]) -> None:
        self.lang = lang
        self.stop = gz.stop_words(lang) if lang != "und" else gz.any_stop_words()
        self.countries = gz.countries()
        self.cities = gz.cities()
        self.regions = gz.regions()
        self.orgs = gz.organisations()
        self.names = gz.given_names()
        self.exact = gz.exact_forms()
        self.acronym_forms = gz.org_acronym_forms()
        self.compounding = lang in _COMPOUNDING_LANGS
        self.genitive_s = lang in _GENITIVE_S_LANGS
        self.gazetteer_keys = gz.all_keys()
        self.first_words = gz.first_words()
        self.minor_places = gz.minor_places()
        self.locatives = lexicon.LOCATIVE_PREPOSITIONS.get(lang, frozenset())
        self._places: dict[tuple[str, str | None], gz.Place | None] = {}
        self.tail_heads = gz.lowercase_tail_heads()
        self.tail_head_starts = gz.lowercase_tail_head_starts()
        self.alias_langs = gz.country_alias_languages()
        # Indonesian "di" and "dan" are "in" and "and", never part of a name.
        self.particles = _NAME_PARTICLES - lexicon.NOT_PARTICLES.get(lang, frozenset())
        # Words the article's paragraphs also write in lower case are ordinary words when
        # they start a sentence ("Moskow bersikeras" is a city; "Hal ini" is not a name).
        self.lower_words = lower_words

    def starts_name(self, tok: Token) -> bool:
        """Whether a gazetteer name of several words starts with this word: when not, no
        phrase starting with it is looked up (nor its text folded)."""
        return _folded_text(tok) in self.first_words

    def place(self, key: str, surface: str | None = None) -> gz.Place | None:
        # The rules ask about the same words again and again within an article; half the
        # questions are new, and a sentinel costs less than raising KeyError for them.
        found = self._places.get((key, surface), _UNASKED)
        if found is not _UNASKED:
            return found
        found = self._place(key, surface)
        if found is None and self.genitive_s and key.endswith("s") and len(key) > 4:
            # German and Nordic genitive: "Russlands", "Chinas", "Sveriges" is not needed.
            found = self._place(key[:-1], surface[:-1] if surface else None)
        self._places[key, surface] = found
        return found

    def _place(self, key: str, surface: str | None) -> gz.Place | None:
        found = self.countries.get(key)
        if found is not None:
            langs = self.alias_langs.get(key)
            if langs and self.lang not in langs:
                return None
        else:
            found = self.regions.get(key) or self.cities.get(key)
        # Accents the text writes must be the name's own: "Länder" is not Lander, Wyoming.
        if (
            found is not None
            and surface is not None
            and not surface.isascii()
            and gz.norm(strip_suffix(surface)) not in self.exact
        ):
            return None
        return found

    def org(self, key: str, surface: str | None = None) -> gz.Org | None:
        found = self.orgs.get(key)
        if found is not None and surface is not None:
            forms = self.acronym_forms.get(key)
            if forms is not None and strip_suffix(surface) not in forms:
                return None
        return found

    def ordinary(self, token: Token) -> bool:
        """A capitalised word that is only capitalised because a sentence starts with it."""
        if token.acronym or not token.sentence_start:
            return False  # mid-sentence capitals are names ("New York", "The Hague")
        return token.key in self.stop or token.key in self.lower_words

    def acronym_org(self, token: Token) -> bool:
        return (
            token.acronym
            and token.text.upper() not in lexicon.NOT_ORG_ACRONYMS
            and self.place(token.key) is None
        )


def _phrases(tokens: list[Token], particles: frozenset[str]) -> Iterator[tuple[int, int]]:
    """Index ranges [i, j) of capitalised phrases; particles may join two capitalised words,
    and a short number may close one ("France 2")."""
    n = len(tokens)
    j = 0
    for i in list(compress(count(), map(_CAP, tokens))):
        if i < j:
            continue  # inside the phrase just yielded
        j = i + 1
        while (
            j < n
            and tokens[j].gap == SPACE
            # A case ending ends the name: "İzmir'in Bornova", "France's Macron".
            and not tokens[j - 1].suffixed
        ):
            tok = tokens[j]
            if tok.cap:
                j += 1
            elif tok.key in particles:
                # "Ursula von der Leyen": up to three particles, then a capitalised word.
                k = j
                while (
                    k < n
                    and k - j < 3
                    and tokens[k].key in particles
                    and k + 1 < n
                    and tokens[k + 1].gap == SPACE
                ):
                    k += 1
                if k < n and k > j and tokens[k].cap:
                    j = k + 1
                else:
                    break
            elif tok.text.isdigit() and len(tok.text) <= 2:
                j += 1
                break
            else:
                break
        yield i, j


class _Extractor:
    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.mentions: list[_Mention] = []
        self.unresolved: list[tuple[str, str, int, int]] = []  # key, surface, order, segment
        self.order = 0
        self.last: tuple[_Mention, int] | None = None  # last mention and its end offset
        self.same_as: list[tuple[str, str, str]] = []  # (type, canonical, alias) from "X (Y)"

    # -- recording -------------------------------------------------------------------------
    def add(
        self,
        type_: str,
        canonical: str,
        surface: str,
        segment: int,
        place: gz.Place | None = None,
        end: int = -1,
    ) -> None:
        self.order += 1
        mention = _Mention(type_, canonical, surface, self.order, segment, place)
        self.mentions.append(mention)
        self.last = (mention, end)

    # -- one segment ---------------------------------------------------------------------
    def run(self, text: str, tokens: list[Token], segment: int, headline: bool) -> None:
        ctx = self.ctx
        if "-" in text or "‐" in text:
            for tok in tokens:
                if tok.cap and ("-" in tok.text or "‐" in tok.text):
                    self.compound(tok, segment)
        self.last = None
        for i, j in _phrases(tokens, ctx.particles):
            prev = tokens[i - 1] if i > 0 and tokens[i].gap == SPACE else None
            if (
                prev is not None
                and prev.key in lexicon.ROLE_LINKS
                and not headline
                and self.role_organisation(tokens, i, j, text, segment)
            ):
                continue
            after = tokens[j] if j < len(tokens) and tokens[j].gap == SPACE else None
            if j - i == 1 and self.plain_word(tokens[i], prev, after, segment):
                continue
            if self.parenthetical(tokens, i, j, text):
                continue
            if self.extended(tokens, i, j, text, segment):
                continue
            self.phrase(tokens, i, j, text, prev, segment, headline)

    def role_organisation(
        self, tokens: list[Token], i: int, j: int, text: str, segment: int
    ) -> bool:
        """ "le nouveau président du Medef", "founder of Foodtrainers": the name after a
        role held in an organisation, and its link word, is that organisation, unless it is
        a place, a person or an ordinary word capitalised for emphasis ("head of State")."""
        ctx = self.ctx
        k = i - 2
        if k >= 0 and tokens[k].key in lexicon.ROLE_ARTICLES and tokens[k + 1].gap == SPACE:
            k -= 1
        if k < 0 or tokens[k].cap or tokens[k].key not in _ORG_ROLES:
            return False
        toks = tokens[i:j]
        words = [t for t in toks if t.key not in ctx.particles]
        if (
            toks[0].key in ctx.names
            or any(is_title(t.key) for t in toks)
            or all(t.key in ctx.lower_words or t.key in ctx.stop for t in words)
        ):
            return False
        surface = text[toks[0].start : toks[-1].end]
        key = gz.fold(strip_suffix(surface))
        if ctx.place(key, surface) is not None or key in ctx.gazetteer_keys:
            return False  # "president of Ukraine"; the known organisations keep their names
        name = strip_suffix(surface)
        self.add(ORGANIZATION, name, surface, segment, end=toks[-1].end)
        return True

    def extended(self, tokens: list[Token], i: int, j: int, text: str, segment: int) -> bool:
        """Romance names go on in lower case: "Union européenne", "Nations unies",
        "Banque mondiale". Try the phrase with the next one or two words."""
        ctx = self.ctx
        # The phrase's folded text starts with its first word's: most phrases are ruled out
        # by that word without folding the phrase.
        first = _folded_text(tokens[i])
        if first not in ctx.tail_head_starts and " " not in first:
            return False
        if gz.fold(text[tokens[i].start : tokens[j - 1].end]) not in ctx.tail_heads:
            return False
        for extra in (2, 1):
            k = j + extra
            if k > len(tokens) or any(tokens[m].cap or tokens[m].gap != SPACE for m in range(j, k)):
                continue
            if self.known(tokens[i:k], text, segment):
                return True
        return False

    def compound(self, tok: Token, segment: int) -> None:
        """ "AfD-Spitzenkandidat", "US-Streitkräfte", "SPD-Chefin": the first part is a name
        the compound is about. The whole token stays for the phrase rules when it is a
        name itself ("Nagorno-Karabakh") or a title ("US-Präsident")."""
        ctx = self.ctx
        whole = tok.key
        if ctx.org(whole) or ctx.place(whole, tok.text) or is_org_word(whole):
            return
        head, _, rest = tok.text.partition("-") if "-" in tok.text else tok.text.partition("‐")
        if not rest or not rest[0].isalpha() or (rest[0].isupper() and not ctx.compounding):
            return  # "Nord-Est", "Saint-Denis": one name, not a name and a noun
        key = gz.fold(head)
        org = ctx.org(key, head)
        place = None if org else ctx.place(key, head)
        if org is not None:
            self.add(ORGANIZATION, org.name, head, segment)
        elif place is not None:
            self.add(PLACE, place.name, head, segment, place)
        elif is_acronym(head) and head.upper() not in lexicon.NOT_ORG_ACRONYMS:
            self.add(ORGANIZATION, head, head, segment)
        else:
            return
        if not is_title(whole):
            tok.cap = False  # "AfD-Spitzenkandidat" is not itself part of a name

    def parenthetical(self, tokens: list[Token], i: int, j: int, text: str) -> bool:
        """ "Office for Budget Responsibility (OBR)": the phrase in brackets right after a
        name is another name of it."""
        if self.last is None or self.last[1] < 0:
            return False
        mention, end = self.last
        if mention.type == PLACE:
            return False
        # The closing bracket first: it rules out nearly every phrase without a regex.
        if text[tokens[j - 1].end : tokens[j - 1].end + 1] != ")":
            return False
        if not _OPENING_BRACKET.fullmatch(text[end : tokens[i].start]):
            return False
        surface = text[tokens[i].start : tokens[j - 1].end]
        self.same_as.append((mention.type, mention.canonical, surface))
        self.order += 1
        self.mentions.append(
            _Mention(mention.type, mention.canonical, surface, self.order, mention.segment)
        )
        self.last = None
        return True

    def phrase(
        self,
        tokens: list[Token],
        i: int,
        j: int,
        text: str,
        prev: Token | None,
        segment: int,
        headline: bool,
    ) -> None:
        ctx = self.ctx
        toks = tokens[i:j]
        first = i  # index of toks[0] in tokens
        checked = len(toks) > 1 or not ctx.ordinary(toks[0])
        if checked and self.known(toks, text, segment):
            return
        # Drop words capitalised only by position ("Dia", "The", "Pada", "Die") and cues.
        while toks and (
            ctx.ordinary(toks[0])
            or toks[0].key in ctx.particles
            or (toks[0].key in _ORG_CUES and len(toks) > 1)
        ):
            if is_title(toks[0].key) and toks[0].key not in _ORG_CUES:
                break
            prev = toks[0]
            toks = toks[1:]
            first += 1
        while toks and toks[-1].key in ctx.particles:
            toks = toks[:-1]
        if not toks:
            return
        # Trimming only shortens: the same length is the same phrase, already looked up.
        if (not checked or len(toks) < j - i) and self.known(toks, text, segment):
            return
        end = toks[-1].end
        if prev is not None and prev.key in _ORG_CUES and not headline:
            surface = text[toks[0].start : end]
            self.add(ORGANIZATION, surface, surface, segment, end=end)
            return
        if toks[-1].text.isdigit():  # a trailing number belongs only to a cued name
            toks = toks[:-1]
            if not toks:
                return
        if self.organisation(toks, text, segment, headline):
            return
        if self.titled(toks, text, prev, segment):
            return
        if not headline and self.cued_place(tokens, toks, first, text, segment):
            return
        self.untitled(tokens, toks, first, text, segment, headline)

    def cued_place(
        self, tokens: list[Token], toks: list[Token], first: int, text: str, segment: int
    ) -> bool:
        """A place the words around it announce, known to the gazetteer or not: an
        administrative unit ("Kabupaten Bogor", "Orange County", "Şarkışla ilçesinde"), a
        Turkish province's district ("İzmir'in Bornova"), or a town after a locative
        preposition ("i Uddevalla", "da Ciampino") when GeoNames knows it."""
        ctx = self.ctx
        if len(toks) > 3 or any(t.acronym for t in toks):
            return False
        end = first + len(toks)
        after = tokens[end] if end < len(tokens) and tokens[end].gap == SPACE else None
        before = tokens[first - 1] if first > 0 and toks[0].gap == SPACE else None
        named = toks[0].key in ctx.names and len(toks) > 1  # "Mansur Yavaş" is a person
        country = ""
        name = toks
        if len(toks) > 1 and toks[0].key in _PLACE_UNITS_BEFORE:
            name = toks[1:]
        elif len(toks) > 1 and _place_unit_after(toks[-1], ctx.lang):
            pass  # the unit is part of the name: "Orange County"
        elif before is not None and before.suffixed and not named and ctx.lang == "tr":
            province = before.text.replace("’", "'")
            if not province.endswith(lexicon.TURKISH_GENITIVES):
                return False
            found = ctx.place(before.key, strip_suffix(before.text))
            if found is None:
                return False
            country = found.country
        elif (
            after is not None
            and not after.cap
            and not toks[-1].suffixed
            and _place_unit_after(after, ctx.lang)
        ):
            pass
        elif before is not None and before.key in ctx.locatives and not before.cap:
            surface = text[toks[0].start : toks[-1].end]
            minor = ctx.minor_places.get(gz.fold(strip_suffix(surface)))
            if minor is None or named:
                return False
            self.add(PLACE, minor.name, surface, segment, minor, end=toks[-1].end)
            return True
        else:
            return False
        surface = text[toks[0].start : toks[-1].end]
        name_text = strip_suffix(text[name[0].start : name[-1].end])
        key = gz.fold(name_text)
        place = ctx.place(key, name_text) or ctx.minor_places.get(key)
        if place is None:
            place = gz.Place(name_text, country, "region")
        self.add(PLACE, place.name, surface, segment, place, end=toks[-1].end)
        return True

    def plain_word(
        self, tok: Token, prev: Token | None, after: Token | None, segment: int
    ) -> bool:
        """Fast path for the commonest phrase, one capitalised word no rule can use (every
        German noun): keep it only for linking to a person named elsewhere."""
        ctx = self.ctx
        key = tok.key
        if (
            tok.acronym
            or _read_alone(key)
            or (self.last is not None and tok.gap != SPACE)  # maybe "(OBR)" after a name
            or (ctx.genitive_s and key[:-1] in ctx.gazetteer_keys)
            or (prev is not None and prev.key in _ORG_CUES)
            or (prev is not None and prev.suffixed and ctx.lang == "tr")
            or (prev is not None and prev.key in ctx.locatives and key in ctx.minor_places)
            or (after is not None and _place_unit_after(after, ctx.lang))
        ):
            return False
        if not ctx.ordinary(tok):
            self.order += 1
            self.unresolved.append((key, strip_suffix(tok.text), self.order, segment))
        return True

    def known(self, toks: list[Token], text: str, segment: int) -> bool:
        """The whole phrase is a gazetteer name."""
        if len(toks) > 1 and not self.ctx.starts_name(toks[0]):
            return False
        surface = text[toks[0].start : toks[-1].end]
        key = gz.fold(strip_suffix(surface))
        org = self.ctx.org(key, surface)
        if org is not None:
            self.add(ORGANIZATION, org.name, surface, segment, end=toks[-1].end)
            return True
        place = self.ctx.place(key, surface)
        if place is not None:
            self.add(PLACE, place.name, surface, segment, place, end=toks[-1].end)
            return True
        return False

    def organisation(self, toks: list[Token], text: str, segment: int, headline: bool) -> bool:
        """A phrase with an organisation word is one organisation; a person's name right
        after it is split off ("Tribunal Supremo Ángel Hurtado")."""
        ctx = self.ctx
        if headline:
            return False
        if len(toks) == 1:
            tok = toks[0]
            if not is_org_compound(tok.key) or ctx.ordinary(tok):
                return False
            # Genitive "des Landgerichts" → "Landgericht".
            name = tok.text
            for ending in ("es", "s"):
                stem = gz.fold(name[: -len(ending)])
                if name.endswith(ending) and stem.endswith(_SINGLE_WORD_ORG_STEMS):
                    name = name[: -len(ending)]
                    break
            self.add(ORGANIZATION, name, tok.text, segment, end=tok.end)
            return True
        heads = [k for k, t in enumerate(toks) if is_org_word(t.key)]
        if not heads:
            return False
        start = 0
        # A leading title belongs to the person holding it: "Ketua Dewan Pembina …".
        if is_title(toks[0].key):
            while start < heads[0] and (
                is_title(toks[start].key) or toks[start].key in _TITLE_WORDS
            ):
                start += 1
        # "Geografen der Universität Kiel": the name starts after the particle.
        for k in range(heads[0] - 1, start - 1, -1):
            if toks[k].key in ctx.particles:
                start = k + 1
                break
        stop = len(toks)
        for k in range(heads[0] + 2, len(toks) - 1):
            if toks[k].key in ctx.names and ctx.place(toks[k].key) is None:
                stop = k
                break
        org_toks = toks[start:stop]
        if not org_toks:
            return False
        surface = text[org_toks[0].start : org_toks[-1].end]
        found = ctx.org(gz.fold(surface))
        self.add(
            ORGANIZATION, found.name if found else surface, surface, segment, end=org_toks[-1].end
        )
        if stop < len(toks):
            name = text[toks[stop].start : toks[-1].end]
            self.add(PERSON, name, name, segment, end=toks[-1].end)
        return True

    def titled(self, toks: list[Token], text: str, prev: Token | None, segment: int) -> bool:
        """ "Presiden Armenia Vahagn Khachaturyan", "Secretary of State Antony Blinken":
        skip the title, its words and its country; what follows is the name. After "of",
        "der", "de" the words are the office's complement unless a given name starts a name
        ("Außenminister der Vereinigten Arabischen Emirate" names no one)."""
        ctx = self.ctx
        titled = prev is not None and is_title(prev.key)
        complement = False
        k = 0
        if not titled and not is_title(toks[0].key):
            # The office may come first: "Ulaştırma ve Altyapı Bakanı Abdulkadir Uraloğlu".
            k = next((h for h in range(1, min(4, len(toks))) if is_title(toks[h].key)), 0)
            if k and any(t.key in ctx.names for t in toks[:k]):
                k = 0
        while k < len(toks):
            tok = toks[k]
            if is_title(tok.key) or (k and tok.key in _TITLE_WORDS):
                titled = titled or is_title(tok.key)
                complement = complement or tok.key in ctx.particles
                k += 1
                continue
            found = ctx.place(tok.key, tok.text) if titled else None
            if found is not None and found.kind == "city" and tok.key in ctx.names:
                found = None  # "Presiden Rusia Vladimir Putin": Vladimir starts the name
            if titled and (found is not None or tok.text.endswith(("'s", "’s"))):
                if found is not None:
                    self.add(PLACE, found.name, tok.text, segment, found)
                k += 1
                continue
            break
        if not titled:
            return False
        rest = toks[k:]
        if complement:
            first = next((n for n, t in enumerate(rest) if t.key in ctx.names), None)
            if first is None:
                if rest:
                    self.known(rest, text, segment)
                return True
            rest = rest[first:]
        if not rest or len(rest) > _MAX_NAME_TOKENS or not all(t.text[0].isupper() for t in rest):
            return bool(not rest)
        if all(t.acronym for t in rest) or any(t.key in _CONJUNCTIONS for t in rest):
            return False
        name = text[rest[0].start : rest[-1].end]
        self.add(PERSON, strip_suffix(name), name, segment, end=rest[-1].end)
        return True

    def untitled(
        self,
        tokens: list[Token],
        toks: list[Token],
        first: int,
        text: str,
        segment: int,
        headline: bool,
    ) -> None:
        """A phrase no title introduced: a given name, a role in apposition, or else the
        gazetteer names inside it when nothing else is left over."""
        ctx = self.ctx
        if len(toks) == 1:
            self.untitled_word(toks[0], segment, headline)
            return
        surface = text[toks[0].start : toks[-1].end]
        words = [t for t in toks if t.key not in ctx.particles]
        if (
            not headline
            and 2 <= len(words) <= _MAX_NAME_TOKENS
            and all(t.text[0].isupper() and not t.acronym for t in words)
            and not ctx.countries.get(words[0].key)
            and words[1].key not in ctx.stop
            and not any(t.key in _CONJUNCTIONS for t in toks)
            and (toks[0].key in ctx.names or self.apposition(tokens, toks, first, text))
        ):
            self.add(PERSON, strip_suffix(surface), surface, segment, end=toks[-1].end)
            return
        found: list[tuple[int, int]] = []
        pending: list[tuple[str, str, gz.Place | gz.Org, int]] = []
        i = 0
        while i < len(toks):
            longest = min(len(toks), i + _MAX_NAME_TOKENS) if ctx.starts_name(toks[i]) else i + 1
            for j in range(longest, i, -1):
                sub = text[toks[i].start : toks[j - 1].end]
                key = gz.fold(strip_suffix(sub))
                hit: gz.Place | gz.Org | None = ctx.org(key) or ctx.place(key, sub)
                if hit is not None:
                    pending.append((sub, key, hit, toks[j - 1].end))
                    found.append((i, j))
                    break
            else:
                j = i + 1
            i = j
        covered = {k for a, b in found for k in range(a, b)}
        last_found = max((b for _a, b in found), default=0)
        leftover = [
            t
            for k, t in enumerate(toks)
            if k not in covered
            and not ctx.ordinary(t)
            and t.key not in ctx.particles
            # German capitalises nouns: "in Deutschland Probleme" is a place and a noun.
            and not (ctx.compounding and k >= last_found)
            # A sentence's first word is capitalised anyway ("Pasukan Baku merebut").
            and not t.sentence_start
        ]
        # Headlines capitalise every word, so there a leftover word proves nothing.
        if leftover and len(toks) > 1 and not headline:
            # An unknown name holds these places ("Harry Chandler", "GP de Qatar"): only
            # organisations inside it are taken ("Samsung Galaxy").
            pending = [p for p in pending if isinstance(p[2], gz.Org)]
        for sub, _key, hit, end in pending:
            if isinstance(hit, gz.Org):
                self.add(ORGANIZATION, hit.name, sub, segment, end=end)
            else:
                self.add(PLACE, hit.name, sub, segment, hit, end=end)

    def untitled_word(self, tok: Token, segment: int, headline: bool) -> None:
        """A lone capitalised word: a gazetteer name, an acronym organisation, or a word kept
        for linking to a person named elsewhere."""
        ctx = self.ctx
        hit = ctx.org(tok.key) or ctx.place(tok.key, tok.text)
        if isinstance(hit, gz.Org):
            self.add(ORGANIZATION, hit.name, tok.text, segment, end=tok.end)
        elif hit is not None:
            self.add(PLACE, hit.name, tok.text, segment, hit, end=tok.end)
        elif not headline and ctx.acronym_org(tok):
            self.add(ORGANIZATION, tok.text, tok.text, segment, end=tok.end)
        elif not tok.sentence_start or tok.key not in ctx.stop:
            self.order += 1
            self.unresolved.append((tok.key, strip_suffix(tok.text), self.order, segment))

    def apposition(self, tokens: list[Token], toks: list[Token], first: int, text: str) -> bool:
        """A name set off by commas next to a role: "Sophie Binet, la secrétaire générale",
        "la presidenta de la Comisión Europea, Ursula von der Leyen,"."""
        last = first + len(toks) - 1
        after = text[toks[-1].end : toks[-1].end + 3]
        if after.startswith(",") and last + 1 < len(tokens):
            for tok in tokens[last + 1 : last + 4]:
                if is_title(tok.key):
                    return True
        before = text[max(0, toks[0].start - 2) : toks[0].start]
        if before == ", " and first > 0:
            for tok in reversed(tokens[max(0, first - 8) : first]):
                if tok.sentence_start and tok is not tokens[first - 1]:
                    break
                if is_title(tok.key):
                    return True
        return False

    # -- an optional spaCy pipeline -----------------------------------------------------------
    def merge(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[str, int, int]]]) -> None:
        """Add the entities a spaCy pipeline found that the rules did not: the rules stay the
        backbone (a name they found keeps their type and count), places still resolve through
        the gazetteer to an ISO code where it knows them, and a lone word the rules will link
        to a person they found ("Putin") is left to that linking."""
        ctx = self.ctx
        seen = {gz.fold(f) for m in self.mentions for f in (m.surface, m.canonical)}
        seen.update(gz.fold(alias) for _type, _canonical, alias in self.same_as)
        people = [gz.fold(m.canonical).split() for m in self.mentions if m.type == PERSON]
        added: set[str] = set()
        for n, (text, found) in enumerate(zip(texts, spans, strict=True)):
            for type_, start, end in found:
                surface = strip_suffix(text[start:end].strip())
                head, _, rest = surface.partition(" ")
                if rest and gz.fold(head) in ctx.stop:
                    surface = rest  # "the European Union"
                key = gz.fold(surface)
                if not key or key in seen or (
                    " " not in key and any(_same_person([key], w) for w in people)
                ):
                    continue
                place = ctx.place(key, surface) if type_ == PLACE else None
                org = ctx.org(key) if type_ == ORGANIZATION else None
                canonical = place.name if place else org.name if org else surface
                self.add(type_, canonical, surface, min(n, 2), place)
                added.add(key)
        # A word the pipeline named is counted by its mention, not again by linking.
        self.unresolved = [u for u in self.unresolved if u[0] not in added]

    # -- the whole article ------------------------------------------------------------------
    def entities(self) -> list[Entity]:
        by_key: dict[tuple[str, str], Entity] = {}
        # Fullest names first, so "Putin" and "Stine Eilertzen" find "Vladimir Putin" and
        # "Stine Ilona Eilertzen" already there; among equally full names the shortest, as
        # inflection adds endings ("Michala Redla" is the Czech genitive of Michal Redl).
        # Two names of one person end in the same surname, or in inflections of it that
        # share its first four letters (``_same_person``), so each name is compared only
        # with the people filed under that stem, in the order they were found: the same
        # first match as a scan of them all, without comparing every pair of names (a page
        # of reader comments names hundreds of people).
        by_stem: dict[str, list[tuple[list[str], str]]] = {}
        person_mentions = [m for m in self.mentions if m.type == PERSON]
        for m in sorted(
            person_mentions, key=lambda m: (-len(m.canonical.split()), len(m.canonical))
        ):
            words = gz.fold(m.canonical).split()
            filed = by_stem.setdefault(words[-1][:4], [])
            target = next((c for w, c in filed if _same_person(words, w)), None)
            if target is None:
                filed.append((words, m.canonical))
            else:
                m.canonical = target
        aliases = {gz.fold(alias): (type_, canonical) for type_, canonical, alias in self.same_as}
        for key, surface, order, segment in self.unresolved:
            candidates = by_stem.get(key[:4], ())
            target = next((c for w, c in candidates if _same_person([key], w)), None)
            if target is not None:
                self.mentions.append(_Mention(PERSON, target, surface, order, segment))
            elif key in aliases:
                type_, canonical = aliases[key]
                self.mentions.append(_Mention(type_, canonical, surface, order, segment))
        for m in self.mentions:
            if m.type == ORGANIZATION and gz.fold(m.canonical) in aliases:
                m.type, m.canonical = aliases[gz.fold(m.canonical)]
            if m.type == PLACE and m.place is not None and m.place.kind == "city":
                # "Jackson said": the surname of a person the article names, not the city.
                key = gz.fold(m.surface)
                candidates = by_stem.get(key[:4], ())
                target = next((c for w, c in candidates if _same_person([key], w)), None)
                if target is not None:
                    m.type, m.canonical, m.place = PERSON, target, None
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


def _place_unit_after(tok: Token, lang: str) -> bool:
    """Whether ``tok`` names the administrative unit of the place before it."""
    if lang == "tr":
        return tok.key.startswith(lexicon.TURKISH_PLACE_UNITS)
    return tok.key in _PLACE_UNITS_AFTER


def _same_person(short: list[str], full: list[str]) -> bool:
    """Whether the (folded) name ``short`` can refer to the person named ``full``: the same
    name, the surname alone ("Putin"), first and last name without the middle one, or the
    same words inflected ("Michala Redla" is Czech for Michal Redl's)."""
    if short == full[-len(short) :]:
        return True
    if len(short) >= 2 and len(full) >= 2 and short[0] == full[0] and short[-1] == full[-1]:
        return True
    if len(short) == 1:
        return len(full) > 1 and _inflected(short[0], full[-1])
    return len(short) == len(full) and all(
        _inflected(a, b) for a, b in zip(short, full, strict=True)
    )


def _inflected(a: str, b: str) -> bool:
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return len(shorter) >= 4 and len(longer) - len(shorter) <= 2 and longer.startswith(shorter)


def extract_entities(
    paragraphs: Sequence[str],
    *,
    lang: str = "und",
    title: str | None = None,
    dateline: str | None = None,
    segments: Sequence[list[Token]] | None = None,
    lower_words: set[str] | None = None,
    spacy_model: str = "",
) -> list[Entity]:
    """Entities in an article: the headline, then each paragraph in order. ``segments``
    are the title's and paragraphs' tokens when the caller has them already, with
    ``lower_words``, the keys of the paragraphs' lower-case words (``tokenize`` collects
    them); ``spacy_model`` names an optional spaCy pipeline whose entities are merged in
    (``spacy_ner``)."""
    texts = [title or "", *paragraphs]
    if segments is None:
        lower_words = set()
        segments = [tokenize(texts[0]), *(tokenize(p, lower_words) for p in paragraphs)]
    elif lower_words is None:
        lower_words = {t.key for seg in segments[1:] for t in seg if not t.cap}
    ex = _Extractor(_Context(lang, lower_words))
    if dateline:
        place = dateline_place(dateline)
        if place is not None:
            ex.add(PLACE, place.name, dateline.strip(), 1, place)
    for n, (text, tokens) in enumerate(zip(texts, segments, strict=True)):
        ex.run(text, tokens, min(n, 2), headline=n == 0)
    nlp = spacy_ner.pipeline(spacy_model) if spacy_model else None
    if nlp is not None:
        ex.merge(texts, spacy_ner.spacy_spans(nlp, texts))
    return ex.entities()


def dateline_place(dateline: str) -> gz.Place | None:
    """The place a dateline names: "YEREVAN", "Berlin (dpa)", "JAKARTA, KOMPAS.com"."""
    head = re.split(r"[,(/–—]| - ", dateline, maxsplit=1)[0].strip()
    if not head:
        return None
    key = gz.fold(head)
    return gz.countries().get(key) or gz.regions().get(key) or gz.cities().get(key)
