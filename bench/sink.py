"""Throughput of the PostgreSQL sink against a plain COPY of the same rows, in the same run.

Both sides load the same N articles into a freshly migrated ``articles`` table (same
columns, generated tsvector, GIN indexes) on the same throw-away server (tests/postgres.py):

* COPY: the rows, already built in Python, streamed with one ``COPY articles FROM STDIN``
  and committed: the floor cost of getting these rows into this table.
* sink: the Kafka message bytes through ``plan_batch`` and ``PostgresSink.write``, batches
  of 500 as ``kabar sink`` reads them: JSON decoding, schema check, row building, the staged
  upsert guarded by version, the offsets and the commit. Reading from the broker is left
  out; it is the same for any consumer.

Each side runs ``--repeat`` times, alternating, each into a new database; the medians are
printed with their ratio. The issue's target is sink >= 0.5x COPY.

    python bench/sink.py [--articles 3000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BATCH = 500
TOPIC = "kabar.articles"
#: a mix of languages with and without a PostgreSQL text-search configuration
LANGUAGES = ("id", "en", "de", "fr", "es", "haw")


def articles(count: int) -> list[bytes]:
    """``count`` distinct enriched articles as kabar.articles message values."""
    from tests.test_enrich_seed import seed_article
    from worker.enrich import enrich

    seed = enrich(seed_article()).to_dict()
    out = []
    for n in range(count):
        article = dict(seed, id=f"bench{n:06d}", url=f"https://news.example/{n}",
                       title=f"{seed['title']} ({n})", language=LANGUAGES[n % len(LANGUAGES)],
                       body=f"Laporan {n}. {seed['body']}")
        out.append(orjson.dumps(article))
    return out


def time_copy(url: str, values: list[bytes]) -> float:
    from worker.sink.core import Decoded, Message
    from worker.sink.postgres import ARTICLE_COLUMNS, article_row, open_postgres

    with open_postgres(url) as store:
        configs = dict(store.conn.execute(
            "SELECT language, config::text FROM text_search_languages").fetchall())
        rows = []
        for offset, value in enumerate(values):
            decoded = Decoded(orjson.loads(value), Message(TOPIC, 0, offset, None, value))
            rows.append((*article_row(decoded), configs.get(decoded.data["language"], "simple")))
        started = time.perf_counter()
        with store.conn.cursor() as cur, cur.copy(
                f"COPY articles ({ARTICLE_COLUMNS}, ts_config) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        store.conn.commit()
        elapsed = time.perf_counter() - started
        assert store.count() == len(values)
    return elapsed


def time_sink(url: str, values: list[bytes]) -> float:
    from worker.sink.core import Message, plan_batch
    from worker.sink.postgres import open_postgres

    messages = [Message(TOPIC, 0, offset, None, value) for offset, value in enumerate(values)]
    with open_postgres(url) as store:
        expected: dict = {}
        started = time.perf_counter()
        for start in range(0, len(messages), BATCH):
            batch = plan_batch(messages[start:start + BATCH], {TOPIC: "articles"}, expected)
            counts = store.write(batch)
            assert counts["inserted"] == len(batch.articles), counts
            expected.update(batch.positions)
        elapsed = time.perf_counter() - started
        assert store.count() == len(values)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from tests.postgres import PostgresServer

    values = articles(args.articles)
    size = sum(map(len, values)) / len(values)
    print(f"{args.articles} articles, {size / 1024:.1f} KiB JSON each, languages "
          f"{', '.join(LANGUAGES)}; load average {os.getloadavg()[0]:.2f}")
    copy_s: list[float] = []
    sink_s: list[float] = []
    with PostgresServer() as server:
        for run in range(args.repeat):
            copy_s.append(time_copy(server.create_database(f"copy{run}"), values))
            sink_s.append(time_sink(server.create_database(f"sink{run}"), values))
            print(f"  run {run + 1}: COPY {args.articles / copy_s[-1]:7.0f} rows/s   "
                  f"sink {args.articles / sink_s[-1]:7.0f} rows/s")
    copy_rate = args.articles / statistics.median(copy_s)
    sink_rate = args.articles / statistics.median(sink_s)
    print(f"median: COPY {copy_rate:.0f} rows/s, sink {sink_rate:.0f} rows/s, "
          f"sink/COPY = {sink_rate / copy_rate:.2f} (target >= 0.5); "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
