"""Soak: a fleet of `kabar worker` processes on Apache Kafka for half an hour (or --minutes),
fed a steady stream of new and edited stories, with a random fault every few minutes from the
chaos list (worker SIGKILL / SIGTERM / SIGSTOP, broker SIGKILL, a 20 s network cut).

Every minute, and at the end, it prints the workers' RSS, the size of every changelog on the
broker's disk, the consumer lag, rebalances per hour and the lag a minute after each fault.
At the end it drains the pipeline and counts every story against the delivery contract:
lost, doubled, versions gone backwards.

    python bench/soak.py                   # 30 minutes, 2 workers
    python bench/soak.py --minutes 5 --fault-every 60
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from tests.brokers import ApacheKafka, free_port
from tests.chaos import (
    ChaosNewsroom,
    TcpProxy,
    consumer_lag,
    read_outcomes,
    tally,
)
from tests.fleet import Fleet, group_state
from worker.kafka_io import bootstrap_servers
from worker.stages import article_from_page

INPUT_TOPICS = ("fetch", "pages", "dedupe-id", "dedupe-content")
FAULTS = ("worker-sigkill", "worker-sigterm", "worker-sigstop", "broker-sigkill",
          "network-cut")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def changelog_bytes(data_dir: Path, group: str) -> dict[str, int]:
    """Bytes of records on the broker's disk per changelog topic of ``group`` (segment
    .log files only: Kafka preallocates its index files at 10 MB each, sparse)."""
    sizes: Counter[str] = Counter()
    for partition_dir in data_dir.glob(f"{group}-*-changelog-*"):
        topic = partition_dir.name.rsplit("-", 1)[0].removeprefix(f"{group}-")
        sizes[topic] += sum(f.stat().st_size for f in partition_dir.glob("*.log"))
    return dict(sizes)


class Soak:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.rng = random.Random(args.seed)
        self.proxy_port = free_port()
        self.kafka = ApacheKafka(workdir / "kafka", advertised_port=self.proxy_port)
        self.proxy = TcpProxy(self.kafka.port, self.proxy_port)
        self.prefix = f"s{uuid.uuid4().hex[:8]}."
        self.newsroom = ChaosNewsroom(args.hosts, 3, seed=args.seed)
        self.versions: dict[str, int] = {}  # edited story URL → edits made
        self.rebalances = 0
        self.stopping = False  # no new fault once set; one under way runs to its end
        self.fault_log: list[str] = []
        self.started = time.monotonic()

    @property
    def url(self) -> str:
        return self.kafka.url

    def write_sources(self) -> Path:
        path = self.workdir / "sources.toml"
        path.write_text("".join(
            f'[[source]]\nname = "site-{a}"\nurl = "{self.newsroom.feed_url(a)}"\n'
            'kind = "feed"\npoll_interval = "10s"\nmin_poll_interval = "5s"\n'
            'max_poll_interval = "20s"\n\n' for a in self.newsroom.addresses))
        return path

    async def publish(self) -> None:
        """New stories at a steady rate; now and then an edit of a recent one."""
        while True:
            await asyncio.sleep(self.args.story_every)
            address = self.rng.choice(self.newsroom.addresses)
            stories = self.newsroom.stories[address]
            if self.rng.random() < 0.1 and len(stories) > 3:
                index = self.rng.randrange(max(0, len(stories) - 10), len(stories))
                self.newsroom.edit_story(address, index)
                url = f"{self.newsroom.base_url(address)}{stories[index].path}"
                self.versions[url] = self.versions.get(url, 0) + 1
            else:
                self.newsroom.add_story(address)

    def stale_edits(self, articles: list[dict]) -> list[str]:
        """Edited stories whose current text never came out as an article (an edit may
        land between two polls with another, so versions are not counted one per edit)."""
        emitted = {(a["url"], a["fingerprints"]["content_hash"]) for a in articles}
        stale = []
        for url in self.versions:
            address, path = url.split("//", 1)[1].split(":", 1)[0], url.split("/", 3)[3]
            story = next(s for s in self.newsroom.stories[address] if s.path == f"/{path}")
            page = article_from_page(story.html, url, enrich_article=False)
            if (url, page.fingerprints["content_hash"]) not in emitted:
                stale.append(url)
        return stale

    async def watch_rebalances(self) -> None:
        bootstrap = bootstrap_servers(self.url)
        last = "Stable"
        while True:
            try:
                state, _ = await group_state(bootstrap, self.fleet.group)
            except Exception:  # broker down or cut off during a fault
                state = "unknown"
            if state in ("PreparingRebalance", "CompletingRebalance") and last == "Stable":
                self.rebalances += 1
            if not state.startswith("unknown"):
                last = state
            await asyncio.sleep(1)

    async def inject(self, fault: str) -> None:
        name = self.rng.choice(sorted(self.fleet.workers))
        if fault == "worker-sigkill":
            self.fleet.kill(name)
            await asyncio.sleep(3)
            self.fleet.start(name)
        elif fault == "worker-sigterm":
            await asyncio.to_thread(self.fleet.terminate, name)
            self.fleet.start(name)
        elif fault == "worker-sigstop":
            self.fleet.pause(name)
            await asyncio.sleep(self.args.session_timeout * 2.5)
            self.fleet.resume(name)
        elif fault == "broker-sigkill":
            self.kafka.kill()
            await asyncio.sleep(6)
            # the JVM from the main thread (it dies with this process), the wait in a thread
            await asyncio.to_thread(self.kafka.wait_serving, self.kafka.launch())
        elif fault == "network-cut":
            self.proxy.cut()
            await asyncio.sleep(20)
            self.proxy.heal()

    async def faults(self) -> None:
        while not self.stopping:
            await asyncio.sleep(self.args.fault_every)
            if self.stopping:
                return
            fault = self.rng.choice(FAULTS)
            began = time.monotonic()
            await self.inject(fault)
            await asyncio.sleep(60)
            lag = await self.lag()
            self.fault_log.append(f"{self.elapsed():.0f}s {fault} (took "
                                  f"{time.monotonic() - began - 60:.0f}s): lag 60s later {lag}")
            print(f"  fault: {self.fault_log[-1]}", flush=True)

    async def lag(self) -> int | str:
        try:
            return await consumer_lag(self.url, self.fleet.group,
                                      [f"{self.prefix}{t}" for t in INPUT_TOPICS])
        except Exception as exc:
            return f"unreachable ({type(exc).__name__})"

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def report(self, final: bool = False) -> None:
        rss = {n: round(rss_mb(p.pid)) for n, p in sorted(self.fleet.workers.items())}
        logs = changelog_bytes(self.kafka.workdir / "data", self.fleet.group)
        stories = len(self.newsroom.story_urls())
        hours = max(self.elapsed() / 3600, 1e-9)
        print(f"{'END' if final else 'min'} {self.elapsed() / 60:5.1f}  stories {stories}  "
              f"edits {sum(self.versions.values())}  RSS MB {rss}  lag {await self.lag()}  "
              f"rebalances {self.rebalances} ({self.rebalances / hours:.0f}/h)  changelogs kB "
              f"{ {k: round(v / 1024) for k, v in sorted(logs.items())} }", flush=True)

    async def run(self) -> int:
        args = self.args
        with self.proxy, self.kafka:
            async with self.newsroom:
                sources = self.write_sources()
                self.fleet = Fleet(self.url, self.prefix, self.workdir, env={
                    "KABAR_TOPIC_PARTITIONS": "4",
                    "KABAR_BROKER_SESSION_TIMEOUT": str(args.session_timeout),
                    "KABAR_FETCH_PER_HOST_DELAY": "0.5",
                    "KABAR_FETCH_ALLOW_PRIVATE_ADDRESSES": "1",
                    "KABAR_SOURCES_FILE": str(sources),
                    "KABAR_STORE_URL": args.store,
                })
                for n in range(args.workers):
                    self.fleet.start(f"w{n}")
                    await self.fleet.wait_stable(n + 1)
                with open(self.workdir / "poller.log", "wb") as poller_log:
                    poller = await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "worker", "fetch", "--sources", str(sources),
                        "--broker", self.url, stderr=poller_log,
                        env={**os.environ, "KABAR_TOPIC_PREFIX": self.prefix})
                tasks = [asyncio.create_task(c) for c in
                         (self.publish(), self.watch_rebalances(), self.faults())]
                try:
                    deadline = time.monotonic() + args.minutes * 60
                    while time.monotonic() < deadline:
                        await asyncio.sleep(min(60, max(0.0, deadline - time.monotonic())))
                        await self.report()
                    tasks[0].cancel()  # no more stories
                    self.stopping = True  # no more faults: the one under way heals first
                    await tasks[2]
                    print("draining …", flush=True)
                    urls = self.newsroom.story_urls()
                    drain_deadline = time.monotonic() + 300
                    while time.monotonic() < drain_deadline:
                        articles, duplicates, dead = await read_outcomes(self.url, self.prefix)
                        found = tally(urls, articles, duplicates, dead)
                        if (not found.lost and not self.stale_edits(articles)
                                and await self.lag() == 0):
                            break
                        await asyncio.sleep(5)
                    await asyncio.sleep(5)
                    await self.report(final=True)
                finally:
                    for task in tasks:
                        task.cancel()
                    poller.terminate()
                    await poller.wait()
                    self.fleet.stop_all()
                articles, duplicates, dead = await read_outcomes(self.url, self.prefix)
                found = tally(urls, articles, duplicates, dead)
                stale = self.stale_edits(articles)
                print(f"outcomes: {found.summary()}  article records {len(articles)}  "
                      f"versions>1 emitted {sum(1 for a in articles if a['version'] > 1)}  "
                      f"edited stories whose last text never came out {len(stale)}")
                print("faults:\n  " + "\n  ".join(self.fault_log or ["none"]))
                if found.lost:
                    print(f"lost (first 10): {found.lost[:10]}")
                return 1 if found.lost or found.doubled or stale else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hosts", type=int, default=6)
    parser.add_argument("--story-every", type=float, default=3.0,
                        help="seconds between new stories across all sites (default 3)")
    parser.add_argument("--fault-every", type=float, default=240.0,
                        help="seconds between faults (default 240)")
    parser.add_argument("--session-timeout", type=float, default=6.0)
    parser.add_argument("--store", default="memory://", help="KABAR_STORE_URL of the workers")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kabar-soak-") as tmp:
        return asyncio.run(Soak(args, Path(tmp)).run())


if __name__ == "__main__":
    raise SystemExit(main())
