"""What a stage that commits in batches holds between handling its messages and committing
them: the batch (:class:`Batch`), the table writes it stages (:class:`StagedWrites`), the
records it sends (:class:`Outgoing`), and the fence that stops a worker woken from a freeze
before it handles what its partitions' new owners handle (:class:`FreezeFence`)."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TP

from worker.delivery import Deliveries

log = logging.getLogger("kabar.batches")


def as_handling(event: faust.EventT | None) -> None:
    """Make ``event`` the one Faust takes as being handled, in this task's context: a table
    sends its changelog record to the partition of that event. A batch commits in a task of
    its own, after its events were handled, and each entry must reach the partition of the
    event it was written for (or the partition's owner would not recover it). Faust keeps
    the event in a context variable of faust.streams (what a stream sets per event)."""
    if event is not None:
        faust.streams._current_event.set(weakref.ref(event))


class StagedWrites(MutableMapping[str, Any]):
    """A table seen through the writes a stage makes while handling one message, held back
    until ``commit()``: the agent commits them once what the stage sent is acknowledged.
    Written first, a crash between the two would leave the table saying "done" for output
    that never reached Kafka, and the redelivered message would be skipped: a lost story."""

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self.writes: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key in self.writes:
            return self.writes[key]
        return self.table[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.writes[key] if key in self.writes else self.table.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes[key] = value

    def __delitem__(self, key: str) -> None:
        # The stage takes back only a write of its own (a failed first poll releases its
        # in-flight claim); deleting what the table holds would need a changelog tombstone.
        if key in self.table:
            raise NotImplementedError("the fetch stage never deletes from its seen-table")
        del self.writes[key]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self.table), **self.writes})

    def __len__(self) -> int:
        return len({**dict.fromkeys(self.table), **self.writes})

    def commit(self) -> None:
        for key, value in self.writes.items():
            self.table[key] = value
        self.writes.clear()


def emit_action(entry: dict[str, Any] | None, outcome: str) -> str:
    """What the dedupe stage does with an outcome, given its ``dedupe-emitted`` entry:
    "emit" one not out yet, "skip" one marked done, "check" the output topic for one
    marked pending (a crash came between sending it and marking it done)."""
    if entry is None or entry.get("a") != outcome:
        return "emit"
    return "check" if entry.get("pending") else "skip"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record a stage sends, built before it is sent."""

    topic: faust.TopicT
    key: bytes
    value: bytes


@dataclass(slots=True)
class Batch:
    """Messages a stage that reads its partitions in order has handled and not yet
    committed: :meth:`Pipeline.commit` flushes what they sent, looks at each record's
    delivery result (``deliveries``), records them delivered and acks them, one broker
    round trip for the lot.

    The dedupe stage holds its outcomes back in ``outbox`` (with the event each is for),
    and their ``dedupe-emitted`` markers in ``done`` (content hash → marker, and the event
    it was written for): the commit writes the markers pending and flushes them, sends the
    outcomes, then marks them done."""

    #: the stage that handled them (it signs the dead letters of refused records)
    stage: str = ""
    events: list[faust.EventT] = field(default_factory=list)
    #: "<topic>:<partition>" → the last message handled there
    marks: dict[str, faust.EventT] = field(default_factory=dict)
    #: the keys of the messages handled (the dedupe stage's content hashes)
    keys: set[bytes | None] = field(default_factory=set)
    outbox: list[tuple[list[Outgoing], faust.EventT | None]] = field(default_factory=list)
    #: the group rebalances this worker had seen when the batch's first message was handled
    generation: int = 0
    done: dict[str, tuple[dict[str, Any], faust.EventT | None]] = field(default_factory=dict)
    deliveries: Deliveries = field(default_factory=Deliveries)

    def leave_out(self, events: Iterable[faust.EventT],
                  handled: Callable[[str, faust.EventT], bool]) -> None:
        """Take ``events`` out of the batch, to be delivered again: their outcomes are not
        sent or marked, and a partition's mark falls back to the last message left that
        was ``handled`` here (not skipped as a redelivery), if any."""
        gone = {id(event) for event in events}
        self.events = [event for event in self.events if id(event) not in gone]
        self.outbox = [(records, event) for records, event in self.outbox
                       if id(event) not in gone]
        self.done = {content: (marker, event) for content, (marker, event) in self.done.items()
                     if id(event) not in gone}
        for mark, event in list(self.marks.items()):
            if id(event) in gone:
                left = [e for e in self.events if mark_of(e) == mark and handled(mark, e)]
                if left:
                    self.marks[mark] = left[-1]
                else:
                    del self.marks[mark]


def mark_of(event: faust.EventT) -> str:
    """The ``delivered`` key of the partition ``event`` came from."""
    return f"{event.message.topic}:{event.message.partition}"


def tp_of(event: faust.EventT) -> TP:
    return TP(event.message.topic, event.message.partition)


def first_offsets(events: Iterable[faust.EventT]) -> dict[TP, int]:
    """The lowest offset of ``events`` in each partition."""
    first: dict[TP, int] = {}
    for event in events:
        tp = tp_of(event)
        first[tp] = min(event.message.offset, first.get(tp, event.message.offset))
    return first


def from_first_in_doubt(events: Iterable[faust.EventT], in_doubt: Iterable[Any]
                        ) -> list[faust.EventT]:
    """The ``events`` at or after the first offset in doubt of their partition: what must
    be delivered again, in order, when records sent for ``in_doubt`` failed for now."""
    first = first_offsets(e for e in in_doubt if e is not None)
    return [event for event in events
            if tp_of(event) in first and event.message.offset >= first[tp_of(event)]]


def looked_at(future: asyncio.Future[Any]) -> None:
    """A done callback: the future's exception is looked at elsewhere."""
    if not future.cancelled():
        future.exception()


class FreezeFence:
    """Tells a worker that was frozen (SIGSTOP, a stalled VM, a long GC pause) for most of a
    session timeout that its partitions may have moved while it slept.

    Such a zombie wakes with messages queued and tables as they were; handling them would
    emit what the partitions' new owner emits too. A ticker notes the time every TICK
    seconds: a gap longer than ``0.8 × session_timeout`` fences the worker until the group
    rebalances (the zombie's first heartbeat fails and it rejoins) or, if it was never
    evicted, until two session timeouts have passed."""

    TICK = 0.25

    def __init__(self, session_timeout: float) -> None:
        self.limit = session_timeout * 0.8
        self.hold = session_timeout * 2
        self.last_tick = time.monotonic()
        self.fenced_until = 0.0
        self.rebalances = 0
        self.ticking = False  # no verdict before the ticker runs (start-up is not a freeze)

    def fenced(self) -> bool:
        now = time.monotonic()
        if self.ticking and now - self.last_tick > self.limit and now >= self.fenced_until:
            log.warning("this worker was frozen for %.1fs: it handles nothing more until the "
                        "group has rebalanced", now - self.last_tick)
            self.fenced_until = now + self.hold
            self.last_tick = now
        return now < self.fenced_until

    async def tick(self) -> None:
        self.last_tick, self.ticking = time.monotonic(), True
        while True:
            self.fenced()
            self.last_tick = time.monotonic()
            await asyncio.sleep(self.TICK)

    async def on_rebalance(self, *args: Any, **kwargs: Any) -> None:
        self.rebalances += 1
        self.fenced_until = 0.0

    async def wait(self) -> bool:
        """Wait out the fence; True when a rebalance ended it."""
        rebalances = self.rebalances
        while time.monotonic() < self.fenced_until:
            await asyncio.sleep(0.1)
        return self.rebalances != rebalances
