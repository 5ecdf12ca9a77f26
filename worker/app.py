"""The Faust app: one app runs every agent; run ``kabar worker`` N times to scale out.

Messages travel as raw bytes and are (de)serialised with orjson by the records in
``worker.models``, so consumers in any language read the same JSON the schemas describe.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Set
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.transport import producer as faust_producer
from faust.transport.consumer import CONSUMER_FETCHING, RecordMap
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, FutureMessage, Message, ProducerT
from faust.types.tuples import ConsumerMessage
from mode.utils.queues import FlowControlEvent
from mode.utils.times import want_seconds

from worker.delivery import note_changelog_write
from worker.kafka_io import TopicSpec
from worker.settings import Settings

log = logging.getLogger("kabar.app")


@dataclass(frozen=True, slots=True)
class Topics:
    fetch: faust.TopicT
    pages: faust.TopicT
    by_id: faust.TopicT
    by_content: faust.TopicT
    audit: faust.TopicT
    articles: faust.TopicT
    duplicates: faust.TopicT
    deadletter: faust.TopicT
    health_events: faust.TopicT
    source_health: faust.TopicT

    def all(self) -> list[faust.TopicT]:
        return [getattr(self, f.name) for f in dataclasses.fields(self)]


# Guards against two ways faust-streaming 0.15.3 (on aiokafka 0.14) loses records around a
# rebalance. Either left a fleet worker that never fetched some of its hosts (1 run in 5 of
# tests/test_fetch_fleet.py). Nothing redelivers such a record: the seek to committed
# offsets at the end of recovery leaves a partition that has no commit yet where it is.


class ActivePartitions:
    """Faust's live set of active partitions as aiokafka's ``fetched_records`` reads it:
    truthy even when empty.

    aiokafka takes an empty ``partitions`` argument for "every partition". Faust hands it
    its live set, which a rebalance empties (every partition paused until recovery) while a
    fetch begun in the previous generation may still wait in the consumer thread; records
    arriving then were drained from the paused partitions, their positions advanced, and
    Faust dropped them as not active."""

    __slots__ = ("tps",)

    def __init__(self, tps: Set[TP]) -> None:
        self.tps = tps

    def __bool__(self) -> bool:
        return True

    def __contains__(self, tp: object) -> bool:
        return tp in self.tps


class FetchedRecords(dict):  # type: ignore[type-arg]
    """A fetch's records (RecordMap), with how often each partition had been repositioned
    (a seek) when aiokafka handed them out."""

    repositions: Mapping[Any, int]


#: The least a fetch asks the broker for, and the longest the broker may wait for it. With
#: aiokafka's one byte, a worker whose stages feed each other's topics fetched again as soon
#: as any record came in: 0.26-0.29 fetches per page, each encoded, decoded and handed over
#: from the consumer thread for a few records. At 1 MiB / 100 ms: 0.08-0.13 fetches per
#: page and a third less CPU on the consumer thread (bench/pipeline.py's in-process worker,
#: interleaved rounds on one broker). A record that arrives alone waits at most 100 ms, and
#: an idle worker fetches ten times a second (0.01 cores; Faust's 1.5 s wait: 0.7 times).
FETCH_MIN_BYTES = 1024 * 1024
FETCH_MAX_WAIT_S = 0.1


class ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's consumer thread, counting each partition's repositions. aiokafka drops what
    it fetched of a partition when it is repositioned, so the count taken with a fetch's
    records (on this thread, as aiokafka hands them out) says whether a seek came after
    them: they are then read again from the new position."""

    repositions: Counter[Any]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.repositions = Counter()

    async def on_start(self) -> None:
        await super().on_start()
        self.count_repositions(self._ensure_consumer()._fetcher)

    def _create_worker_consumer(self, transport: Any) -> Any:
        """Faust's worker consumer, asking the broker for fetches of at least
        FETCH_MIN_BYTES (Faust leaves aiokafka's one byte, and has no setting for it)."""
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_min_bytes = FETCH_MIN_BYTES
        consumer._fetch_max_wait_ms = int(FETCH_MAX_WAIT_S * 1000)
        return consumer

    def count_repositions(self, fetcher: Any) -> None:
        """Count each seek of aiokafka's ``fetcher`` (every reposition goes through its
        ``seek_to``, which drops what it holds of the partition)."""
        seek_to = fetcher.seek_to

        def counted_seek_to(tp: Any, offset: int) -> None:
            seek_to(tp, offset)
            self.repositions[tp] += 1

        fetcher.seek_to = counted_seek_to

    async def _fetch_records(self, *args: Any, **kwargs: Any) -> RecordMap:
        records = FetchedRecords(await super()._fetch_records(*args, **kwargs))
        records.repositions = {tp: self.repositions[tp] for tp in records}
        return records

    async def seek_in_thread(self, tp: TP, offset: int) -> None:
        """Seek on this thread, where aiokafka's fetcher runs (Faust's ``seek`` calls
        aiokafka from the caller's thread)."""
        await self.call_thread(self._seek_here, tp, offset)

    async def _seek_here(self, tp: TP, offset: int) -> None:
        self._ensure_consumer().seek(tp, offset)


