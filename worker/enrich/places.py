"""Places and countries of a story, and its primary place."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from worker.enrich.entities import PLACE, Entity, dateline_place


def place_records(entities: Sequence[Entity]) -> list[dict[str, Any]]:
    """Every place with its ISO 3166-1 country code (None for continents) and mention count."""
    return [
        {"name": e.text, "country": e.country, "kind": e.kind, "count": e.count}
        for e in entities
        if e.type == PLACE
    ]


def country_counts(entities: Sequence[Entity]) -> dict[str, int]:
    """ISO code → mentions of the country itself plus mentions of places inside it: a story
    that names Yerevan four times concerns Armenia even where it never says "Armenia"."""
    counts: Counter[str] = Counter()
    for e in entities:
        if e.type == PLACE and e.country:
            counts[e.country] += e.count
    return dict(counts.most_common())


def primary_place(entities: Sequence[Entity], dateline: str | None) -> dict[str, Any] | None:
    """The dateline's place when it names one; otherwise the most central place: mentions,
    plus weight for being in the headline and in the first paragraph; ties go to the
    earlier mention."""
    if dateline:
        found = dateline_place(dateline)
        if found is not None:
            return {"name": found.name, "country": found.country or None, "source": "dateline"}
    best: Entity | None = None
    best_score = -1.0
    for e in entities:
        if e.type != PLACE:
            continue
        score = e.count + 2.0 * e.in_headline + 1.0 * e.in_first_paragraph
        if score > best_score or (
            score == best_score and best is not None and e.first < best.first
        ):
            best, best_score = e, score
    if best is None:
        return None
    return {"name": best.text, "country": best.country, "source": "text"}
