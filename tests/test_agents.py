"""The agents' guard: a stage that raises never kills an agent or loses the message."""

from __future__ import annotations

import asyncio
import random
import time
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from prometheus_client import REGISTRY

from worker import agents
from worker.agents import Pipeline
from worker.app import create_app
from worker.batches import Batch, FreezeFence, StagedWrites, as_handling
from worker.dedupe.fingerprints import fingerprints
from worker.models import Article, DeadLetter
from worker.settings import load_settings
from worker.urls import article_id


async def test_unexpected_stage_error_becomes_a_dead_letter_naming_the_real_topic() -> None:
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"  # never contacted
    pipeline = Pipeline(create_app(settings), settings)
    letters: list[DeadLetter] = []

    async def capture(letter: DeadLetter) -> None:
        letters.append(letter)

    async def broken_stage(value: bytes) -> None:
        raise KeyError("content_hash")

    pipeline.send_dead_letter = capture  # type: ignore[method-assign]
    await pipeline._guarded("versions", "by_id", b"abc", b'{"id": "abc"}', broken_stage)

    [letter] = letters
    assert (letter.stage, letter.reason) == ("versions", "unexpected_error")
    assert letter.topic == "kabar.dedupe-id"
    assert letter.key == "abc" and letter.payload == '{"id": "abc"}'
    assert "KeyError" in letter.message
    assert pipeline.stats.counts["errors"] == 1
    assert pipeline.stats.done["by_id"] == 1


async def test_each_message_a_stage_handles_is_counted_by_its_outcome() -> None:
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"  # never contacted
    pipeline = Pipeline(create_app(settings), settings)

    def handled(outcome: str) -> float:
        return REGISTRY.get_sample_value("kabar_stage_messages_total",
                                         {"stage": "versions", "outcome": outcome}) or 0.0

    async def fine(value: bytes) -> None:
        pass

    async def broken(value: bytes) -> None:
        raise ValueError("bad record")

    async def dead_letter(letter: DeadLetter) -> None:
        pass

    pipeline.send_dead_letter = dead_letter  # type: ignore[method-assign]
    ok, failed = handled("ok"), handled("failed")
    await pipeline._guarded("versions", "by_id", b"a", b"{}", fine)
    await pipeline._guarded("versions", "by_id", b"a", b"{}", fine)
    await pipeline._guarded("versions", "by_id", b"b", b"{}", broken)
    assert (handled("ok"), handled("failed")) == (ok + 2, failed + 1)


def test_staged_writes_reach_the_table_only_on_commit() -> None:
    table = {"https://a.example/1": {"fetched_at": "2026-01-01T00:00:00+00:00"}}
    staged = StagedWrites(table)
    staged["https://a.example/2"] = {"fetched_at": "2026-01-02T00:00:00+00:00"}
    # the stage reads its own writes, the table does not see them yet
    assert staged.get("https://a.example/2") is not None
    assert staged.get("https://a.example/1") == table["https://a.example/1"]
    assert "https://a.example/2" not in table
    assert len(staged) == 2
    staged.commit()
    assert set(table) == {"https://a.example/1", "https://a.example/2"}
    assert staged.writes == {}