#: messages the consumer hands to the stream queues between two turns of the event loop
DELIVERIES_PER_TURN = 100


class Consumer(aiokafka_driver.Consumer):
    """Faust's aiokafka consumer, its fetches filtered by :class:`ActivePartitions`, and
    the time of its last poll noted for /livez (worker.probes).

    It also tells the stages which messages they must not handle now
    (:meth:`defer_out_of_order`): each message carries how often its partition had been
    repositioned when it was fetched (``repositions``, counted by :class:`ConsumerThread`),
    and the messages Faust skipped or dropped unhandled are noted (``_skipped``: per
    partition, the lowest offset and the latest reposition count)."""

    last_poll: float | None = None
    _thread: ConsumerThread

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fetched_records: RecordMap = {}
        self._fetched_repositions: Mapping[Any, int] = {}
        self._skipped: dict[TP, tuple[int, int]] = {}
        self._read_repositions: dict[TP, int] = {}

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _wait_next_records(self, timeout: float) -> tuple[RecordMap | None, set[TP] | None]:
        # one turn of Faust's fetch loop: a poll, or a second's sleep with nothing to fetch;
        # a flow suspended by a rebalance that never ends stops it
        records, active = await super()._wait_next_records(timeout)
        self.last_poll = time.monotonic()
        # Faust makes the messages of these records next, before it fetches again
        self._fetched_records = records or {}
        self._fetched_repositions = getattr(records, "repositions", {})
        return records, active

    def _to_message(self, tp: TP, record: Any) -> ConsumerMessage:
        message = super()._to_message(tp, record)
        message.repositions = self._fetched_repositions.get(tp, 0)  # type: ignore[attr-defined]
        return message

    def ack(self, message: Message) -> bool:
        """Faust's ack, except for a message Faust's stream skipped and acked without
        handing it to any agent (its generation is stale, or the flow was suspended by a
        rebalance): nobody handled it, so its offset is not committed, and the partition
        is read again from it (:meth:`defer_out_of_order`) unless a seek comes first."""
        if (message.tracked or message.acked
                or not self.app.topics.acks_enabled_for(message.topic)):
            return super().ack(message)
        self.note_unhandled(message.tp, message.offset, getattr(message, "repositions", 0),
                            "skipped by its stream")
        message.acked = True
        return False

    def note_unhandled(self, tp: TP, offset: int, repositions: int, how: str) -> None:
        """Note a message fetched and never handed to an agent (Faust skipped or dropped
        it), unless it is a partition's that no agent reads (a changelog's)."""
        if not self.app.topics.acks_enabled_for(tp.topic):
            return
        # the lowest offset is the one to read again from; the latest reposition count
        # is the one the partition's next messages carry
        lowest = self._skipped.get(tp, (offset, repositions))
        self._skipped[tp] = (min(offset, lowest[0]), max(repositions, lowest[1]))
        if offset <= lowest[0]:
            log.warning("%s[%d]@%d %s unhandled (generation %s): the partition is read "
                        "again from there", tp.topic, tp.partition, offset, how,
                        self.app.consumer_generation_id)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        """Faust's, noting the records it fetched and did not hand on: it stops handing
        out a fetch's records when the group's generation changes or the flow is
        suspended (a rebalance), and aiokafka has moved past them. And a partition's first
        message since a seek starts its read offset afresh (below)."""
        handed: dict[TP, int] = {}
        read = self._read_repositions
        try:
            async for tp, message in super().getmany(timeout):
                handed[tp] = message.offset
                repositions = getattr(message, "repositions", 0)
                if repositions > read.get(tp, 0):
                    # The first message read since a seek. Faust drops any message below
                    # the partition's read offset, which messages fetched before the seek
                    # and handed on after it have moved past the seek's offset: everything
                    # the seek reads again would be dropped.
                    read[tp] = repositions
                    self._read_offset[tp] = None
                yield tp, message
        finally:
            records, self._fetched_records = self._fetched_records, {}
            for tp, fetched in records.items():
                last = handed.get(tp)
                first = next((r.offset for r in fetched if last is None or r.offset > last),
                             None)
                if first is not None:
                    self.note_unhandled(tp, first, self._fetched_repositions.get(tp, 0),
                                        "dropped by Faust's fetch")

    async def _drain_messages(self, fetcher: Any) -> None:
        """Faust's fetch loop (the task of its Fetcher service), handing each fetch's
        messages to the stream queues in one go.

        Faust waits, for every message, on the first of its delivery and a suspended flow:
        four tasks and at least one turn of the event loop per message, in which every
        stage with a message queued handles one. So a queue never held more than a turn's
        worth, a topic fetched behind another waited for the whole fetch before it (the
        stages ran one after the other: pages, then dedupe-id, then dedupe-content), and
        the stages idled while the next fetch came over from the consumer thread. Here one
        such wait covers a fetch. A rebalance that suspends the flow cuts the delivery
        short as before: what was not handed on is noted by :meth:`getmany` (its
        ``finally``), and the seek at the end of the rebalance reads it again."""
        stopping = (self._stopped.is_set, fetcher._stopped.is_set)
        try:
            while not any(stop() for stop in stopping):
                self.diag.set_flag(CONSUMER_FETCHING)
                messages = self.getmany(timeout=1.0)
                try:
                    await self.sleep(0)
                    # the fetch itself (the first step) as Faust has it: not cut short
                    first = None if self.should_stop else await anext(messages, None)
                    while first is not None:
                        delivering = asyncio.ensure_future(self._deliver(first, messages))
                        try:
                            await self.wait_first(delivering, self.suspend_flow.wait())
                        finally:
                            if not delivering.done():
                                delivering.cancel()
                                await asyncio.wait({delivering})
                        if delivering.cancelled() or not delivering.result():
                            break
                        # stopped for Faust's commit every broker_commit_every acks
                        self._n_acked = 0
                        await self.commit()
                        first = await anext(messages, None)
                finally:
                    await messages.aclose()
                    self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception:
            log.exception("handing fetched messages to the streams failed")
            raise

    async def _deliver(self, first: tuple[TP, Message],
                       messages: AsyncIterator[tuple[TP, Message]]) -> bool:
        """Hand ``first`` and the rest of ``messages`` to the streams, with Faust's read
        offsets and gaps; True when it stopped, mid-fetch, for a commit."""
        read_offset = self._read_offset
        commit_every = self._commit_every
        handed = 0
        item: tuple[TP, Message] | None = first
        while item is not None:
            tp, message = item
            offset, last = message.offset, read_offset[tp]
            if last is None or offset >= last:
                if last and offset - last > 1 and self.app.topics.acks_enabled_for(tp.topic):
                    await self._add_gap(tp, last + 1, offset)
                await self.callback(message)
                read_offset[tp] = offset
                if commit_every is not None and self._n_acked >= commit_every:
                    return True
            handed += 1
            if handed % DELIVERIES_PER_TURN == 0:
                await asyncio.sleep(0)  # the stages take their turns
            item = await anext(messages, None)
        return False

    async def perform_seek(self) -> None:
        """Faust's seek to the committed offsets, and for a partition it leaves where it is
        (one with no commit yet) that has a message noted unhandled, a seek back to it."""
        await super().perform_seek()
        for tp, (offset, repositions) in list(self._skipped.items()):
            if repositions == self._thread.repositions[tp]:
                await self.read_again(tp, offset)
            self._skipped.pop(tp, None)

    async def read_again(self, tp: TP, offset: int, why: str = "not handled before") -> None:
        """Seek ``tp`` back to ``offset``: what was fetched of it after that is dropped (by
        aiokafka) or refused to the stages (``fetched_before_seek``), and read again.
        Nothing, if the partition has gone elsewhere: its new owner reads it from the
        committed offset."""
        if tp not in self.assignment():
            return
        await self._thread.seek_in_thread(tp, offset)
        self._read_offset[tp] = offset or None  # as Faust's seek notes it
        log.warning("%s[%d]: read again from %d, %s", tp.topic, tp.partition, offset, why)

    def fetched_before_seek(self, message: Message) -> bool:
        """Whether ``message``'s partition was repositioned after it was fetched (so it
        is read again from where the seek went)."""
        fetched = getattr(message, "repositions", None)
        return fetched is not None and fetched < self._thread.repositions[message.tp]

    def out_of_order(self, message: Message) -> str | None:
        """Why a stage handed ``message`` must leave it unhandled and unacked, or None.

        A stage that reads its partitions in order records the last offset it handled as
        delivered, and skips messages at or below it as redeliveries. Around a rebalance
        Faust can hand out a later message of a partition before earlier ones: ones it
        skipped (stale generation), or ones the seek to the committed offset reads again.
        Handled, the later message would be recorded delivered past them, and they would
        be skipped as redeliveries when read again: lost stories in the chaos cells."""
        fetched = getattr(message, "repositions", None)
        if fetched is None:
            return None
        if self.fetched_before_seek(message):
            return "fetched_before_seek"  # read again from where the seek went
        skipped = self._skipped.get(message.tp)
        if skipped is not None and skipped[1] == fetched and skipped[0] < message.offset:
            return "after_skipped"
        return None

    async def defer_out_of_order(self, message: Message) -> str | None:
        """:meth:`out_of_order`, and for a message after one Faust skipped, the seek back
        to that one (or, if the partition went elsewhere, forgetting it)."""
        reason = self.out_of_order(message)
        if reason == "after_skipped":
            tp = message.tp
            await self.read_again(tp, self._skipped[tp][0])
            self._skipped.pop(tp, None)
        return reason

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> RecordMap:
        if active_partitions is not None:
            active_partitions = cast(set[TP], ActivePartitions(active_partitions))
        return await super()._getmany(active_partitions, timeout)

    def _new_offset(self, tp: TP) -> int | None:
        """Never commit past a message still in flight. An agent with concurrency (the
        fetch agent) acks out of order; Faust 0.15.3 takes a single missing offset at the
        head of the acked run for a compaction gap and commits over the message still being
        handled, which a crash then loses (faust-streaming#606).

        And commit the whole run of acked offsets when a gap Faust noted overlaps it (see
        below), not one offset per commit."""
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        # a message below the committed offset was handed out before a rebalance took its
        # partition away and will never be acked: it holds nothing back
        in_flight = [m.offset for m in list(self._unacked_messages)
                     if m.tp == tp and not m.acked and (committed is None or m.offset >= committed)]
        # nor past one noted unhandled (dropped or skipped), until it is read again
        skipped = self._skipped.get(tp)
        if skipped is not None and (committed is None or skipped[0] >= committed):
            in_flight.append(skipped[0])
        if acked and in_flight and min(acked) > min(in_flight):
            return None
        offset = super()._new_offset(tp)
        # Faust adds the offsets of a gap to the acked ones without looking whether they
        # were acked too, and a duplicate ends the run of consecutive offsets it commits, so
        # each commit (every 2.8 s) moved the offset on by one: the chaos cells' lag took a
        # minute or two to drain after a network cut or a broker bounce. Such gaps overlap
        # acked offsets after a rebalance: the seek to the committed offsets resets Faust's
        # read offsets, a record fetched before the seek then arrives above them, and Faust
        # takes the jump for a gap over offsets already handled and acked. What is left
        # below the new offset is duplicates, and the acked offsets after them that
        # continue the run go with it.
        acked_index = self._acked_index[tp]
        duplicates = 0
        while offset is not None and acked and acked[0] <= offset:
            done = acked.pop(0)
            acked_index.discard(done)
            if done == offset:
                offset += 1
            else:
                duplicates += 1
        if duplicates:
            log.info("%s[%d]: %d offsets both acked and in a gap, committing up to %d",
                     tp.topic, tp.partition, duplicates, offset)
        return offset

    _refused_commit: dict[TP, int | None]

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        did_commit = await super()._commit(offsets)
        if not did_commit:
            # what this worker knows of these partitions now: as before the request, or as
            # a rebalance meanwhile left them (revoked, or seeked to the group's offsets)
            self._refused_commit = {tp: self._committed_offset.get(tp) for tp in offsets}
        return did_commit

    async def _commit_offsets(self, offsets: Mapping[TP, int],
                              start_new_transaction: bool = True) -> bool:
        """Faust's commit, except that offsets the group refused are not noted committed.

        Faust 0.15.3 notes them committed all the same (a commit of the generation before a
        rebalance: aiokafka's CommitFailedError), even for a partition revoked meanwhile.
        Given the partition back, the worker then discarded the acks of the messages below
        that offset as already committed, the head of the partition was never acked, and
        nothing more was committed there: the chaos cells' lag stayed up for good after a
        network cut or a broker bounce."""
        self._refused_commit = {}
        did_commit = await super()._commit_offsets(offsets, start_new_transaction)
        if self._refused_commit:
            log.warning("offset commit refused (the group rebalanced): %s; committed here: %s",
                        _by_partition(offsets), _by_partition(self._refused_commit))
            self._committed_offset.update(self._refused_commit)
        return did_commit


