"""The dedupe stage emits each outcome once across a crash: it marks the outcome pending
before sending it, done after, and a redelivered message whose marker is still pending
looks for the outcome on its output topic instead of emitting it again."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from worker.batches import emit_action
from worker.kafka_io import any_record_since, bootstrap_servers


def test_an_outcome_is_emitted_skipped_or_checked_by_its_marker() -> None:
    assert emit_action(None, "new:a:1") == "emit"
    assert emit_action({"a": "new:a:1", "t": 1.0}, "version:a:2") == "emit"  # another outcome
    assert emit_action({"a": "new:a:1", "t": 1.0}, "new:a:1") == "skip"
    assert emit_action({"a": "new:a:1", "t": 1.0, "pending": True}, "new:a:1") == "check"


@pytest.mark.broker
async def test_an_outcome_on_its_topic_since_the_marker_is_found_and_others_are_not(
    broker_url: str,
) -> None:
    topic = f"emit-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(broker_url))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    before = time.time()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker_url))
    await producer.start()
    try:
        for id_, version in (("a", 1), ("b", 1), ("a", 2)):
            await producer.send_and_wait(topic, orjson.dumps({"id": id_, "version": version}),
                                         key=id_.encode())
    finally:
        await producer.stop()

    def article(id_: str, version: int):
        return lambda key, value: key == id_.encode() and orjson.loads(value)["version"] == version

    assert await any_record_since(broker_url, topic, before - 1, article("a", 2))
    assert await any_record_since(broker_url, topic, before - 1, article("b", 1))
    assert not await any_record_since(broker_url, topic, before - 1, article("b", 2))
    assert not await any_record_since(broker_url, topic, time.time() + 60, article("a", 1))
    assert not await any_record_since(broker_url, f"{topic}-missing", before, article("a", 1))
