"""Whole-pipeline throughput: raw page in → article out, real broker.

Baseline (same run, same broker, same pages): a bare aiokafka loop that consumes the raw
pages and produces one message per page, calling the same pure stages (extract,
fingerprint, enrich) — i.e. the ceiling for "Kafka + the stage work, without Faust, tables,
repartitions or dedupe". Kabar's figure is the real worker: every agent, both dedupe
repartitions, the tables and their changelogs. Target (issue 15): Kabar >= 0.85x baseline.

Scaling: fleets of one and of two `kabar worker` processes over the same pages. Once the
group is stable the workers are paused (SIGSTOP, well within the session timeout) while
the pages are sent, so the bench's own produce does not compete with them; throughput runs
from their resumption to the last output's record time.
Target: two workers >= 1.7x one (needs two otherwise idle cores: the load is printed).

Each side is measured --rounds times, interleaved, and the best round of each is compared
(load from other processes only ever slows a round down). CPU ms/page (this process, over
the measured window) is a figure that load does not move much.

With --against REV, each round also runs a fleet of one worker from that git revision (a
before/after figure in the same run), and with --against-two a fleet of two of them too.

Beside each whole-window rate it prints a steady-state one: pages/s between the outputs at
the 10th and 90th percentile, with the fill and drain times around them.

    .venv/bin/python bench/pipeline.py [--pages 300] [--rounds 2] [--no-fleet]
                                       [--against REV [--against-two]]
                                       [--broker kafka://…|--tansu]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.extraction import ensure_data  # noqa: E402
from bench.requests_sent import SENT, count_requests, read_counts  # noqa: E402
from tests.fleet import Fleet, group_state  # noqa: E402
from worker import enrich  # noqa: E402
from worker.app import max_message_bytes  # noqa: E402
from worker.extract import ExtractionError  # noqa: E402
from worker.kafka_io import (  # noqa: E402
    bootstrap_servers,
    ensure_topics,
    list_topics,
    partitions_of,
)
from worker.metrics import PipelineStats  # noqa: E402
from worker.models import RawPage  # noqa: E402
from worker.runner import run_pipeline  # noqa: E402
from worker.settings import load_settings  # noqa: E402
from worker.stages import article_from_page  # noqa: E402

PARTITIONS = 4
#: the fleet's output topics: every page ends on one of them
OUTPUTS = ("articles", "duplicates", "deadletter")


@dataclass(frozen=True, slots=True)
class Steady:
    """The rate with the pipeline full: pages per second between the outputs at the 10th
    and the 90th percentile of their record times; ``fill`` is the time from the window's
    start to the first of those, ``drain`` from the last of them to the last output."""

    pages_per_s: float
    fill: float
    drain: float


def steady(stamps: list[float], started: float) -> Steady:
    """:class:`Steady` from output record times (seconds since the epoch) and the time
    the window started."""
    times = sorted(stamps)
    first, last = int(len(times) * 0.1), int(len(times) * 0.9) - 1
    return Steady((last - first) / (times[last] - times[first]), times[first] - started,
                  times[-1] - times[last])


@dataclass(frozen=True, slots=True)
class Rate:
    pages_per_s: float
    #: CPU of the process(es) doing the work over the measured window, per page
    cpu_ms_per_page: float | None = None
    #: that CPU over the window's wall time: how many cores the workers got
    cores: float | None = None
    #: records the worker produced per page (every topic and changelog of its prefix)
    records_per_page: float | None = None
    #: CPU of the broker process over the same window, per page (None: not ours to see)
    broker_ms_per_page: float | None = None
    #: CPU of this (the bench's) process over the window, per page, when it is not the worker
    bench_ms_per_page: float | None = None
    #: cores busy over the window with anything but the workers, the broker and the bench
    others_cores: float | None = None
    #: Kafka requests the worker(s) sent over the window, per page, by type
    requests_per_page: dict[str, float] = field(default_factory=dict)
    #: the rate with the pipeline full, from the outputs' record times
    steady: Steady | None = None
    #: each worker process's share of the workers' CPU over the window (a fleet's)
    shares: tuple[float, ...] = ()

    @property
    def rebalanced(self) -> bool:
        """Whether the group rebalanced within the window (its members joined again)."""
        return any(self.requests_per_page.get(kind) for kind in ("JoinGroup", "SyncGroup"))


async def record_times(url: str, topics: list[str]) -> list[float]:
    """The record times (seconds since the epoch) of every record in ``topics``."""
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(url),
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=20_000_000,
                                fetch_max_bytes=50_000_000)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p)
               for topic, parts in (await partitions_of(url, topics)).items() for p in parts]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        times: list[float] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                times.extend(record.timestamp / 1000 for record in records)
        return times
    finally:
        await consumer.stop()


async def records_under(url: str, prefix: str) -> int:
    """Records in every topic whose name starts with ``prefix`` (end offsets: no topic
    of a fresh prefix is compacted or truncated by then)."""
    from aiokafka.structs import TopicPartition

    topics = [t for t in await list_topics(url) if t.startswith(prefix)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(url))
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p)
               for topic, parts in (await partitions_of(url, topics)).items() for p in parts]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy since boot (Linux /proc/stat)."""
    # user nice system idle iowait irq softirq steal
    jiffies = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(jiffies) - jiffies[3] - jiffies[4]) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Reading:
    """CPU seconds (and requests sent) at one moment, to subtract from a later reading."""

    wall: float
    #: the same moment in seconds since the epoch (as record times are)
    epoch: float
    workers: float
    broker: float | None
    bench: float
    machine: float
    requests: Counter[str]