async def defer_out_of_order(consumer: Any, message: Message) -> str | None:
    """:meth:`Consumer.defer_out_of_order` for any consumer (other drivers' are Faust's
    own: None)."""
    if isinstance(consumer, Consumer):
        return await consumer.defer_out_of_order(message)
    return None


def note_unhandled(consumer: Any, message: Message, how: str) -> None:
    """:meth:`Consumer.note_unhandled` for a message handed out and then dropped unacked, for
    any consumer (other drivers: nothing)."""
    if isinstance(consumer, Consumer):
        consumer.note_unhandled(TP(message.topic, message.partition), message.offset,
                                getattr(message, "repositions", 0), how)


def fetched_before_seek(consumer: Any, message: Message) -> bool:
    """:meth:`Consumer.fetched_before_seek` for any consumer (other drivers': False)."""
    return isinstance(consumer, Consumer) and consumer.fetched_before_seek(message)


async def read_again(consumer: Any, tp: TP, offset: int, why: str) -> None:
    """:meth:`Consumer.read_again` for any consumer (other drivers: Faust's seek, if the
    partition is still theirs)."""
    if isinstance(consumer, Consumer):
        await consumer.read_again(tp, offset, why)
    elif tp in consumer.assignment():
        await consumer.seek(tp, offset)


