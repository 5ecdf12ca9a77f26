"""Restart time and state size against the amount of state: a `kabar worker` on Apache Kafka
whose tables hold N articles (written straight into their changelogs, shaped like the
records the worker writes), started fresh and again after a SIGKILL. It prints the time from
the process start until a new page comes out as an article ("processing again"), the
changelog bytes on the broker's disk, the worker's RSS once recovered, and extrapolates both
to 1,000,000 URLs and articles. The baseline, measured in the same run, is a worker with
empty tables.

    python bench/restart.py                      # 0 (baseline) and 100,000 articles
    python bench/restart.py --articles 0 20000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
import xxhash
from aiokafka import AIOKafkaProducer

from bench.soak import changelog_bytes, rss_mb
from tests.brokers import ApacheKafka
from tests.chaos import read_to_end, story_html
from tests.fleet import Fleet
from worker.agents import Pipeline, partition_of
from worker.app import create_app, topic_specs
from worker.dedupe.fingerprints import fingerprint_text
from worker.kafka_io import bootstrap_servers, create_missing_topics
from worker.models import RawPage
from worker.settings import load_settings
from worker.urls import article_id

PARTITIONS = 4


def state_records(n: int, group: str):
    """(topic, partition, key, value) of the changelog records N fetched and indexed
    articles leave, as the worker's tables write them (JSON keys and values)."""
    minhash = fingerprint_text(" ".join(f"w{i}" for i in range(300)))["minhash"]
    now = time.time()
    stamp = datetime.now(UTC).isoformat()
    for i in range(n):
        host = f"10.{i % 250}.0.1"
        url = f"http://{host}/news/{i}"
        id_ = article_id(url)
        content = xxhash.xxh3_128_hexdigest(url.encode())
        yield (f"{group}-fetch-seen-changelog", partition_of(host, PARTITIONS), url,
               {"fetched_at": stamp, "modified_at": None})
        p = partition_of(id_, PARTITIONS)
        yield (f"{group}-dedupe-urls-changelog", p, id_,
               {"h": content, "v": 1, "u": url, "f": url, "t": now, "p": p,
                "r": [[stamp, 1]]})
        p = partition_of(content, PARTITIONS)
        yield (f"{group}-dedupe-contents-changelog", p, content,
               {"id": id_, "u": url, "o": now, "t": now, "p": p})
        yield (f"{group}-dedupe-sigs-changelog", 0, id_,
               {"m": minhash, "n": 298, "s": 1, "u": url, "o": now, "t": now})


async def write_state(url: str, prefix: str, n: int) -> None:
    settings = load_settings(env={})
    settings.broker.url = url
    settings.topic.prefix = prefix
    settings.topic.partitions = PARTITIONS
    app = create_app(settings)
    pipeline = Pipeline(app, settings)
    await create_missing_topics(url, topic_specs(app, pipeline.topics, settings),
                                replication=1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(url), linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    try:
        pending = []
        for topic, partition, key, value in state_records(n, prefix.rstrip(".")):
            pending.append(await producer.send(topic, orjson.dumps(value),
                                               key=orjson.dumps(key), partition=partition))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def until_processing(fleet: Fleet, name: str, url: str, prefix: str, n: int) -> float:
    """Start worker ``name`` with a page waiting on kabar.pages; seconds until its article
    is on kabar.articles."""
    page_url = f"http://restart.example/news/{uuid.uuid4().hex}"
    html = story_html(f"Restart probe {n}", random.Random())
    page = RawPage(url=page_url, final_url=page_url, status=200, html=html, charset="utf-8",
                   fetched_at=datetime.now(UTC).isoformat(), source="restart")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(url))
    await producer.start()
    try:
        await producer.send_and_wait(f"{prefix}pages", page.to_json(),
                                     key=page_url.encode())
    finally:
        await producer.stop()
    began = time.monotonic()
    fleet.start(name)
    while not any(a["url"] == page_url for a in await read_to_end(url, f"{prefix}articles")):
        fleet.check_alive()
        if time.monotonic() - began > 600:
            raise TimeoutError(f"no article 600 s after starting {name}")
        await asyncio.sleep(0.5)
    return time.monotonic() - began


async def measure(kafka: ApacheKafka, workdir: Path, n: int, store: str) -> dict[str, float]:
    prefix = f"r{uuid.uuid4().hex[:8]}."
    began = time.monotonic()
    await write_state(kafka.url, prefix, n)
    written = time.monotonic() - began
    fleet = Fleet(kafka.url, prefix, workdir / prefix, env={
        "KABAR_TOPIC_PARTITIONS": str(PARTITIONS), "KABAR_BROKER_SESSION_TIMEOUT": "6",
        "KABAR_STORE_URL": store})
    (workdir / prefix).mkdir()
    try:
        first = await until_processing(fleet, "a", kafka.url, prefix, n)
        rss = rss_mb(fleet.workers["a"].pid)
        fleet.kill("a")
        again = await until_processing(fleet, "a", kafka.url, prefix, n)
    finally:
        fleet.stop_all()
    logs = changelog_bytes(kafka.workdir / "data", prefix.rstrip("."))
    return {"articles": n, "state_written_s": written, "start_s": first,
            "restart_after_sigkill_s": again, "rss_mb": rss,
            "changelog_mb": sum(logs.values()) / 2**20,
            "seen_mb": logs.get("fetch-seen-changelog", 0) / 2**20}


async def run(sizes: list[int], store: str) -> None:
    with tempfile.TemporaryDirectory(prefix="kabar-restart-") as tmp:
        workdir = Path(tmp)
        with ApacheKafka(workdir / "kafka") as kafka:
            rows = [await measure(kafka, workdir, n, store) for n in sizes]
    print(f"{'articles':>9} {'start s':>8} {'restart after SIGKILL s':>24} {'RSS MB':>7} "
          f"{'changelogs MB':>14}   (state written in)")
    for r in rows:
        print(f"{r['articles']:>9,} {r['start_s']:>8.1f} {r['restart_after_sigkill_s']:>24.1f} "
              f"{r['rss_mb']:>7.0f} {r['changelog_mb']:>14.1f}   ({r['state_written_s']:.0f} s)")
    base, top = rows[0], rows[-1]
    if top["articles"] > base["articles"]:
        per = top["articles"] - base["articles"]
        rss = (top["rss_mb"] - base["rss_mb"]) / per * 1e6
        disk = (top["changelog_mb"] - base["changelog_mb"]) / per * 1e6
        seen = (top["seen_mb"] - base["seen_mb"]) / per * 1e6
        print(f"per 1,000,000 articles (extrapolated from {per:,}): worker RSS +{rss / 1024:.1f} "
              f"GB with the {store} store, changelogs {disk / 1024:.1f} GB before compaction "
              f"(of which the URL seen-table {seen / 1024:.2f} GB, i.e. per 1,000,000 URLs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, nargs="+", default=[0, 100_000],
                        help="state sizes to measure; the first is the baseline")
    parser.add_argument("--store", default="memory://",
                        help="KABAR_STORE_URL of the worker: memory:// or rocksdb://")
    args = parser.parse_args()
    print(f"store: {args.store}")
    asyncio.run(run(args.articles, args.store))


if __name__ == "__main__":
    main()
