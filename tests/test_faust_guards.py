"""The worker's guards against ways Faust (faust-streaming 0.15.3 on aiokafka 0.14) loses
records around a rebalance or under concurrency (worker.app). The rebalance guards each left
a worker of the fleet test (tests/test_fetch_fleet.py) that never fetched some of its hosts;
the commit guard lost fetch requests in the chaos cells (tests/test_chaos.py)."""

from __future__ import annotations

from typing import cast

from aiokafka.consumer.fetcher import Fetcher, FetchResult
from aiokafka.consumer.subscription_state import Assignment, SubscriptionState
from aiokafka.structs import TopicPartition
from faust.types import Message
from mode.utils.queues import FlowControlQueue

from worker.app import ActivePartitions, Consumer, FlowControl, create_app
from worker.settings import load_settings

TP = TopicPartition("k.fetch", 0)


class _Records:
    """What aiokafka's FetchResult reads of the records it holds for a partition."""

    def __init__(self, offsets: list[int]) -> None:
        self._offsets = iter(offsets)
        self.next_fetch_offset = offsets[0]

    def __iter__(self) -> _Records:
        return self

    def __next__(self) -> int:
        offset = next(self._offsets)
        self.next_fetch_offset = offset + 1
        return offset


def fetcher_holding(offsets: list[int]) -> tuple[Fetcher, Assignment]:
    """An aiokafka Fetcher that has fetched records of TP and waits to hand them out."""
    subscriptions = SubscriptionState()
    subscriptions.assign_from_user({TP})
    assignment = subscriptions.subscription.assignment
    assignment.state_value(TP).seek(offsets[0])
    fetcher = Fetcher.__new__(Fetcher)  # no client or connections: only fetched_records runs
    fetcher._subscriptions = subscriptions
    fetcher._records = {TP: FetchResult(TP, assignment=assignment,
                                        partition_records=_Records(offsets), backoff=0)}
    fetcher._notify = lambda future: None
    fetcher._wait_consume_future = None
    return fetcher, assignment


async def test_aiokafka_drains_every_partition_when_handed_an_empty_set() -> None:
    # why ActivePartitions exists: Faust's live set is empty while a rebalance pauses all
    fetcher, assignment = fetcher_holding([0, 1, 2])
    assert await fetcher.fetched_records(set(), timeout=0) == {TP: [0, 1, 2]}
    assert assignment.state_value(TP).position == 3


async def test_records_of_paused_partitions_wait_in_aiokafka_until_faust_resumes_them() -> None:
    fetcher, assignment = fetcher_holding([0, 1, 2])
    active: set[TopicPartition] = set()  # Faust's live set, every partition paused
    partitions = ActivePartitions(active)
    assert await fetcher.fetched_records(partitions, timeout=0) == {}
    assert assignment.state_value(TP).position == 0
    active.add(TP)  # recovery done: Faust resumes the partition in that same set
    assert await fetcher.fetched_records(partitions, timeout=0) == {TP: [0, 1, 2]}


async def test_resuming_a_flow_that_already_runs_keeps_the_queued_records() -> None:
    flow = FlowControl()
    queue: FlowControlQueue[str] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    flow.resume()  # recovery resumes the flow, then the stream partitions
    await queue.put("record fetched since")
    flow.resume()  # recovery completes
    assert queue.qsize() == 1


async def test_resuming_a_suspended_flow_still_clears_the_queues() -> None:
    flow = FlowControl()
    queue: FlowControlQueue[str] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    flow.resume()
    await queue.put("record from before the rebalance")
    flow.suspend()
    flow.resume()
    assert queue.qsize() == 0


def test_the_worker_app_uses_both_guards() -> None:
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9092"
    app = create_app(settings)
    assert isinstance(app.consumer, Consumer)
    assert isinstance(app.flow_control, FlowControl)


def _message(offset: int) -> Message:
    return Message(TP.topic, TP.partition, offset, 0.0, 0, None, b"k", b"v", None,
                   tp=TP)