def _by_partition(offsets: Mapping[TP, int | None]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]={offset}"
                     for tp, offset in sorted(offsets.items()))


class ProducerBuffer(faust_producer.ProducerBuffer):
    """Faust's buffer of the records sent with ``send_soon`` (every table's changelog
    writes), whose flush returns only once each of them is in aiokafka's hands.

    Faust's flush returns when its sender has handed no record on for 0.1 s, with records
    still queued; and the buffer looks empty while the sender hands the last record it took
    to aiokafka, which can wait for room in a full batch or for metadata. A flush before an
    offset commit, or before sending what must come after a table write, came too early.

    It waits for the records buffered when it was called, not for the buffer to run empty:
    with the other stages writing about one record a millisecond, the buffer was seldom
    empty when a flush looked, and a commit's flush of one record took 0.2-0.6 s (the
    dedupe stage's first outcomes 1.6 s late in bench/pipeline.py, and a stage waiting for
    its previous commit idled meanwhile). The sender hands the records over in the order
    they were queued, so those are in aiokafka's hands once as many have been handed over
    as were queued or being handed over then."""

    #: records the sender took off the queue and has not handed to aiokafka yet
    handing_over = 0
    #: records the sender has handed to aiokafka (or failed) since the buffer was made
    handed = 0

    async def _send_pending(self, fut: FutureMessage) -> None:
        self.handing_over += 1
        try:
            await super()._send_pending(fut)
        except Exception as exc:
            # Faust's sender task would die of it, leaving the record's future unresolved
            # (and every record after it unsent): the write failed, the sender goes on
            if not fut.done():
                fut.set_exception(exc)
        finally:
            self.handing_over -= 1
            self.handed += 1

    async def flush(self) -> None:
        if self.app is None or self.app.conf.producer_threaded:
            await super().flush()
            return
        until = self.handed + self.size + self.handing_over
        while self.handed < until:
            if self.state != "running" and self.size:
                raise RuntimeError(f"cannot flush: the producer buffer is {self.state} with "
                                   f"{self.size} records unsent")
            self.message_sent.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.message_sent.wait(), timeout=1.0)