def reading(workers: Callable[[], float], broker_pid: int | None,
            requests: Callable[[], Counter[str]]) -> Reading:
    return Reading(time.perf_counter(), time.time(), workers(),
                   cpu_seconds(broker_pid) if broker_pid is not None else None,
                   time.process_time(), machine_busy_seconds(), requests())


def per_page(start: Reading, end: Reading, pages: int, pages_per_s: float, *,
             bench_is_worker: bool, records_per_page: float | None = None,
             outputs: list[float] | None = None) -> Rate:
    """A Rate from two readings around the window in which ``pages`` were handled."""
    wall, workers = end.wall - start.wall, end.workers - start.workers
    broker = end.broker - start.broker if end.broker is not None and start.broker is not None \
        else None
    bench = 0.0 if bench_is_worker else end.bench - start.bench
    others = end.machine - start.machine - workers - bench - (broker or 0.0)
    return Rate(pages_per_s, workers * 1000 / pages, workers / wall, records_per_page,
                broker * 1000 / pages if broker is not None else None,
                None if bench_is_worker else bench * 1000 / pages, max(0.0, others) / wall,
                {kind: n / pages for kind, n in (end.requests - start.requests).items()},
                steady(outputs, start.epoch) if outputs else None)


def load_pages(limit: int) -> list[RawPage]:
    """Raw pages from the shared evaluation sets, as the fetch agent would publish them."""
    sets = ["fundus", "wcxb", "trafilatura"]
    ensure_data(ROOT / ".data", sets)
    pages: list[RawPage] = []
    for name in sets:
        for html_file in sorted((ROOT / ".data" / name / "html").glob("*.html")):
            html = html_file.read_bytes().decode("utf-8", "replace")
            url = f"https://bench.example/{name}/{html_file.stem}"
            pages.append(RawPage(url=url, final_url=url, status=200, html=html,
                                 fetched_at="2026-01-01T00:00:00+00:00", charset="utf-8"))
            if len(pages) >= limit:
                return pages
    return pages


