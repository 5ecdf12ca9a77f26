"""Politeness across a fleet, on the real broker: two `kabar worker` processes share
`kabar.fetch`, which is keyed by host, so each host is fetched by exactly one worker and no
two requests to one host come closer than the per-host delay.

The hosts are loopback addresses (127.0.0.2, 127.0.0.3, ...), each a publisher of its own;
the local server records every request's host, arrival time and User-Agent (each worker
gets its own User-Agent, so the server can tell who fetched what).
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from tests.fleet import Fleet
from tests.hostile_server import HostileServer
from worker.agents import partition_of
from worker.kafka_io import bootstrap_servers
from worker.models import FetchRequest

pytestmark = pytest.mark.broker

PARTITIONS = 4
DELAY = 0.5
PAGES_PER_HOST = 5


def hosts_covering_every_partition(per_partition: int = 2) -> list[str]:
    """Loopback addresses chosen so every partition (hence every worker) gets hosts."""
    chosen: dict[int, list[str]] = defaultdict(list)
    for n in range(2, 250):
        address = f"127.0.0.{n}"
        bucket = chosen[partition_of(address, PARTITIONS)]
        if len(bucket) < per_partition:
            bucket.append(address)
        if len(chosen) == PARTITIONS and all(len(b) == per_partition for b in chosen.values()):
            break
    return sorted(itertools.chain.from_iterable(chosen.values()))


async def test_each_host_is_fetched_by_one_worker_and_the_delay_holds_across_the_fleet(
    broker_url: str, tmp_path: Path
):
    prefix = f"f{uuid.uuid4().hex[:10]}."
    hosts = hosts_covering_every_partition()
    bootstrap = bootstrap_servers(broker_url)
    fleet = Fleet(broker_url, prefix, tmp_path, env={
        "KABAR_TOPIC_PARTITIONS": str(PARTITIONS),
        "KABAR_FETCH_ALLOW_PRIVATE_ADDRESSES": "1",
        "KABAR_FETCH_PER_HOST_DELAY": str(DELAY),
        # one request at a time per host: then the delay runs from the end of the previous
        # exchange and the server itself sees every gap >= DELAY
        "KABAR_FETCH_PER_HOST_CONCURRENCY": "1",
    })
    async with HostileServer(addresses=tuple(hosts)) as server:
        try:
            # each worker its own User-Agent, so the server can tell who fetched what
            for n in (1, 2):
                fleet.start(f"w{n}", KABAR_FETCH_USER_AGENT=f"KabarBot/test (fleet worker {n})")
                await fleet.wait_stable(n)

            producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
            await producer.start()
            try:
                now = datetime.now(UTC).isoformat()
                for page, host in itertools.product(range(PAGES_PER_HOST), hosts):
                    request = FetchRequest(url=server.url(host, f"/article/{host}-{page}"),
                                           source="fleet", host=host, requested_at=now)
                    await producer.send(f"{prefix}fetch", key=host.encode(),
                                        value=request.to_json())
                await producer.flush()
            finally:
                await producer.stop()

            expected = len(hosts) * PAGES_PER_HOST
            deadline = time.monotonic() + 90
            while (arrived := len([r for r in server.requests
                                   if r.path.startswith("/article/")])) < expected:
                assert time.monotonic() < deadline, (
                    f"only {arrived} of {expected} article requests arrived; log tails:"
                    + "".join(f"\n--- {name}\n{fleet.log_tail(name)}" for name in ("w1", "w2")))
                await asyncio.sleep(0.5)
        finally:
            fleet.stop_all()

    articles = [r for r in server.requests if r.path.startswith("/article/")]
    by_host: dict[str, list] = defaultdict(list)
    for r in articles:
        by_host[r.host].append(r)
    assert sorted(by_host) == hosts
    agents_by_host = {host: {r.headers["User-Agent"] for r in rs} for host, rs in by_host.items()}
    # one host → one worker
    assert all(len(agents) == 1 for agents in agents_by_host.values()), agents_by_host
    # ... and both workers worked
    assert len(set().union(*agents_by_host.values())) == 2, agents_by_host
    # no two requests to one host closer than the delay, whichever worker sent them
    for host, rs in by_host.items():
        times = sorted(r.at for r in rs)
        assert len(times) == PAGES_PER_HOST, host
        closest = min(b - a for a, b in itertools.pairwise(times))
        assert closest >= DELAY, (host, closest)