class Producer(aiokafka_driver.Producer):
    """Faust's aiokafka producer, with Kabar's :class:`ProducerBuffer`: its ``flush`` (which
    Kabar's stages and Faust's offset commit call) waits for every record."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        faust_buffer, self.buffer = self.buffer, ProducerBuffer(loop=self.loop,
                                                                beacon=self.beacon)
        self.beacon.discard(faust_buffer.beacon)
        self.buffer.app = self.app
        if self.threaded_producer is not None:
            self.buffer.threaded_producer = self.threaded_producer


class Transport(aiokafka_driver.Transport):
    Consumer = Consumer
    Producer = Producer


class NotedChangelog:
    """A table whose changelog writes are noted for the message being handled, whose stage
    then looks at their results (worker.delivery.note_changelog_write)."""

    name: str

    def send_changelog(self, partition: int | None, key: Any, value: Any,
                       key_serializer: Any = None, value_serializer: Any = None
                       ) -> FutureMessage:
        written = super().send_changelog(  # type: ignore[misc]
            partition, key, value, key_serializer, value_serializer)
        note_changelog_write(self.name, written)
        return written


class Table(NotedChangelog, faust.Table):  # type: ignore[misc]
    pass


class GlobalTable(NotedChangelog, faust.GlobalTable):  # type: ignore[misc]
    pass


class FlowControl(FlowControlEvent):
    """Faust's flow control of the stream queues, except that resuming a flow that already
    runs keeps what the queues hold.

    Recovery resumes the flow, and on completing resumes the stream partitions, seeks them
    to their committed offsets and resumes the flow again: that second resume cleared the
    (clear-on-resume) stream queues of records fetched since the partitions were resumed.
    Clearing is for records from before a suspension, and the revocation that suspends the
    flow clears the queues itself."""

    def __init__(self, app: faust.App) -> None:
        super().__init__()
        self.app = app

    def resume(self) -> None:
        if not self.is_active():
            super().resume()

    def clear(self) -> None:
        """Clear the queues, noting the messages cleared unhandled with the consumer."""
        consumer = self.app.consumer
        if isinstance(consumer, Consumer):
            for queue in self._queues:
                for item in list(queue._queue):  # type: ignore[attr-defined]
                    message = getattr(item, "message", None)
                    if message is not None:
                        consumer.note_unhandled(message.tp, message.offset,
                                                getattr(message, "repositions", 0),
                                                "cleared from a stream queue")
        super().clear()


def app_id(settings: Settings) -> str:
    """Consumer group and changelog prefix: one per topic prefix, so two deployments
    sharing a cluster under different prefixes never share state."""
    return settings.topic.prefix.rstrip(".-_") or "kabar"


def faust_broker_url(url: str) -> str:
    """Faust wants ``kafka://host:port``; accept a bare ``host:port`` too."""
    return url if "://" in url else f"kafka://{url}"


