"""A record the broker refuses never goes missing behind a committed input offset: the
stages look at each record's delivery result before the message that sent it counts as
handled. Refused for what it is (too large, invalid): a dead letter says so. Refused for
now (a timeout, the broker gone): the message is delivered again."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from aiokafka.structs import TopicPartition
from faust.types import TP

from tests.fleet import Fleet
from tests.test_fleet_delivery import WORDS, synthetic_page
from worker.agents import Pipeline
from worker.app import create_app
from worker.batches import Batch
from worker.delivery import (
    SENDS,
    TRUNCATED_PAYLOAD,
    Deliveries,
    Sent,
    refused_letter,
    truncated_letter,
)
from worker.extract import extract_article
from worker.fetch.stage import FetchOutcome
from worker.kafka_io import (
    TopicSpec,
    bootstrap_servers,
    create_missing_topics,
    partitions_of,
    read_all,
)
from worker.models import FetchRequest, RawPage
from worker.settings import load_settings

TOPIC = "kabar.dedupe-id"


class Message:
    def __init__(self, partition: int, offset: int, repositions: int) -> None:
        self.topic, self.partition, self.tp = TOPIC, partition, TP(TOPIC, partition)
        self.offset, self.timestamp = offset, 1_000.0 + offset
        #: how often the partition had been repositioned when it was fetched (worker.app)
        self.repositions = repositions


class Event:
    """A consumed message, as far as the batch commit looks at it."""

    def __init__(self, partition: int, offset: int, repositions: int = 0) -> None:
        self.message = Message(partition, offset, repositions)
        self.headers: dict[str, bytes] = {}


def delivery(error: BaseException | None = None) -> asyncio.Future[Any]:
    future = asyncio.get_running_loop().create_future()
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
    return future


def versions_pipeline(acked: list[tuple[int, int]], seeks: list[tuple[TP, int]]) -> Pipeline:
    """A pipeline whose tables are dicts, whose producer flushes at once, and whose consumer
    notes each seek back (and counts it, as aiokafka's does)."""
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"  # never contacted
    pipeline = Pipeline(create_app(settings), settings)
    pipeline.delivered = {}  # type: ignore[assignment]
    consumer = pipeline.app.consumer
    consumer._thread = SimpleNamespace(repositions=Counter())
    consumer.assignment = lambda: {TP(TOPIC, 0), TP(TOPIC, 1)}  # type: ignore[method-assign]

    async def flush() -> None:
        pass

    async def read_again(tp: TP, offset: int, why: str) -> None:
        seeks.append((tp, offset))
        consumer._thread.repositions[tp] += 1

    pipeline.app.producer.flush = flush  # type: ignore[method-assign]
    consumer.read_again = read_again  # type: ignore[method-assign]
    pipeline.acked = acked  # type: ignore[attr-defined]
    return pipeline


def stream(acked: list[tuple[int, int]]) -> Any:
    async def ack(event: Any) -> None:
        acked.append((event.message.partition, event.message.offset))

    return SimpleNamespace(ack=ack)


def handled(pipeline: Pipeline, batch: Batch, event: Event,
            error: BaseException | None = None) -> None:
    """``event`` handled in ``batch``: it sent one record, delivered or failed with
    ``error``, and is not acked yet."""
    batch.events.append(event)
    batch.marks[f"{TOPIC}:{event.message.partition}"] = event
    batch.deliveries.sent.append(Sent("kabar.dedupe-content", b"k", b"{}", event,
                                      delivery(error)))
    pipeline.app.consumer._unacked_messages.add(event.message)


async def commit_batch(pipeline: Pipeline, acked: list[tuple[int, int]],
                       events: list[Event]) -> None:
    """Handle ``events`` in one batch of the versions stage (each sent one record,
    delivered) and commit it."""
    batch = Batch("versions")
    for event in events:
        handled(pipeline, batch, event)
    await pipeline.commit(stream(acked), batch)


async def test_a_message_whose_output_timed_out_is_read_again_and_nothing_after_it_counts(
) -> None:
    acked: list[tuple[int, int]] = []
    seeks: list[tuple[TP, int]] = []
    pipeline = versions_pipeline(acked, seeks)
    batch = Batch("versions")
    failed = Event(0, 4)
    for event, error in ((Event(0, 3), None), (failed, KafkaTimeoutError()),
                         (Event(0, 5), None), (Event(1, 8), None)):
        handled(pipeline, batch, event, error)
    await pipeline.commit(stream(acked), batch)
    # partition 0 counts up to 3 only, and is read again from 4; partition 1 as usual
    assert acked == [(0, 3), (1, 8)]
    assert {k: v["o"] for k, v in pipeline.delivered.items()} == {f"{TOPIC}:0": 3,
                                                                  f"{TOPIC}:1": 8}
    assert seeks == [(TP(TOPIC, 0), 4)]
    assert failed.message not in pipeline.app.consumer._unacked_messages  # holds no commit
    assert pipeline.stats.counts["delivery_failed"] == 2
    assert pipeline.stats.counts["deliveries_failed"] == 1

    # the next batch, handled while that commit ran, was fetched before the seek: its
    # messages of partition 0 come again in order, after 4; partition 1's count
    await commit_batch(pipeline, acked, [Event(0, 6), Event(1, 9)])
    assert acked[2:] == [(1, 9)]
    assert pipeline.delivered[f"{TOPIC}:0"]["o"] == 3
    await commit_batch(pipeline, acked, [Event(0, offset, repositions=1)
                                         for offset in (4, 5, 6)])
    assert acked[3:] == [(0, 4), (0, 5), (0, 6)]
    assert pipeline.delivered[f"{TOPIC}:0"]["o"] == 6


async def test_a_batch_whose_first_message_timed_out_records_nothing_for_its_partition(
) -> None:
    acked: list[tuple[int, int]] = []
    seeks: list[tuple[TP, int]] = []
    pipeline = versions_pipeline(acked, seeks)
    pipeline.delivered[f"{TOPIC}:0"] = {"o": 2, "ts": 1_002.0}
    batch = Batch("versions")
    handled(pipeline, batch, Event(0, 2))  # a redelivery, skipped: no mark of its own
    batch.marks.clear()
    handled(pipeline, batch, Event(0, 3), KafkaTimeoutError())
    await pipeline.commit(stream(acked), batch)
    assert pipeline.delivered[f"{TOPIC}:0"]["o"] == 2  # not moved, and not moved back
    assert acked == [(0, 2)] and seeks == [(TP(TOPIC, 0), 3)]


async def test_a_record_refused_as_too_large_becomes_a_dead_letter_and_its_message_counts(
) -> None:
    acked: list[tuple[int, int]] = []
    pipeline = versions_pipeline(acked, [])
    letters: list[Any] = []

    async def send_dead_letter(letter: Any) -> None:
        letters.append(letter)

    async def size_limit(record: Sent) -> int:
        return 1000

    pipeline.send_dead_letter = send_dead_letter  # type: ignore[method-assign]
    pipeline.size_limit = size_limit  # type: ignore[method-assign]
    batch = Batch("versions")
    event = Event(0, 7)
    batch.events.append(event)
    batch.marks[f"{TOPIC}:0"] = event
    value = orjson.dumps({"id": "a1", "url": "https://news.example/1", "body": "x" * 3000})
    batch.deliveries.sent.append(Sent("kabar.dedupe-content", b"a1", value, event,
                                      delivery(MessageSizeTooLargeError())))
    await pipeline.commit(stream(acked), batch)
    [letter] = letters
    assert (letter.stage, letter.reason, letter.topic) == ("versions", "output_refused",
                                                           "kabar.dedupe-content")
    assert (letter.key, letter.url) == ("a1", "https://news.example/1")
    assert f"a record of {len(value) + 2} bytes" in letter.message
    assert "at most 1000 bytes" in letter.message
    assert letter.payload == value.decode()
    assert acked == [(0, 7)] and pipeline.delivered[f"{TOPIC}:0"]["o"] == 7


async def test_a_fetch_whose_page_was_not_delivered_leaves_its_url_unfetched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the fetch stage writes its seen-table only once what the fetch found is in Kafka: a
    # page that timed out must be fetched again when the request is delivered again
    pipeline = versions_pipeline([], [])
    pipeline.fetch_seen = {}  # type: ignore[assignment]
    page = synthetic_page(1, random.Random(1))

    async def fetched(request: FetchRequest, fetcher: Any, seen: Any, now: Any,
                      sources: Any) -> FetchOutcome:
        seen[page.final_url] = {"fetched_at": page.fetched_at}
        return FetchOutcome(pages=[page])

    async def publish_message(future: Any) -> asyncio.Future[Any]:
        failed = delivery(KafkaTimeoutError() if future.message.channel is pages else None)
        future.set_result(None)
        return failed

    async def fetcher() -> None:
        return None

    pages = pipeline.topics.pages
    monkeypatch.setattr("worker.agents.handle_fetch_request", fetched)
    monkeypatch.setattr(pipeline, "fetcher", fetcher)
    for topic in (pages, pipeline.topics.health_events):
        monkeypatch.setattr(topic, "publish_message", publish_message)
    request = FetchRequest(url=page.final_url, source="fleet", host="fleet.example",
                           requested_at="2026-01-01T00:00:00+00:00")
    deliveries = Deliveries()
    sending = SENDS.set(deliveries)
    try:
        await pipeline.on_fetch(request.to_json())
    finally:
        SENDS.reset(sending)
    assert pipeline.fetch_seen == {}
    assert deliveries.in_doubt  # the request is not acked, its partition read again
    assert not await pipeline.check_deliveries("fetch", deliveries)


def test_a_dead_letter_too_large_for_its_topic_is_cut_once() -> None:
    record = Sent("kabar.articles", b"a1", b'{"url": "https://news.example/1"}' + b" " * 9000,
                  None)
    letter = refused_letter("dedupe", record, MessageSizeTooLargeError(), 5000)
    sent = Sent("kabar.deadletter", b"a1", letter.to_json(), None)
    cut = truncated_letter(sent, MessageSizeTooLargeError())
    assert cut is not None
    fields = orjson.loads(cut)
    assert len(fields["payload"]) == TRUNCATED_PAYLOAD
    assert fields["message"].startswith(letter.message)
    assert f"truncated to {TRUNCATED_PAYLOAD} of " in fields["message"]
    assert truncated_letter(Sent("kabar.deadletter", b"a1", cut, None),
                            MessageSizeTooLargeError()) is None


def test_messages_left_to_be_delivered_again_are_logged_once_per_partition_and_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = versions_pipeline([], [])
    with caplog.at_level(logging.WARNING, logger="kabar.agents"):
        for offset in range(10, 45):
            pipeline.drop_unacked([Event(1, offset)], "fetched_before_seek", report=False)
        pipeline.drop_unacked([Event(2, 3), Event(2, 5)], "fetched_before_seek")
    assert [r.getMessage() for r in caplog.records] == [
        f"fetched_before_seek: left to be delivered again: {TOPIC}:1, 35 messages @10..44",
        f"fetched_before_seek: left to be delivered again: {TOPIC}:2, 2 messages @3..5",
    ]
    assert pipeline.stats.counts["fetched_before_seek"] == 37


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
