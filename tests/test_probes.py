"""/livez and /readyz, served beside /metrics from a thread: a wedged event loop, a consumer
that stopped polling, a rebalance or a recovery under way each turn the right probe red,
with a reason."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from faust.types import TP

from worker.metrics import serve_metrics
from worker.probes import WorkerProbes, consumer_lags, table_entries


def probe(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def fake_app(**overrides: Any) -> SimpleNamespace:
    """What the probes read of a started, ready Faust app."""
    completed = asyncio.Event()
    completed.set()
    consumer = SimpleNamespace(assignment=lambda: {TP("kabar.pages", 0)},
                               last_poll=time.monotonic())
    app = SimpleNamespace(rebalancing=False, in_recovery=False, consumer=consumer,
                          tables=SimpleNamespace(recovery=SimpleNamespace(completed=completed)))
    for name, value in overrides.items():
        setattr(app, name, value)
    return app


@pytest.fixture
def served() -> Iterator[Any]:
    servers = []

    def serve(probes: WorkerProbes) -> int:
        server = serve_metrics("127.0.0.1", 0, probes)
        servers.append(server)
        return server.server_port

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


async def started_probes(app: SimpleNamespace, **options: Any) -> WorkerProbes:
    probes = WorkerProbes(app, asyncio.get_running_loop(), **{"poll_timeout": 60.0, **options})
    probes.mark_started()
    return probes


async def test_a_started_worker_that_polls_is_live_and_ready(served: Any) -> None:
    port = served(await started_probes(fake_app()))
    status, body = await asyncio.to_thread(probe, port, "/livez")
    assert (status, body.split(";")[0]) == (200, "ok: the event loop answers")
    assert await asyncio.to_thread(probe, port, "/readyz") == (
        200, "ok: partitions assigned, tables recovered\n")
    metrics = (await asyncio.to_thread(probe, port, "/metrics"))[1]
    assert "kabar_worker_ready 1.0" in metrics


async def test_a_wedged_event_loop_fails_livez_while_it_is_blocked(served: Any) -> None:
    port = served(await started_probes(fake_app(), loop_timeout=0.3))
    answers: list[tuple[int, str]] = []
    asking = threading.Thread(target=lambda: answers.append(probe(port, "/livez")))
    asking.start()
    time.sleep(3.0)  # a stage that blocks the loop (CPU-bound code, a blocking call)
    asking.join()
    assert answers == [(503, "failing: the event loop did not answer within 0.3s\n")]
    # the loop runs again: so does the probe
    assert (await asyncio.to_thread(probe, port, "/livez"))[0] == 200


async def test_a_consumer_that_stopped_polling_fails_livez(served: Any) -> None:
    app = fake_app()
    app.consumer.last_poll = time.monotonic() - 300
    port = served(await started_probes(app, poll_timeout=120.0))
    status, body = await asyncio.to_thread(probe, port, "/livez")
    assert status == 503
    assert "the consumer has not polled the broker for 300s (limit 120s)" in body


async def test_a_starting_worker_is_live_but_not_ready(served: Any) -> None:
    app = fake_app()
    app.consumer.last_poll = None  # no poll yet: the group is still forming
    probes = WorkerProbes(app, asyncio.get_running_loop(), poll_timeout=60.0)
    port = served(probes)
    assert (await asyncio.to_thread(probe, port, "/livez"))[0] == 200
    status, body = await asyncio.to_thread(probe, port, "/readyz")
    assert status == 503 and "starting" in body


@pytest.mark.parametrize(("state", "reason"), [
    ({"rebalancing": True}, "rebalancing"),
    ({"consumer": SimpleNamespace(assignment=set, last_poll=None)}, "no partitions assigned"),
    ({"in_recovery": True}, "recovering"),
])
async def test_readyz_fails_with_its_reason_until_partitions_are_assigned_and_recovered(
    served: Any, state: dict[str, Any], reason: str
) -> None:
    port = served(await started_probes(fake_app(**state)))
    status, body = await asyncio.to_thread(probe, port, "/readyz")
    assert status == 503 and reason in body, body
    assert "kabar_worker_ready 0.0" in (await asyncio.to_thread(probe, port, "/metrics"))[1]


async def test_an_unknown_path_is_a_404_naming_the_endpoints(served: Any) -> None:
    port = served(await started_probes(fake_app()))
    status, body = await asyncio.to_thread(probe, port, "/healthz")
    assert status == 404 and "/livez" in body


def test_consumer_lag_counts_from_the_committed_offset_and_skips_changelogs() -> None:
    pages0, pages1, fresh = TP("kabar.pages", 0), TP("kabar.pages", 1), TP("kabar.fetch", 0)
    changelog = TP("kabar-dedupe-urls-changelog", 0)
    highwaters = {pages0: 120, pages1: 40, fresh: 9, changelog: 5000}
    consumer = SimpleNamespace(
        assignment=lambda: set(highwaters) | {TP("kabar.fetch", 1)},
        highwater=lambda tp: highwaters.get(tp),  # kabar.fetch 1: not fetched yet
        _committed_offset={pages0: 100, pages1: 40, changelog: 0},
    )
    table = SimpleNamespace(changelog_topic=SimpleNamespace(
        get_topic_name=lambda: "kabar-dedupe-urls-changelog"))
    app = SimpleNamespace(consumer=consumer, tables={"dedupe-urls": table})
    assert consumer_lags(app) == {("kabar.pages", 0): 20, ("kabar.pages", 1): 0,
                                  ("kabar.fetch", 0): 9}


def test_rocksdb_tables_are_sized_by_rocksdb_s_estimate_not_by_a_scan(tmp_path: Path) -> None:
    rocksdict = pytest.importorskip("rocksdict")  # the `rocksdb` extra
    dbs = [rocksdict.Rdict(str(tmp_path / f"p{n}")) for n in range(2)]
    try:
        for n, db in enumerate(dbs):
            for i in range(500 * (n + 1)):
                db[f"https://example.org/{i}".encode()] = b"{}"

        class Store:  # what faust.stores.rocksdb.Store offers: this worker's partitions
            def _dbs_for_actives(self) -> Iterator[Any]:
                yield from dbs

            def __len__(self) -> int:
                raise AssertionError("a full scan of every key")

        assert table_entries(SimpleNamespace(data=Store())) == 1500
    finally:
        for db in dbs:
            db.close()


def test_memory_tables_are_sized_by_their_length() -> None:
    class Table(dict):  # a table on the memory store: its data has no RocksDB partitions
        data: ClassVar[dict[str, int]] = {}

    assert table_entries(Table(a=1, b=2)) == 2