def max_message_bytes(settings: Settings) -> int:
    """Largest message Kabar sends: a RawPage holds a whole page, and JSON escaping can
    grow HTML up to about fourfold (the page limit is fetch.max_body_bytes)."""
    return settings.fetch.max_body_bytes * 4 + 1_000_000


#: How long the producer holds a record to send it in one request with others (seconds). A
#: worker sends some twenty small records per page (repartitions, outputs, changelogs);
#: sent one request each, they cost 7% more CPU per page (bench/pipeline.py, same run).
PRODUCER_LINGER_S = 0.005
#: The most a producer batch (one partition's records in one request) holds. aiokafka's 16 KiB
#: fits about one article, and a record that finds its partition's batch full waits until
#: that batch is sent: a stage stalled on the broker mid-message, and 2.2 produce requests
#: per page. At 256 KiB: 1.4 requests per page, 4-8% less CPU per page, 16% more pages/s
#: (bench/pipeline.py's in-process worker, interleaved runs on one broker).
PRODUCER_BATCH_BYTES = 256 * 1024


def create_app(settings: Settings, **overrides: Any) -> faust.App:
    """A configured Faust app (no agents yet: ``worker.agents.Pipeline`` adds them)."""
    if not settings.broker.url:
        raise ValueError("no broker configured: pass --broker URL or set KABAR_BROKER")
    if settings.broker.processing_guarantee not in ("at_least_once", "exactly_once"):
        raise ValueError("broker.processing_guarantee must be at_least_once or exactly_once, "
                         f"not {settings.broker.processing_guarantee!r}")
    options: dict[str, Any] = dict(
        broker=faust_broker_url(settings.broker.url),
        store=settings.store.url,
        datadir=settings.store.data_dir,
        topic_partitions=settings.topic.partitions,
        topic_replication_factor=settings.topic.replication,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.broker.session_timeout,
        # Faust otherwise waits, on every rebalance, until all in-flight events are acked; a
        # known hang of that wait (faust-streaming#133, robinhood/faust#402) left a surviving
        # worker rebalancing forever in the fleet tests. Delivery stays at-least-once.
        stream_wait_empty=False,
        broker_heartbeat_interval=max(1.0, settings.broker.session_timeout / 10),
        processing_guarantee=settings.broker.processing_guarantee,
        web_enabled=settings.web.enabled,
        web_port=settings.web.port,
        web_bind=settings.web.bind,
        producer_max_request_size=max_message_bytes(settings),
        producer_linger=PRODUCER_LINGER_S,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        consumer_max_fetch_size=max_message_bytes(settings),
        Table=Table,
        GlobalTable=GlobalTable,
    )
    options.update(overrides)
    app = faust.App(app_id(settings), **options)
    if type(app.transport) is aiokafka_driver.Transport:  # kafka:// URLs; other drivers as is
        app.transport = Transport(app.conf.broker_consumer, app)
    app.flow_control = FlowControl(app)  # before any stream queue registers with Faust's own
    hand_records_straight_to_the_producer(app)
    return app


