"""Dedupe benchmark: fingerprint + index look-up throughput, index memory, recovery cost.

    .venv/bin/python bench/dedupe.py [--data DIR] [--index-size N] [--passes N] [--cpu N]
                                     [--broker kafka://host:port] [--json FILE]

One process pinned to one core; CPU time (``time.process_time``) so that other load on a
shared machine does not count. In the same run:

* throughput, articles/s, over the truth bodies of the fundus and wcxb sets, each article a
  new URL, against an index already holding ``--index-size`` articles:
    - ``exact``  the exact-hash path of the first pipeline: normalise, hash, one table
                 look-up and insert;
    - ``full``   what the dedupe stage does: ``fingerprints`` + ``decide`` (URL/version
                 check, exact check, LSH look-up and MinHash verification, record);
    - ``lookup`` ``decide`` alone with precomputed fingerprints (the index's share);
    - ``fingerprints`` ``fingerprints`` alone (normalisation, hashes, MinHash, bands);
* memory of the four index tables at ``--index-size`` indexed articles (tracemalloc of the
  Python objects, i.e. Faust's ``memory://`` store) and their serialised size (what the
  changelog topics and a ``rocksdb://`` store hold), per article, extrapolated to 1,000,000;
* recovery: the changelog records the index needs after compaction, and the CPU time to
  decode and apply them to the tables (the worker-side floor of a table recovery); with
  ``--broker`` also the wall-clock time to read them back from a real broker (a
  one-partition topic, as the global tables' changelogs are), decode and apply them.

The index is filled with synthetic articles whose signatures are random (a MinHash of an
unrelated text is indistinguishable from random values), so it is cheap to build and has
exactly the key and value shapes of real articles.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.dedupe.fingerprints import (  # noqa: E402
    NUM_PERM,
    SCHEME,
    band_keys,
    content_hash,
    encode_signature,
    fingerprints,
    normalise,
)
from worker.dedupe.index import check_version, decide, record  # noqa: E402
from worker.models import Article  # noqa: E402
from worker.urls import article_id  # noqa: E402

NOW = 1_717_000_000.0


def corpus(data: Path) -> list[Article]:
    articles = []
    for name in ("fundus", "wcxb"):
        for path in sorted((data / name / "truth").glob("*.json")):
            truth = json.loads(path.read_text(encoding="utf-8"))
            if not truth.get("body"):
                continue
            url = f"https://bench.example/{name}/{truth['id']}"
            articles.append(
                Article(id=article_id(url), url=url, canonical_url=url, body=truth["body"],
                        published_at_utc="2024-05-01T10:00:00+00:00")
            )
    return articles


def synthetic(i: int, rng: random.Random) -> tuple[Article, dict[str, Any]]:
    url = f"https://filler.example/{i}"
    signature = np.frombuffer(rng.randbytes(4 * NUM_PERM), dtype="<u4")
    fps = {
        "scheme": SCHEME,
        "content_hash": rng.randbytes(16).hex(),
        "words": 600,
        "shingles": 580,
        "minhash": encode_signature(signature),
        "bands": band_keys(signature),
    }
    art = Article(id=article_id(url), url=url, canonical_url=url,
                  published_at_utc="2024-04-30T10:00:00+00:00")
    return art, fps


def build_index(n: int, seed: int = 7) -> dict[str, dict[str, Any]]:
    rng = random.Random(seed)
    tables: dict[str, dict[str, Any]] = {t: {} for t in ("urls", "contents", "sigs", "bands")}
    for i in range(n):
        art, fps = synthetic(i, rng)
        prior = check_version(art, fps, urls=tables["urls"], now=NOW, partition=i % 4)
        record(art, fps, prior, contents=tables["contents"], sigs=tables["sigs"],
               bands=tables["bands"], now=NOW, partition=i % 4)
    return tables


def measured_index(n: int) -> tuple[dict[str, dict[str, Any]], int]:
    """The index and the bytes its Python objects hold (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tables = build_index(n)
    gc.collect()
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return tables, size


def serialised(tables: dict[str, dict[str, Any]]) -> tuple[int, list[tuple[bytes, bytes]]]:
    records = [
        (key.encode(), orjson.dumps(value))
        for table in tables.values()
        for key, value in table.items()
    ]
    return sum(len(k) + len(v) for k, v in records), records


def replay_seconds(records: list[tuple[bytes, bytes]]) -> float:
    """CPU time to decode changelog records and apply them to fresh tables."""
    store: dict[str, Any] = {}
    start = time.process_time()
    for key, value in records:
        store[key.decode()] = orjson.loads(value)
    return time.process_time() - start


async def broker_replay(url: str, records: list[tuple[bytes, bytes]]) -> tuple[float, float]:
    """Write the records to a fresh 1-partition topic (a changelog), then time reading them
    back from the broker with decoding and applying: (produce seconds, replay seconds)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from worker.kafka_io import bootstrap_servers, ensure_topics

    servers = bootstrap_servers(url)
    topic = f"bench-dedupe-changelog-{os.getpid()}-{time.time_ns()}"
    await ensure_topics(url, [topic], partitions=1, replication=1)
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=20,
                                max_batch_size=1 << 20)
    await producer.start()
    start = time.perf_counter()
    try:
        for key, value in records:
            await producer.send(topic, key=key, value=value, partition=0)
        await producer.flush()
    finally:
        await producer.stop()
    produced = time.perf_counter() - start
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=servers, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 << 20, fetch_max_bytes=32 << 20)
    await consumer.start()
    store: dict[str, Any] = {}
    seen = 0
    start = time.perf_counter()
    try:
        while seen < len(records):
            for batch in (await consumer.getmany(timeout_ms=1000, max_records=10_000)).values():
                for message in batch:
                    store[message.key.decode()] = orjson.loads(message.value)
                seen += len(batch)
    finally:
        await consumer.stop()
    return produced, time.perf_counter() - start


def copy_tables(tables: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: dict(table) for name, table in tables.items()}


def rate(articles: list[Article], work: Any, passes: int, tables: dict[str, Any]) -> float:
    """Median articles/s (CPU time) over ``passes`` passes of ``work(articles, copy)``, each
    pass on a fresh copy of the index tables (copied outside the timing)."""
    rates = []
    for _ in range(passes):
        fresh = copy_tables(tables)
        gc.collect()
        start = time.process_time()
        work(articles, fresh)
        rates.append(len(articles) / (time.process_time() - start))
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".data")
    parser.add_argument("--index-size", type=int, default=100_000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--broker", help="kafka://host:port: also time reading the index's "
                        "changelog records back from this broker (wall clock)")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    articles = corpus(args.data)
    if not articles:
        parser.error(f"no truth bodies under {args.data}/{{fundus,wcxb}}/truth")
    words = [len(a.body.split()) for a in articles]

    tables, python_bytes = measured_index(args.index_size)
    wire_bytes, records = serialised(tables)
    replay = replay_seconds(records)

    def exact_path(batch: list[Article], t: dict[str, dict[str, Any]]) -> None:
        seen = t["contents"]
        for art in batch:
            digest = content_hash(normalise(art.body))
            if digest not in seen:
                seen[digest] = {"id": art.id, "u": art.url, "t": NOW}

    def full_path(batch: list[Article], t: dict[str, dict[str, Any]]) -> None:
        for art in batch:
            decide(art, fingerprints(art), urls=t["urls"], contents=t["contents"],
                   sigs=t["sigs"], bands=t["bands"], now=NOW)

    prints = {a.id: fingerprints(a) for a in articles}

    def lookup_only(batch: list[Article], t: dict[str, dict[str, Any]]) -> None:
        for art in batch:
            decide(art, prints[art.id], urls=t["urls"], contents=t["contents"],
                   sigs=t["sigs"], bands=t["bands"], now=NOW)

    def fingerprints_only(batch: list[Article], _: dict[str, dict[str, Any]]) -> None:
        for art in batch:
            fingerprints(art)

    exact = rate(articles, exact_path, args.passes, tables)
    prints_only = rate(articles, fingerprints_only, args.passes, tables)
    full = rate(articles, full_path, args.passes, tables)
    lookup = rate(articles, lookup_only, args.passes, tables)
    # The same two paths per evaluation set: fundus is news (846 words mean), wcxb long-form
    # web articles (1,884 words mean); the cost of both paths grows with the body length.
    per_set = {}
    for name in ("fundus", "wcxb"):
        subset = [a for a in articles if f"/{name}/" in a.url]
        per_set[name] = {
            "articles": len(subset),
            "words_mean": round(statistics.mean(len(a.body.split()) for a in subset)),
            "exact_path_per_s": round(rate(subset, exact_path, args.passes, tables)),
            "full_path_per_s": round(rate(subset, full_path, args.passes, tables)),
        }
    n = args.index_size
    changelog_records = len(records)
    result = {
        "articles": len(articles),
        "words_mean": round(statistics.mean(words)),
        "words_median": statistics.median(words),
        "exact_path_per_s": round(exact),
        "full_path_per_s": round(full),
        "lookup_only_per_s": round(lookup),
        "fingerprints_only_per_s": round(prints_only),
        "per_set": per_set,
        "index_size": n,
        "python_bytes_per_article": round(python_bytes / n),
        "serialised_bytes_per_article": round(wire_bytes / n),
        "memory_at_index_size_mb": round(python_bytes / 2**20, 1),
        "memory_at_1m_mb_extrapolated": round(python_bytes / n * 1_000_000 / 2**20),
        "serialised_at_1m_mb_extrapolated": round(wire_bytes / n * 1_000_000 / 2**20),
        "changelog_records_per_article": round(changelog_records / n, 2),
        "replay_records_per_s": round(changelog_records / replay),
        "replay_seconds_at_1m_extrapolated": round(replay / n * 1_000_000, 1),
    }
    if args.broker:
        import asyncio

        _, seconds = asyncio.run(broker_replay(args.broker, records))
        result["broker_replay_records_per_s"] = round(changelog_records / seconds)
        result["broker_replay_seconds_at_1m_extrapolated"] = round(seconds / n * 1_000_000, 1)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(f"{len(articles)} articles, {result['words_mean']} words mean "
          f"({result['words_median']} median); index of {n:,} articles; one core, CPU time")
    print(f"  exact-hash path            {exact:8.0f} articles/s")
    print(f"  fingerprint + decide       {full:8.0f} articles/s")
    print(f"  decide only (look-up)      {lookup:8.0f} articles/s")
    print(f"  fingerprints only          {prints_only:8.0f} articles/s")
    for name, row in per_set.items():
        print(f"  {name:7s} ({row['articles']} articles, {row['words_mean']} words mean): "
              f"exact-hash {row['exact_path_per_s']}/s, fingerprint + decide "
              f"{row['full_path_per_s']}/s")
    print(f"  index memory   {result['python_bytes_per_article']} B/article (Python objects), "
          f"{result['memory_at_index_size_mb']} MB at {n:,}, "
          f"~{result['memory_at_1m_mb_extrapolated']} MB at 1,000,000")
    print(f"  serialised     {result['serialised_bytes_per_article']} B/article, "
          f"~{result['serialised_at_1m_mb_extrapolated']} MB at 1,000,000")
    print(f"  recovery       {result['changelog_records_per_article']} changelog records/article "
          f"after compaction; decode+apply {result['replay_records_per_s']:,} records/s "
          f"-> ~{result['replay_seconds_at_1m_extrapolated']} s CPU at 1,000,000 articles")
    if args.broker:
        print(f"  from the broker: {result['broker_replay_records_per_s']:,} records/s read, "
              f"decoded and applied -> ~{result['broker_replay_seconds_at_1m_extrapolated']} s "
              "at 1,000,000 articles (wall clock)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