def test_no_offset_is_committed_past_a_message_still_in_flight() -> None:
    # faust-streaming#606: with concurrent actors, 11 and 12 finish while 10 is still being
    # handled; Faust took the hole at the head for a compaction gap and committed 13
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"  # never contacted
    app = create_app(settings)
    app.topics.acks_enabled_for = lambda topic: True  # as for a topic an agent reads
    consumer = app.consumer
    consumer._committed_offset[TP] = 10
    messages = [_message(offset) for offset in (10, 11, 12)]
    for message in messages:
        consumer.track_message(message)
    for message in messages[1:]:
        consumer.ack(message)
    assert consumer._new_offset(TP) is None
    consumer.ack(messages[0])
    assert consumer._new_offset(TP) == 13


async def test_offsets_both_acked_and_in_a_gap_are_committed_in_one_go() -> None:
    # the chaos cells' slow lag drain after a network cut or a broker bounce: Faust adds a
    # gap's offsets to the acked ones without looking whether they were acked too, and each
    # duplicate ended the run it commits, so the committed offset advanced by one a commit
    # (every 2.8 s): some thirty messages took 1-2 minutes
    consumer = _consumer_that_committed(8)
    for offset in range(8, 21):
        consumer.track_message(message := _message(offset))
        consumer.ack(message)
    await consumer._add_gap(TP, 9, 19)
    assert consumer._new_offset(TP) == 21
    assert not consumer._acked[TP]


async def test_a_run_through_a_gap_still_stops_at_a_message_in_flight() -> None:
    consumer = _consumer_that_committed(8)
    messages = {offset: _message(offset) for offset in range(8, 21)}
    for offset, message in messages.items():
        consumer.track_message(message)
        if offset != 15:
            consumer.ack(message)
    await consumer._add_gap(TP, 9, 12)
    assert consumer._new_offset(TP) == 15
    consumer._committed_offset[TP] = 15  # as the commit notes it
    consumer.ack(messages[15])
    assert consumer._new_offset(TP) == 21


def _consumer_that_committed(offset: int) -> Consumer:
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"  # never contacted
    app = create_app(settings)
    app.topics.acks_enabled_for = lambda topic: True  # as for a topic an agent reads
    consumer = cast(Consumer, app.consumer)
    consumer._committed_offset[TP] = offset
    return consumer



class _GroupRevokingDuringACommit:
    """The consumer thread of a worker whose offset commit was out when the group
    rebalanced: the partition was revoked meanwhile, and the broker refused the commit."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.requests: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def commit(self, offsets: dict[TopicPartition, int]) -> bool:
        self.requests.append(dict(offsets))
        for state in (self.consumer._acked, self.consumer._acked_index,
                      self.consumer._committed_offset):  # Faust on the revocation
            state.pop(TP, None)
        return False  # aiokafka: CommitFailedError "... group has already rebalanced ..."


class _Producer:
    async def flush(self) -> None:
        pass


async def test_a_commit_refused_across_a_rebalance_leaves_the_messages_handed_out_again_committable(
) -> None:
    # the chaos cells' lag that never drained after a network cut: Faust noted the refused
    # offset (7) committed, discarded the acks of 4, 5 and 6 handed out again in the new
    # generation as below it, and after the seek to the group's offset (4) held every
    # commit back for the head it never saw acked
    consumer = _consumer_that_committed(4)
    consumer.app.producer = _Producer()
    group = _GroupRevokingDuringACommit(consumer)
    consumer._thread = group
    for offset in (4, 5, 6):
        consumer.track_message(message := _message(offset))
        consumer.ack(message)
    assert not await consumer.commit()
    assert group.requests == [{TP: 7}]
    for offset in range(4, 21):  # the new generation hands them out again
        consumer.track_message(message := _message(offset))
        consumer.ack(message)
    consumer._committed_offset[TP] = 4  # its seek to the group's committed offset
    assert consumer._new_offset(TP) == 21