async def produce(url: str, topic: str, pages: list[RawPage]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(url),
                                max_request_size=25_000_000, linger_ms=5)
    await producer.start()
    try:
        for page in pages:
            await producer.send(topic, page.to_json(), key=page.final_url.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def bare_loop(url: str, pages: list[RawPage], broker_pid: int | None) -> Rate:
    """Pages/s of consume → stages → produce with plain aiokafka."""
    source, sink = f"bench-{uuid.uuid4().hex[:8]}.pages", f"bench-{uuid.uuid4().hex[:8]}.out"
    await ensure_topics(url, [source, sink], partitions=PARTITIONS, replication=1,
                        max_message_bytes=25_000_000)
    await produce(url, source, pages)
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap_servers(url),
                                group_id=f"bench-{uuid.uuid4().hex[:8]}",
                                auto_offset_reset="earliest", max_partition_fetch_bytes=20_000_000,
                                fetch_max_bytes=50_000_000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(url),
                                max_request_size=25_000_000, linger_ms=5)
    await consumer.start()
    await producer.start()
    done, started = 0, None
    try:
        while done < len(pages):
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    if started is None:
                        started = reading(time.process_time, broker_pid, SENT.copy)
                    page = RawPage.from_json(record.value)
                    try:
                        out = article_from_page(page.html, page.final_url).to_json()
                    except ExtractionError as exc:
                        out = str(exc).encode()
                    await producer.send(sink, out, key=record.key)
                    done += 1
            await consumer.commit()
        await producer.flush()
        end = reading(time.process_time, broker_pid, SENT.copy)
        assert started is not None
        return per_page(started, end, len(pages), len(pages) / (end.wall - started.wall),
                        bench_is_worker=True, outputs=await record_times(url, [sink]))
    finally:
        await consumer.stop()
        await producer.stop()


async def kabar_worker(url: str, pages: list[RawPage],
                       broker_pid: int | None) -> tuple[Rate, PipelineStats]:
    """Pages/s of the real Kabar worker (in this process) over the same pages, from the
    first page cleaned to the moment every message it sent was handled."""
    settings = load_settings(env={})
    settings.broker.url = url
    settings.topic.prefix = f"bench{uuid.uuid4().hex[:8]}."
    settings.topic.partitions = PARTITIONS
    settings.store.data_dir = tempfile.mkdtemp(prefix="kabar-bench-")
    settings.dedupe.settle_seconds = 0.0
    await ensure_topics(url, [settings.topic_name("pages")], partitions=PARTITIONS,
                        replication=1, max_message_bytes=max_message_bytes(settings))
    await produce(url, settings.topic_name("pages"), pages)
    stats = PipelineStats()
    stats.sent["pages"] = len(pages)  # published above, by "the fetcher"
    window: list[Reading] = []  # at the first page handled and at the end

    async def watch() -> None:
        while not stats.done["pages"]:
            await asyncio.sleep(0.005)
        window.append(reading(time.process_time, broker_pid, SENT.copy))
        while stats.done["pages"] < len(pages) or not stats.drained(quiet_for=0.0):
            await asyncio.sleep(0.005)
        window.append(reading(time.process_time, broker_pid, SENT.copy))

    watcher = asyncio.create_task(watch())
    await run_pipeline(settings, sources=None, once=True, progress=False, stats=stats,
                       timeout=600)
    await watcher
    start, end = window
    # the topics are "<prefix>name", the changelogs "<prefix without the dot>-table-changelog"
    produced = await records_under(url, settings.topic.prefix.rstrip(".")) - len(pages)
    outputs = await record_times(url, [settings.topic_name(t) for t in OUTPUTS])
    return per_page(start, end, len(pages), len(pages) / (end.wall - start.wall),
                    bench_is_worker=True, records_per_page=produced / len(pages),
                    outputs=outputs), stats


def checkout(revision: str, into: Path) -> Path:
    """The source tree of a git revision of this repository, written under ``into``."""
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


async def settled(group: Fleet, members: int, quiet: float = 4.0) -> None:
    """Until the group has stayed Stable with ``members`` members for ``quiet`` seconds: a
    new fleet may rebalance once more just after its first stable state (seen as JoinGroup
    and SyncGroup requests in half the two-worker windows), which would stall the window."""
    bootstrap = bootstrap_servers(group.broker_url)
    since = time.monotonic()
    while time.monotonic() - since < quiet:
        await asyncio.sleep(0.5)
        if await group_state(bootstrap, group.group) != ("Stable", members):
            await group.wait_stable(members, timeout=300)
            since = time.monotonic()