def hand_records_straight_to_the_producer(app: faust.App) -> None:
    """Make Faust's ``maybe_start_producer``, which a topic calls before every record it
    sends, return the producer at once when it runs already.

    Faust wraps it in mode's ``stampede``, which yields to the event loop one to three times
    on every call: each record a stage sends, and each table write (Faust's producer buffer
    sends those one at a time), cost up to three turns of the loop before reaching the
    producer, and a flush waited for the buffer a record per turn (1,249 of 1,610 sends
    took three turns; 47 records and 84 waits per flush, a dedupe commit of 0.3-1 s with
    the other stages busy). The first start, and transactions, still go through Faust."""
    start = app.maybe_start_producer

    async def maybe_start_producer() -> ProducerT:
        producer = app.producer
        if producer.started and not app.in_transaction:
            return producer
        return await start()

    app.maybe_start_producer = maybe_start_producer  # type: ignore[method-assign]


def create_topics(app: faust.App, settings: Settings) -> Topics:
    def topic(suffix: str, **kwargs: Any) -> faust.TopicT:
        return app.topic(
            settings.topic_name(suffix),
            key_type=bytes,
            value_type=bytes,
            partitions=settings.topic.partitions,
            **kwargs,
        )

    return Topics(
        fetch=topic("fetch"),
        pages=topic("pages"),
        # internal repartitions: by article id (versions of one article are decided by one
        # partition) and by content hash (one partition owns each hash, so exact-copy
        # decisions never race between workers)
        by_id=topic("dedupe-id", internal=True),
        by_content=topic("dedupe-content", internal=True),
        # originals re-checked after a settle delay (closes the cross-worker near-copy race)
        audit=topic("dedupe-audit", internal=True),
        articles=topic("articles"),
        duplicates=topic("duplicates"),
        deadletter=topic("deadletter"),
        # what the stages saw of each source, keyed by the source's host: co-partitioned
        # with kabar.fetch, so the worker fetching a host keeps its sources' health
        health_events=topic("health-events", internal=True),
        # the last health record per source name, for any machine to read
        source_health=topic("source-health", compacting=True),
    )


