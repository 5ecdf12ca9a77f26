"""The storage-neutral part of ``kabar sink``: consumed messages in, one transaction per batch.

A batch of messages from ``kabar.articles`` and ``kabar.duplicates`` becomes a ``Batch``: the
newest version of each article, the duplicate links, the messages that cannot be stored
(dead letters with a reason) and the offset each partition resumes from. A backend
(``sqlite.py``, ``postgres.py``) writes all of it in ONE database transaction, so the stored
offsets always describe exactly the rows that are stored. A crash before the commit loses
the whole batch, and the restart reads it again from the stored offsets; a crash after it
reads nothing twice. Kafka's consumer-group offsets play no part: this is exactly-once into
the database whatever the upstream guarantee is.

Dead letters go through an outbox: rejected messages are written in the same transaction,
then published to ``kabar.deadletter`` and deleted. A crash in between publishes them again
on restart (at least once); none is ever lost.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Protocol

import fastjsonschema
import orjson

from worker.enrich.gazetteer import fold
from worker.models import DeadLetter

log = logging.getLogger(__name__)

#: Stage name on the dead letters the sink writes.
STAGE = "sink"

#: (topic, partition)
Partition = tuple[str, int]


class SinkError(RuntimeError):
    """An article the sink cannot store, or a database it cannot use; the message says
    which and why."""


class PositionConflict(SinkError):
    """The stored offset of a partition is not the one this sink last wrote: another sink
    is writing the same database. The batch is rolled back and re-read from the store."""


@dataclass(frozen=True, slots=True)
class Message:
    """One consumed Kafka record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Decoded:
    """A valid message as JSON, with the record it came from (for lineage and dead
    letters)."""

    data: dict[str, Any]
    message: Message

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def version(self) -> int:
        return int(self.data["version"])


@dataclass(slots=True)
class Batch:
    """What one transaction writes."""

    #: the newest version of each article in the batch
    articles: list[Decoded] = field(default_factory=list)
    #: the last event of each duplicate in the batch
    duplicates: list[Decoded] = field(default_factory=list)
    rejected: list[DeadLetter] = field(default_factory=list)
    #: next offset per partition once this batch is stored
    positions: dict[Partition, int] = field(default_factory=dict)
    #: the stored next offset this sink expects to find (None: no row yet)
    expected: dict[Partition, int | None] = field(default_factory=dict)


class Store(Protocol):
    """A sink backend. Not thread-safe: one consumer task owns it."""

    def positions(self) -> dict[Partition, int]:
        """The stored next offset of every partition written so far."""

    def write(self, batch: Batch) -> Counter[str]:
        """Store the batch's rows, its dead letters (in the outbox) and its positions in one
        transaction. Rows the database refuses become dead letters too. Returns counts by
        outcome. Raises PositionConflict (nothing written) if ``batch.expected`` is stale."""

    def pending_dead_letters(self) -> list[tuple[int, bytes | None, bytes]]:
        """Outbox entries not yet published: (id, key, DeadLetter JSON)."""

    def forget_dead_letters(self, ids: Sequence[int]) -> None:
        """Drop published outbox entries."""


def entity_forms(entity: Mapping[str, Any]) -> set[str]:
    """What an enrichment entity is looked up by: its folded canonical name and aliases."""
    return {fold(entity["text"]), *(fold(alias) for alias in entity.get("aliases", ()))}


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@functools.cache
def _validator(schema_name: str) -> Any:
    schema = json.loads(
        resources.files("worker").joinpath("schemas", f"{schema_name}.v1.json").read_text()
    )
    return fastjsonschema.compile(schema)


def dead_letter(message: Message, reason: str, detail: str, url: str | None = None
                ) -> DeadLetter:
    """The dead letter for a message the sink could not store, with its original payload."""
    return DeadLetter(
        stage=STAGE, reason=reason, message=detail, failed_at=utc_now(), url=url,
        topic=message.topic,
        key=message.key.decode("utf-8", "replace") if message.key is not None else None,
        payload=message.value.decode("utf-8", "replace") if message.value is not None else None,
    )


