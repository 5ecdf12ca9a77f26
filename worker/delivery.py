"""What became of the records a stage sent.

``topic.send`` only hands a record to the producer, and ``producer.flush()`` waits for
every record without raising for any: a record the broker refused (larger than the
topic's ``max.message.bytes``, or still not taken when the producer's request timeout ran
out) would be missing behind its input's committed offset. So each record sent while a
stage handles a message is noted with the producer's delivery future (:class:`Sent`, in
the :class:`Deliveries` that :data:`SENDS` names), and the stage looks at the results, once
per batch, before the message counts as handled.

A table's changelog writes are noted likewise (:func:`note_changelog_write`, by the tables of
:mod:`worker.app`): a write that failed cannot be made good in this process (the table
already holds the value, and handling the message again would not write it again), so the
stage leaves the message unacked and stops the worker (:class:`ChangelogWriteFailed`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson
from aiokafka import errors
from faust.types import FutureMessage

from worker.metrics import CHANGELOG_UNCHECKED
from worker.models import DeadLetter, utc_now

log = logging.getLogger("kabar.delivery")

#: the broker's (or the producer's) answer about the record itself: sent again, it would
#: be refused again
REFUSED_FOR_WHAT_IT_IS = (
    errors.MessageSizeTooLargeError,
    errors.RecordListTooLargeError,
    errors.RecordTooLargeError,
    errors.CorruptRecordException,
    errors.InvalidTimestampError,
    errors.UnsupportedForMessageFormatError,
)

#: the reason of the dead letter for an output record the broker refused
OUTPUT_REFUSED = "output_refused"

#: characters of the payload a dead letter keeps when the whole letter was refused too
TRUNCATED_PAYLOAD = 4096


@dataclass(slots=True)
class Sent:
    """A record a stage sent while it handled ``event`` (a Faust event; None outside one)."""

    topic: str
    key: bytes | None
    value: bytes
    event: Any
    #: the producer's delivery future; None when the send itself raised (``error``)
    delivery: asyncio.Future[Any] | None = None
    error: BaseException | None = None
    #: for a table's changelog write: the table (and the changelog partition written)
    table: str | None = None
    partition: int | None = None

    @property
    def size(self) -> int:
        return len(self.value) + len(self.key or b"")


@dataclass(slots=True)
class Deliveries:
    """The records sent for messages a stage handled whose delivery results are still to
    be looked at, and the messages whose records failed for now (``in_doubt``): those must
    be delivered again."""

    sent: list[Sent] = field(default_factory=list)
    in_doubt: list[Any] = field(default_factory=list)
    #: changelog writes that failed, with why: the worker's table holds entries that the
    #: partition's next owner would not recover
    lost: list[tuple[Sent, BaseException]] = field(default_factory=list)


#: where :meth:`worker.agents.Pipeline.send` notes what it sends: the Deliveries of the
#: message (or batch) being handled in this task; None sends untracked (timers)
SENDS: ContextVar[Deliveries | None] = ContextVar("kabar_sends", default=None)


@contextlib.contextmanager
def noting(deliveries: Deliveries) -> Iterator[None]:
    """What is sent and written meanwhile (in this task) is noted in ``deliveries``."""
    token = SENDS.set(deliveries)
    try:
        yield
    finally:
        SENDS.reset(token)


class ChangelogWriteFailed(RuntimeError):
    """A table's changelog write failed while a message was handled: the worker stops."""


def note_changelog_write(table: str, written: FutureMessage) -> None:
    """Note a changelog write of ``table`` (Faust's future for the record it buffered) in
    the Deliveries of the message being handled, whose stage then waits for its result. A
    write that no stage waits for (a timer's, or a batch commit's ``delivered`` offsets) is
    counted and, should it fail, logged."""
    message = written.message
    record = Sent(message.channel.get_topic_name(), message.key, message.value or b"",
                  faust.current_event(), delivery=written, table=table,
                  partition=message.partition)
    deliveries = SENDS.get()
    if deliveries is not None:
        deliveries.sent.append(record)
        return
    CHANGELOG_UNCHECKED.labels(table).inc()
    written.add_done_callback(functools.partial(report_unchecked, record))


