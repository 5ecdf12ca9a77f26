"""A table write is as much an output of a message as a record sent: a changelog write the
broker refused would leave the partition's next owner a table without that entry (a
duplicate or a version missed, a double in kabar.articles). The stages wait for each
changelog write made for a message; a failed one holds the message back, unacked, and stops
the worker. And a flush returns only once every buffered table write is in aiokafka's hands.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from faust.types import TP
from prometheus_client import REGISTRY

from tests.fleet import Fleet
from tests.test_delivery_results import (
    TOPIC,
    Event,
    commit_batch,
    committed_and_end_offsets,
    delivery,
    handled,
    stream,
    versions_pipeline,
)
from tests.test_fleet_delivery import synthetic_page
from worker.agents import Pipeline
from worker.app import create_app
from worker.batches import Batch, Outgoing, as_handling
from worker.delivery import ChangelogWriteFailed, Deliveries, Sent, noting
from worker.kafka_io import TopicSpec, bootstrap_servers, create_missing_topics, read_all
from worker.settings import load_settings


def pipeline_with_tables() -> Pipeline:
    """A pipeline on real (in-memory) Kabar tables whose broker is never contacted."""
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"
    return Pipeline(create_app(settings, store="memory://"), settings)


class SlowChannel:
    """Where the buffer's sender hands a record: aiokafka's ``send``, which can wait this
    long for room in a full batch, or for metadata."""

    def __init__(self, seconds: float, refuse: set[int] | None = None) -> None:
        self.seconds, self.refuse = seconds, refuse or set()
        self.handed: list[int] = []

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(self.seconds)
        if fut.n in self.refuse:
            raise KafkaTimeoutError(f"record {fut.n}: no metadata")
        self.handed.append(fut.n)


def buffered(channel: SlowChannel, n: int) -> Any:
    """A record in Faust's producer buffer (a FutureMessage, as far as its sender looks)."""
    future = asyncio.get_running_loop().create_future()
    future.n, future.message = n, SimpleNamespace(channel=channel)
    return future


async def test_a_flush_returns_only_once_every_buffered_record_is_handed_to_aiokafka() -> None:
    # Faust's own flush gave up after 0.1 s with three of the four records still queued
    app = pipeline_with_tables().app
    buffer = app.producer.buffer
    channel = SlowChannel(0.3)
    await buffer.start()
    try:
        for n in range(4):
            buffer.put(buffered(channel, n))
        started = time.monotonic()
        await app.producer.flush()
        took = time.monotonic() - started
        assert channel.handed == [0, 1, 2, 3], (
            f"flush returned after {took:.2f} s with {buffer.size} records in the buffer")
        assert buffer.size == 0 and buffer.handing_over == 0
    finally:
        await buffer.stop()


async def test_a_flush_waits_for_the_records_buffered_before_it_not_for_later_ones() -> None:
    # Faust's buffer is written by every stage: a flush that waited for it to run empty
    # waited, while the others kept writing, for their records too (0.2-0.6 s a commit)
    app = pipeline_with_tables().app
    buffer = app.producer.buffer
    channel = SlowChannel(0.01)
    await buffer.start()

    async def other_stages_writing() -> None:
        n = 100
        while True:
            buffer.put(buffered(channel, n))
            n += 1
            await asyncio.sleep(0.002)

    try:
        for n in range(3):
            buffer.put(buffered(channel, n))
        writing = asyncio.ensure_future(other_stages_writing())
        try:
            await asyncio.sleep(0.005)  # one of the others' records is queued behind ours
            started = time.monotonic()
            await asyncio.wait_for(app.producer.flush(), 2)
            took = time.monotonic() - started
        finally:
            writing.cancel()
        assert channel.handed[:3] == [0, 1, 2]
        assert took < 0.5, f"flush of three records took {took:.2f} s"
        await asyncio.wait_for(app.producer.flush(), 5)  # the others' records, to stop
    finally:
        await buffer.stop()


