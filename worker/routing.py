"""Routing: send each enriched article to the topics whose rules it meets.

Rules live in TOML, one ``[[route]]`` table each::

    [[route]]
    name = "indonesian"              # unique, for logs and `kabar routes test`
    topic = "articles.lang.id"       # suffix: the topic is KABAR_TOPIC_PREFIX + this
    language = ["id"]

    [[route]]
    name = "armenia-desk"
    topic = "alerts.armenia"
    country = ["AM"]                 # ISO 3166-1 alpha-2, from enrichment.countries
    entity = ["Nikol Pashinyan"]     # entity name or any alias; "person:Putin" limits the type
    keyword = ["Karabakh"]           # a word or phrase in keywords, tags, title or body
    section = ["world"]              # the page's section
    source = ["antara*"]             # source name; shell-style wildcards
    match = "any"                    # "all" (default): every listed field must match

Inside one field, any listed value matches; ``match`` says how fields combine. A rule with
no condition is refused (it would route everything; say so with ``match_all = true``).
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.enrich.gazetteer import fold
from worker.models import Article

FIELDS = ("language", "country", "entity", "keyword", "section", "source")
_TOPIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
_ENTITY_TYPES = {"person", "organization", "place"}


class RoutingError(ValueError):
    """A routing file that cannot be used; the message names the file, rule and field."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    topic: str
    conditions: tuple[tuple[str, tuple[str, ...]], ...]
    match: str = "all"  # all | any
    match_all: bool = False