async def fleet(url: str, pages: list[RawPage], workers: int, logs: Path,
                broker_pid: int | None, source: Path | None = None) -> Rate:
    """Pages/s of ``workers`` `kabar worker` processes sharing one group: from the moment
    they resume with every page waiting to the last output's record time (stamped by the
    workers); and their CPU over the same window."""
    from aiokafka.structs import TopicPartition

    prefix = f"bench{uuid.uuid4().hex[:8]}."
    settings = load_settings(env={})
    settings.topic.prefix = prefix
    await ensure_topics(url, [settings.topic_name(t) for t in ("pages", *OUTPUTS)],
                        partitions=PARTITIONS, replication=1,
                        max_message_bytes=max_message_bytes(settings))
    group = Fleet(url, prefix, logs, env={"KABAR_TOPIC_PARTITIONS": str(PARTITIONS),
                                          "KABAR_DEDUPE_SETTLE_SECONDS": "0",
                                          # bench/requestcount/sitecustomize.py
                                          "PYTHONPATH": str(ROOT / "bench" / "requestcount")},
                  cwd=source)
    counts = [logs / f"{prefix}w{n}.requests.json" for n in range(workers)]

    def requests() -> Counter[str]:
        return sum(map(read_counts, counts), Counter())

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(url),
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        for n in range(workers):
            group.start(f"{prefix}w{n}", KABAR_BENCH_REQUESTS=str(counts[n]))
        await group.wait_stable(workers, timeout=300)
        await settled(group, workers)
        consumer.assign([TopicPartition(settings.topic_name(t), p)
                         for t in OUTPUTS for p in range(PARTITIONS)])
        pids = [process.pid for process in group.workers.values()]
        for name in group.workers:
            group.pause(name)
        try:
            await produce(url, settings.topic_name("pages"), pages)
        finally:
            for name in group.workers:
                group.resume(name)

        def workers_cpu() -> float:
            return sum(map(cpu_seconds, pids))

        start, resumed = reading(workers_cpu, broker_pid, requests), time.time()
        each = [cpu_seconds(pid) for pid in pids]
        stamps: list[float] = []
        deadline = time.monotonic() + 600
        while len(stamps) < len(pages) and time.monotonic() < deadline:
            group.check_alive()
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                stamps.extend(record.timestamp / 1000 for record in records)
        if len(stamps) < len(pages):
            raise RuntimeError(f"{workers} worker(s): {len(stamps)} of {len(pages)} outputs")
        end = reading(workers_cpu, broker_pid, requests)
        each = [cpu_seconds(pid) - before for pid, before in zip(pids, each, strict=True)]
        await asyncio.sleep(0.3)  # the workers write their request counts every 0.2 s
        rate = per_page(dataclasses.replace(start, epoch=resumed),
                        dataclasses.replace(end, requests=requests()), len(pages),
                        len(stamps) / (max(stamps) - resumed), bench_is_worker=False,
                        outputs=stamps)
        return dataclasses.replace(rate, shares=tuple(cpu / sum(each) for cpu in each))
    finally:
        await consumer.stop()
        group.stop_all()


def best(rates: list[Rate]) -> Rate:
    return max(rates, key=lambda rate: rate.pages_per_s)


