"""The agents' guard: a stage that raises never kills an agent or loses the message."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from worker.agents import Batch, FreezeFence, Pipeline, StagedWrites
from worker.app import create_app
from worker.models import DeadLetter
from worker.settings import load_settings


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


def test_sealed_writes_stay_readable_and_reach_the_table_apart_from_later_ones() -> None:
    table: dict[str, str] = {}
    staged = StagedWrites(table)
    staged["a"] = "batch 1"
    staged.seal()  # batch 1 is being committed while batch 2 is handled
    staged["b"] = "batch 2"
    assert staged.get("a") == "batch 1" and staged["b"] == "batch 2"
    assert table == {}
    staged.commit_sealed()
    assert table == {"a": "batch 1"}  # batch 2's write waits for its own commit
    assert staged.get("b") == "batch 2"
    staged.seal()
    staged.commit_sealed()
    assert table == {"a": "batch 1", "b": "batch 2"}


async def test_a_batch_whose_flush_fails_leaves_no_emitted_writes_behind() -> None:
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"  # never contacted
    pipeline = Pipeline(create_app(settings), settings)
    table: dict[str, str] = {}
    staged = StagedWrites(table)

    async def failing_flush() -> None:
        raise ConnectionError("broker gone")

    pipeline.app.producer.flush = failing_flush  # type: ignore[method-assign]
    staged["content"] = "new:abc:1"
    staged.seal()
    with pytest.raises(ConnectionError):
        await pipeline.commit(SimpleNamespace(), Batch(), (staged,))  # type: ignore[arg-type]
    assert table == {} and staged.get("content") is None
    staged["content"] = "new:abc:1"  # handled again, the next batch can seal its writes
    staged.seal()


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
