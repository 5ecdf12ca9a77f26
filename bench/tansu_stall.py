"""Measure how long a Faust worker takes to get going on the embedded Tansu broker.

Runs a small Faust app (a source topic, a ``group_by`` repartition, a counting table and
two agents) as a worker subprocess against one embedded broker, for each configuration:

* ``fresh``       first start of the app (empty changelog, no committed offsets);
* ``restart``     start again after a clean stop (the table is recovered from its changelog);
* ``after-kill``  start again right after the previous worker was SIGKILLed.

Each start gets a new batch of messages first. For every start it prints the JoinGroup
round trips, seconds from process spawn to "recovery done" (Faust's "Worker ready") and to
the first message handled by the second agent, the table total as recovered (read before
the first message is counted), the previous worker's last table total (a clean stop must
recover exactly that; a SIGKILL may lose the last unflushed updates, whose messages are then
counted again), and this worker's last total. The configurations run side by side in one
invocation, on one broker:

    .venv/bin/python bench/tansu_stall.py            # baseline vs faust_settings_for_embedded()
    .venv/bin/python bench/tansu_stall.py --only fix --timeline
    .venv/bin/python bench/tansu_stall.py --only fix --offsets-check --join-sweep 6,10,60

Findings (details in worker/broker.py): Tansu holds each JoinGroup for half the session
timeout (Faust's 60 s default -> a 30 s stall at every start, more after a restart), and its
ListOffsets(latest) answers the base offset of the last record batch plus one, so Faust's
table recovery stops short of a changelog's last batch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.broker import (  # noqa: E402
    EmbeddedBroker,
    aiokafka_producer_settings_for_embedded,
    faust_settings_for_embedded,
)

PARTITIONS = 4
KEYS = [f"key-{i}" for i in range(8)]
#: Log lines that mark the phases of a worker start, in the order they normally appear.
PHASES = {
    "app_start": "Starting...",
    "joining": "(Re-)joining group",
    "joined": "Elected group leader",
    "assigned": "Setting newly assigned partitions",
    "highwaters": "Highwater for active changelog partitions",
    "offsets": "Earliest offsets for active changelog partitions",
    "restoring": "Restoring state from changelog topics",
    "recovery_done": "Recovery complete",
    "ready": "Worker ready",
}
MARK = "KABARBENCH "


# --------------------------------------------------------------------------------------------
# The worker side: a child process running the Faust app.


def run_worker(broker_url: str, app_id: str, extra: dict[str, Any]) -> None:
    import faust

    app = faust.App(
        app_id,
        broker=broker_url,
        store="memory://",
        topic_partitions=PARTITIONS,
        web_enabled=False,
        **extra,
    )
    raw = {"key_serializer": "raw", "value_serializer": "raw", "partitions": PARTITIONS}
    source = app.topic(f"{app_id}.in", **raw)
    counted = app.topic(f"{app_id}.counted", **raw)
    counts = app.Table(f"{app_id}-counts", default=int, partitions=PARTITIONS)
    seen_first = False
    counted_any = False

    def mark(event: str, **fields: Any) -> None:
        print(MARK + json.dumps({"event": event, "t": time.time(), **fields}), flush=True)

    @app.agent(source)
    async def count(stream: Any) -> None:
        nonlocal counted_any
        async for key, value in stream.group_by(lambda v: v.split(b":")[0], name="bykey").items():
            if not counted_any:
                # The table as this worker recovered it, read before its first increment: a task
                # woken by "recovery completed" can run after the agent has already counted some
                # of the new batch, and would report more than the changelog held.
                counted_any = True
                mark("recovered_table", total=sum(counts.values()))
            counts[key.decode()] += 1
            await counted.send(key=key, value=value)

    @app.agent(counted)
    async def sink(stream: Any) -> None:
        nonlocal seen_first
        async for _value in stream:
            if not seen_first:
                seen_first = True
                mark("first_processed")

    @app.timer(0.5)
    async def report_table() -> None:
        mark("table", total=sum(counts.values()))

    from faust.worker import Worker

    mark("spawned")
    worker = Worker(app, loglevel="info", quiet=True)
    if not sys.stdout.isatty():
        worker.spinner = None  # its cursor codes would land in the driver's captured output
    worker.execute_from_commandline()


# --------------------------------------------------------------------------------------------
# The driver side.


async def produce(bootstrap: str, topic: str, n: int, start: int) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(start, start + n):
            key = KEYS[i % len(KEYS)]
            await producer.send(topic, key=key.encode(), value=f"{key}:{i}".encode())
        await producer.flush()
    finally:
        await producer.stop()


def parse_log(path: Path, spawned_at: float) -> dict[str, Any]:
    """Seconds from spawn for each phase and marker found in the worker's output."""
    found: dict[str, Any] = {}
    stamp = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")
    for line in path.read_text(errors="replace").splitlines():
        if MARK in line:
            # Faust routes the worker's stdout through its logger, so the mark may be prefixed.
            record = json.loads(line.split(MARK, 1)[1])
            if record["event"] == "table":
                found["table_now"] = record["total"]
                continue
            found.setdefault(record["event"], round(record["t"] - spawned_at, 2))
            if record["event"] == "recovered_table":
                found["recovered"] = record["total"]
            continue
        m = stamp.match(line)
        if not m:
            continue
        t = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%d %H:%M:%S"))
        t += int(m.group(1)[20:]) / 1000
        if "(Re-)joining group" in line:
            found["joins"] = found.get("joins", 0) + 1
        for phase, needle in PHASES.items():
            if needle in line:
                found.setdefault(phase, round(t - spawned_at, 2))
    return found