class Recorded(dict):
    """A table that notes each write in a shared log of what happened, in order."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__()
        self.name, self.log = name, log
        #: key → the partition of the event Faust took as being handled at its last write
        #: (the changelog partition a Faust table sends the write to)
        self.partitions: dict[str, int | None] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        state = "pending" if isinstance(value, dict) and value.get("pending") else "set"
        self.log.append(f"{self.name} {state}")
        event = faust.current_event()
        self.partitions[key] = event.message.partition if event is not None else None
        super().__setitem__(key, value)


class Message:
    def __init__(self, partition: int, offset: int) -> None:
        self.topic, self.partition = "kabar.dedupe-content", partition
        self.offset, self.timestamp = offset, 1_000.0 + offset


class Event:
    """A consumed message, as far as the batch commit looks at it."""

    def __init__(self, partition: int, offset: int) -> None:
        self.message = Message(partition, offset)
        self.headers: dict[str, bytes] = {}


def dedupe_pipeline(log: list[str], *, flush_fails: int | None = None,
                    outcome_is_out: bool = False) -> Pipeline:
    """A pipeline whose tables are dicts and whose producer and stream note, in ``log``,
    each flush, each record sent and each ack; the ``flush_fails``-th flush raises."""
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"  # never contacted
    pipeline = Pipeline(create_app(settings), settings)
    pipeline.contents, pipeline.sigs, pipeline.bands = {}, {}, {}  # type: ignore[assignment]
    pipeline.emitted = Recorded("emitted", log)  # type: ignore[assignment]
    pipeline.delivered = Recorded("delivered", log)  # type: ignore[assignment]
    flushes = 0

    async def flush() -> None:
        nonlocal flushes
        flushes += 1
        if flushes == flush_fails:
            log.append("flush failed")
            raise ConnectionError("broker gone")
        log.append("flush")

    async def send_out(records: Any) -> None:
        log.extend(f"send {record.topic.get_topic_name()}" for record in records)

    async def looked_up(*args: Any) -> bool:
        log.append("look-up")
        return outcome_is_out

    pipeline.app.producer.flush = flush  # type: ignore[method-assign]
    pipeline.send_out = send_out  # type: ignore[method-assign]
    pipeline.outcome_is_out = looked_up  # type: ignore[method-assign]
    return pipeline


def stream(log: list[str]) -> Any:
    async def ack(event: Any) -> None:
        log.append("ack")

    return SimpleNamespace(ack=ack)


def news(seed: int) -> bytes:
    rng = random.Random(seed)
    paragraphs = [" ".join(f"w{rng.randrange(5000)}" for _ in range(50)) + "."
                  for _ in range(6)]
    url = f"https://news.example/{seed}"
    story = Article(id=article_id(url), url=url, body="\n\n".join(paragraphs),
                    paragraphs=paragraphs, published_at_utc="2026-05-01T10:00:00+00:00")
    story.fingerprints = fingerprints(story)
    return story.to_json()


async def test_a_batch_holds_its_outcomes_until_their_pending_markers_are_flushed() -> None:
    log: list[str] = []
    pipeline = dedupe_pipeline(log)
    batch = Batch()
    for seed in (1, 2):
        await pipeline.on_article_content(news(seed), batch)
    # handled: nothing written or sent yet
    assert log == []
    assert len(batch.done) == 2 and batch.outbox
    batch.marks["kabar.dedupe-content:0"] = Event(0, 7)
    batch.events.extend(["event 1", "event 2"])
    await pipeline.commit(stream(log), batch)
    sends = [entry for entry in log if entry.startswith("send")]
    assert "send kabar.articles" in sends
    assert log == ["emitted pending", "emitted pending", "flush", *sends, "flush",
                   "emitted set", "emitted set", "flush", "delivered set", "ack", "ack"]
    assert not any(entry.get("pending") for entry in pipeline.emitted.values())


async def test_each_entry_a_batch_commits_goes_to_the_partition_of_its_message() -> None:
    log: list[str] = []
    pipeline = dedupe_pipeline(log)
    batch = Batch()
    first, last = Event(1, 5), Event(3, 9)
    for seed, event in ((1, first), (2, last)):
        as_handling(event)  # as the stream does for each event
        await pipeline.on_article_content(news(seed), batch)
        batch.marks[f"kabar.dedupe-content:{event.message.partition}"] = event
    # the commit runs in a task of its own, started while the last event was handled
    await asyncio.ensure_future(pipeline.commit(stream(log), batch))
    emitted = pipeline.emitted.partitions
    assert sorted(emitted.values()) == [1, 3]  # not both to the last event's partition
    assert pipeline.delivered.partitions == {"kabar.dedupe-content:1": 1,
                                             "kabar.dedupe-content:3": 3}
    assert pipeline.delivered["kabar.dedupe-content:1"]["o"] == 5


async def one_story_batch(pipeline: Pipeline) -> tuple[Batch, Event]:
    """A dedupe batch that handled one new story at offset 3 and is not committed yet."""
    batch = Batch(generation=pipeline.fence.rebalances)
    await pipeline.on_article_content(news(1), batch)
    event = Event(0, 3)
    batch.events.append(event)
    batch.marks["kabar.dedupe-content:0"] = event
    pipeline.app.consumer._unacked_messages.add(event.message)
    return batch, event


async def test_a_batch_handled_before_a_rebalance_leaves_its_outcomes_to_the_replay(
        monkeypatch: pytest.MonkeyPatch) -> None:
    noted: list[tuple[int, str]] = []
    monkeypatch.setattr(agents, "note_unhandled", lambda consumer, message, how:
                        noted.append((message.offset, how)))
    log: list[str] = []
    pipeline = dedupe_pipeline(log)
    batch, event = await one_story_batch(pipeline)
    await pipeline.fence.on_rebalance()  # evicted: the partition may be replayed elsewhere
    await pipeline.commit(stream(log), batch)
    # nothing written or sent: the replay, wherever it runs, decides afresh
    assert log == []
    assert event.message not in pipeline.app.consumer._unacked_messages
    assert pipeline.stats.counts["dropped_after_rebalance"] == 1
    # if the partition stayed here, no seek brings the batch back: noted to be read again
    assert noted == [(3, "dropped after rebalance")]


async def test_a_worker_frozen_while_it_handled_a_batch_leaves_no_pending_marker_behind(
) -> None:
    # A marker written while the batch was handled would sit in the producer's buffer
    # through the freeze and reach the changelog on waking, after the partition's new owner
    # had marked the outcome done: a table left saying "pending" for an outcome that is out.
    log: list[str] = []
    pipeline = dedupe_pipeline(log)
    pipeline.fence = FreezeFence(session_timeout=1.0)
    batch, event = await one_story_batch(pipeline)
    pipeline.fence.ticking = True
    pipeline.fence.last_tick = time.monotonic() - 5.0  # SIGSTOP, then SIGCONT
    committing = asyncio.ensure_future(pipeline.commit(stream(log), batch))
    await asyncio.sleep(0.05)
    await pipeline.fence.on_rebalance()  # the wake-up's failed heartbeat: evicted
    await asyncio.wait_for(committing, 5)
    assert log == []
    assert event.message not in pipeline.app.consumer._unacked_messages


async def test_a_crash_before_the_markers_are_flushed_sends_nothing_and_the_replay_emits(
) -> None:
    log: list[str] = []
    pipeline = dedupe_pipeline(log, flush_fails=1)
    batch = Batch()
    await pipeline.on_article_content(news(1), batch)
    with pytest.raises(ConnectionError):
        await pipeline.commit(stream(log), batch)
    assert log == ["emitted pending", "flush failed"]  # no outcome out, no delivered, no ack
    log.clear()
    replay = Batch()  # the marker is pending: look for the outcome, not there, emit it
    await pipeline.on_article_content(news(1), replay)
    assert log == ["look-up"] and replay.outbox and replay.done


async def test_a_crash_after_the_outcomes_went_out_leaves_markers_pending_and_no_double(
) -> None:
    log: list[str] = []
    pipeline = dedupe_pipeline(log, flush_fails=2, outcome_is_out=True)
    batch = Batch()
    await pipeline.on_article_content(news(1), batch)
    with pytest.raises(ConnectionError):
        await pipeline.commit(stream(log), batch)
    assert "send kabar.articles" in log and log[-1] == "flush failed"
    assert all(entry.get("pending") for entry in pipeline.emitted.values())
    log.clear()
    replay = Batch()  # the outcome is on kabar.articles: marked done, not sent again
    await pipeline.on_article_content(news(1), replay)
    assert log == ["look-up", "emitted set"]
    assert replay.outbox == [] and replay.done == {}


async def test_an_outcome_marked_done_is_not_held_again() -> None:
    log: list[str] = []
    pipeline = dedupe_pipeline(log)
    batch = Batch()
    await pipeline.on_article_content(news(1), batch)
    await pipeline.commit(stream(log), batch)
    log.clear()
    replay = Batch()
    await pipeline.on_article_content(news(1), replay)
    assert log == [] and replay.outbox == []
    assert pipeline.stats.counts["redelivered"] == 1


async def test_a_worker_frozen_for_most_of_a_session_is_fenced_until_a_rebalance() -> None:
    fence = FreezeFence(session_timeout=1.0)
    assert not fence.fenced()  # the ticker has not started: start-up is not a freeze
    fence.ticking = True
    fence.last_tick = time.monotonic()
    assert not fence.fenced()
    fence.last_tick -= 0.9  # the process slept through 0.9 of its 1 s session
    assert fence.fenced()
    await fence.on_rebalance()
    assert not fence.fenced()


async def test_a_fence_with_no_rebalance_lifts_after_two_session_timeouts() -> None:
    fence = FreezeFence(session_timeout=0.1)
    fence.ticking = True
    fence.last_tick = time.monotonic() - 1.0
    assert fence.fenced()
    assert await fence.wait() is False  # not evicted after all: go on with the message
    fence.last_tick = time.monotonic()  # the ticker ran meanwhile
    assert not fence.fenced()


def test_a_redelivered_message_is_recognised_but_a_new_record_at_a_reused_offset_is_not() -> None:
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"  # never contacted
    pipeline = Pipeline(create_app(settings), settings)
    pipeline.delivered = {"kabar.pages:2": {"o": 10, "ts": 1000.0}}  # type: ignore[assignment]

    def message(offset: int, timestamp: float) -> SimpleNamespace:
        return SimpleNamespace(offset=offset, timestamp=timestamp)

    assert pipeline.already_delivered("kabar.pages:2", message(7, 999.0))
    assert pipeline.already_delivered("kabar.pages:2", message(10, 1000.0))
    assert not pipeline.already_delivered("kabar.pages:2", message(11, 1001.0))
    # the broker truncated the partition after a crash and gave offset 7 to a new record
    assert not pipeline.already_delivered("kabar.pages:2", message(7, 1005.0))
    assert not pipeline.already_delivered("kabar.pages:3", message(0, 1.0))


def queued(offset: int) -> Event:
    event = Event(0, offset)
    event.message.key, event.message.value = f"key {offset}".encode(), b"{}"  # type: ignore[attr-defined]
    return event


class QueuedStream:
    """What a batched stage's actor reads: its channel's queue, and the events from it."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.channel = SimpleNamespace(queue=self.queue)

    def noack(self) -> QueuedStream:
        return self

    async def events(self) -> Any:
        while True:
            yield await self.queue.get()


