"""Whole-pipeline throughput: raw page in → article out, one worker process, real broker.

Baseline (same run, same broker, same pages): a bare aiokafka loop that consumes the raw
pages and produces one message per page, calling the same pure stages (extract,
fingerprint, enrich) — i.e. the ceiling for "Kafka + the stage work, without Faust, tables,
repartitions or dedupe". Kabar's figure is the real worker: every agent, both dedupe
repartitions, the tables and their changelogs. Target (DESIGN.md): Kabar >= 0.6x baseline.

    .venv/bin/python bench/pipeline.py [--pages 400] [--broker kafka://…|--tansu]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.extraction import ensure_data  # noqa: E402
from worker.app import max_message_bytes  # noqa: E402
from worker.extract import ExtractionError  # noqa: E402
from worker.kafka_io import bootstrap_servers, ensure_topics  # noqa: E402
from worker.metrics import PipelineStats  # noqa: E402
from worker.models import RawPage  # noqa: E402
from worker.runner import run_pipeline  # noqa: E402
from worker.settings import load_settings  # noqa: E402
from worker.stages import article_from_page  # noqa: E402

PARTITIONS = 4


def load_pages(limit: int) -> list[RawPage]:
    """Raw pages from the shared evaluation sets, as the fetch agent would publish them."""
    sets = ["fundus", "wcxb", "trafilatura"]
    ensure_data(ROOT / ".data", sets)
    pages: list[RawPage] = []
    for name in sets:
        for html_file in sorted((ROOT / ".data" / name / "html").glob("*.html")):
            html = html_file.read_bytes().decode("utf-8", "replace")
            url = f"https://bench.example/{name}/{html_file.stem}"
            pages.append(RawPage(url=url, final_url=url, status=200, html=html,
                                 fetched_at="2026-01-01T00:00:00+00:00", charset="utf-8"))
            if len(pages) >= limit:
                return pages
    return pages


async def produce(url: str, topic: str, pages: list[RawPage]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(url),
                                max_request_size=25_000_000, linger_ms=5)
    await producer.start()
    try:
        for page in pages:
            await producer.send(topic, page.to_json(), key=page.final_url.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def bare_loop(url: str, pages: list[RawPage]) -> float:
    """Pages/s of consume → stages → produce with plain aiokafka."""
    source, sink = f"bench-{uuid.uuid4().hex[:8]}.pages", f"bench-{uuid.uuid4().hex[:8]}.out"
    await ensure_topics(url, [source, sink], partitions=PARTITIONS, replication=1,
                        max_message_bytes=25_000_000)
    await produce(url, source, pages)
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap_servers(url),
                                group_id=f"bench-{uuid.uuid4().hex[:8]}",
                                auto_offset_reset="earliest", max_partition_fetch_bytes=20_000_000,
                                fetch_max_bytes=50_000_000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(url),
                                max_request_size=25_000_000, linger_ms=5)
    await consumer.start()
    await producer.start()
    done, started = 0, None
    try:
        while done < len(pages):
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    started = started or time.perf_counter()
                    page = RawPage.from_json(record.value)
                    try:
                        out = article_from_page(page.html, page.final_url).to_json()
                    except ExtractionError as exc:
                        out = str(exc).encode()
                    await producer.send(sink, out, key=record.key)
                    done += 1
            await consumer.commit()
        await producer.flush()
        return len(pages) / (time.perf_counter() - (started or time.perf_counter()))
    finally:
        await consumer.stop()
        await producer.stop()


async def kabar_worker(url: str, pages: list[RawPage]) -> tuple[float, PipelineStats]:
    """Pages/s of the real Kabar worker over the same pages."""
    settings = load_settings(env={})
    settings.broker.url = url
    settings.topic.prefix = f"bench{uuid.uuid4().hex[:8]}."
    settings.topic.partitions = PARTITIONS
    settings.store.data_dir = tempfile.mkdtemp(prefix="kabar-bench-")
    settings.dedupe.settle_seconds = 0.0
    await ensure_topics(url, [settings.topic_name("pages")], partitions=PARTITIONS,
                        replication=1, max_message_bytes=max_message_bytes(settings))
    await produce(url, settings.topic_name("pages"), pages)
    stats = PipelineStats()
    stats.sent["pages"] = len(pages)  # published above, by "the fetcher"
    first: list[float] = []

    async def watch() -> None:
        while not stats.done["pages"]:
            await asyncio.sleep(0.01)
        first.append(time.perf_counter())

    watcher = asyncio.create_task(watch())
    quiet = 1.5
    await run_pipeline(settings, sources=None, once=True, progress=False, stats=stats,
                       timeout=600)
    ended = time.perf_counter() - quiet  # run_pipeline waits `quiet` idle seconds to stop
    await watcher
    return len(pages) / (ended - first[0]), stats


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--broker", help="kafka://host:port (default: start Apache Kafka if "
                        "Java and Maven are present, else the embedded Tansu broker)")
    parser.add_argument("--tansu", action="store_true", help="use the embedded broker")
    args = parser.parse_args()
    pages = load_pages(args.pages)
    with tempfile.TemporaryDirectory() as tmp:
        if args.broker:
            url, name, broker = args.broker, "given", None
        else:
            from tests.brokers import ApacheKafka, java_and_maven_available
            from worker.broker import EmbeddedBroker

            if args.tansu or not java_and_maven_available():
                broker, name = EmbeddedBroker(), "Tansu (embedded)"
            else:
                broker, name = ApacheKafka(Path(tmp)), "Apache Kafka 4"
            broker.start()
            url = broker.url
        try:
            baseline = await bare_loop(url, pages)
            kabar, stats = await kabar_worker(url, pages)
        finally:
            if broker is not None:
                broker.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"broker: {name}; {len(pages)} raw pages (shared data), {PARTITIONS} partitions")
    print(f"{'':34}{'pages/s':>10}")
    print(f"{'bare aiokafka loop + stages':34}{baseline:>10.1f}")
    print(f"{'kabar worker (all agents)':34}{kabar:>10.1f}")
    print(f"ratio kabar/baseline: {kabar / baseline:.2f} (target >= 0.60)")
    print(f"kabar outputs: {dict(stats.counts)}")
    print(f"peak RSS of this process: {rss:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
