"""The PostgreSQL backend of ``kabar sink``: ``postgres://user@host:port/dbname``.

Tables (see ``migrations/``, applied in order at open and recorded in ``schema_migrations``):
``articles`` (one row per article id: the newest version, enrichment as JSONB, a tsvector in
the article's language's text-search configuration, entity forms and countries as indexed
arrays), ``duplicates`` (links to their original), ``sink_offsets`` (where each partition
resumes, committed with the rows) and ``sink_dead_letters`` (the dead-letter outbox).

A batch is bulk-loaded: COPY into a temporary table, then one ``INSERT … SELECT … ON
CONFLICT`` that only replaces a stored article by a newer version. When PostgreSQL refuses
something in the batch (a NUL character, a date it cannot read), the batch is retried row by
row, each in a savepoint, and the rows it refuses become dead letters; the rest, the
offsets and those dead letters still commit together.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from importlib import resources
from typing import Any

import orjson
import psycopg
from yarl import URL

from worker.enrich.gazetteer import fold
from worker.models import DeadLetter
from worker.sink.core import (
    Batch,
    Decoded,
    Partition,
    PositionConflict,
    SinkError,
    dead_letter,
    entity_forms,
)

#: Row errors: PostgreSQL refused a value, not the connection or the schema.
ROW_ERRORS = (psycopg.DataError, psycopg.IntegrityError)

_MIGRATION_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")
# any constant: pg_advisory_xact_lock serialises sinks that migrate the same database at once
_MIGRATION_LOCK = 0x6B61626172

_STAGING = """
CREATE TEMP TABLE incoming_articles (
    id text, version integer, url text, title text, language text,
    published_at timestamptz, source text, section text, primary_place text,
    enrichment jsonb, entity_forms text[], countries text[], article jsonb,
    kafka_topic text, kafka_partition integer, kafka_offset bigint
)
"""
#: the columns of an article row that the sink writes (ts_config comes from the language)
ARTICLE_COLUMNS = ("id, version, url, title, language, published_at, source, section, "
                   "primary_place, enrichment, entity_forms, countries, article, kafka_topic, "
                   "kafka_partition, kafka_offset")
_EXCLUDED = ", ".join(f"EXCLUDED.{c.strip()}" for c in ARTICLE_COLUMNS.split(","))
_UPSERT_ARTICLES = f"""
INSERT INTO articles AS a ({ARTICLE_COLUMNS}, ts_config)
SELECT i.*, coalesce(l.config, 'simple'::regconfig)
FROM incoming_articles AS i
LEFT JOIN text_search_languages AS l ON l.language = lower(split_part(i.language, '-', 1))
ON CONFLICT (id) DO UPDATE SET
    ({ARTICLE_COLUMNS}, ts_config, stored_at)
    = ({_EXCLUDED}, EXCLUDED.ts_config, now())
WHERE a.version < EXCLUDED.version
RETURNING (xmax = 0) AS inserted
"""
_UPSERT_DUPLICATE = """
INSERT INTO duplicates (duplicate_id, duplicate_url, original_id, original_url, kind,
                        similarity, detected_at, correction)
VALUES (%(duplicate_id)s, %(duplicate_url)s, %(original_id)s, %(original_url)s, %(kind)s,
        %(similarity)s, %(detected_at)s, %(correction)s)
ON CONFLICT (duplicate_id) DO UPDATE SET
    (duplicate_url, original_id, original_url, kind, similarity, detected_at, correction,
     stored_at)
    = (EXCLUDED.duplicate_url, EXCLUDED.original_id, EXCLUDED.original_url, EXCLUDED.kind,
       EXCLUDED.similarity, EXCLUDED.detected_at, EXCLUDED.correction, now())
"""


def is_postgres_url(database: str) -> bool:
    return database.startswith(("postgres://", "postgresql://"))


def redacted(url: str) -> str:
    """The database URL without its password, for messages (a file path stays as it is)."""
    return str(URL(url).with_password(None)) if URL(url).password else url


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every migration shipped with Kabar, in order."""
    found = []
    for entry in resources.files("worker.sink").joinpath("migrations").iterdir():
        if match := _MIGRATION_NAME.match(entry.name):
            found.append((int(match.group(1)), match.group(2), entry.read_text()))
    return sorted(found)