def topic_specs(app: faust.App, topics: Topics, settings: Settings) -> list[TopicSpec]:
    """Every topic the worker reads or writes: the pipeline's, each table's changelog and
    Faust's leader-election topic. Created before the worker starts, so the first group
    assignment already sees them all (Faust declares its own while starting, racing it)."""
    pages_config = {"max.message.bytes": str(max_message_bytes(settings))}
    specs = [TopicSpec(t.get_topic_name(), settings.topic.partitions,
                       pages_config | ({"cleanup.policy": "compact"} if t.compacting else {}))
             for t in topics.all()]
    for table in app.tables.values():
        changelog = table.changelog_topic
        cleanup = [p for p, on in (("compact", changelog.compacting),
                                   ("delete", changelog.deleting)) if on]
        config = {"cleanup.policy": ",".join(cleanup)} if cleanup else {}
        if changelog.retention:
            config["retention.ms"] = str(int(want_seconds(changelog.retention) * 1000))
        specs.append(TopicSpec(changelog.get_topic_name(),
                               changelog.partitions or settings.topic.partitions, config))
    if not app.conf.topic_disable_leader:
        # the name faust.assignor.LeaderAssignor gives its one-partition topic
        specs.append(TopicSpec(f"{app.conf.id}-__assignor-__leader", 1))
    return specs
