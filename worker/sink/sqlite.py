"""The SQLite backend of ``kabar sink``: FTS5, searchable by text, entity and country.

Upserts are keyed by article id and guarded by ``version``: a replayed message (same
version) rewrites the same row, an older version arriving late is ignored, and a newer one
replaces the article with its entities and countries. Like the PostgreSQL backend it stores
each batch with its consumer offsets and dead letters in one transaction (see core.py).
SQLite ships with Python, so this backend needs no server.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from worker.enrich.gazetteer import fold
from worker.sink.core import Batch, Partition, PositionConflict, SinkError, entity_forms

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    url TEXT NOT NULL,
    title TEXT,
    language TEXT,
    published_at_utc TEXT,
    source TEXT,
    section TEXT,
    primary_place TEXT,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entities (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    name TEXT NOT NULL,      -- canonical name
    form TEXT NOT NULL,      -- folded canonical name or alias, for look-ups
    type TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entities_form ON entities(form);
CREATE INDEX IF NOT EXISTS entities_article ON entities(article_id);
CREATE TABLE IF NOT EXISTS countries (
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS countries_code ON countries(code);
CREATE INDEX IF NOT EXISTS countries_article ON countries(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
    article_id UNINDEXED, title, body, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS duplicates (
    duplicate_id TEXT PRIMARY KEY,
    original_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS duplicates_original ON duplicates(original_id);
CREATE TABLE IF NOT EXISTS sink_offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS sink_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key BLOB,
    letter BLOB NOT NULL
);
"""