class GatedStage:
    """The clean stage's actor over a queued stream, each message handled as a no-op and
    each commit noted (its offsets in ``commits``) and held until its gate is set."""

    def __init__(self, pipeline: Pipeline | None = None) -> None:
        if pipeline is None:
            settings = load_settings(env={})
            settings.broker.url = "kafka://127.0.0.1:9"  # never contacted
            pipeline = Pipeline(create_app(settings), settings)
        self.pipeline = pipeline
        self.commits: list[list[int]] = []
        self.gates: list[asyncio.Event] = []
        self.source = QueuedStream()

        async def handled(*args: Any, **kwargs: Any) -> None:
            return None

        async def in_order(event: Any) -> bool:
            return False

        async def commit(stream: Any, batch: Batch) -> None:
            self.commits.append([event.message.offset for event in batch.events])
            self.gates.append(gate := asyncio.Event())
            if not self.actor.cancelled():
                await gate.wait()

        pipeline._guarded = handled  # type: ignore[method-assign]
        pipeline.read_again_later = in_order  # type: ignore[method-assign]
        pipeline.commit = commit  # type: ignore[method-assign]
        self.actor = asyncio.ensure_future(pipeline.app.agents["kabar.clean"].fun(self.source))

    async def put(self, offset: int, turns: int = 5) -> None:
        self.source.queue.put_nowait(queued(offset))
        await self.turns(turns)

    @staticmethod
    async def turns(n: int = 5) -> None:
        for _ in range(n):
            await asyncio.sleep(0)

    async def stop(self) -> None:
        for gate in self.gates:
            gate.set()
        self.actor.cancel()
        await asyncio.gather(self.actor, return_exceptions=True)


