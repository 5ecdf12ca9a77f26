"""The worker's guards against two ways Faust (faust-streaming 0.15.3 on aiokafka 0.14) loses
records around a rebalance (worker.app). Each one left a worker of the fleet test
(tests/test_fetch_fleet.py) that never fetched some of its hosts."""

from __future__ import annotations

from aiokafka.consumer.fetcher import Fetcher, FetchResult
from aiokafka.consumer.subscription_state import Assignment, SubscriptionState
from aiokafka.structs import TopicPartition
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