def migrate(conn: psycopg.Connection, target: int | None = None) -> list[int]:
    """Apply the migrations the database lacks (up to ``target``), each recorded in
    ``schema_migrations``, all in one transaction. Returns the versions applied."""
    known = migrations()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY "
                     "KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        applied = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
        if unknown := applied - {v for v, _, _ in known}:
            raise SinkError(f"database has schema migration(s) {sorted(unknown)} this version "
                            "of Kabar does not know; upgrade Kabar")
        done = []
        for version, name, sql in known:
            if version in applied or (target is not None and version > target):
                continue
            try:
                conn.execute(sql)
            except psycopg.Error as exc:
                raise SinkError(f"schema migration {version:04d}_{name} failed: {exc}") from exc
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                         (version, name))
            done.append(version)
    return done


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def article_row(stored: Decoded) -> tuple[Any, ...]:
    article, message = stored.data, stored.message
    enrichment = article.get("enrichment") or {}
    forms = sorted({form for ent in enrichment.get("entities") or () for form in entity_forms(ent)})
    return (
        stored.id, stored.version, article["url"], article.get("title"),
        article.get("language"), article.get("published_at_utc"), article.get("source"),
        article.get("section"), (enrichment.get("primary_place") or {}).get("name"),
        _json(enrichment), forms,
        sorted({str(code).upper() for code in enrichment.get("countries") or {}}),
        _json({k: v for k, v in article.items() if k != "enrichment"}),
        message.topic, message.partition, message.offset,
    )


