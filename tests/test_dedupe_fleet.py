"""Two workers on the real broker reach the same duplicate decisions as one worker.

A cluster of copies of one story (an exact copy, near copies published earlier and later, an
AMP variant, a new version of the original) and an unrelated story are published at once to
the dedupe stream (``kabar.dedupe-id``, as the clean agent would). Run once with one
``kabar worker`` process and once with two, under topic prefixes of their own, the
``kabar.duplicates`` topic — corrections applied — resolves every copy to the same original,
the earliest-published copy, and the same stories stay originals.
"""

from __future__ import annotations

import asyncio
import random
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from tests.brokers import free_port
from tests.fleet import Fleet
from worker.dedupe.fingerprints import fingerprints
from worker.dedupe.index import resolve_originals
from worker.kafka_io import bootstrap_servers, read_all
from worker.models import Article, DuplicateEvent
from worker.urls import article_id

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 120.0


def paragraphs(seed: int, count: int = 10) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"kata{rng.randrange(9000)}" for _ in range(4000)]
    return [" ".join(rng.choice(vocab) for _ in range(45)).capitalize() + "." for _ in range(count)]


def article(url: str, body: list[str], published: str, canonical: str | None = None) -> Article:
    owner = canonical or url
    art = Article(id=article_id(owner), url=url, canonical_url=owner, body="\n\n".join(body),
                  paragraphs=body, published_at_utc=published,
                  fetched_at=f"2024-05-01T13:00:{len(body) + len(url):02d}+00:00")
    art.fingerprints = fingerprints(art)
    return art


def stream() -> tuple[list[Article], dict[str, str], set[str]]:
    """The input, the expected copy → original relation, and the expected originals."""
    story, other = paragraphs(1), paragraphs(2)
    original = article("https://a.test/story", story, "2024-05-01T10:00:00+00:00")
    exact = article("https://b.test/syndicated", story, "2024-05-01T11:00:00+00:00")
    earliest = article("https://c.test/wire", ["JAKARTA - " + story[0], *story[1:6],
                                               "Baca Juga: Harga emas naik", *story[6:]],
                       "2024-05-01T09:00:00+00:00")
    trimmed = article("https://d.test/short", story[:-1], "2024-05-01T12:00:00+00:00")
    amp = article("https://a.test/amp/story", story, "2024-05-01T10:00:00+00:00",
                  canonical="https://a.test/story")
    updated = article("https://a.test/story", [*story, "Update: the minister responded."],
                      "2024-05-01T10:00:00+00:00")
    unrelated = article("https://e.test/other", other, "2024-05-01T08:00:00+00:00")
    expected = {
        original.id: earliest.id,
        exact.id: earliest.id,
        trimmed.id: earliest.id,
        article_id("https://a.test/amp/story"): earliest.id,
    }
    items = [original, exact, earliest, trimmed, amp, updated, unrelated]
    return items, expected, {earliest.id, unrelated.id}


async def publish(broker: str, topic: str, items: list[Article]) -> None:
    """Articles onto ``topic`` keyed by id, as the clean agent sends them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker))
    await producer.start()
    try:
        for item in items:
            await producer.send(topic, key=item.id.encode(), value=item.to_json())
        await producer.flush()
    finally:
        await producer.stop()


async def run_fleet(broker: str, workers: int, tmp_path: Path
                    ) -> tuple[dict[str, str], set[str]]:
    """Copy → original (corrections applied) and the originals still standing."""
    prefix = f"f{uuid.uuid4().hex[:8]}."
    items, expected, _ = stream()
    fleet = Fleet(broker, prefix, tmp_path, env={
        "KABAR_TOPIC_PARTITIONS": "2", "KABAR_DEDUPE_SETTLE_SECONDS": "1",
    })
    try:
        # one after the other into a stable group: the decisions, not the start-up, are
        # under test (both workers then decide at the same time)
        for n in range(workers):
            fleet.start(f"{prefix}w{n}")
            await fleet.wait_stable(n + 1)
        await publish(broker, f"{prefix}dedupe-id", items)
        deadline = time.monotonic() + DEADLINE
        while True:
            events = [DuplicateEvent.from_dict(e)
                      for e in await read_all(broker, f"{prefix}duplicates", idle_timeout=1.0)]
            resolved = resolve_originals(events)
            if resolved == expected or time.monotonic() > deadline:
                break
            for name, process in fleet.workers.items():
                assert process.poll() is None, f"worker {name} died:\n{fleet.log_tail(name)}"
            await asyncio.sleep(1.0)
        # the audit's settle delay has passed for everything by now; let late corrections in
        await asyncio.sleep(3.0)
        events = [DuplicateEvent.from_dict(e)
                  for e in await read_all(broker, f"{prefix}duplicates", idle_timeout=1.0)]
        emitted = {a["id"] for a in await read_all(broker, f"{prefix}articles", idle_timeout=1.0)}
    finally:
        fleet.stop_all()
    resolved = resolve_originals(events)
    if resolved != expected:  # say what happened: the events in the order a consumer saw
        names = {item.id: item.url for item in items}
        for event in events:
            print(names.get(event.duplicate_id, event.duplicate_url), "->",
                  names.get(event.original_id), event.kind, event.correction, event.detected_at)
    return resolved, emitted - set(resolved)


async def test_two_workers_decide_like_one(broker_url: str, tmp_path: Path) -> None:
    _, expected, originals = stream()
    one = await run_fleet(broker_url, 1, tmp_path)
    two = await run_fleet(broker_url, 2, tmp_path)
    assert one == (expected, originals)
    assert two == one


def table_entries(port: int, table: str) -> float | None:
    """``kabar_table_entries{table=…}`` from a worker's /metrics, None before it serves."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "kabar_table_entries" and sample.labels["table"] == table:
                return sample.value
    return None


