"""Enrich stage: language, entities, places, keywords, summary, reading time, UTC date.

``enrich`` is pure: it takes an Article and returns a new one; nothing is fetched or
downloaded (every model and gazetteer ships inside an installed package).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from worker.enrich.dates import to_utc
from worker.enrich.entities import Entity, extract_entities
from worker.enrich.gazetteer import warm
from worker.enrich.keywords import extract_keywords
from worker.enrich.language import detect_language
from worker.enrich.places import country_counts, place_records, primary_place
from worker.enrich.summary import count_words, reading_time_minutes, summarize
from worker.models import Article

__all__ = ["enrich", "enrichment_block", "warm"]

#: Version of the enrichment block's shape, so consumers can tell what they read.
ENRICHMENT_VERSION = 1


def enrich(article: Article, *, timezone_hint: str | None = None) -> Article:
    """Return ``article`` with ``language``, ``published_at_utc``, ``word_count`` (only when
    the extractor left 0) and the ``enrichment`` block filled in."""
    paragraphs = article.paragraphs or [p for p in article.body.split("\n\n") if p.strip()]
    text = "\n".join(paragraphs)
    sample = f"{article.title or ''}\n{text}" if article.title else text
    language, confidence = detect_language(sample, article.declared_language)
    word_count = article.word_count or count_words(text)
    block = enrichment_block(article, paragraphs, language, word_count)
    block["language_confidence"] = confidence
    return dataclasses.replace(
        article,
        language=language,
        published_at_utc=article.published_at_utc or to_utc(article.published_at, timezone_hint),
        word_count=word_count,
        enrichment={**article.enrichment, **block},
    )


def enrichment_block(
    article: Article, paragraphs: list[str], language: str, word_count: int
) -> dict[str, Any]:
    entities = extract_entities(
        paragraphs, lang=language, title=article.title, dateline=article.dateline
    )
    return {
        "version": ENRICHMENT_VERSION,
        "entities": [_entity_record(e) for e in entities],
        "keywords": extract_keywords(
            "\n".join(filter(None, [article.title, *paragraphs])), language
        ),
        "places": place_records(entities),
        "countries": country_counts(entities),
        "primary_place": primary_place(entities, article.dateline),
        "summary": summarize(article.lead, paragraphs),
        "reading_time_minutes": reading_time_minutes(word_count),
    }


def _entity_record(e: Entity) -> dict[str, Any]:
    record: dict[str, Any] = {"text": e.text, "type": e.type, "count": e.count}
    if e.aliases:
        record["aliases"] = sorted(e.aliases)
    if e.country is not None:
        record["country"] = e.country
    return record