class PostgresSink:
    """One PostgreSQL database, migrated to the current layout."""

    def __init__(self, conn: psycopg.Connection, url: str) -> None:
        self.conn = conn
        self.path = url
        self._search_configs: list[str] | None = None

    # -- writing -----------------------------------------------------------------------

    def positions(self) -> dict[Partition, int]:
        with self.conn.transaction():
            rows = self.conn.execute("SELECT topic, partition, next_offset FROM sink_offsets")
            return {(topic, partition): offset for topic, partition, offset in rows}

    def write(self, batch: Batch) -> Counter[str]:
        try:
            return self._write(batch)
        except psycopg.OperationalError as exc:
            # the batch rolled back with the connection; a restart resumes at its offsets
            raise SinkError(f"sink {self.path}: lost PostgreSQL: {exc}") from exc

    def _write(self, batch: Batch) -> Counter[str]:
        counts: Counter[str] = Counter()
        rejected = list(batch.rejected)
        with self.conn.transaction():
            try:
                with self.conn.transaction():
                    stored = self._store_articles(batch.articles)
                    self._store_duplicates(batch.duplicates)
                counts += stored
            except ROW_ERRORS:
                # find the rows PostgreSQL refuses: one savepoint each, the rest still commit
                for stored in batch.articles:
                    try:
                        with self.conn.transaction():
                            counts += self._store_articles([stored])
                    except ROW_ERRORS as exc:
                        rejected.append(self._refused(stored, exc))
                for duplicate in batch.duplicates:
                    try:
                        with self.conn.transaction():
                            self._store_duplicates([duplicate])
                    except ROW_ERRORS as exc:
                        rejected.append(self._refused(duplicate, exc))
            counts["duplicates"] += len(batch.duplicates)
            self._save_positions(batch)
            if rejected:
                with self.conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO sink_dead_letters (key, letter) VALUES (%s, %s)",
                        [((d.key or d.url or "").encode(), d.to_json()) for d in rejected])
            counts["rejected"] += len(rejected)
        return counts

    def _refused(self, stored: Decoded, exc: psycopg.Error) -> DeadLetter:
        detail = " ".join(str(exc).split())
        url = stored.data.get("url") or stored.data.get("duplicate_url")
        return dead_letter(stored.message, "rejected_by_database",
                           f"PostgreSQL refused the row: {type(exc).__name__}: {detail}", url)

    def _store_articles(self, articles: Sequence[Decoded]) -> Counter[str]:
        if not articles:
            return Counter()
        with self.conn.cursor() as cur:
            cur.execute("TRUNCATE incoming_articles")
            with cur.copy(f"COPY incoming_articles ({ARTICLE_COLUMNS}) FROM STDIN") as copy:
                for stored in articles:
                    copy.write_row(article_row(stored))
            cur.execute(_UPSERT_ARTICLES)
            inserted = [row[0] for row in cur.fetchall()]
        return Counter(inserted=sum(inserted), updated=len(inserted) - sum(inserted),
                       not_newer=len(articles) - len(inserted))

    def _store_duplicates(self, duplicates: Sequence[Decoded]) -> None:
        if duplicates:
            with self.conn.cursor() as cur:
                cur.executemany(_UPSERT_DUPLICATE, [d.data for d in duplicates])

    def _save_positions(self, batch: Batch) -> None:
        with self.conn.cursor() as cur:
            for (topic, partition), offset in batch.positions.items():
                expected = batch.expected.get((topic, partition))
                if expected is None:
                    cur.execute("INSERT INTO sink_offsets VALUES (%s, %s, %s) "
                                "ON CONFLICT DO NOTHING", (topic, partition, offset))
                else:
                    cur.execute("UPDATE sink_offsets SET next_offset = %s WHERE topic = %s "
                                "AND partition = %s AND next_offset = %s",
                                (offset, topic, partition, expected))
                if cur.rowcount != 1:
                    raise PositionConflict(
                        f"sink {self.path}: {topic}[{partition}] is not at offset {expected} "
                        "any more: another sink writes this database")

    def pending_dead_letters(self) -> list[tuple[int, bytes | None, bytes]]:
        with self.conn.transaction():
            rows = self.conn.execute("SELECT id, key, letter FROM sink_dead_letters ORDER BY id")
            return [(row_id, key, bytes(letter)) for row_id, key, letter in rows]

    def forget_dead_letters(self, ids: Sequence[int]) -> None:
        with self.conn.transaction():
            self.conn.execute("DELETE FROM sink_dead_letters WHERE id = ANY(%s)", (list(ids),))

    # -- reading -----------------------------------------------------------------------

    def search(self, text: str | None = None, entity: str | None = None,
               country: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Articles matching every given filter, best text match first (else newest first).

        ``text`` is a web-search query (plain words, "quoted phrases", OR, -word), matched
        with every configured language's stemming, since the query's language is unknown;
        ``entity`` matches a canonical name or any alias, case- and accent-insensitively;
        ``country`` is an ISO 3166-1 code."""
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        select = ("SELECT a.id, a.url, a.title, a.language, "
                  "a.article ->> 'published_at_utc' AS published_at_utc, a.version")
        source = "FROM articles AS a"
        order = "ORDER BY a.published_at DESC NULLS LAST, a.id"
        if text:
            configs = self._configs()
            query = " || ".join(f"websearch_to_tsquery(%(config{i})s::regconfig, %(text)s)"
                                for i in range(len(configs)))
            params.update({f"config{i}": c for i, c in enumerate(configs)})
            source += f" CROSS JOIN (SELECT {query}) AS q (query)"
            where.append("a.search @@ q.query")
            params["text"] = text
            select += (", ts_headline(a.ts_config, a.article ->> 'body', q.query, "
                       "'StartSel=[, StopSel=], MaxWords=12, MinWords=5') AS snippet")
            order = "ORDER BY ts_rank(a.search, q.query) DESC, a.id"
        if entity:
            where.append("a.entity_forms @> ARRAY[%(entity)s]")
            params["entity"] = fold(entity)
        if country:
            where.append("a.countries @> ARRAY[%(country)s]")
            params["country"] = country.upper()
        sql = (f"{select} {source} {'WHERE ' + ' AND '.join(where) if where else ''} "
               f"{order} LIMIT %(limit)s")
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute(sql, params)
                names = [d.name for d in cur.description or ()]
                return [dict(zip(names, row, strict=True)) for row in cur]
        except psycopg.Error as exc:
            raise SinkError(f"sink {self.path}: search {text!r} failed: {exc}") from exc

    def _configs(self) -> list[str]:
        if self._search_configs is None:
            with self.conn.transaction():
                rows = self.conn.execute(
                    "SELECT DISTINCT config::text FROM text_search_languages ORDER BY 1")
                self._search_configs = ["simple", *(name for (name,) in rows)]
        return self._search_configs

    def get(self, article_id: str) -> dict[str, Any] | None:
        with self.conn.transaction():
            row = self.conn.execute(
                "SELECT article || jsonb_build_object('enrichment', enrichment) "
                "FROM articles WHERE id = %s", (article_id,)).fetchone()
        return row[0] if row else None

    def count(self) -> int:
        with self.conn.transaction():
            return int(self.conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> PostgresSink:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_postgres(url: str) -> PostgresSink:
    """Connect to ``url`` (postgres:// or postgresql://) and migrate it to the current
    layout."""
    try:
        conn = psycopg.connect(url, application_name="kabar-sink")
    except psycopg.Error as exc:
        raise SinkError(f"sink {redacted(url)}: cannot connect to PostgreSQL: {exc}") from exc
    try:
        migrate(conn)
    except SinkError as exc:
        conn.close()
        raise SinkError(f"sink {redacted(url)}: {exc}") from exc
    with conn.transaction():
        conn.execute(_STAGING)
    return PostgresSink(conn, redacted(url))