async def test_messages_handled_while_a_commit_is_under_way_wait_for_it_in_one_batch() -> None:
    # A stage whose queue ran dry after each message stopped there to wait for the commit
    # before (three flushes for the dedupe stage), then committed that one message alone
    stage = GatedStage()
    try:
        await stage.put(1)
        assert stage.commits == [[1]]  # nothing under way: committed at once
        await stage.put(2)
        await stage.put(3)
        assert stage.commits == [[1]]  # 2 and 3 handled, waiting for the commit of 1
        stage.gates[0].set()
        await stage.turns()
        assert stage.commits == [[1], [2, 3]]  # started as 1's ended, with no next message
        stage.gates[1].set()
        await stage.put(4)
        assert stage.commits == [[1], [2, 3], [4]]
    finally:
        await stage.stop()


class Frozen:
    """A fence that reports the worker frozen once ``frozen`` is set, and lifts at once."""

    rebalances = 0

    def __init__(self) -> None:
        self.frozen = False

    def fenced(self) -> bool:
        return self.frozen

    async def wait(self) -> bool:
        self.frozen = False
        return True


async def test_messages_a_frozen_worker_drops_unacked_are_noted_to_be_read_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # No seek brings them back: if the partition stayed here after the freeze, only the note
    # makes its next message seek back to them, and keeps commits from passing them.
    noted: list[tuple[int, str]] = []
    monkeypatch.setattr(agents, "note_unhandled", lambda consumer, message, how:
                        noted.append((message.offset, how)))
    stage = GatedStage()
    stage.pipeline.fence = Frozen()  # type: ignore[assignment]
    try:
        await stage.put(1)  # its commit is under way
        await stage.put(2)  # handled, waiting in the next batch
        stage.pipeline.fence.frozen = True
        await stage.put(3)
        assert noted == [(2, "dropped after freeze"), (3, "dropped after freeze")]
        assert stage.pipeline.stats.counts["dropped_after_freeze"] == 2
        stage.gates[0].set()
        await stage.put(4)
        assert stage.commits == [[1], [4]]
    finally:
        await stage.stop()


async def test_a_topic_hands_a_record_to_a_running_producer_without_yielding_to_the_loop(
) -> None:
    # Faust's stampede wrapper yielded one to three turns of the event loop before every
    # record a topic sent, table writes included
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"  # never contacted
    app = create_app(settings)
    app.producer._started.set()  # as once the worker runs
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    counting = asyncio.ensure_future(count_turns())
    await asyncio.sleep(0)
    try:
        before = turns
        assert await app.maybe_start_producer() is app.producer
        assert turns == before
    finally:
        counting.cancel()