async def test_global_tables_hold_every_entry_on_every_worker(broker_url: str,
                                                              tmp_path: Path) -> None:
    """faust-streaming#283 reports GlobalTables incomplete with several workers. Near-copy
    decisions read the signature table on whichever worker holds the partition, so each
    worker, including one that joins after the entries were written, must hold all of
    them, and find near copies through the band index it derives from them."""
    prefix = f"g{uuid.uuid4().hex[:8]}."
    fleet = Fleet(broker_url, prefix, tmp_path, env={"KABAR_TOPIC_PARTITIONS": "2"})
    ports = {"a": free_port(), "b": free_port()}
    stories = [article(f"https://s{n}.test/story", paragraphs(100 + n),
                       "2024-05-01T10:00:00+00:00") for n in range(40)]

    async def articles_out(n: int) -> None:
        deadline = time.monotonic() + DEADLINE
        while len(await read_all(broker_url, f"{prefix}articles", idle_timeout=1.0)) < n:
            fleet.check_alive()
            assert time.monotonic() < deadline, f"fewer than {n} articles came out"
            await asyncio.sleep(1.0)

    try:
        fleet.start("a", KABAR_WEB_METRICS_PORT=str(ports["a"]))
        await fleet.wait_stable(1)
        await publish(broker_url, f"{prefix}dedupe-id", stories[:20])
        await articles_out(20)
        fleet.start("b", KABAR_WEB_METRICS_PORT=str(ports["b"]))  # joins late: recovers them
        await fleet.wait_stable(2)
        await publish(broker_url, f"{prefix}dedupe-id", stories[20:])
        await articles_out(40)
        deadline = time.monotonic() + 60  # the gauges refresh on a timer
        while True:
            sigs = {name: table_entries(port, "dedupe-sigs") for name, port in ports.items()}
            if set(sigs.values()) == {40} or time.monotonic() > deadline:
                break
            await asyncio.sleep(2.0)
        # a near copy of each story, on both workers' partitions: the first 20 were indexed
        # before b joined (b recovered them), the others while both ran
        copies = [article(f"https://copy{n}.test/story", ["JAKARTA - " + body[0], *body[1:-1]],
                          "2024-05-02T10:00:00+00:00")
                  for n, body in enumerate(paragraphs(100 + n) for n in range(40))]
        await publish(broker_url, f"{prefix}dedupe-id", copies)
        deadline = time.monotonic() + DEADLINE
        while len(found := await read_all(broker_url, f"{prefix}duplicates",
                                           idle_timeout=1.0)) < 40:
            fleet.check_alive()
            assert time.monotonic() < deadline, f"{len(found)} of 40 near copies found"
            await asyncio.sleep(1.0)
    finally:
        fleet.stop_all()
    assert sigs == {"a": 40, "b": 40}
    assert {(e["duplicate_id"], e["original_id"], e["kind"]) for e in found} == {
        (copy.id, story.id, "near") for copy, story in zip(copies, stories, strict=True)}
