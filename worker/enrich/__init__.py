"""Enrich stage: language, entities, places, keywords, summary, reading time, UTC date.

``enrich`` is pure: it takes an Article and returns a new one; nothing is fetched or
downloaded (every model and gazetteer ships inside an installed package).
"""

from __future__ import annotations

import dataclasses
import gc
from typing import Any

from worker.enrich import gazetteer, spacy_ner
from worker.enrich.dates import to_utc
from worker.enrich.entities import Entity, extract_entities
from worker.enrich.keywords import keywords_from_tokens
from worker.enrich.language import SAMPLE_CHARS as LANGUAGE_SAMPLE_CHARS
from worker.enrich.language import detect_language
from worker.enrich.places import country_counts, place_records, primary_place
from worker.enrich.summary import count_words, reading_time_minutes, summarize
from worker.enrich.tokens import tokenize
from worker.models import Article

__all__ = ["enrich", "enrichment_block", "warm"]

#: Version of the enrichment block's shape, so consumers can tell what they read.
ENRICHMENT_VERSION = 1


def warm(spacy_model: str = "") -> None:
    """Load the language model, every gazetteer and the optional spaCy pipeline now (about
    two seconds without spaCy), so a worker's first article is as fast as the rest and a
    missing pipeline is reported at start.

    The gazetteers are a few hundred thousand long-lived objects; ``gc.freeze()`` moves
    them (and whatever else the process has built so far) out of the collector's reach,
    otherwise every full collection walks them again and an unlucky article pays for it
    (measured: p99 enrichment fell several-fold)."""
    gazetteer.warm()
    if spacy_model:
        spacy_ner.pipeline(spacy_model)
    detect_language("warm up the language model with a sentence long enough to score", None)
    gc.collect()
    gc.freeze()


def enrich(
    article: Article, *, timezone_hint: str | None = None, spacy_model: str = ""
) -> Article:
    """Return ``article`` with ``language``, ``published_at_utc``, ``word_count`` (only when
    the extractor left 0) and the ``enrichment`` block filled in. ``spacy_model`` is the
    ``enrich.spacy_model`` setting: an optional spaCy pipeline whose entities join the
    rule-based ones ("" = off)."""
    # Enrichment builds a few Python objects per word and no reference cycles: reference
    # counting frees them all, and the collector's passes over them while they are alive
    # are pure cost, so automatic collection waits until the article is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _enrich(article, timezone_hint, spacy_model)
    finally:
        if collecting:
            gc.enable()


def _enrich(article: Article, timezone_hint: str | None, spacy_model: str) -> Article:
    paragraphs = article.paragraphs or [p for p in article.body.split("\n\n") if p.strip()]
    language, confidence = detect_language(
        _opening(article.title, paragraphs), article.declared_language
    )
    word_count = article.word_count or count_words("\n".join(paragraphs))
    block = enrichment_block(article, paragraphs, language, word_count, spacy_model)
    block["language_confidence"] = confidence
    return dataclasses.replace(
        article,
        language=language,
        published_at_utc=article.published_at_utc or to_utc(article.published_at, timezone_hint),
        word_count=word_count,
        enrichment={**article.enrichment, **block},
    )


def enrichment_block(
    article: Article,
    paragraphs: list[str],
    language: str,
    word_count: int,
    spacy_model: str = "",
) -> dict[str, Any]:
    # Tokenise once: entities and keywords read the same words.
    lower_words: set[str] = set()
    segments = [tokenize(article.title or ""), *(tokenize(p, lower_words) for p in paragraphs)]
    entities = extract_entities(
        paragraphs,
        lang=language,
        title=article.title,
        dateline=article.dateline,
        segments=segments,
        lower_words=lower_words,
        spacy_model=spacy_model,
    )
    return {
        "version": ENRICHMENT_VERSION,
        "entities": [_entity_record(e) for e in entities],
        "keywords": keywords_from_tokens(segments, language),
        "places": place_records(entities),
        "countries": country_counts(entities),
        "primary_place": primary_place(entities, article.dateline),
        "summary": summarize(article.lead, paragraphs),
        "reading_time_minutes": reading_time_minutes(word_count),
    }


def _opening(title: str | None, paragraphs: list[str]) -> str:
    """The headline and as many first paragraphs as the language model reads."""
    parts = [title] if title else []
    size = len(title or "")
    for para in paragraphs:
        if size >= LANGUAGE_SAMPLE_CHARS:
            break
        parts.append(para)
        size += len(para) + 1
    return "\n".join(parts)


def _entity_record(e: Entity) -> dict[str, Any]:
    record: dict[str, Any] = {"text": e.text, "type": e.type, "count": e.count}
    if e.aliases:
        record["aliases"] = sorted(e.aliases)
    if e.country is not None:
        record["country"] = e.country
    return record