class WorkerRun:
    def __init__(
        self, broker: EmbeddedBroker, app_id: str, settings: dict[str, Any], log: Path
    ) -> None:
        self.log = log
        self.spawned_at = time.time()
        self.proc = subprocess.Popen(
            # the app's table data beside its log, not in the checkout
            [sys.executable, __file__, "_worker", broker.url, app_id,
             json.dumps({"datadir": str(log.parent / f"{app_id}-data"), **settings})],
            stdout=open(log, "w"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def wait_for(self, *events: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = parse_log(self.log, self.spawned_at)
            if all(e in found for e in events) or self.proc.poll() is not None:
                return found
            time.sleep(0.2)
        found = parse_log(self.log, self.spawned_at)
        found["timed_out"] = True
        return found

    def wait_counted(self, at_least: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if parse_log(self.log, self.spawned_at).get("table_now", -1) >= at_least:
                return
            time.sleep(0.2)

    def stop(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


#: (start, how the worker of this start is ended before the next one)
STEPS = (("fresh", "stop"), ("restart", "kill"), ("after-kill", "stop"))


def scenario(
    broker: EmbeddedBroker,
    config: str,
    settings: dict[str, Any],
    batch: int,
    timeout: float,
    logs: Path,
    steps: tuple[tuple[str, str], ...] = STEPS,
    count_timeout: float = 30,
) -> Iterator[dict[str, Any]]:
    """Starts of one app, by default fresh, after a clean stop, and right after a SIGKILL."""
    app_id = f"stall-{config}-{int(time.time())}"
    produced = 0
    previous_final: int | None = None
    for step, ending in steps:
        asyncio.run(produce(broker.bootstrap, f"{app_id}.in", batch, produced))
        produced += batch
        run = WorkerRun(broker, app_id, settings, logs / f"{app_id}-{step}.log")
        run.wait_for("ready", "first_processed", timeout=timeout)
        # Let the worker count everything and commit (Faust commits every 2.8 s) before it
        # ends, so a clean stop must leave a changelog that rebuilds exactly this table.
        run.wait_counted(produced, timeout=count_timeout)
        time.sleep(3)
        run.stop(kill=ending == "kill")
        found = parse_log(run.log, run.spawned_at)
        found.update(step=step, config=config, previous_final=previous_final)
        previous_final = found.get("table_now")
        yield found


async def join_seconds(bootstrap: str, session_timeout: float) -> float:
    """How long one lone aiokafka consumer takes from start() to its partition assignment."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        "join-sweep",
        bootstrap_servers=bootstrap,
        group_id=f"join-sweep-{session_timeout:g}-{time.time_ns()}",
        session_timeout_ms=int(session_timeout * 1000),
        heartbeat_interval_ms=int(min(3.0, session_timeout / 3) * 1000),
    )
    started = time.monotonic()
    await consumer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.02)
        return time.monotonic() - started
    finally:
        await consumer.stop()


async def end_offsets_after(bootstrap: str, topic: str, n: int, **producer_kw: Any) -> str:
    """Send n records to partition 0; compare ListOffsets(latest) with Fetch's high-water."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_kw)
    await producer.start()
    try:
        for _ in range(n):
            await producer.send(topic, value=b"record", partition=0)
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        listed = (await consumer.end_offsets([tp]))[tp]
        consumer.assign([tp])
        fetched = 0
        while batch := await consumer.getmany(timeout_ms=800):
            fetched += sum(len(records) for records in batch.values())
        return (
            f"{fetched} records stored; ListOffsets(latest) = {listed}; "
            f"Fetch high-water = {consumer.highwater(tp)}"
        )
    finally:
        await consumer.stop()


def end_offsets_check(broker: EmbeddedBroker) -> None:
    print("ten records to one partition, then ask for its end offset:")
    default = asyncio.run(end_offsets_after(broker.bootstrap, "offsets-batched", 10))
    print(f"  default producer batching: {default}")
    single = asyncio.run(
        end_offsets_after(
            broker.bootstrap, "offsets-single", 10, **aiokafka_producer_settings_for_embedded()
        )
    )
    print(f"  one record per batch:      {single}", flush=True)


def join_sweep(broker: EmbeddedBroker, sessions: list[float]) -> None:
    print("bare aiokafka consumer, alone in a new group: session timeout -> time to assignment")
    for session in sessions:
        seconds = asyncio.run(join_seconds(broker.bootstrap, session))
        print(f"  session {session:>5g} s -> joined in {seconds:5.2f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["baseline", "fix"], help="run one configuration")
    parser.add_argument(
        "--try",
        dest="try_settings",
        type=json.loads,
        metavar="JSON",
        help="also run Faust settings of your own, e.g. '{\"broker_session_timeout\": 10}'",
    )
    parser.add_argument("--batch", type=int, default=200, help="messages produced per start")
    parser.add_argument("--timeout", type=float, default=150, help="seconds to wait per start")
    parser.add_argument("--logs", type=Path, default=Path("/tmp/kabar-tansu-stall"))
    parser.add_argument("--timeline", action="store_true", help="print every phase time")
    parser.add_argument(
        "--offsets-check",
        action="store_true",
        help="show Tansu's ListOffsets answer after a multi-record batch and after single ones",
    )
    parser.add_argument(
        "--join-sweep",
        metavar="SECONDS",
        type=lambda text: [float(x) for x in text.split(",")],
        help="first time a lone consumer's group join for these session timeouts, e.g. 6,10,60",
    )
    args = parser.parse_args(argv)
    args.logs.mkdir(parents=True, exist_ok=True)
    configs = {"baseline": {}, "fix": faust_settings_for_embedded()}
    if args.only:
        configs = {args.only: configs[args.only]}
    if args.try_settings is not None:
        configs["try"] = args.try_settings
    for name, settings in configs.items():
        print(f"{name}: faust.App(..., **{settings})")
    with EmbeddedBroker(log_file=args.logs / "tansu.log") as broker:
        print(f"broker {broker.url} (logs in {args.logs})")
        if args.offsets_check:
            end_offsets_check(broker)
        if args.join_sweep:
            join_sweep(broker, args.join_sweep)
        header = (
            f"{'config':9} {'start':10} {'joins':>5} {'ready s':>8} {'1st msg s':>9} "
            f"{'recovered':>9} {'prev final':>10} {'final':>6}"
        )
        print(header)
        print("-" * len(header), flush=True)
        for name, settings in configs.items():
            for r in scenario(broker, name, settings, args.batch, args.timeout, args.logs):
                cells = [r.get(k) for k in ("recovered", "previous_final", "table_now")]
                cells = ["-" if c is None else c for c in cells]
                ready = r.get("ready", "TIMEOUT")
                first = r.get("first_processed", "TIMEOUT")
                print(
                    f"{r['config']:9} {r['step']:10} {r.get('joins', 0):>5} {ready!s:>8} "
                    f"{first!s:>9} {cells[0]!s:>9} {cells[1]!s:>10} {cells[2]!s:>6}",
                    flush=True,
                )
                if args.timeline:
                    phases = {k: r[k] for k in (*PHASES, "first_processed") if k in r}
                    print("    " + "  ".join(f"{k}={v}" for k, v in phases.items()), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        _, _, url, app_id, settings = sys.argv
        run_worker(url, app_id, json.loads(settings))
    else:
        sys.exit(main())
