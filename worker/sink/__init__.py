"""``kabar sink``: store ``kabar.articles`` and ``kabar.duplicates`` in a database, searchable
by text, entity and country.

``core`` reads the topics and turns each batch into one transaction (rows, dead letters and
consumer offsets together: exactly once into the database); ``sqlite`` and ``postgres`` are
the backends. ``open_sink`` picks one from the DATABASE argument: a ``postgres://`` or
``postgresql://`` URL, else a SQLite file path.
"""

from __future__ import annotations

from pathlib import Path

from worker.sink.core import SinkError, Store
from worker.sink.postgres import PostgresSink, is_postgres_url, open_postgres
from worker.sink.sqlite import SqliteSink, open_sqlite

__all__ = ["PostgresSink", "SinkError", "SqliteSink", "Store", "is_postgres_url", "open_sink"]


def open_sink(database: str | Path) -> SqliteSink | PostgresSink:
    """Open the database (creating or migrating it as needed)."""
    if is_postgres_url(str(database)):
        return open_postgres(str(database))
    return open_sqlite(database)
