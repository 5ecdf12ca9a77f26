"""What a worker tells its orchestrator and Prometheus about itself: /livez, /readyz, the
lag of every partition it owns and the size of its tables.

The probes are asked from the metrics server's thread (worker.metrics.serve_metrics) and
answered by running a check on the worker's event loop: a loop that does not run it within
``loop_timeout`` is wedged, and the probe says so. A probe served by the loop itself would
only hang, and an orchestrator could not tell a wedged worker from a slow network.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any, TypeVar

import faust

T = TypeVar("T")


class WorkerProbes:
    """Liveness: the event loop answers, and once the worker has started its consumer polled
    the broker within ``poll_timeout`` seconds. Readiness: started, not rebalancing,
    partitions assigned, tables recovered."""

    def __init__(self, app: faust.App, loop: asyncio.AbstractEventLoop, *,
                 poll_timeout: float, loop_timeout: float = 5.0) -> None:
        self.app = app
        self.loop = loop
        self.poll_timeout = poll_timeout
        self.loop_timeout = loop_timeout
        #: set by the runner once Worker.start has returned (tables recovered once)
        self.started = False
        self.started_at = 0.0

    def on_loop(self, check: Callable[[], T]) -> T:
        """Run ``check`` on the worker's loop and return its result; TimeoutError when the
        loop does not get to it within ``loop_timeout``."""
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(check())
            except Exception as exc:
                result.set_exception(exc)

        try:
            self.loop.call_soon_threadsafe(run)
        except RuntimeError:  # the loop is closed
            raise TimeoutError("the event loop is closed") from None
        try:
            return result.result(self.loop_timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(
                f"the event loop did not answer within {self.loop_timeout:g}s") from None

    def live(self) -> tuple[bool, str]:
        try:
            polled_at = self.on_loop(self._polled_at)
        except TimeoutError as exc:
            return False, str(exc)
        if polled_at is None:
            return True, "the event loop answers; the worker is starting"
        silent = time.monotonic() - polled_at
        if silent > self.poll_timeout:
            return False, (f"the consumer has not polled the broker for {silent:.0f}s "
                           f"(limit {self.poll_timeout:g}s)")
        return True, f"the event loop answers; the consumer polled {silent:.1f}s ago"

    def ready(self) -> tuple[bool, str]:
        try:
            reason = self.on_loop(self._not_ready_because)
        except TimeoutError as exc:
            return False, str(exc)
        return reason is None, reason or "partitions assigned, tables recovered"

    def _polled_at(self) -> float | None:
        if not self.started:
            return None
        # stamped by worker.app.Consumer on every fetch; a started worker that never polled
        # counts from its start
        return getattr(self.app.consumer, "last_poll", None) or self.started_at

    def _not_ready_because(self) -> str | None:
        app = self.app
        if not self.started:
            return "the worker is starting: joining the group, recovering tables"
        if app.rebalancing:
            return "the consumer group is rebalancing"
        if not app.consumer.assignment():
            return "no partitions assigned"
        if app.in_recovery or not app.tables.recovery.completed.is_set():
            return "tables are recovering from their changelogs"
        return None

    def mark_started(self) -> None:
        self.started_at = time.monotonic()
        self.started = True


def consumer_lags(app: faust.App) -> dict[tuple[str, int], int]:
    """(topic, partition) → messages after the committed offset, for every partition of a
    stream this worker owns (table changelogs are recovery, not work, and are left out).
    A partition not fetched yet has no known end and is left out too."""
    consumer = app.consumer
    changelogs = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    lags: dict[tuple[str, int], int] = {}
    for tp in consumer.assignment():
        if tp.topic in changelogs:
            continue
        try:
            end = consumer.highwater(tp)
        except AssertionError:  # revoked between assignment() and here
            continue
        if end is None:
            continue
        committed = consumer._committed_offset.get(tp)
        lags[(tp.topic, tp.partition)] = max(0, end - (committed or 0))
    return lags


def table_sizes(app: faust.App) -> dict[str, int]:
    """Table name → entries held for this worker's partitions (every entry for a global
    table)."""
    return {name: table_entries(table) for name, table in app.tables.items()}


def table_entries(table: Any) -> int:
    """Entries of one table. A RocksDB store counts its entries by reading every key, far
    too slow for a timer on the event loop with millions of them: RocksDB's own estimate
    (exact for keys written once, as Kabar's tables mostly are) is used instead."""
    actives = getattr(table.data, "_dbs_for_actives", None)
    if actives is None:
        return len(table)
    return sum(db.property_int_value("rocksdb.estimate-num-keys") or 0 for db in actives())
