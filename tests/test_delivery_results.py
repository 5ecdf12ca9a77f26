"""A record the broker refuses never goes missing behind a committed input offset: the
stages look at each record's delivery result before the message that sent it counts as
handled. Refused for what it is (too large, invalid): a dead letter says so. Refused for
now (a timeout, the broker gone): the message is delivered again."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from tests.fleet import Fleet
from tests.test_fleet_delivery import WORDS, synthetic_page
from worker.extract import extract_article
from worker.kafka_io import (
    TopicSpec,
    bootstrap_servers,
    create_missing_topics,
    partitions_of,
    read_all,
)
from worker.models import RawPage

#: max.message.bytes of the test's articles and dead-letter topics: above the producer's
#: batch size (16 KiB), so a record over it is alone in its batch and only it is refused
SMALL_TOPIC_LIMIT = 20_000


def long_page(rng: random.Random) -> RawPage:
    """An article page whose article record comes to about 40 kB."""

    def paragraph() -> str:
        return " ".join(" ".join(rng.choices(WORDS, k=14)).capitalize() + "." for _ in range(8))

    paragraphs = "".join(f"<p>{paragraph()}</p>" for _ in range(40))
    url = "https://fleet.example/news/long-read"
    html = (f"<html lang='en'><head><title>A long read</title></head><body>"
            f"<article><h1>A long read</h1>{paragraphs}</article></body></html>")
    return RawPage(url=url, final_url=url, status=200, html=html, charset="utf-8",
                   fetched_at="2026-01-01T00:00:00+00:00", source="fleet")


async def committed_and_end_offsets(url: str, group: str, topic: str
                                    ) -> tuple[dict[int, int], dict[int, int]]:
    """The group's committed offset and the end offset of each partition of ``topic``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(url))
    await admin.start()
    try:
        committed = {tp.partition: meta.offset
                     for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
                     if tp.topic == topic}
    finally:
        await admin.close()
    tps = [TopicPartition(topic, p) for p in (await partitions_of(url, [topic])).get(topic, [])]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(url), group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return committed, {tp.partition: offset for tp, offset in ends.items()}


@pytest.mark.broker
async def test_an_output_record_the_broker_refuses_as_too_large_becomes_a_dead_letter(
    broker_url: str, tmp_path: Path, broker_kind: str
) -> None:
    if broker_kind == "tansu":
        pytest.skip("Tansu does not enforce max.message.bytes")
    prefix = f"s{uuid.uuid4().hex[:10]}."
    small = {"max.message.bytes": str(SMALL_TOPIC_LIMIT)}
    await create_missing_topics(broker_url, [
        TopicSpec(f"{prefix}articles", 2, small), TopicSpec(f"{prefix}deadletter", 2, small),
        TopicSpec(f"{prefix}pages", 2, {"max.message.bytes": "1000000"}),
    ], replication=1)
    short, long = synthetic_page(1, random.Random(1)), long_page(random.Random(2))
    long_article = extract_article(long.html, long.final_url)
    assert len(long_article.to_json()) > SMALL_TOPIC_LIMIT

    fleet = Fleet(broker_url, prefix, tmp_path,
                  env={"KABAR_TOPIC_PARTITIONS": "2", "KABAR_DEDUPE_SETTLE_SECONDS": "0.5"})
    group = fleet.group
    try:
        fleet.start("a")
        await fleet.wait_stable(1)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url))
        await producer.start()
        try:
            for page in (short, long):
                await producer.send(f"{prefix}pages", page.to_json(),
                                    key=page.final_url.encode())
            await producer.flush()
        finally:
            await producer.stop()

        # until the dedupe stage has committed every message it was given
        deadline = time.monotonic() + 120
        while True:
            committed, ends = await committed_and_end_offsets(
                broker_url, group, f"{prefix}dedupe-content")
            if sum(ends.values()) >= 2 and all(committed.get(p) == end
                                               for p, end in ends.items()):
                break
            fleet.check_alive()
            assert time.monotonic() < deadline, (
                f"dedupe-content not committed: {committed} of {ends}\n{fleet.log_tail('a')}")
            await asyncio.sleep(1)
        await asyncio.sleep(2)  # a dead letter sent after the commit would show by now
        articles = await read_all(broker_url, f"{prefix}articles", idle_timeout=1)
        letters = await read_all(broker_url, f"{prefix}deadletter", idle_timeout=1)
    finally:
        fleet.stop_all()

    assert [a["url"] for a in articles] == [short.final_url]
    # the long read's input is committed: its outcome must be out, here as a dead letter
    assert len(letters) == 1, f"the long read was lost: no article, no dead letter {letters}"
    [letter] = letters
    assert (letter["stage"], letter["reason"]) == ("dedupe", "output_refused")
    assert letter["topic"] == f"{prefix}articles"
    assert letter["key"] == long_article.id and letter["url"] == long.final_url
    assert "MessageSizeTooLargeError" in letter["message"]
    assert f"at most {SMALL_TOPIC_LIMIT} bytes" in letter["message"]
    # the refused article did not fit the dead-letter topic either: its payload is cut
    assert "truncated" in letter["message"]
    assert isinstance(letter["payload"], str)
    assert long_article.id in letter["payload"] and len(letter["payload"]) < SMALL_TOPIC_LIMIT
