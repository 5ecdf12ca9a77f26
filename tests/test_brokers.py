"""The Apache Kafka test broker is a real Kafka 4.x that clients can use, and it cleans up."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests import brokers
from tests.brokers import (
    ApacheKafka,
    KafkaBrokerError,
    java_and_maven_available,
    kafka_version,
    new_cluster_id,
    request_api_versions,
)

requires_kafka = pytest.mark.skipif(
    not java_and_maven_available(),
    reason="Apache Kafka test broker needs `java` (>= 17) and `mvn` on PATH",
)

# metadata.version feature levels: 3.9-IV0 is 21, 4.0-IV0 is 22 (`kafka-storage version-mapping`).
FIRST_KAFKA_4_METADATA_LEVEL = 22


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafka]:
    with ApacheKafka(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@requires_kafka
def test_broker_is_apache_kafka_4_in_kraft_mode(kafka: ApacheKafka) -> None:
    assert kafka_version().startswith("4.")
    versions = request_api_versions(kafka.host, kafka.port)
    # Only a KRaft broker finalizes metadata.version; 4.0 raised its floor past every 3.x level.
    assert versions.finalized_features["metadata.version"] >= FIRST_KAFKA_4_METADATA_LEVEL
    # Kafka 4.0 removed Fetch v0-v3 (KIP-896): a 3.x broker or a look-alike still offers v0.
    assert versions.api_ranges[1][0] >= 4
    assert kafka.url == f"kafka://127.0.0.1:{kafka.port}"


@requires_kafka
async def test_message_produced_to_auto_created_topic_is_consumed(kafka: ApacheKafka) -> None:
    topic = unique("roundtrip")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"payload", key=b"key")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        message = await consumer.getone()
        partitions = consumer.partitions_for_topic(topic)
    finally:
        await consumer.stop()
    assert (message.key, message.value, message.offset) == (b"key", b"payload", sent.offset)
    assert partitions == {0, 1, 2, 3}  # num.partitions for auto-created topics


@requires_kafka
async def test_created_topic_has_requested_partitions(kafka: ApacheKafka) -> None:
    topic = unique("created")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=7, replication_factor=1)])
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert described["error_code"] == 0
    assert sorted(p["partition"] for p in described["partitions"]) == list(range(7))


@requires_kafka
async def test_consumer_group_commit_is_stored_by_the_group_coordinator(
    kafka: ApacheKafka,
) -> None:
    topic, group = unique("group"), unique("group")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    try:
        for n in range(3):
            await producer.send_and_wait(topic, f"m{n}".encode(), partition=0)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen = [await consumer.getone() for _ in range(3)]
        await consumer.commit()
    finally:
        await consumer.stop()
    assert [m.value for m in seen] == [b"m0", b"m1", b"m2"]

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    assert offsets[TopicPartition(topic, 0)].offset == 3


@requires_kafka
async def test_restarted_broker_keeps_its_data_and_address(kafka: ApacheKafka) -> None:
    topic = unique("restart")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"kept", partition=0)
    finally:
        await producer.stop()
    kafka.stop()
    assert not kafka.running

    kafka.start()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        message = await consumer.getone()
    finally:
        await consumer.stop()
    assert message.value == b"kept"


@requires_kafka
def test_start_on_a_taken_port_fails_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        broker = ApacheKafka(tmp_path / "kafka", port=taken.getsockname()[1])
        with pytest.raises(KafkaBrokerError, match=r"127\.0\.0\.1:\d+ is in use"):
            broker.start()
    assert not broker.running


@requires_kafka
def test_broker_that_dies_during_startup_reports_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(brokers, "JVM_OPTIONS", (*brokers.JVM_OPTIONS, "-XX:+NoSuchJvmFlag"))
    broker = ApacheKafka(tmp_path / "kafka")
    with pytest.raises(KafkaBrokerError, match="exited with code 1") as failure:
        broker.start(timeout=60)
    assert "NoSuchJvmFlag" in str(failure.value)  # the JVM's own complaint, from the log tail
    assert not broker.running


def test_cluster_ids_are_never_taken_for_command_line_options() -> None:
    ids = [new_cluster_id() for _ in range(2000)]
    assert not any(cluster_id.startswith("-") for cluster_id in ids)
    assert all(len(cluster_id) == 22 for cluster_id in ids)