def plan_batch(messages: Iterable[Message], kinds: Mapping[str, str],
               expected: Mapping[Partition, int | None]) -> Batch:
    """Turn consumed messages into what one transaction writes.

    ``kinds`` maps each topic to the schema its messages follow ("articles" or
    "duplicates"). Unparsable or schema-invalid messages become dead letters; of several
    versions of one article only the newest is kept (a database statement cannot touch one
    row twice), the newest duplicate event per duplicate wins likewise."""
    batch = Batch()
    articles: dict[str, Decoded] = {}
    duplicates: dict[str, Decoded] = {}
    for message in messages:
        where = (message.topic, message.partition)
        batch.positions[where] = message.offset + 1
        batch.expected.setdefault(where, expected.get(where))
        kind = kinds[message.topic]
        try:
            data = orjson.loads(message.value or b"")
        except orjson.JSONDecodeError as exc:
            batch.rejected.append(dead_letter(message, "not_json", f"{kind}: {exc}"))
            continue
        try:
            _validator(kind)(data)
        except fastjsonschema.JsonSchemaValueException as exc:
            url = data.get("url") if isinstance(data, dict) else None
            batch.rejected.append(dead_letter(
                message, "schema_invalid", f"not a {kind}.v1 message: {exc.message}",
                url if isinstance(url, str) else None))
            continue
        decoded = Decoded(data, message)
        if kind == "articles":
            held = articles.get(decoded.id)
            if held is None or decoded.version > held.version:
                articles[decoded.id] = decoded
        else:
            duplicates[data["duplicate_id"]] = decoded
    batch.articles = list(articles.values())
    batch.duplicates = list(duplicates.values())
    return batch


async def publish_dead_letters(store: Store, producer: Any, topic: str) -> int:
    """Send the outbox to the dead-letter topic, then empty it. Returns how many."""
    pending = await asyncio.to_thread(store.pending_dead_letters)
    for _, key, letter in pending:
        await producer.send(topic, key=key, value=letter)
    if pending:
        await producer.flush()
        await asyncio.to_thread(store.forget_dead_letters, [row_id for row_id, _, _ in pending])
    return len(pending)


async def run_sink(store: Store, broker_url: str, kinds: Mapping[str, str],
                   deadletter_topic: str, *, idle_exit: float | None = None,
                   max_batch: int = 500) -> Counter[str]:
    """Consume the topics in ``kinds`` into ``store`` until ``idle_exit`` seconds pass with
    no message (forever when None). Reads every partition itself, no consumer group: the
    position of each partition is the one stored with the rows. Returns counts by outcome."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from worker.kafka_io import UnknownTopic, bootstrap_servers, partitions_of

    servers = bootstrap_servers(broker_url)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all")
    counts: Counter[str] = Counter()
    await consumer.start()
    try:
        await producer.start()
        # dead letters a crash left in the outbox before they were published
        counts["dead_letters_republished"] = await publish_dead_letters(
            store, producer, deadletter_topic)
        partitions = await partitions_of(broker_url, kinds)
        if missing := [t for t in kinds if t not in partitions and kinds[t] == "articles"]:
            raise UnknownTopic(missing[0])
        assigned = [TopicPartition(t, p) for t, numbers in partitions.items() for p in numbers]
        consumer.assign(assigned)
        expected: dict[Partition, int | None] = {}

        async def seek_to_stored() -> None:
            stored = await asyncio.to_thread(store.positions)
            expected.clear()
            for tp in assigned:
                expected[(tp.topic, tp.partition)] = stored.get((tp.topic, tp.partition))
                if (offset := stored.get((tp.topic, tp.partition))) is not None:
                    consumer.seek(tp, offset)
                else:
                    await consumer.seek_to_beginning(tp)

        await seek_to_stored()
        last_message = time.monotonic()
        while True:
            records = await consumer.getmany(timeout_ms=1000, max_records=max_batch)
            messages = [Message(r.topic, r.partition, r.offset, r.key, r.value)
                        for rs in records.values() for r in rs]
            if not messages:
                if idle_exit is not None and time.monotonic() - last_message >= idle_exit:
                    break
                continue
            last_message = time.monotonic()
            batch = plan_batch(messages, kinds, expected)
            try:
                written = await asyncio.to_thread(store.write, batch)
            except PositionConflict as exc:
                log.warning("%s; re-reading from the stored offsets", exc)
                counts["position_conflicts"] += 1
                await seek_to_stored()
                continue
            counts += written
            expected.update(batch.positions)
            if written["rejected"]:
                await publish_dead_letters(store, producer, deadletter_topic)
    finally:
        await consumer.stop()
        await producer.stop()
    return +counts