def report_unchecked(record: Sent, written: asyncio.Future[Any]) -> None:
    """A done callback: log an unchecked changelog write (:func:`note_changelog_write`)
    that failed."""
    error = (asyncio.CancelledError("changelog write cancelled") if written.cancelled()
             else written.exception())
    if error is not None:
        log.error("%s; a write no stage waits for (a timer's, or an offset recorded "
                  "delivered), so no message is held back for it", lost_write(record, error))


def lost_write(record: Sent, error: BaseException) -> str:
    """What a failed changelog write lost, for the log."""
    why = cause(error)
    return (f"table {record.table}: the changelog write of key {record.key!r} to "
            f"{record.topic}[{record.partition}] failed ({type(why).__name__}: {why}): the "
            f"partition's next owner would recover the table without it")


async def failures(sent: Iterable[Sent]) -> list[tuple[Sent, BaseException]]:
    """Each record of ``sent`` that did not reach the broker, with why; waits for the
    results still outstanding (none after a flush)."""
    sent = list(sent)
    pending = [s.delivery for s in sent if s.delivery is not None and not s.delivery.done()]
    if pending:
        await asyncio.wait(pending)
    failed = []
    for record in sent:
        if record.error is not None:
            failed.append((record, record.error))
        elif record.delivery is not None:
            if record.delivery.cancelled():
                failed.append((record, asyncio.CancelledError("delivery cancelled")))
            elif (error := record.delivery.exception()) is not None:
                failed.append((record, error))
    return failed


def cause(error: BaseException) -> BaseException:
    """The Kafka error behind ``error`` (Faust wraps what the producer raises on send in
    a ProducerSendError)."""
    return error.__cause__ if isinstance(error.__cause__, errors.KafkaError) else error


def refused_for_what_it_is(error: BaseException) -> bool:
    return isinstance(cause(error), REFUSED_FOR_WHAT_IT_IS)


def record_url(value: bytes) -> str | None:
    """The URL a record is about: ``url`` in most records Kabar sends, ``final_url`` in a
    raw page, ``duplicate_url`` in a duplicate event."""
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    url = record.get("final_url") or record.get("url") or record.get("duplicate_url")
    return url if isinstance(url, str) else None


def refused_letter(stage: str, record: Sent, error: BaseException, limit: int | None
                   ) -> DeadLetter:
    """The dead letter for an output record refused for what it is, with the record."""
    why = cause(error)
    bound = f"the topic takes at most {limit} bytes" if limit else "its size limit is unknown"
    return DeadLetter(
        stage=stage, reason=OUTPUT_REFUSED,
        message=(f"{record.topic} refused a record of {record.size} bytes "
                 f"({type(why).__name__}: {why}); {bound}"),
        failed_at=utc_now(), url=record_url(record.value), topic=record.topic,
        key=record.key.decode("utf-8", "replace") if record.key is not None else None,
        payload=record.value.decode("utf-8", "replace"),
    )


def truncated_letter(letter: Sent, error: BaseException) -> bytes | None:
    """A dead letter refused for what it is, again with its payload cut to
    TRUNCATED_PAYLOAD characters and the reason; None if it was cut already."""
    fields = orjson.loads(letter.value)
    payload = fields.get("payload")
    text = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
    if len(text) <= TRUNCATED_PAYLOAD:
        return None
    why = cause(error)
    fields["payload"] = text[:TRUNCATED_PAYLOAD]
    fields["message"] = (f"{fields.get('message', '')} [payload truncated to "
                         f"{TRUNCATED_PAYLOAD} of {len(text)} characters: {letter.topic} "
                         f"refused the whole dead letter of {letter.size} bytes "
                         f"({type(why).__name__})]")
    return orjson.dumps(fields)