def load_rules(path: str | Path) -> list[Rule]:
    """Read and check a routing file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RoutingError(f"{path}: cannot read routing rules: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise RoutingError(f"{path}: routing rules are not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RoutingError(f"{path}: not valid TOML: {exc}") from exc
    return parse_rules(data, origin=str(path))


def parse_rules(data: Mapping[str, Any], origin: str = "<rules>") -> list[Rule]:
    unknown_top = set(data) - {"route"}
    if unknown_top:
        raise RoutingError(
            f"{origin}: unknown top-level key(s) {sorted(unknown_top)}; expected [[route]] tables"
        )
    tables = data.get("route", [])
    if not isinstance(tables, list):
        raise RoutingError(f"{origin}: 'route' must be an array of tables ([[route]])")
    rules: list[Rule] = []
    seen: set[str] = set()
    for n, table in enumerate(tables, 1):
        where = f"{origin}: route #{n}"
        if not isinstance(table, dict):
            raise RoutingError(f"{where}: expected a table")
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RoutingError(f"{where}: 'name' (a non-empty string) is required")
        where = f"{origin}: route {name!r}"
        if name in seen:
            raise RoutingError(f"{where}: duplicate name")
        seen.add(name)
        topic = table.get("topic")
        if not isinstance(topic, str) or not _TOPIC.match(topic):
            raise RoutingError(
                f"{where}: 'topic' must be a topic suffix such as "
                f"'alerts.armenia' (letters, digits, '.', '_', '-'), got {topic!r}"
            )
        unknown = set(table) - {"name", "topic", "match", "match_all", *FIELDS}
        if unknown:
            raise RoutingError(
                f"{where}: unknown key(s) {sorted(unknown)}; conditions are {', '.join(FIELDS)}"
            )
        match = table.get("match", "all")
        if match not in ("all", "any"):
            raise RoutingError(f'{where}: \'match\' must be "all" or "any", got {match!r}')
        match_all = table.get("match_all", False)
        if not isinstance(match_all, bool):
            raise RoutingError(f"{where}: 'match_all' must be true or false")
        conditions = []
        for field in FIELDS:
            if field not in table:
                continue
            values = table[field]
            if isinstance(values, str):
                values = [values]
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(v, str) and v.strip() for v in values)
            ):
                raise RoutingError(
                    f"{where}: '{field}' must be a string or a non-empty list of strings"
                )
            if field == "entity":
                for v in values:
                    kind, sep, _ = v.partition(":")
                    if sep and kind not in _ENTITY_TYPES:
                        raise RoutingError(
                            f"{where}: entity {v!r}: type must be one of {sorted(_ENTITY_TYPES)}"
                        )
            conditions.append((field, tuple(values)))
        if not conditions and not match_all:
            raise RoutingError(
                f"{where}: no condition; add one of {', '.join(FIELDS)} "
                "or set match_all = true to route every article"
            )
        rules.append(Rule(name, topic, tuple(conditions), match, match_all))
    return rules


def route(rules: Sequence[Rule], article: Article | Mapping[str, Any]) -> list[str]:
    """Topic suffixes of the rules that fire, in rule order, each once."""
    view = _View(article)
    out: list[str] = []
    for rule in rules:
        if _evaluate(rule, view)[0] and rule.topic not in out:
            out.append(rule.topic)
    return out


def explain(
    rules: Sequence[Rule], article: Article | Mapping[str, Any]
) -> list[tuple[Rule, bool, str]]:
    """For each rule: did it fire, and why (which values matched or which field failed)."""
    view = _View(article)
    return [(rule, *_evaluate(rule, view)) for rule in rules]


class _View:
    """The parts of an article the conditions read, folded once."""

    def __init__(self, article: Article | Mapping[str, Any]) -> None:
        data = article.to_dict() if isinstance(article, Article) else dict(article)
        enrichment = data.get("enrichment") or {}
        self.language = (data.get("language") or "").lower()
        self.countries = {str(c).upper(): n for c, n in (enrichment.get("countries") or {}).items()}
        self.section = fold(data.get("section") or "")
        self.source = data.get("source") or ""
        self.entities: dict[str, list[tuple[str, str]]] = {}
        for ent in enrichment.get("entities") or ():
            for form in (ent.get("text", ""), *ent.get("aliases", ())):
                self.entities.setdefault(fold(form), []).append((ent.get("type", ""), ent["text"]))
        self.keywords = {fold(k) for k in enrichment.get("keywords") or ()}
        self.keywords |= {fold(t) for t in data.get("tags") or ()}
        self.text = fold(" ".join(filter(None, [data.get("title"), data.get("body")])))

    def has_phrase(self, phrase: str) -> bool:
        key = fold(phrase)
        if key in self.keywords:
            return True
        return re.search(rf"(?<!\w){re.escape(key)}(?!\w)", self.text) is not None


def _evaluate(rule: Rule, view: _View) -> tuple[bool, str]:
    if rule.match_all and not rule.conditions:
        return True, "match_all: every article"
    results = [_check(field, values, view) for field, values in rule.conditions]
    fired = all(ok for ok, _ in results) if rule.match == "all" else any(ok for ok, _ in results)
    why = "; ".join(reason for _ok, reason in results)
    return fired, f"{'all' if rule.match == 'all' else 'any'} of: {why}"


def _check(field: str, values: tuple[str, ...], view: _View) -> tuple[bool, str]:
    hits: list[str] = []
    if field == "language":
        hits = [v for v in values if view.language.split("-")[0] == v.lower().split("-")[0]]
        seen = view.language or "none"
    elif field == "country":
        hits = [
            f"{v.upper()}×{view.countries[v.upper()]}"
            for v in values
            if v.upper() in view.countries
        ]
        seen = ",".join(view.countries) or "none"
    elif field == "entity":
        for v in values:
            kind, sep, name = v.partition(":")
            if not sep:
                kind, name = "", v
            for ent_type, canonical in view.entities.get(fold(name), ()):
                if not kind or kind == ent_type:
                    hits.append(f"{v} ({ent_type} {canonical!r})")
                    break
        seen = f"{len(view.entities)} entity names"
    elif field == "keyword":
        hits = [v for v in values if view.has_phrase(v)]
        seen = "keywords, tags, title, body"
    elif field == "section":
        hits = [v for v in values if fold(v) == view.section]
        seen = view.section or "none"
    else:  # source
        hits = [v for v in values if fnmatch.fnmatchcase(view.source, v)]
        seen = view.source or "none"
    if hits:
        return True, f"{field} matched {', '.join(hits)}"
    return False, f"{field} wanted {list(values)}, article has {seen}"