async def test_a_record_the_buffer_cannot_hand_over_fails_its_write_and_the_rest_still_go(
) -> None:
    app = pipeline_with_tables().app
    buffer = app.producer.buffer
    channel = SlowChannel(0.01, refuse={1})
    await buffer.start()
    try:
        records = [buffered(channel, n) for n in range(3)]
        for record in records:
            buffer.put(record)
        await asyncio.wait_for(app.producer.flush(), 5)
        assert channel.handed == [0, 2]
        assert isinstance(records[1].exception(), KafkaTimeoutError)  # its write's result
        assert not records[0].done()  # resolved by aiokafka's result, as usual
    finally:
        await buffer.stop()


async def test_a_table_write_while_a_message_is_handled_is_noted_and_its_failure_is_lost_state(
) -> None:
    pipeline = pipeline_with_tables()
    letters: list[Any] = []

    async def send_dead_letter(letter: Any) -> None:
        letters.append(letter)

    pipeline.send_dead_letter = pipeline.refused = send_dead_letter  # type: ignore[method-assign]
    pipeline.app.producer.key_partition = lambda topic, key: TP(topic, 0)  # type: ignore
    event = Event(1, 5)
    deliveries = Deliveries()
    as_handling(event)  # type: ignore[arg-type]
    with noting(deliveries):
        pipeline.article_urls["a1"] = {"url": "https://news.example/1", "v": 1}
        pipeline.sigs["a1"] = {"sig": [1, 2, 3]}  # the global table, one partition
    urls, sigs = deliveries.sent
    assert (urls.table, urls.topic, urls.partition, urls.event) == (
        "dedupe-urls", pipeline.article_urls.changelog_topic.get_topic_name(), 1, event)
    assert (sigs.table, sigs.topic, sigs.partition, sigs.event) == (
        "dedupe-sigs", pipeline.sigs.changelog_topic.get_topic_name(), 0, event)
    assert b"a1" in urls.key and b"news.example/1" in urls.value
    assert urls.delivery is not None and not urls.delivery.done()  # in Faust's buffer

    refused = MessageSizeTooLargeError()
    urls.delivery.set_exception(refused)
    sigs.delivery.set_result(None)  # type: ignore[union-attr]
    assert not await pipeline.check_deliveries("versions", deliveries)
    # neither a record to dead-letter nor one to deliver again: state the table lost
    assert deliveries.lost == [(urls, refused)]
    assert deliveries.in_doubt == [] and letters == []


