"""Plain aiokafka helpers for the CLI and tests: read a topic, follow a topic, check a broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord, TopicPartition


class UnknownTopic(LookupError):
    """The broker has no topic of that name."""


def bootstrap_servers(url: str) -> str:
    """``kafka://h1:9092;h2:9092`` → ``h1:9092,h2:9092`` (what aiokafka expects)."""
    return ",".join(
        part.split("://", 1)[-1] for part in url.replace(",", ";").split(";") if part.strip()
    )


async def list_topics(url: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(url), request_timeout_ms=10_000)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def partitions_of(url: str, topics: Iterable[str]) -> dict[str, list[int]]:
    """The partition numbers of each topic that exists (a consumer's own metadata may not
    list a topic it has not subscribed to yet, so ask the broker)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(url), request_timeout_ms=10_000)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return {t["topic"]: sorted(p["partition"] for p in t["partitions"])
            for t in described if t["error_code"] == 0 and t["partitions"]}


async def follow(
    url: str, topic: str, *, from_beginning: bool = False, limit: int | None = None,
    idle_timeout: float | None = None,
) -> AsyncIterator[tuple[bytes | None, bytes]]:
    """Yield (key, value) from every partition of ``topic`` without joining a group.

    Stops after ``limit`` messages, or when nothing arrived for ``idle_timeout`` seconds.
    """
    if topic not in await list_topics(url):
        raise UnknownTopic(topic)
    # no group: every partition is ours, and nothing is committed on anyone's behalf
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap_servers(url), group_id=None,
        enable_auto_commit=False, auto_offset_reset="earliest" if from_beginning else "latest",
        # what an aborted transaction wrote never happened (processing_guarantee exactly_once)
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        seen = 0
        while limit is None or seen < limit:
            batch = await consumer.getmany(timeout_ms=int((idle_timeout or 1.0) * 1000))
            if not batch and idle_timeout is not None:
                return
            for records in batch.values():
                for record in records:
                    yield record.key, record.value
                    seen += 1
                    if limit is not None and seen >= limit:
                        return
    finally:
        await consumer.stop()


async def read_all(url: str, topic: str, *, idle_timeout: float = 2.0) -> list[dict]:
    """Every message now on ``topic`` as JSON objects (empty if the topic does not exist)."""
    try:
        return [
            orjson.loads(value)
            async for _, value in follow(url, topic, from_beginning=True, idle_timeout=idle_timeout)
        ]
    except UnknownTopic:
        return []


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as Kabar wants it created: name, partition count and topic configs."""

    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)


TOPIC_ALREADY_EXISTS = 36  # Kafka error code: another worker created it first


async def create_missing_topics(
    url: str, specs: Iterable[TopicSpec], *, replication: int, visible_within: float = 30.0,
) -> list[str]:
    """Create the topics in ``specs`` that do not exist yet, then wait until the broker's
    metadata shows every one of them. Returns the names it created.

    Waiting matters: CreateTopics returns once the controller has the topic, while the
    broker that answers metadata requests may learn of it later. A consumer group assigned
    in between ignores the topic ("not found in cluster metadata"), and a table whose
    changelog was ignored that way never finishes recovery."""
    from aiokafka.admin import NewTopic

    specs = list(specs)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(url), request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            response = await admin.create_topics([
                NewTopic(s.name, num_partitions=s.partitions, replication_factor=replication,
                         topic_configs=dict(s.config))
                for s in missing
            ])
            # (topic, error_code[, error_message]) per topic
            failed = [tuple(e) for e in response.topic_errors
                      if e[1] not in (0, TOPIC_ALREADY_EXISTS)]
            if failed:
                raise RuntimeError(f"broker {url} refused to create topics: {failed}")
        wanted = {s.name for s in specs}
        deadline = time.monotonic() + visible_within
        while absent := wanted - set(await admin.list_topics()):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"topics created on {url} but not in its metadata after "
                    f"{visible_within:.0f}s: {sorted(absent)}"
                )
            await asyncio.sleep(0.1)
        return [s.name for s in missing]
    finally:
        await admin.close()


async def ensure_topics(
    url: str, names: list[str], *, partitions: int, replication: int,
    max_message_bytes: int | None = None,
) -> None:
    """Create the topics that do not exist yet. A consumer subscribing before its topics
    exist is assigned nothing and does not notice them later, so workers call this first.
    ``max_message_bytes`` raises the broker's 1 MB default for topics that carry pages."""
    config = {"max.message.bytes": str(max_message_bytes)} if max_message_bytes else {}
    await create_missing_topics(url, [TopicSpec(n, partitions, config) for n in names],
                                replication=replication)


async def records_up_to(consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int]
                        ) -> AsyncIterator[ConsumerRecord]:
    """The records of ``consumer``'s assigned partitions from their positions up to the end
    offsets in ``ends``: a bounded read, so a topic that keeps growing does not keep it
    going."""
    tps = list(ends)
    while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
        batch = await consumer.getmany(*tps, timeout_ms=1000)
        for tp, records in batch.items():
            for record in records:
                if record.offset < ends[tp]:
                    yield record


async def any_record_since(url: str, topic: str, since: float,
                           match: Callable[[bytes | None, bytes | None], bool]) -> bool:
    """Whether a record written to ``topic`` at or after ``since`` (Unix seconds, by record
    time) satisfies ``match``. Reads every partition from that time up to the end offsets
    as of the call, so it ends even while the topic keeps growing. Record times are checked
    too: Tansu answers a time after a partition's last record with an offset before it."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(url), group_id=None,
                                enable_auto_commit=False, request_timeout_ms=10_000)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p)
               for p in (await partitions_of(url, [topic])).get(topic, [])]
        if not tps:
            return False
        consumer.assign(tps)
        since_ms = int(since * 1000)
        starts = await consumer.offsets_for_times({tp: since_ms for tp in tps})
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, starts[tp].offset if starts.get(tp) else ends[tp])
        async for record in records_up_to(consumer, ends):
            if record.timestamp >= since_ms and match(record.key, record.value):
                return True
        return False
    finally:
        await consumer.stop()


async def max_message_bytes_of(url: str, topic: str) -> int | None:
    """The ``max.message.bytes`` the broker applies to ``topic`` (None if it does not say)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(url), request_timeout_ms=10_000)
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": None})])
    finally:
        await admin.close()
    for response in responses:
        # resources: (error_code, error_message, resource_type, resource_name, entries);
        # entries: (name, value, ...)
        for error_code, _, _, name, entries in response.resources:
            if error_code == 0 and name == topic:
                for entry in entries:
                    if entry[0] == "max.message.bytes" and entry[1] is not None:
                        return int(entry[1])
    return None