class SqliteSink:
    """One SQLite database. Not thread-safe: one consumer task owns it."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path

    def upsert(self, article: Mapping[str, Any]) -> str:
        """Store one article (its JSON form); returns "inserted", "updated", "replayed"
        (same version again, rewritten identically) or "stale" (older than stored)."""
        with self.conn:
            return self._upsert(article)

    def _upsert(self, article: Mapping[str, Any]) -> str:
        try:
            article_id = str(article["id"])
            url = str(article["url"])
        except KeyError as exc:
            raise SinkError(f"sink {self.path}: article without {exc.args[0]!r}") from exc
        version = int(article.get("version") or 1)
        row = self.conn.execute(
            "SELECT version FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        if row is not None and row[0] > version:
            return "stale"
        status = "inserted" if row is None else ("replayed" if row[0] == version else "updated")
        enrichment = article.get("enrichment") or {}
        primary = (enrichment.get("primary_place") or {}).get("name")
        if row is not None:
            self._delete(article_id)
        self.conn.execute(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article_id,
                version,
                url,
                article.get("title"),
                article.get("language"),
                article.get("published_at_utc"),
                article.get("source"),
                article.get("section"),
                primary,
                orjson.dumps(dict(article)).decode(),
            ),
        )
        self.conn.executemany(
            "INSERT INTO entities VALUES (?, ?, ?, ?, ?)",
            [
                (article_id, ent["text"], form, ent.get("type", ""), int(ent.get("count", 1)))
                for ent in enrichment.get("entities") or ()
                for form in entity_forms(ent)
            ],
        )
        self.conn.executemany(
            "INSERT INTO countries VALUES (?, ?, ?)",
            [
                (article_id, str(code).upper(), int(n))
                for code, n in (enrichment.get("countries") or {}).items()
            ],
        )
        self.conn.execute(
            "INSERT INTO articles_fts VALUES (?, ?, ?)",
            (article_id, article.get("title") or "", article.get("body") or ""),
        )
        return status

    # -- the Store protocol (worker/sink/core.py) ----------------------------------------

    def positions(self) -> dict[Partition, int]:
        rows = self.conn.execute("SELECT topic, partition, next_offset FROM sink_offsets")
        return {(topic, partition): offset for topic, partition, offset in rows}

    def write(self, batch: Batch) -> Counter[str]:
        counts: Counter[str] = Counter()
        with self.conn:
            for stored in batch.articles:
                counts[self._upsert(stored.data)] += 1
            self.conn.executemany(
                "INSERT OR REPLACE INTO duplicates VALUES (?, ?, ?)",
                [(d.data["duplicate_id"], d.data["original_id"], orjson.dumps(d.data).decode())
                 for d in batch.duplicates])
            counts["duplicates"] += len(batch.duplicates)
            for (topic, partition), offset in batch.positions.items():
                expected = batch.expected.get((topic, partition))
                cursor = self.conn.execute(
                    "INSERT INTO sink_offsets VALUES (?, ?, ?) ON CONFLICT DO UPDATE "
                    "SET next_offset = excluded.next_offset WHERE next_offset IS ?",
                    (topic, partition, offset, expected))
                if cursor.rowcount != 1:
                    raise PositionConflict(
                        f"sink {self.path}: {topic}[{partition}] is not at offset {expected} "
                        "any more: another sink writes this database")
            self.conn.executemany(
                "INSERT INTO sink_dead_letters (key, letter) VALUES (?, ?)",
                [((d.key or d.url or "").encode(), d.to_json()) for d in batch.rejected])
            counts["rejected"] += len(batch.rejected)
        return counts

    def pending_dead_letters(self) -> list[tuple[int, bytes | None, bytes]]:
        return list(self.conn.execute("SELECT id, key, letter FROM sink_dead_letters ORDER BY id"))

    def forget_dead_letters(self, ids: Sequence[int]) -> None:
        with self.conn:
            self.conn.executemany("DELETE FROM sink_dead_letters WHERE id = ?",
                                  [(i,) for i in ids])

    def _delete(self, article_id: str) -> None:
        for table in ("entities", "countries"):
            self.conn.execute(f"DELETE FROM {table} WHERE article_id = ?", (article_id,))
        self.conn.execute("DELETE FROM articles_fts WHERE article_id = ?", (article_id,))
        self.conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))

    def search(
        self,
        text: str | None = None,
        entity: str | None = None,
        country: str | None = None,
        limit: int = 20,
    ) -> list[dict[str, Any]]:
        """Articles matching every given filter, best text match first (else newest first).

        ``text`` is an FTS5 query over title and body (plain words match as words; quotes,
        AND/OR/NOT and prefix* work as in SQLite FTS5); ``entity`` matches a canonical name
        or any alias, case- and accent-insensitively; ``country`` is an ISO 3166-1 code."""
        where: list[str] = []
        params: list[Any] = []
        select = "SELECT a.id, a.url, a.title, a.language, a.published_at_utc, a.version"
        source = "FROM articles a"
        order = "ORDER BY a.published_at_utc DESC, a.id"
        if text:
            source += " JOIN articles_fts f ON f.article_id = a.id"
            where.append("articles_fts MATCH ?")
            params.append(_fts_query(text))
            select += ", snippet(articles_fts, 2, '[', ']', '…', 12) AS snippet"
            order = "ORDER BY bm25(articles_fts), a.id"
        if entity:
            where.append("a.id IN (SELECT article_id FROM entities WHERE form = ?)")
            params.append(fold(entity))
        if country:
            where.append("a.id IN (SELECT article_id FROM countries WHERE code = ?)")
            params.append(country.upper())
        sql = f"{select} {source} {'WHERE ' + ' AND '.join(where) if where else ''} {order} LIMIT ?"
        try:
            cursor = self.conn.execute(sql, (*params, limit))
        except sqlite3.OperationalError as exc:
            raise SinkError(f"sink {self.path}: search {text!r} failed: {exc}") from exc
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def get(self, article_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT data FROM articles WHERE id = ?", (article_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SqliteSink:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_sqlite(path: str | Path) -> SqliteSink:
    """Open (creating if needed) the SQLite database at ``path`` (":memory:" works too)."""
    target = str(path)
    if target != ":memory:":
        try:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file where a directory should be, a read-only place
            raise SinkError(f"sink {target}: cannot create its directory: "
                            f"{exc.strerror or exc}") from exc
    try:
        # the sink writes from a worker thread (asyncio.to_thread), one batch at a time
        conn = sqlite3.connect(target, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executescript(_SCHEMA)
    except sqlite3.Error as exc:
        raise SinkError(f"sink {target}: cannot open SQLite database: {exc}") from exc
    return SqliteSink(conn, target)


def _fts_query(text: str) -> str:
    """Plain words become quoted terms (so "Nagorno-Karabakh" is not read as a column
    filter); a query that already uses FTS5 syntax (quotes, AND/OR/NOT, *) is kept."""
    if '"' in text or any(op in text.split() for op in ("AND", "OR", "NOT")) or "*" in text:
        return text
    return " ".join(f'"{word}"' for word in text.split())