async def test_a_message_whose_table_write_failed_is_held_unacked_and_the_worker_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    acked: list[tuple[int, int]] = []
    seeks: list[tuple[TP, int]] = []
    pipeline = versions_pipeline(acked, seeks)
    batch = Batch("versions")
    failed = Event(0, 4)
    for event in (Event(0, 3), failed, Event(0, 5), Event(1, 8)):
        handled(pipeline, batch, event)
    batch.deliveries.sent.append(Sent("kabar-dedupe-urls-changelog", b'"a1"', b"{}", failed,
                                      delivery(MessageSizeTooLargeError()),
                                      table="dedupe-urls", partition=0))
    with caplog.at_level(logging.ERROR, logger="kabar.agents"):
        await pipeline.commit(stream(acked), batch)
    # partition 0 counts up to 3 only; 4 stays unacked for the consumer (no offset commit
    # passes it) and is not read again here: the worker stops
    assert acked == [(0, 3), (1, 8)]
    assert {k: v["o"] for k, v in pipeline.delivered.items()} == {f"{TOPIC}:0": 3,
                                                                  f"{TOPIC}:1": 8}
    assert failed.message in pipeline.app.consumer._unacked_messages
    assert seeks == []
    reason = pipeline.fatal  # the runner raises it: the worker stops
    assert isinstance(reason, ChangelogWriteFailed)
    [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    for words in ("versions: table dedupe-urls", "key b'\"a1\"'",
                  "kabar-dedupe-urls-changelog[0]", "MessageSizeTooLargeError",
                  f"written for {TOPIC}[0]@4", f"Not committed: {TOPIC}[0] from @4",
                  "the worker stops", "handles the message again"):
        assert words in error
    assert str(reason) == error
    assert pipeline.stats.counts["changelog_writes_failed"] == 1

    # the next batch, handled while the worker stops: nothing more of partition 0 counts
    await commit_batch(pipeline, acked, [Event(0, 6), Event(1, 9)])
    assert acked[2:] == [(1, 9)]
    assert pipeline.delivered[f"{TOPIC}:0"]["o"] == 3


def written(event: Event, error: BaseException | None = None) -> Deliveries:
    """What handling ``event`` sent and wrote: one health-state write, delivered or failed
    with ``error``."""
    return Deliveries(sent=[Sent("kabar-health-state-changelog", b'"s1"', b"{}", event,
                                 delivery(error), table="health-state", partition=0)])


async def test_a_stage_without_batches_acks_nothing_from_a_failed_table_write_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the health and fetch stages settle the messages they handled a few at a time
    acked: list[tuple[int, int]] = []
    seeks: list[tuple[TP, int]] = []
    pipeline = versions_pipeline(acked, seeks)
    failed = Event(0, 2)
    handled = [(Event(0, 1), written(Event(0, 1))),
               (failed, written(failed, MessageSizeTooLargeError())),
               (Event(0, 3), written(Event(0, 3))), (Event(1, 7), written(Event(1, 7)))]
    for event, _ in handled:
        pipeline.app.consumer._unacked_messages.add(event.message)
    with caplog.at_level(logging.ERROR, logger="kabar.agents"):
        await pipeline.settle("health", stream(acked), handled)  # type: ignore[arg-type]
    assert acked == [(0, 1), (1, 7)] and seeks == []
    assert failed.message in pipeline.app.consumer._unacked_messages
    assert isinstance(pipeline.fatal, ChangelogWriteFailed)
    assert "health: table health-state" in str(pipeline.fatal)
    assert f"Not committed: {TOPIC}[0] from @2" in str(pipeline.fatal)


async def test_a_stage_without_batches_reads_a_partition_again_from_an_output_that_timed_out(
) -> None:
    acked: list[tuple[int, int]] = []
    seeks: list[tuple[TP, int]] = []
    pipeline = versions_pipeline(acked, seeks)
    failed = Event(0, 2)
    timed_out = Deliveries(sent=[Sent("kabar.pages", b"k", b"{}", failed,
                                      delivery(KafkaTimeoutError()))])
    handled = [(Event(0, 1), Deliveries()), (failed, timed_out), (Event(0, 3), Deliveries()),
               (Event(1, 7), Deliveries())]
    await pipeline.settle("fetch", stream(acked), handled)  # type: ignore[arg-type]
    assert acked == [(0, 1), (1, 7)] and seeks == [(TP(TOPIC, 0), 2)]
    assert pipeline.fatal is None


def refusing(pipeline: Pipeline, table: Any) -> None:
    """Faust's producer buffer, as if the broker refused every changelog write of ``table``
    and took every other record."""
    refused_topic = table.changelog_topic.get_topic_name()

    def put(written: Any) -> None:
        if written.message.channel.get_topic_name() == refused_topic:
            written.set_exception(MessageSizeTooLargeError())
        else:
            written.set_result(None)

    pipeline.app.producer.buffer.put = put  # type: ignore[method-assign]


async def test_an_outcome_whose_marker_write_failed_is_not_sent_and_its_message_not_acked(
) -> None:
    # sent, the outcome would be emitted again by the replay, which finds no marker
    pipeline = pipeline_with_tables()
    refusing(pipeline, pipeline.emitted)
    sent: list[Any] = []

    async def send_out(records: Any) -> None:
        sent.extend(records)

    pipeline.send_out = send_out  # type: ignore[method-assign]
    acked: list[tuple[int, int]] = []
    batch = Batch("dedupe")
    event = Event(0, 3)
    handled(pipeline, batch, event)
    batch.deliveries.sent.clear()
    batch.done["c1"] = ({"a": "new:a1:1", "t": 1.0, "p": 0}, event)  # type: ignore[assignment]
    batch.outbox.append(([Outgoing(pipeline.topics.articles, b"a1", b"{}")],
                         event))  # type: ignore[arg-type]
    await pipeline.commit(stream(acked), batch)
    assert sent == [] and acked == []
    assert event.message in pipeline.app.consumer._unacked_messages
    assert isinstance(pipeline.fatal, ChangelogWriteFailed)
    assert "table dedupe-emitted: the changelog write of key b'\"c1\"'" in str(pipeline.fatal)
    assert f"Not committed: {TOPIC}[0] from @3" in str(pipeline.fatal)


async def test_a_recorded_offset_no_stage_waits_for_is_counted_and_its_failure_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a `delivered` write lost is as a crash before the batch recorded its offsets: the
    # commit does not wait for it, and the worker goes on
    pipeline = pipeline_with_tables()
    refusing(pipeline, pipeline.delivered)
    before = REGISTRY.get_sample_value("kabar_changelog_unchecked_writes_total",
                                       {"table": "delivered"}) or 0.0
    acked: list[tuple[int, int]] = []
    batch = Batch("versions")
    handled(pipeline, batch, Event(0, 3))
    batch.deliveries.sent.clear()
    with caplog.at_level(logging.ERROR, logger="kabar.delivery"):
        await pipeline.commit(stream(acked), batch)
        await asyncio.sleep(0)  # the done callbacks
    assert acked == [(0, 3)] and pipeline.fatal is None
    assert REGISTRY.get_sample_value("kabar_changelog_unchecked_writes_total",
                                     {"table": "delivered"}) == before + 1
    [error] = [r.getMessage() for r in caplog.records]
    assert f"table delivered: the changelog write of key b'\"{TOPIC}:0\"'" in error
    assert "MessageSizeTooLargeError" in error and "no stage waits for" in error


@pytest.mark.broker
async def test_a_table_write_the_changelog_refuses_stops_the_worker_with_its_input_uncommitted(
    broker_url: str, tmp_path: Path, broker_kind: str
) -> None:
    if broker_kind == "tansu":
        pytest.skip("Tansu does not enforce max.message.bytes")
    prefix = f"c{uuid.uuid4().hex[:10]}."
    fleet = Fleet(broker_url, prefix, tmp_path, env={"KABAR_TOPIC_PARTITIONS": "2"})
    # the versions stage's table: its changelog takes no record Kabar writes
    changelog = f"{fleet.group}-dedupe-urls-changelog"
    await create_missing_topics(broker_url, [TopicSpec(changelog, 2, {
        "cleanup.policy": "compact", "max.message.bytes": "100"})], replication=1)
    page = synthetic_page(1, random.Random(1))
    by_id = f"{prefix}dedupe-id"
    try:
        fleet.start("a")
        await fleet.wait_stable(1)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url))
        await producer.start()
        try:
            await producer.send_and_wait(f"{prefix}pages", page.to_json(),
                                         key=page.final_url.encode())
        finally:
            await producer.stop()
        worker = fleet.workers["a"]
        deadline = time.monotonic() + 120
        while worker.poll() is None:
            assert time.monotonic() < deadline, "the worker did not stop:\n" + fleet.log_tail("a")
            await asyncio.sleep(0.5)
        log = fleet.log_tail("a")
        assert worker.returncode == 1, log  # EXIT_FAILED, with the error as its last line
        assert "table dedupe-urls: the changelog write of key" in log, log
        assert "MessageSizeTooLargeError" in log and "the worker stops" in log, log
        committed, ends = await committed_and_end_offsets(broker_url, fleet.group, by_id)
        [(partition, end)] = [(p, end) for p, end in ends.items() if end > 0]
        assert end == 1
        assert committed.get(partition, -1) <= 0, "committed past the message"
        fleet.workers.pop("a")

        # the changelog takes the record now: a new worker handles the message again
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(broker_url))
        await admin.start()
        try:
            await admin.alter_configs([ConfigResource(
                ConfigResourceType.TOPIC, changelog,
                {"cleanup.policy": "compact", "max.message.bytes": "1000000"})])
        finally:
            await admin.close()
        fleet.start("b")
        deadline = time.monotonic() + 120
        while (await committed_and_end_offsets(broker_url, fleet.group, by_id))[0].get(
                partition, -1) != 1:
            fleet.check_alive()
            assert time.monotonic() < deadline, fleet.log_tail("b")
            await asyncio.sleep(1)
        articles = await read_all(broker_url, f"{prefix}articles", idle_timeout=1)
        assert [a["url"] for a in articles] == [page.final_url]
    finally:
        fleet.stop_all()