async def broker_idle_cores(broker_pid: int | None, seconds: float = 3.0) -> float | None:
    """The broker's CPU, in cores, while no client works: its fixed cost, which a slower
    round spreads over fewer pages per second."""
    if broker_pid is None:
        return None
    before = cpu_seconds(broker_pid)
    await asyncio.sleep(seconds)
    return (cpu_seconds(broker_pid) - before) / seconds


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_costs(bare: list[Rate], kabar: list[Rate], fleets: dict[int, list[Rate]],
                no_fleet: bool) -> None:
    """Where the CPU of each configuration went (best round), the robust estimators beside
    the best-of ones above, and the scaling the CPU costs allow on this machine."""
    print("CPU per page over each best round's window (ms; broker: the JVM; bench: this "
          "process when it is not the worker; others: cores busy with anything else), and "
          "Kafka requests the worker(s) sent per page:")
    print(f"{'':36}{'worker':>8}{'broker':>8}{'bench':>7}{'others':>8}   requests/page")
    rows = [("bare aiokafka loop + stages", bare), ("kabar worker, all agents", kabar)]
    if not no_fleet:
        rows += [(f"fleet of {n} `kabar worker`", rates) for n, rates in fleets.items()]
    for label, rates in rows:
        top = best(rates)
        requests = " ".join(f"{kind} {n:.3g}" for kind, n in
                            sorted(top.requests_per_page.items(), key=lambda kv: -kv[1]))
        print(f"{label:36}{ms(top.cpu_ms_per_page):>8}{ms(top.broker_ms_per_page):>8}"
              f"{ms(top.bench_ms_per_page):>7}{top.others_cores or 0:>8.2f}   "
              f"{sum(top.requests_per_page.values()):.2f} ({requests})")
    # Rounds drift with other work on the machine, not with the broker's history (the worker
    # on a fresh broker and on one that had run the rounds before: no trend in 4 rounds)
    print("cores busy with other work in each round's window: "
          + "; ".join(f"{label.split(',')[0].split(' + ')[0]} "
                      + " ".join(f"{r.others_cores or 0:.2f}" for r in rates)
                      for label, rates in rows))
    ratios = [k.pages_per_s / b.pages_per_s for b, k in zip(bare, kabar, strict=True)]
    cpu = [b.cpu_ms_per_page / k.cpu_ms_per_page for b, k in zip(bare, kabar, strict=True)
           if b.cpu_ms_per_page and k.cpu_ms_per_page]
    print(f"ratio kabar/baseline, median of the per-round ratios: {statistics.median(ratios):.2f};"
          f" by CPU per page (bare/kabar), median: {statistics.median(cpu):.2f}")
    if no_fleet:
        return
    scalings = [two.pages_per_s / one.pages_per_s
                for one, two in zip(fleets[1], fleets[2], strict=True)]
    print(f"scaling 2 workers/1, median of the per-round ratios: {statistics.median(scalings):.2f}")
    two, one = best(fleets[2]), best(fleets[1])
    if two.cpu_ms_per_page and one.cpu_ms_per_page and two.broker_ms_per_page is not None:
        cores = os.cpu_count() or 1
        total = two.cpu_ms_per_page + two.broker_ms_per_page + (two.bench_ms_per_page or 0)
        ceiling, alone = cores * 1000 / total, 1000 / one.cpu_ms_per_page
        c, b = one.cpu_ms_per_page, one.broker_ms_per_page or 0.0
        print(f"two workers' ceiling when CPU-bound on {cores} otherwise idle cores: "
              f"{cores} s/s / ({two.cpu_ms_per_page:.1f} workers + "
              f"{two.broker_ms_per_page:.1f} broker + {two.bench_ms_per_page or 0:.1f} bench ms"
              f"/page) = {ceiling:.0f} pages/s = {ceiling / alone:.2f}x one worker on a core "
              f"of its own (1000/{c:.1f} ms = {alone:.0f} pages/s); 2c/(c+b) with one worker's "
              f"c and b ({b:.1f}): {2 * c / (c + b):.2f}")


