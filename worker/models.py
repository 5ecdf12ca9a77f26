"""Message shapes: every record that crosses a Kafka topic, in one place.

Records are plain dataclasses so the stages stay free of Faust and can be tested in
microseconds; agents turn them into JSON with ``to_json`` / ``from_json`` (orjson).
Each record's JSON form is described by a versioned JSON Schema in ``worker/schemas/``;
``tests/test_schemas.py`` fails when the code and the schema files drift apart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

import orjson


def utc_now() -> str:
    """Now, as the records' timestamps are written (ISO 8601, UTC, whole seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


#: The schema version of the records whose shape has not changed since v1. A change a
#: consumer could notice gives that record its own next version (a new schema file).
SCHEMA_VERSION = 1
#: FetchRequest's own version: v2 added ``depth``. Readers take v1 records too (a v1 request
#: still queued when workers upgrade is read as depth 0), and v1 readers drop ``depth``, so
#: workers of both versions can share the topic during a rolling upgrade.
FETCH_SCHEMA_VERSION = 2

#: Kafka header with the time (ISO 8601) a feed or sitemap entry announced the story. It
#: travels from the fetch request (``requested_at`` of the article's request) in the page's
#: ``hints["discovered_at"]``, then as this header on the internal topics to the emission,
#: where it gives the discovery → article latency; no published record carries it.
DISCOVERED_AT_HEADER = "kabar-discovered-at"


class Record:
    """Mixin: JSON round trip for the dataclasses below."""

    schema_name: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> bytes:
        # orjson walks dataclasses itself, in field order: the same bytes as dumping
        # to_dict(), without asdict's deep copy (a tenth of the time on an article)
        return orjson.dumps(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        missing = [
            f.name
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.name not in data
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ValueError(f"{cls.__name__}: missing required field(s) {', '.join(missing)}")
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        data = orjson.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        return cls.from_dict(data)


@dataclass(slots=True)
class FetchHints:
    """What the feed or sitemap said about an item before it was fetched."""

    title: str | None = None
    published_at: str | None = None
    modified_at: str | None = None
    guid: str | None = None
    language: str | None = None
    timezone: str | None = None


@dataclass(slots=True)
class FetchRequest(Record):
    """One URL to fetch, on ``kabar.fetch`` keyed by host (one host → one partition)."""

    schema_name: ClassVar[str] = "fetch"

    url: str
    source: str
    host: str
    requested_at: str
    #: article | feed | sitemap | page — what the fetched body is expected to be
    kind: str = "article"
    hints: FetchHints = field(default_factory=FetchHints)
    #: listing levels between the source's configured URL (0) and this URL: a sitemap that
    #: the source's robots.txt names is 1, a sitemap that sitemap lists is 2 (the fetch stage
    #: refuses listings deeper than fetch.max_listing_depth)
    depth: int = 0
    schema_version: int = FETCH_SCHEMA_VERSION

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        data = dict(data)
        data["hints"] = FetchHints(**(data.get("hints") or {}))
        return super(FetchRequest, cls).from_dict(data)


@dataclass(slots=True)
class RawPage(Record):
    """A fetched page with its HTTP facts, on ``kabar.pages`` keyed by canonical URL."""

    schema_name: ClassVar[str] = "pages"

    url: str
    final_url: str
    status: int
    fetched_at: str
    html: str
    charset: str
    headers: dict[str, str] = field(default_factory=dict)
    redirects: list[str] = field(default_factory=list)
    source: str | None = None
    hints: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION


@dataclass(slots=True)
class Article(Record):
    """One story, on ``kabar.articles`` keyed by ``id``. Unknown fields are None, never invented."""

    schema_name: ClassVar[str] = "articles"

    id: str
    url: str
    canonical_url: str | None = None
    title: str | None = None
    body: str = ""
    paragraphs: list[str] = field(default_factory=list)
    lead: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: str | None = None
    published_at_utc: str | None = None
    modified_at: str | None = None
    language: str | None = None
    declared_language: str | None = None
    dateline: str | None = None
    lead_image: str | None = None
    site_name: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    word_count: int = 0
    enrichment: dict[str, Any] = field(default_factory=dict)
    fetched_at: str | None = None
    source: str | None = None
    fingerprints: dict[str, Any] = field(default_factory=dict)
    duplicate_of: str | None = None
    version: int = 1  # content revision of this article id; bumped when the page changes
    schema_version: int = SCHEMA_VERSION


@dataclass(slots=True)
class DuplicateEvent(Record):
    """A page recognised as a copy of an earlier article, on ``kabar.duplicates``."""

    schema_name: ClassVar[str] = "duplicates"

    duplicate_id: str
    duplicate_url: str
    original_id: str
    original_url: str
    kind: str  # url | exact | near
    similarity: float
    detected_at: str
    correction: bool = False
    schema_version: int = SCHEMA_VERSION


@dataclass(slots=True)
class DeadLetter(Record):
    """Anything that could not go on, with why, on ``kabar.deadletter``. Nothing is dropped."""

    schema_name: ClassVar[str] = "deadletter"

    stage: str
    reason: str
    message: str
    failed_at: str
    url: str | None = None
    topic: str | None = None
    key: str | None = None
    payload: Any = None
    schema_version: int = SCHEMA_VERSION


@dataclass(slots=True)
class HealthEvent(Record):
    """What a stage saw of a source, on the internal ``kabar.health-events`` keyed by the
    source's host (so the worker that fetches the source keeps its health)."""

    schema_name: ClassVar[str] = "health-events"

    source: str
    #: poll (a listing of the source fetched or not) | fetch (an article fetch failed) |
    #: page (a page extracted or dead-lettered by the clean stage) | article (a new article)
    kind: str
    at: float  # Unix seconds
    url: str | None = None
    #: the fetch error's reason (http_403, timeout, robots_disallowed…); None: it worked
    error: str | None = None
    no_body: bool = False
    no_date: bool = False
    short: bool = False
    #: the page went to the dead-letter topic
    dead: bool = False


@dataclass(slots=True)
class SourceHealth(Record):
    """One source's health, on the compacted ``kabar.source-health`` keyed by source name:
    the facts, the rules (defaults with the source's overrides) and the state they give."""

    schema_name: ClassVar[str] = "source-health"

    source: str
    state: str  # healthy | quiet | failing | drifting
    reason: str
    evaluated_at: str
    tracked_since: str
    last_poll_at: str | None
    last_poll_outcome: str | None  # ok | the error reason
    last_new_article_at: str | None
    usual_interval_s: float | None
    articles_per_day: float
    consecutive_errors: int
    #: errors in a row by class: bot_wall, robots, http_4xx, http_5xx, timeout, network, other
    errors_by_reason: dict[str, int]
    last_error: str | None
    pages: int
    dead_letter_share: float
    extracted_pages: int
    drift_share: float | None
    drift_by_kind: dict[str, int]
    drift_baseline: float | None
    drift_baseline_pages: int
    rules: dict[str, Any]
    schema_version: int = SCHEMA_VERSION


#: Topic suffix → record type; the agents and the schema test both read this.
TOPIC_RECORDS: dict[str, type[Record]] = {
    "fetch": FetchRequest,
    "pages": RawPage,
    "articles": Article,
    "duplicates": DuplicateEvent,
    "deadletter": DeadLetter,
    "source-health": SourceHealth,
}


def schema_version_of(record_type: type[Record]) -> int:
    """The schema version a record type writes (worker/schemas/<topic>.v<N>.json)."""
    return next(f.default for f in dataclasses.fields(record_type)  # type: ignore[arg-type]
                if f.name == "schema_version")
