"""Thin agents: each one moves records between topics and calls a stage. No stage logic here.

kabar.fetch (key host) ──fetch──► kabar.pages (key canonical URL)
                                     │ clean: extract + fingerprints
                                     ▼
                      kabar.dedupe-id (internal, key article id)
                                     │ versions: same article again, URL variants
                                     ▼
                   kabar.dedupe-content (internal, key content hash)
                                     │ dedupe: exact and near copies; enrich; route
                                     ▼
            kabar.articles · kabar.duplicates · kabar.deadletter · routed topics
                   kabar.dedupe-audit (internal): originals re-checked after a settle delay

every stage ──► kabar.health-events (internal, key: the source's host) ──health──►
                   kabar.source-health (compacted, key: source name)
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
from aiokafka.partitioner import murmur2
from faust.exceptions import ConsumerNotStarted
from faust.types import TP

from worker.app import (
    Topics,
    create_topics,
    defer_out_of_order,
    fetched_before_seek,
    note_unhandled,
    read_again,
)
from worker.batches import (
    Batch,
    FreezeFence,
    Outgoing,
    StagedWrites,
    as_handling,
    emit_action,
    first_offsets,
    from_first_in_doubt,
    looked_at,
    mark_of,
    tp_of,
)
from worker.clock import Clock
from worker.dedupe import index as dedupe
from worker.dedupe.fingerprints import fingerprints
from worker.delivery import (
    SENDS,
    ChangelogWriteFailed,
    Deliveries,
    Sent,
    failures,
    lost_write,
    noting,
    refused_for_what_it_is,
    refused_letter,
    truncated_letter,
)
from worker.enrich import enrich
from worker.extract import ExtractionError, extract_article
from worker.fetch.client import Fetcher
from worker.fetch.politeness import Politeness
from worker.fetch.sources import Source
from worker.fetch.stage import expire_seen, handle_fetch_request
from worker.fetch.urls import host_of
from worker.health.events import article_event, fetch_events, page_event
from worker.health.record import health_record
from worker.health.rules import HealthRules, rules_for
from worker.health.tracker import SourceState, facts, observe
from worker.kafka_io import any_record_since, max_message_bytes_of
from worker.metrics import (
    PipelineStats,
    forget_source_health,
    record_consumer_lag,
    record_table_sizes,
    set_source_health,
)
from worker.models import (
    DISCOVERED_AT_HEADER,
    Article,
    DeadLetter,
    FetchRequest,
    HealthEvent,
    RawPage,
    utc_now,
)
from worker.probes import consumer_lags, table_sizes
from worker.routing import Rule, route
from worker.settings import Settings
from worker.urls import canonical_url

log = logging.getLogger("kabar.agents")


EXPIRY_KEY = b"__expire__"
#: how often consumer lag and table sizes are measured (seconds)
GAUGE_INTERVAL = 15.0


def expiry_tick(value: bytes) -> float | None:
    """The time of an expiry tick message, or None for an ordinary record."""
    if not value.startswith(b'{"expire"'):
        return None
    return float(orjson.loads(value)["expire"])


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as Faust's producer uses it)
    gives ``key``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


#: stages whose messages skip the delivered guard and its flush: fetch (its actors finish
#: out of order; its seen-table makes a repeat harmless) and health (an event seen twice
#: after a crash only nudges a count, and the guard would double its broker writes)
UNGUARDED_STAGES = frozenset({"fetch", "health"})


def current_partition() -> int | None:
    event = faust.current_event()
    return event.message.partition if event is not None else None


def discovery_headers(discovered_at: str | None) -> dict[str, bytes] | None:
    return {DISCOVERED_AT_HEADER: discovered_at.encode()} if discovered_at else None


def current_discovered_at() -> str | None:
    """The discovery time the message being handled carries, if any."""
    event = faust.current_event()
    raw = event.headers.get(DISCOVERED_AT_HEADER) if event is not None else None
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


class Pipeline:
    """The agents of one Faust app, plus the resources they share in this process."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        stats: PipelineStats | None = None,
        rules: list[Rule] | None = None,
        sources: list[Source] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        #: the poll scheduler's and politeness' clock (sped up by benchmarks)
        self.clock = Clock.from_settings(settings.clock)
        self.stats = stats or PipelineStats()
        self.rules = rules
        # per-source options (max age, include/exclude, poll bounds) by source name
        self.sources = {source.name: source for source in sources or ()}
        self.topics: Topics = create_topics(app, settings)
        self._routed: dict[str, faust.TopicT] = {}
        self._fetcher: Fetcher | None = None
        self._fetcher_lock = asyncio.Lock()
        # Tables are partitioned like the stream that writes them: `fetch_seen` like
        # kabar.fetch (host), `article_urls` like dedupe-id (article id), `contents` like
        # dedupe-content (content hash). Their changelogs make them survive restarts.
        partitions = settings.topic.partitions
        self.fetch_seen = app.Table("fetch-seen", default=None, partitions=partitions)
        self.article_urls = app.Table("dedupe-urls", default=None, partitions=partitions)
        self.contents = app.Table("dedupe-contents", default=None, partitions=partitions)
        # Near-copy candidates must be visible to every worker, whichever partition indexed
        # them: a global table. One changelog partition (use_partitioner) gives its writes
        # one total order that every replica and every recovery replays the same way. Its
        # LSH band buckets are derived from it in each worker, from every signature record
        # the worker reads (and, after a recovery, from the whole table: a RocksDB store
        # replays only what it had not stored): ten band records per article fewer to
        # write, and to read back on every worker.
        self.bands = dedupe.BandIndex()
        self.sigs = app.GlobalTable("dedupe-sigs", default=None, partitions=1,
                                    use_partitioner=True, recovery_buffer_size=1,
                                    on_changelog_event=self.on_signature_record)
        self.sigs.on_recover(self.index_signatures)
        self.bands_swept_at = 0.0  # the expiry tick the band index was last swept at
        # "<topic>:<partition>" → {"o": offset of the last message whose outputs and state
        # writes the broker acknowledged, "ts": the newest record time among those}: a
        # message delivered again (a crash or rebalance came before its offset was committed)
        # is recognised and not emitted twice. Written from that partition's own events, so
        # its owner recovers it with the partition.
        self.delivered = app.Table("delivered", default=None, partitions=partitions)
        # content hash → the outcome last emitted for it ("<decision>:<id>:<version>"):
        # the same article can reach the dedupe stage twice as two messages (a versions
        # stage replaying a message whose `delivered` entry a crash or freeze cut off), and
        # the offset guard cannot tell those apart. Written after the outcome is flushed.
        self.emitted = app.Table("dedupe-emitted", default=None, partitions=partitions)
        # source name → its SourceState, written from the partition of the source's host
        self.health_state = app.Table("health-state", default=None, partitions=partitions)
        self.health_dirty: set[str] = set()  # sources with events since the last publication
        self.health_published: dict[str, str] = {}  # source → the state last published
        self.fence = FreezeFence(settings.broker.session_timeout)
        app.on_partitions_revoked.connect(self.fence.on_rebalance)
        app.on_partitions_assigned.connect(self.fence.on_rebalance)
        app.task(self.fence.tick)
        self.retention = settings.dedupe.retention_days * 86_400.0
        self.flush_batch = max(1, settings.broker.flush_batch)
        # topic → its max.message.bytes, asked of the broker when it first refuses a record
        self._size_limits: dict[str, int | None] = {}
        # partitions read again from a message whose outputs failed for now: what was
        # fetched of them before that seek is not recorded delivered (Pipeline.commit)
        self.rewound: set[TP] = set()
        # partition → the offset from which nothing is acked or recorded delivered: a
        # changelog write for that message failed, and the worker is stopping
        self.held: dict[TP, int] = {}
        #: why this worker must stop (a table write it cannot make good): the runner raises
        #: it, stopping the worker, as it does when Faust crashes
        self.fatal: ChangelogWriteFailed | None = None
        # (reason, topic, partition) → offsets left unacked to be delivered again, not
        # logged yet: one line per partition and reason (drop_unacked)
        self._held_back: dict[tuple[str, str, int], list[int]] = {}
        app.timer(interval=settings.health.publish_interval)(self.publish_health)
        self._register()

    async def fetcher(self) -> Fetcher:
        # One fetcher per process: per-host politeness must be shared by every actor, so
        # the concurrent actors must not each create one.
        async with self._fetcher_lock:
            if self._fetcher is None:
                politeness = Politeness(self.settings.fetch, clock=self.clock.monotonic,
                                        sleep=self.clock.sleep)
                fetcher = Fetcher(self.settings.fetch, politeness=politeness)
                fetcher.politeness.apply_sources(list(self.sources.values()))
                await fetcher.__aenter__()
                self._fetcher = fetcher
        return self._fetcher

    async def close(self) -> None:
        if self._fetcher is not None:
            await self._fetcher.__aexit__(None, None, None)
            self._fetcher = None

    # -- sending -----------------------------------------------------------------------

    async def send(self, topic: faust.TopicT, key: bytes | None, value: bytes, *,
                   headers: dict[str, bytes] | None = None) -> None:
        """Hand a record to the producer. While a stage handles a message, the record is
        noted with its delivery future in that message's Deliveries (SENDS), whose results
        the stage looks at before the message counts as handled (check_deliveries); a
        send that raises (a record larger than the producer sends) is noted as failed.
        Outside a message (timers) it is ``topic.send``."""
        deliveries = SENDS.get()
        if deliveries is None:
            await topic.send(key=key, value=value, headers=headers)
            return
        sent = Sent(topic.get_topic_name(), key, value, faust.current_event())
        # what topic.send does, keeping Faust's FutureMessage: Faust copies the producer's
        # result to it, and asyncio logs an exception there that nobody looked at (this
        # looks at the producer's future instead, which aiokafka always resolves)
        future = topic.as_future_message(key=key, value=value, headers=headers)
        future.add_done_callback(looked_at)
        try:
            sent.delivery = await topic.publish_message(future)
        except Exception as exc:
            sent.error = exc
        deliveries.sent.append(sent)

    async def check_deliveries(self, stage: str, deliveries: Deliveries | None) -> bool:
        """Whether every record sent for the messages of ``deliveries`` reached the broker
        or, refused for what it is (too large, invalid), became a dead letter, itself
        checked likewise (a refused dead letter goes again with its payload cut). Each
        result is looked at once: the records are taken out. The messages whose records
        failed otherwise (the producer's request timeout ran out, the broker is gone) are
        added to ``deliveries.in_doubt``: they must be delivered again. Table changelog
        writes that failed, for whatever reason, go to ``deliveries.lost``
        (:meth:`stop_for_lost_writes`)."""
        if deliveries is None:  # untracked sends (a handler called outside an agent)
            await self.app.producer.flush()
            return True
        token = SENDS.set(deliveries)  # the dead letters sent here are checked here too
        try:
            while deliveries.sent:
                sent, deliveries.sent = deliveries.sent, []
                transient = []
                for record, error in await failures(sent):
                    if record.table is not None:
                        deliveries.lost.append((record, error))
                    elif refused_for_what_it_is(error):
                        await self.refused(stage, record, error)
                    else:
                        transient.append((record, error))
                        deliveries.in_doubt.append(record.event)
                if transient:
                    self.stats.count("deliveries_failed", len(transient))
                    record, error = transient[0]
                    log.warning("%s: %d records not delivered (first: %s key %r, %s: %s); "
                                "their messages are delivered again", stage, len(transient),
                                record.topic, record.key, type(error).__name__, error)
        finally:
            SENDS.reset(token)
        return not deliveries.in_doubt and not deliveries.lost

    def stop_for_lost_writes(self, stage: str, deliveries: Deliveries) -> None:
        """Table changelog writes failed (``deliveries.lost``). Handling their messages again
        here would not repair them (the table holds the values already, so it would not
        write them again), so the message each was written for is held: neither acked nor
        recorded delivered, nor is anything after it in its partition (``held``; it stays
        among the consumer's unacked messages, so no offset commit passes it). And the
        worker stops (``fatal``, which the runner raises): the partition's next owner, or
        this worker restarted, rebuilds the table from its changelog and handles the
        message again."""
        lost, deliveries.lost = deliveries.lost, []
        for record, _ in lost:
            if record.event is not None:
                tp = tp_of(record.event)
                offset = record.event.message.offset
                self.held[tp] = min(offset, self.held.get(tp, offset))
        self.stats.count("changelog_writes_failed", len(lost))
        record, error = lost[0]
        message = record.event.message if record.event is not None else None
        handled = (f"{message.topic}[{message.partition}]@{message.offset}" if message
                   else "no message")
        held = ", ".join(f"{tp.topic}[{tp.partition}] from @{offset}"
                         for tp, offset in sorted(self.held.items()))
        what = (f"{stage}: {lost_write(record, error)} (written for {handled}; "
                f"{len(lost)} changelog writes failed). Not committed: {held or 'nothing'}; "
                "the worker stops, so that the partition's next owner (or this worker "
                "restarted) rebuilds the table from its changelog and handles the message "
                "again")
        log.error(what)
        self.fatal = self.fatal or ChangelogWriteFailed(what)

    def hold_lost(self, batch: Batch) -> None:
        """Stop for the changelog writes of ``batch`` that failed, if any, and hold their
        messages (and what follows them in their partitions) out of it."""
        if batch.deliveries.lost:
            self.stop_for_lost_writes(batch.stage, batch.deliveries)
        self.hold(batch)

    def hold(self, batch: Batch) -> None:
        """Take out of ``batch`` its messages at or after a held offset (``held``): left
        unacked, and still unacked for the consumer (no commit passes them)."""
        if self.held:
            batch.leave_out([event for event in batch.events if tp_of(event) in self.held
                             and event.message.offset >= self.held[tp_of(event)]],
                            self.handled_here)

    async def refused(self, stage: str, record: Sent, error: BaseException) -> None:
        """A record refused for what it is: its dead letter, sent for the same message
        (or, a dead letter refused, the same letter with its payload cut)."""
        as_handling(record.event)
        self.stats.count("records_refused")
        deadletter = self.topics.deadletter
        if record.topic != deadletter.get_topic_name():
            limit = await self.size_limit(record)
            await self.send_dead_letter(refused_letter(stage, record, error, limit))
            return
        cut = truncated_letter(record, error)
        if cut is None:
            log.error("%s: %s refused a dead letter even with its payload cut, so nothing "
                      "records this outcome: key %r, %s: %s, letter %s", stage, record.topic,
                      record.key, type(error).__name__, error, record.value[:2000])
            return
        log.warning("%s: %s refused a dead letter of %d bytes (%s); sent again with its "
                    "payload cut", stage, record.topic, record.size, type(error).__name__)
        await self.send(deadletter, record.key, cut)

    async def size_limit(self, record: Sent) -> int | None:
        """The largest record ``record``'s topic takes, as far as known: the producer's
        max_request_size for a record the producer refused to send, else the topic's
        max.message.bytes (asked of the broker once per topic)."""
        if record.error is not None:
            return int(self.app.conf.producer_max_request_size)
        if record.topic not in self._size_limits:
            try:
                self._size_limits[record.topic] = await max_message_bytes_of(
                    self.settings.broker.url, record.topic)
            except Exception as exc:
                log.warning("could not ask the broker for max.message.bytes of %s: %s",
                            record.topic, exc)
                return None
        return self._size_limits[record.topic]

    async def send_fetch(self, request: FetchRequest) -> None:
        self.stats.message_sent("fetch")
        await self.send(self.topics.fetch, request.host.encode(), request.to_json())

    def health_key(self, source: str) -> str:
        """The key of a source's health events: its host, so they land on the partition
        (co-partitioned with kabar.fetch) of the worker that fetches it. A source this
        worker's sources file does not list goes by its name."""
        known = self.sources.get(source)
        return host_of(known.url) if known else source

    def health_rules(self, source: str) -> HealthRules:
        known = self.sources.get(source)
        return rules_for(self.settings.health, known.health if known else None)

    async def send_out(self, records: Iterable[Outgoing]) -> None:
        for record in records:
            await self.send(record.topic, record.key, record.value)

    def health_records(self, events: list[HealthEvent]) -> list[Outgoing]:
        records = []
        for event in events:
            self.stats.message_sent("health_events")
            records.append(Outgoing(self.topics.health_events,
                                    self.health_key(event.source).encode(), event.to_json()))
        return records

    async def send_health(self, events: list[HealthEvent]) -> None:
        await self.send_out(self.health_records(events))

    async def send_dead_letter(self, letter: DeadLetter) -> None:
        self.stats.dead_letter(letter.stage, letter.reason)
        log.warning(
            "dead letter [%s/%s] %s: %s", letter.stage, letter.reason, letter.url, letter.message
        )
        await self.send(self.topics.deadletter, (letter.key or letter.url or "").encode(),
                        letter.to_json())

    async def _guarded(
        self,
        stage: str,
        suffix: str,
        key: bytes | None,
        value: bytes,
        handler: Callable[[bytes], Awaitable[None]],
        batch: Batch | None = None,
        deliveries: Deliveries | None = None,
    ) -> None:
        """Run one message through a handler; anything unexpected becomes a dead letter
        (with the original payload) instead of killing the agent or losing the message.
        What it sends is noted in ``deliveries`` (the batch's, for a batch).

        Stages that read their partitions in order (every one but fetch and health) emit
        each message's outcome once: a message at or below the offset recorded in
        ``delivered`` is a redelivery whose outcome is already out. A handled message is
        noted in ``batch``, whose commit records that offset once the outputs are flushed
        and delivered."""
        event = faust.current_event() if stage not in UNGUARDED_STAGES else None
        mark = mark_of(event) if event else ""
        if event is not None and self.already_delivered(mark, event.message):
            self.stats.count("redelivered")
            self.stats.stage_done(stage, "redelivered")
            self.stats.message_done(suffix)
            return
        outcome = "ok"
        sending = SENDS.set(batch.deliveries if batch is not None else deliveries)
        try:
            await handler(value)
        except Exception as exc:
            outcome = "failed"
            self.stats.count("errors")
            log.exception("%s stage failed on %s", stage, key)
            await self.send_dead_letter(
                DeadLetter(
                    stage=stage,
                    reason="unexpected_error",
                    message=f"{type(exc).__name__}: {exc}",
                    failed_at=utc_now(),
                    topic=getattr(self.topics, suffix).get_topic_name(),
                    key=key.decode("utf-8", "replace") if key else None,
                    payload=value.decode("utf-8", "replace"),
                )
            )
        finally:
            SENDS.reset(sending)
            self.stats.stage_done(stage, outcome)
            self.stats.message_done(suffix)
        if event is not None and batch is not None:
            batch.marks[mark] = event

    def drop_unacked(self, events: Iterable[faust.EventT], reason: str, *,
                     report: bool = True, unhandled: bool = False) -> None:
        """Forget messages handed out and not acked, to be delivered again (Faust would
        hold commits back for a message it handed out and never saw acked). They are
        logged one line per partition and reason (report_held_back); ``report=False``
        leaves the line to a later call, as more may follow.

        A caller that makes no seek back to them (a rebalance or a freeze, after which the
        partition may have stayed here) passes ``unhandled``: each is noted unhandled (how:
        the reason in words), so the partition's next message seeks back to it and no
        commit passes it."""
        consumer = self.app.consumer
        for event in events:
            message = event.message
            consumer._unacked_messages.discard(message)
            if unhandled:
                note_unhandled(consumer, message, reason.replace("_", " "))
            self.stats.count(reason)
            self._held_back.setdefault((reason, message.topic, message.partition),
                                       []).append(message.offset)
        if report:
            self.report_held_back()

    def report_held_back(self) -> None:
        """Log the messages left unacked since the last report: one WARNING per partition
        and reason, with their count and offset range."""
        held, self._held_back = self._held_back, {}
        for (reason, topic, partition), offsets in sorted(held.items()):
            log.warning("%s: left to be delivered again: %s:%d, %d messages @%d..%d", reason,
                        topic, partition, len(offsets), min(offsets), max(offsets))

    async def read_again_later(self, event: faust.EventT) -> bool:
        """Whether a stage must leave ``event`` unhandled and unacked, to be read again in
        its partition's order (:meth:`worker.app.Consumer.out_of_order`). Such messages
        come in runs (what was fetched before a seek): they are reported when a message is
        handled again, or by the gauge timer."""
        reason = await defer_out_of_order(self.app.consumer, event.message)
        if reason is not None:
            self.drop_unacked([event], reason, report=False)
        elif self._held_back:
            self.report_held_back()
        return reason is not None

    async def deliver_again(self, events: Iterable[faust.EventT], reason: str) -> None:
        """Leave ``events`` unacked and read each one's partition again from the first of
        them: their outputs did not all reach the broker (a timeout, the broker gone)."""
        events = list(events)
        self.drop_unacked(events, reason)
        for tp, offset in first_offsets(events).items():
            try:
                await read_again(self.app.consumer, tp, offset, reason)
            except Exception:  # its commits stay held at the message, until a rebalance
                log.warning("could not read %s[%d] again from %d", tp.topic, tp.partition,
                            offset, exc_info=True)
            self.rewound.add(tp)

    async def commit(self, stream: faust.StreamT, batch: Batch) -> None:
        """Commit a batch of handled messages, in this order:

        1. write the dedupe stage's pending markers (unless the batch's partitions may have
           moved since it was handled), flush them and what the batch sent and wrote, and
           look at the results (look_at): a record refused for what it is becomes a dead
           letter; a message whose records failed for now is left unacked, with the rest of
           its partition in the batch, and its partition read again from it; one whose
           table write failed is held likewise, and the worker stops;
        2. send the outcomes the dedupe stage held back, flush, and look at the results;
        3. mark the outcomes done, flush, and look at the results (a marker left pending
           behind a recorded offset would never be finished);
        4. record each partition's last handled offset in ``delivered``; 5. ack.

        A crash before 4 is in replays the batch: its outputs sent early are skipped by the
        offset guard downstream, and its held-back outcomes by their markers (done, or
        pending and found on the output topic)."""
        if self.rewound:
            # a partition read again from a message whose outputs failed (in an earlier
            # batch): what was fetched of it before that seek comes again, in order
            stale = [event for event in batch.events if tp_of(event) in self.rewound
                     and fetched_before_seek(self.app.consumer, event.message)]
            if stale:
                batch.leave_out(stale, self.handled_here)
                self.drop_unacked(stale, "fetched_before_seek")
        self.hold(batch)
        if batch.done and await self.moved_since(batch):
            # Frozen or evicted since the batch was handled: its partitions may be replayed
            # by their new owner already, whose markers a late pending one would overwrite.
            self.drop_unacked(batch.events, "dropped_after_rebalance", unhandled=True)
            return
        # The pending markers are written here, not while the batch is handled: a marker
        # left in the producer's buffer by a worker frozen mid-batch would reach the
        # changelog when it wakes, after the new owner marked that outcome done.
        with noting(batch.deliveries):
            for content, (marker, written_for) in batch.done.items():
                as_handling(written_for)
                self.emitted[content] = {**marker, "pending": True}
        await self.app.producer.flush()
        # before the held-back outcomes go out: one sent for a message whose marker or table
        # write was lost would be emitted again when the message is handled again
        await self.look_at(batch)
        if batch.outbox and await self.moved_since(batch):
            # The group rebalanced while the markers were flushed: a worker evicted (a
            # broker bounce can expire every session) may find its partitions already
            # replayed by their new owner. The held outcomes stay unsent; the replay,
            # wherever it runs, finds their markers pending and looks for them on the
            # output topics.
            self.drop_unacked(batch.events, "dropped_after_rebalance", unhandled=True)
            return
        if batch.outbox:
            with noting(batch.deliveries):
                for records, event in batch.outbox:
                    as_handling(event)
                    await self.send_out(records)
            await self.app.producer.flush()
            await self.look_at(batch)
        if batch.done:
            with noting(batch.deliveries):
                for content, (marker, written_for) in batch.done.items():
                    as_handling(written_for)
                    self.emitted[content] = marker
            await self.app.producer.flush()
            await self.look_at(batch)
        # Not waited for: a `delivered` write lost is as a crash before this step (the
        # batch is handled again, and the stages absorb it), and waiting for it cost about
        # a fifth of the throughput (bench/pipeline.py). Counted and logged as unchecked.
        for mark, event in batch.marks.items():
            as_handling(event)
            done = self.delivered.get(mark) or {}
            self.delivered[mark] = {"o": event.message.offset,
                                    "ts": max(event.message.timestamp, done.get("ts", 0.0))}
        for event in batch.events:
            await stream.ack(event)

    async def settle(self, stage: str, stream: faust.StreamT,
                     handled: list[tuple[faust.EventT, Deliveries]]) -> None:
        """Ack the messages a stage that does not batch its commits (fetch, health) has
        handled, in order, once what each sent and wrote reached the broker: one wait for
        the lot, whose table writes share produce requests (waited for one message at a
        time, they held the health stage to 160 events/s, from 2,000). A message whose
        records failed for now is left unacked, with what follows it in its partition, and
        read again from there; one whose table write failed is held, and the worker stops
        (stop_for_lost_writes)."""
        deliveries = Deliveries(
            sent=[record for _, each in handled for record in each.sent],
            in_doubt=[event for _, each in handled for event in each.in_doubt],
            lost=[lost for _, each in handled for lost in each.lost])
        if not await self.check_deliveries(stage, deliveries) and deliveries.lost:
            self.stop_for_lost_writes(stage, deliveries)
        again = from_first_in_doubt((event for event, _ in handled), deliveries.in_doubt)
        redelivered = {id(event) for event in again}
        for event, _ in handled:
            tp, offset = tp_of(event), event.message.offset
            if id(event) not in redelivered and not (tp in self.held
                                                     and offset >= self.held[tp]):
                await stream.ack(event)
        if again:
            await self.deliver_again(again, "delivery_failed")

    async def look_at(self, batch: Batch) -> None:
        """Look at the results of what ``batch`` sent and wrote so far (check_deliveries):
        a message whose records failed for now is left out, with the rest of its partition
        in the batch, and its partition read again from it (so nothing after it is
        recorded delivered before it is); one whose table write failed is held, and the
        worker stops (stop_for_lost_writes)."""
        if await self.check_deliveries(batch.stage, batch.deliveries):
            return
        in_doubt, batch.deliveries.in_doubt = batch.deliveries.in_doubt, []
        if in_doubt:
            again = from_first_in_doubt(batch.events, in_doubt)
            batch.leave_out(again, self.handled_here)
            await self.deliver_again(again, "delivery_failed")
        self.hold_lost(batch)

    def handled_here(self, mark: str, event: faust.EventT) -> bool:
        """Whether ``event`` was handled, not skipped as a redelivery (its batch is not
        recorded delivered yet)."""
        return not self.already_delivered(mark, event.message)

    async def moved_since(self, batch: Batch) -> bool:
        """Whether the batch's partitions may have moved since it was handled: the group
        rebalanced. A worker frozen for most of a session (a ticker gap ``fenced`` sees at
        once) first waits for the rebalance that evicts it, or for the fence to lift."""
        if self.fence.fenced():
            await self.fence.wait()
        return self.fence.rebalances != batch.generation

    def already_delivered(self, mark: str, message: Any) -> bool:
        """Whether ``message`` is one whose outputs are out already. An offset alone cannot
        tell: a broker that restarts uncleanly can truncate a partition (seen with Kafka 4.4
        in KRaft after a SIGKILL: "UNCLEAN partition change") and hand the same offsets to
        new records. Those were produced after every record handled before, so a record
        younger than all delivered ones is new whatever its offset."""
        done = self.delivered.get(mark)
        return (done is not None and message.offset <= done["o"]
                and message.timestamp <= done["ts"])

    # -- stages ------------------------------------------------------------------------

    async def on_signature_record(self, event: faust.EventT) -> None:
        if event.message.value is not None and event.value is not None:
            self.bands.add(event.key, event.value)

    async def index_signatures(self) -> None:
        for id_, sig in list(self.sigs.items()):
            self.bands.add(id_, sig)

    async def on_fetch(self, value: bytes) -> None:
        if (tick := expiry_tick(value)) is not None:
            partition = current_partition()
            partitions = self.settings.topic.partitions
            expire_seen(
                self.fetch_seen, now=datetime.fromtimestamp(tick, UTC),
                retention=self.settings.fetch.seen_retention_days * 86_400.0,
                # kabar.fetch is keyed by host: an entry belongs to its host's partition
                owns=lambda key: partition is None or partition_of(host_of(key), partitions)
                == partition,
            )
            return
        request = FetchRequest.from_json(value)
        seen = StagedWrites(self.fetch_seen)
        outcome = await handle_fetch_request(
            request, await self.fetcher(), seen, self.clock.now(), sources=self.sources,
        )
        not_due = any(reason == "not_due" for _, reason in outcome.skipped)
        if request.kind != "article" and not not_due:
            self.stats.count("feeds_polled")
        if not (not_due or outcome.pages or outcome.requests or outcome.dead_letters
                or outcome.repeated):
            # a listing with nothing new, an article already fetched: work that ended well
            # without an article (a --once run of only dead letters tells them apart)
            self.stats.count("nothing_new")
        for page in outcome.pages:
            self.stats.count("pages_fetched")
            self.stats.message_sent("pages")
            key = page.hints.get("canonical_url") or canonical_url(
                page.final_url, self.settings.fetch.tracking_params
            )
            await self.send(self.topics.pages, key.encode(), page.to_json())
        for new_request in outcome.requests:
            await self.send_fetch(new_request)
        for url, reason in outcome.skipped:
            # a listing polled before its (adaptive) interval is routine, not a skip
            if reason != "not_due":
                self.stats.count("skipped")
                log.debug("skipped %s: %s", url, reason)
        for letter in outcome.dead_letters:
            await self.send_dead_letter(letter)
        for letter in outcome.repeated:
            # the same refusal as the listing's previous poll, already on the topic
            self.stats.count("refusals_repeated")
            log.info("%s %s refused again, not dead-lettered again: %s", letter.stage,
                     letter.reason, letter.message)
        await self.send_health(fetch_events(request, outcome, time.time()))
        # what the fetch found is in Kafka (or, refused for what it is, dead letters) before
        # the seen-table says it was fetched
        if await self.check_deliveries("fetch", SENDS.get()):
            seen.commit()

    async def on_page(self, value: bytes) -> None:
        page = RawPage.from_json(value)
        started = time.perf_counter()
        try:
            article = extract_article(
                page.html, page.final_url, fetched_at=page.fetched_at, headers=page.headers,
                hints=page.hints, source=page.source,
                max_bytes=self.settings.fetch.max_body_bytes,
            )
        except ExtractionError as exc:
            await self.send_dead_letter(DeadLetter(
                stage="clean", reason=exc.reason, message=str(exc), failed_at=utc_now(),
                url=page.final_url, topic=self.settings.topic_name("pages"),
                key=page.final_url, payload=page.to_dict(),
            ))
            if page.source:
                await self.send_health([page_event(page.source, page.final_url, None,
                                                   time.time())])
            return
        self.stats.extracted(time.perf_counter() - started)
        if page.source:
            await self.send_health([page_event(page.source, page.final_url, article,
                                               time.time())])
        article.fingerprints = fingerprints(article)
        self.stats.message_sent("by_id")
        await self.send(self.topics.by_id, article.id.encode(), article.to_json(),
                        headers=discovery_headers(page.hints.get("discovered_at")))

    async def on_article_id(self, value: bytes) -> None:
        if (tick := expiry_tick(value)) is not None:
            dedupe.expire(self.article_urls, now=tick, retention=self.retention,
                          partition=current_partition())
            return
        article = Article.from_json(value)
        decision = dedupe.check_version(
            article, article.fingerprints, urls=self.article_urls, now=time.time(),
            retention=self.retention, partition=current_partition(),
        )
        if decision.kind == "unchanged":
            self.stats.count("unchanged")
            return
        if decision.kind == "duplicate":
            await self.report_duplicate(article, decision)
            return
        if decision.kind == "version":
            self.stats.count("versions")
        article.version = decision.version
        self.stats.message_sent("by_content")
        await self.send(self.topics.by_content, article.fingerprints["content_hash"].encode(),
                        article.to_json(), headers=discovery_headers(current_discovered_at()))

    async def on_article_content(self, value: bytes, batch: Batch) -> None:
        if (tick := expiry_tick(value)) is not None:
            partition = current_partition()
            for table in (self.contents, self.emitted):
                dedupe.expire(table, now=tick, retention=self.retention, partition=partition)
            if partition == 0:  # one sweeper for the global table
                dedupe.expire(self.sigs, now=tick, retention=self.retention)
            if tick > self.bands_swept_at:  # every worker its own index, once per tick
                self.bands_swept_at = tick
                self.bands.sweep(self.sigs)
            return
        article = Article.from_json(value)
        prior = dedupe.Decision("new" if article.version == 1 else "version",
                                version=article.version)
        now = time.time()
        decision = dedupe.check_content(
            article, article.fingerprints, prior, contents=self.contents, sigs=self.sigs,
            bands=self.bands, now=now, threshold=self.settings.dedupe.near_threshold,
            retention=self.retention,
        )
        dedupe.record(article, article.fingerprints, decision, contents=self.contents,
                      sigs=self.sigs, bands=self.bands, now=now, partition=current_partition())
        outcome = f"{decision.kind}:{article.id}:{article.version}"
        content = article.fingerprints["content_hash"]
        entry = self.emitted.get(content)
        action = emit_action(entry, outcome)
        if action == "check" and await self.outcome_is_out(article, decision, entry["t"]):
            action = "skip"
        if action == "skip":
            self.stats.count("redelivered")
            if entry.get("pending"):
                self.emitted[content] = {"a": outcome, "t": entry["t"], "p": current_partition()}
            return
        # The marker goes out before the outcome: the batch's commit writes and flushes the
        # pending markers, then sends the outcomes held back here, then marks them done. A
        # crash after an outcome reached Kafka but before it is marked done leaves it
        # pending, and the redelivered message then looks for it in the output topic
        # instead of emitting it a second time.
        records = self.outcome_records(article, decision, now, current_discovered_at())
        marker = {"a": outcome, "t": now, "p": current_partition()}
        batch.outbox.append((records, faust.current_event()))
        batch.done[content] = (marker, faust.current_event())

    async def outcome_is_out(self, article: Article, decision: dedupe.Decision,
                             since: float) -> bool:
        """Whether ``article``'s outcome reached its output topic after ``since``. Only asked
        after a crash, of the few messages caught between their output and its marker; a
        broker that cannot answer gets the outcome again (at least once, never lost)."""
        copy = decision.kind == "duplicate"
        topic = (self.topics.duplicates if copy else self.topics.articles).get_topic_name()
        key = article.id.encode()

        def same(record_key: bytes | None, value: bytes | None) -> bool:
            if record_key != key or value is None:
                return False
            record = orjson.loads(value)
            return (not record.get("correction") if copy
                    else record.get("version") == article.version)

        try:
            return await any_record_since(self.settings.broker.url, topic, since - 1.0, same)
        except Exception:
            log.warning("could not look for the outcome of %s on %s; emitting it again",
                        article.url, topic, exc_info=True)
            return False

    def outcome_records(self, article: Article, decision: dedupe.Decision, now: float,
                        discovered_at: str | None) -> list[Outgoing]:
        """What the dedupe stage sends for an article it decided on (enriched here, so a
        failure is the message's dead letter, not its batch's)."""
        records = self.correction_records(decision.corrections)
        if decision.emit and article.fingerprints.get("words", 0) >= dedupe.MIN_WORDS:
            self.stats.message_sent("audit")
            records.append(Outgoing(self.topics.audit, article.id.encode(), orjson.dumps(
                {"id": article.id, "due": now + self.settings.dedupe.settle_seconds}
            )))
        if decision.kind == "duplicate":
            records.append(self.duplicate_record(article, decision))
            if not self.settings.dedupe.emit_duplicates:
                return records
            article.duplicate_of = decision.original_id
        if decision.kind == "new" and article.source:
            records.extend(self.health_records([article_event(article.source, article.url,
                                                              now)]))
        source = self.sources.get(article.source or "")
        records.extend(self.article_records(
            enrich(article, timezone_hint=source.timezone if source else None,
                   spacy_model=self.settings.enrich.spacy_model), discovered_at))
        return records

    async def on_audit(self, value: bytes) -> None:
        # one message at a time per partition, and due times only grow along a partition
        due = orjson.loads(value)
        await asyncio.sleep(max(0.0, due["due"] - time.time()))
        fixes = dedupe.audit(due["id"], sigs=self.sigs, bands=self.bands, now=time.time(),
                             threshold=self.settings.dedupe.near_threshold,
                             retention=self.retention)
        await self.report_corrections(fixes)

    def correction_records(self, fixes: tuple[dedupe.Correction, ...]) -> list[Outgoing]:
        decision = dedupe.Decision("new", corrections=fixes)
        records = []
        for event in dedupe.correction_events(decision, utc_now()):
            self.stats.count("corrections")
            records.append(Outgoing(self.topics.duplicates, event.duplicate_id.encode(),
                                    event.to_json()))
        return records

    async def report_corrections(self, fixes: tuple[dedupe.Correction, ...]) -> None:
        await self.send_out(self.correction_records(fixes))

    async def send_expiry_ticks(self) -> None:
        """Ask every partition of the fetch and dedupe streams to drop state older than its
        retention (a table may only be changed from the partition that owns the key)."""
        tick = orjson.dumps({"expire": time.time()})
        for topic in (self.topics.fetch, self.topics.by_id, self.topics.by_content):
            for partition in range(self.settings.topic.partitions):
                await topic.send(key=EXPIRY_KEY, value=tick, partition=partition)

    async def on_health_event(self, value: bytes) -> None:
        event = HealthEvent.from_json(value)
        known = self.health_state.get(event.source)
        state = SourceState.from_dict(known) if known else SourceState(
            event.source, self.health_key(event.source), tracked_since=event.at)
        observe(state, event, self.health_rules(event.source),
                rate_window_days=self.settings.health.rate_window_days)
        self.health_state[event.source] = state.to_dict()
        self.health_dirty.add(event.source)

    async def publish_health(self) -> None:
        """Publish to kabar.source-health the health of each source this worker keeps that
        had events since the last time, or whose state time alone changed (gone quiet), and
        set its gauge. Runs every health.publish_interval seconds."""
        now = time.time()
        dirty, self.health_dirty = self.health_dirty, set()
        topic = self.topics.health_events.get_topic_name()
        owned = {tp.partition for tp in self.app.assignor.assigned_actives()
                 if tp.topic == topic}
        for name, value in list(self.health_state.items()):
            state = SourceState.from_dict(value)
            # the table also holds standby copies of partitions other workers own
            if partition_of(state.key, self.settings.topic.partitions) not in owned:
                if self.health_published.pop(name, None) is not None:
                    forget_source_health(name)
                continue
            record = health_record(
                name, facts(state, now, rate_window_days=self.settings.health.rate_window_days),
                self.health_rules(name), now)
            if name not in dirty and self.health_published.get(name) == record.state:
                continue
            await self.topics.source_health.send(key=name.encode(), value=record.to_json())
            set_source_health(name, record.state)
            self.health_published[name] = record.state

    async def flush_health(self) -> None:
        """Publish what changed since the last tick, and wait until the broker has it (before
        a worker stops, so the last events of a ``--once`` run are in the records)."""
        await self.publish_health()
        await self.app.producer.flush()

    def duplicate_record(self, article: Article, decision: dedupe.Decision) -> Outgoing:
        event = dedupe.duplicate_event(article, decision, utc_now())
        self.stats.count("duplicates")
        return Outgoing(self.topics.duplicates, event.duplicate_id.encode(), event.to_json())

    async def report_duplicate(self, article: Article, decision: dedupe.Decision) -> None:
        await self.send_out([self.duplicate_record(article, decision)])

    def article_records(self, article: Article, discovered_at: str | None) -> list[Outgoing]:
        """An emitted article, for kabar.articles and the topics its routing rules name."""
        self.stats.count("articles_out")
        key, payload = article.id.encode(), article.to_json()
        records = [Outgoing(self.topics.articles, key, payload)]
        records.extend(Outgoing(self.routed_topic(suffix), key, payload)
                       for suffix in (route(self.rules, article) if self.rules else ()))
        self.stats.emitted(discovered_at=discovered_at, published_at=article.published_at_utc)
        return records

    async def refresh_gauges(self) -> None:
        """Consumer lag and table sizes, for Prometheus (every worker, on a timer). A
        measurement that fails is logged and tried again next time: it must never stop
        the worker."""
        self.report_held_back()
        try:
            record_consumer_lag(consumer_lags(self.app))
            record_table_sizes(table_sizes(self.app))
        except ConsumerNotStarted:
            return
        except Exception:
            log.exception("measuring consumer lag and table sizes failed")

    def routed_topic(self, suffix: str) -> faust.TopicT:
        if suffix not in self._routed:
            self._routed[suffix] = self.app.topic(
                self.settings.topic_name(suffix), key_type=bytes, value_type=bytes
            )
        return self._routed[suffix]

    def _register(self) -> None:
        app, topics = self.app, self.topics

        def agent_for(
            stage: str, suffix: str, handler: Callable[..., Awaitable[None]],
            holds_outcomes: bool = False, **options: Any
        ) -> None:
            async def run(stream: faust.StreamT) -> None:
                # Acked by hand, after the handler: Faust acks an event in a `finally` when
                # its actor is cancelled mid-message (a graceful stop), and the commit on
                # the way out then skips a message that was never handled.
                # Settled (acked once what they sent and wrote is in) a few at a time: as
                # many as were queued, up to broker.flush_batch. Only an actor alone on its
                # channel can count on the queue: with concurrent actors (fetch) the queued
                # messages may go to the others, and what this one handled would wait,
                # unacked, for a message that may never come to it.
                manual = stream.noack()
                queue = manual.channel.queue
                alone = options.get("concurrency", 1) == 1
                handled: list[tuple[faust.EventT, Deliveries]] = []
                try:
                    async for event in manual.events():
                        message = event.message
                        if await self.read_again_later(event):
                            continue
                        deliveries = Deliveries()
                        await self._guarded(stage, suffix, message.key, message.value,
                                            handler, deliveries=deliveries)
                        handled.append((event, deliveries))
                        if not alone or len(handled) >= self.flush_batch or queue.empty():
                            handled, settling = [], handled
                            await self.settle(stage, manual, settling)
                finally:
                    if handled:  # a graceful stop: what was handled is settled
                        try:
                            await asyncio.shield(self.settle(stage, manual, handled))
                        except Exception:  # not acked: delivered again
                            log.warning("%s: could not settle the messages handled last on "
                                        "the way out", stage, exc_info=True)

            async def run_in_batches(stream: faust.StreamT) -> None:
                # As `run`, with one commit (Pipeline.commit) per batch of messages, and the
                # next batch handled while that commit is under way. One commit at a time:
                # batches are recorded in order.
                manual = stream.noack()
                queue = manual.channel.queue
                batch = Batch(stage)
                committing: asyncio.Future[None] | None = None
                committing_keys: set[bytes | None] = set()
                idle = False  # waiting for its next message

                def commit_now() -> None:
                    nonlocal batch, committing, committing_keys
                    committing = asyncio.ensure_future(self.commit(manual, batch))
                    committing.add_done_callback(committed)
                    committing_keys, batch = batch.keys, Batch(stage)

                def committed(done: asyncio.Future[None]) -> None:
                    # Messages handled while the commit before them was under way wait for
                    # it, not in a commit of their own: with its queue run dry, a stage
                    # would otherwise stop at every message to wait for the commit before
                    # (three flushes for the dedupe stage). Once that commit is done and
                    # no message has come since, theirs starts here.
                    if (idle and done is committing and batch.events and queue.empty()
                            and not done.cancelled() and done.exception() is None):
                        commit_now()

                async def settle() -> None:
                    nonlocal committing, committing_keys
                    while committing is not None:  # and the one its end started, if any
                        current = committing
                        # shielded: a stop cancelling the actor must not cut a commit short
                        await asyncio.shield(current)  # raises what the commit raised
                        if committing is current:
                            committing, committing_keys = None, set()

                async def hand_over() -> None:
                    await settle()
                    if batch.events:
                        commit_now()

                try:
                    async for event in manual.events():
                        idle = False
                        message = event.message
                        if self.fence.fenced() and await self.fence.wait():
                            # this worker froze and its partitions may have moved: what it
                            # handled and did not commit is their new owners' to handle
                            self.drop_unacked([*batch.events, event], "dropped_after_freeze",
                                              unhandled=True)
                            self.stats.stage_done(stage, "fenced")
                            batch = Batch(stage)
                            continue
                        if await self.read_again_later(event):
                            continue
                        if holds_outcomes and (message.key in batch.keys
                                               or message.key in committing_keys):
                            # The same content hash again: the batch that last marked it
                            # must be done and recorded delivered (flushed) first, or a
                            # crash could leave its replay facing this message's marker.
                            await hand_over()
                            await settle()
                            await self.app.producer.flush()
                        elif committing is not None and committing.done():
                            await settle()
                        if not batch.events:
                            batch.generation = self.fence.rebalances
                        call = (functools.partial(handler, batch=batch) if holds_outcomes
                                else handler)
                        await self._guarded(stage, suffix, message.key, message.value, call,
                                            batch)
                        batch.events.append(event)
                        batch.keys.add(message.key)
                        if len(batch.events) >= self.flush_batch or (
                                queue.empty() and (committing is None or committing.done())):
                            await hand_over()
                        idle = True
                finally:
                    idle = False
                    # a graceful stop: what was handled is committed
                    try:
                        await asyncio.shield(hand_over())
                        await asyncio.shield(settle())
                    except Exception:  # not acked: delivered again
                        log.warning("%s: could not commit the messages handled last on the "
                                    "way out", stage, exc_info=True)

            actor = run if stage in UNGUARDED_STAGES else run_in_batches
            actor.__name__ = f"kabar_{stage}"
            app.agent(getattr(topics, suffix), name=f"kabar.{stage}", **options)(actor)

        agent_for("fetch", "fetch", self.on_fetch, concurrency=self.settings.fetch.concurrency)
        agent_for("clean", "pages", self.on_page)
        agent_for("versions", "by_id", self.on_article_id)
        agent_for("dedupe", "by_content", self.on_article_content, holds_outcomes=True)
        agent_for("audit", "audit", self.on_audit)
        agent_for("health", "health_events", self.on_health_event)
        app.timer(interval=3600.0, on_leader=True)(self.send_expiry_ticks)
        app.timer(interval=GAUGE_INTERVAL)(self.refresh_gauges)