def print_steady(rows: list[tuple[str, list[Rate]]]) -> None:
    """The rates with the pipeline full, beside the whole-window ones above: a round of a
    few seconds includes the time the pipeline takes to fill (its first outputs wait for
    three hops) and to drain, which the bare loop (one hop) hardly has."""
    print("steady state: pages/s between the 10th and the 90th percentile output (record "
          "times); fill: window start to the 10th, drain: 90th to the last output (s)")
    for label, rates in rows:
        if not rates or any(r.steady is None for r in rates):
            continue
        top = max(rates, key=lambda r: r.steady.pages_per_s if r.steady else 0.0)
        assert top.steady is not None
        print(f"{label:36}{top.steady.pages_per_s:>9.1f}   rounds: " + " ".join(
            f"{r.steady.pages_per_s:.1f} (fill {r.steady.fill:.2f}, drain {r.steady.drain:.2f})"
            for r in rates if r.steady))

    def ratios(top: list[Rate], bottom: list[Rate]) -> list[float]:
        return [a.steady.pages_per_s / b.steady.pages_per_s
                for a, b in zip(top, bottom, strict=True) if a.steady and b.steady]

    named = dict(rows)
    pairs = [("ratio kabar/baseline", "kabar worker, all agents", "bare aiokafka loop + stages",
              0.85),
             ("scaling 2 workers/1", "fleet of 2 `kabar worker`", "fleet of 1 `kabar worker`",
              1.7)]
    for label, top, bottom, target in pairs:
        per_round = ratios(named.get(top, []), named.get(bottom, []))
        if per_round:
            best_of = (max(r.steady.pages_per_s for r in named[top] if r.steady)
                       / max(r.steady.pages_per_s for r in named[bottom] if r.steady))
            print(f"{label}, steady state: {best_of:.2f} best-of (target >= {target}); "
                  f"median of the per-round ratios {statistics.median(per_round):.2f}; "
                  "per round: " + " ".join(f"{r:.2f}" for r in per_round))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-fleet", action="store_true",
                        help="skip the one- and two-process fleet (scaling)")
    parser.add_argument("--broker", help="kafka://host:port (default: start Apache Kafka if "
                        "Java and Maven are present, else the embedded Tansu broker)")
    parser.add_argument("--tansu", action="store_true", help="use the embedded broker")
    parser.add_argument("--against", metavar="REV",
                        help="also run one worker from this git revision, each round")
    parser.add_argument("--against-two", action="store_true",
                        help="with --against, also two workers from that revision (its scaling)")
    args = parser.parse_args()
    pages = load_pages(args.pages)
    count_requests()
    # the worker loads its gazetteers and language model at start, outside its window: so
    # does the bare loop (its first round used to load them while timed)
    enrich.warm()
    with tempfile.TemporaryDirectory() as tmp:
        if args.broker:
            url, name, broker = args.broker, "given", None
        else:
            from tests.brokers import ApacheKafka, java_and_maven_available
            from worker.broker import EmbeddedBroker

            if args.tansu or not java_and_maven_available():
                broker, name = EmbeddedBroker(), "Tansu (embedded)"
            else:
                broker, name = ApacheKafka(Path(tmp)), "Apache Kafka 4"
            broker.start()
            url = broker.url
        # the broker's CPU is read from /proc when it is ours
        broker_pid = getattr(getattr(broker, "_proc", None), "pid", None)
        bare: list[Rate] = []
        kabar: list[Rate] = []
        fleets: dict[int, list[Rate]] = {1: [], 2: []}
        against: list[Rate] = []
        against_two: list[Rate] = []
        older = checkout(args.against, Path(tmp) / "against") if args.against else None
        idle = await broker_idle_cores(broker_pid)
        loads: list[float] = []
        try:
            for _ in range(args.rounds):
                loads.append(os.getloadavg()[0])
                bare.append(await bare_loop(url, pages, broker_pid))
                rate, stats = await kabar_worker(url, pages, broker_pid)
                kabar.append(rate)
                print(f"round: bare {bare[-1].pages_per_s:.1f}, kabar {rate.pages_per_s:.1f} "
                      f"pages/s", file=sys.stderr)
                for workers in () if args.no_fleet else (1, 2):
                    fleets[workers].append(await fleet(url, pages, workers, Path(tmp),
                                                        broker_pid))
                    print(f"round: {workers} worker(s) {fleets[workers][-1].pages_per_s:.1f} "
                          f"pages/s", file=sys.stderr)
                if older is not None:
                    against.append(await fleet(url, pages, 1, Path(tmp), broker_pid,
                                               source=older))
                    print(f"round: 1 worker of {args.against} {against[-1].pages_per_s:.1f} "
                          f"pages/s", file=sys.stderr)
                if older is not None and args.against_two:
                    against_two.append(await fleet(url, pages, 2, Path(tmp), broker_pid,
                                                   source=older))
                    print(f"round: 2 workers of {args.against} "
                          f"{against_two[-1].pages_per_s:.1f} pages/s", file=sys.stderr)
            loads.append(os.getloadavg()[0])
        finally:
            if broker is not None:
                broker.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    baseline, one = best(bare), best(kabar)
    print(f"broker: {name}; {len(pages)} raw pages (shared data), {PARTITIONS} partitions; "
          f"best of {args.rounds} rounds; load average {min(loads):.1f}-{max(loads):.1f} "
          f"on {os.cpu_count()} cores")
    print(f"{'':36}{'pages/s':>9}{'CPU ms/page':>13}{'cores':>7}   rounds (pages/s)")
    for label, rates in (("bare aiokafka loop + stages", bare),
                         ("kabar worker, all agents", kabar)):
        cpu = best(rates).cpu_ms_per_page
        print(f"{label:36}{best(rates).pages_per_s:>9.1f}{cpu or 0:>13.1f}{'':>7}   "
              + " ".join(f"{r.pages_per_s:.1f}" for r in rates))
    print(f"ratio kabar/baseline: {one.pages_per_s / baseline.pages_per_s:.2f} "
          f"(target >= 0.85); per round: "
          + " ".join(f"{k.pages_per_s / b.pages_per_s:.2f}"
                     for b, k in zip(bare, kabar, strict=True)))
    if not args.no_fleet:
        for workers, rates in fleets.items():
            label = f"fleet of {workers} `kabar worker`"
            top = best(rates)
            print(f"{label:36}{top.pages_per_s:>9.1f}{top.cpu_ms_per_page or 0:>13.1f}"
                  f"{top.cores or 0:>7.2f}   "
                  + " ".join(f"{r.pages_per_s:.1f} ({r.cores or 0:.2f} cores"
                             f"{', rebalanced' if r.rebalanced else ''})" for r in rates))
        scaling = best(fleets[2]).pages_per_s / best(fleets[1]).pages_per_s
        print(f"scaling 2 workers/1: {scaling:.2f} (target >= 1.7, on otherwise idle "
              "cores); per round: "
              + " ".join(f"{two.pages_per_s / one_.pages_per_s:.2f}"
                         for one_, two in zip(fleets[1], fleets[2], strict=True)))
    if against:
        top = best(against)
        print(f"{f'1 `kabar worker` of {args.against}':36}{top.pages_per_s:>9.1f}"
              f"{top.cpu_ms_per_page or 0:>13.1f}{top.cores or 0:>7.2f}   "
              + " ".join(f"{r.pages_per_s:.1f}" for r in against))
        if not args.no_fleet:
            print(f"this tree / {args.against}, one worker: "
                  f"{best(fleets[1]).pages_per_s / top.pages_per_s:.2f}; per round: "
                  + " ".join(f"{new.pages_per_s / old.pages_per_s:.2f}"
                             for new, old in zip(fleets[1], against, strict=True)))
    if against_two:
        top = best(against_two)
        print(f"{f'2 `kabar worker`s of {args.against}':36}{top.pages_per_s:>9.1f}"
              f"{top.cpu_ms_per_page or 0:>13.1f}{top.cores or 0:>7.2f}   "
              + " ".join(f"{r.pages_per_s:.1f} ({r.cores or 0:.2f} cores)" for r in against_two))
        scaled = top.pages_per_s / best(against).pages_per_s
        per_round = " ".join(f"{two.pages_per_s / one_.pages_per_s:.2f}"
                             for one_, two in zip(against, against_two, strict=True))
        print(f"scaling 2 workers/1 of {args.against}: {scaled:.2f}; per round: {per_round}")
    print("records the in-process worker produced per page: "
          + " ".join(f"{r.records_per_page:.1f}" for r in kabar))
    print(f"kabar outputs (last round): {dict(stats.counts)}")
    print_costs(bare, kabar, fleets, args.no_fleet)
    rows = [("bare aiokafka loop + stages", bare), ("kabar worker, all agents", kabar)]
    if not args.no_fleet:
        rows += [(f"fleet of {n} `kabar worker`", rates) for n, rates in fleets.items()]
    if against:
        rows.append((f"1 `kabar worker` of {args.against}", against))
    if against_two:
        rows.append((f"2 `kabar worker`s of {args.against}", against_two))
    print_steady(rows)
    for label, rates in rows:
        if any(len(r.shares) > 1 for r in rates):
            print(f"{label}: each worker's share of their CPU, per round: " + " ".join(
                "/".join(f"{share:.2f}" for share in r.shares) for r in rates))
    if idle is not None:
        print(f"the broker's own CPU with no client working (3 s before the first round): "
              f"{idle:.3f} cores")
    print(f"peak RSS of this process: {rss:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
