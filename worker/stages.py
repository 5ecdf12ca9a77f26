"""The pure stage chain for one page, without Kafka: what `kabar extract` prints and what
the agents compute (they split it around the dedupe decision)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from worker.dedupe.fingerprints import fingerprints
from worker.enrich import enrich
from worker.extract import extract_article
from worker.extract.decode import GZIP_MAGIC, check_size, gunzip
from worker.models import Article
from worker.settings import MAX_BODY_BYTES


def article_from_page(
    html: bytes | str,
    url: str | None = None,
    *,
    fetched_at: str | None = None,
    headers: Mapping[str, str] | None = None,
    hints: Mapping[str, Any] | None = None,
    source: str | None = None,
    enrich_article: bool = True,
    spacy_model: str = "",
    max_bytes: int = MAX_BODY_BYTES,
) -> Article:
    """Extract, fingerprint and (by default) enrich one page, with the optional spaCy
    pipeline named by ``spacy_model`` (the enrich.spacy_model setting); a page over
    ``max_bytes`` (the fetch.max_body_bytes setting) is refused. Raises ExtractionError."""
    article = extract_article(html, url, fetched_at=fetched_at, headers=headers, hints=hints,
                              source=source, max_bytes=max_bytes)
    article.fingerprints = fingerprints(article)
    return enrich(article, spacy_model=spacy_model) if enrich_article else article


def read_saved_page(path: Path, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """A saved page's bytes, inflated if it is gzip-compressed; ExtractionError
    ``too_large`` for a file over ``max_bytes`` (the fetch.max_body_bytes setting), before
    it is read, or for one that inflates past it. A pipe or a device (``<(curl …)``,
    /dev/zero) has no size to check first: it is read up to one byte past the limit."""
    check_size(path.stat().st_size, max_bytes)
    with path.open("rb") as file:
        data = file.read(max_bytes + 1)
    check_size(len(data), max_bytes)
    return gunzip(data, max_bytes) if data.startswith(GZIP_MAGIC) else data
