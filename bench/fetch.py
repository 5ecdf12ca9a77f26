"""Fetch-stage benchmark: the stage (politeness, limits, seen-table, RawPage) against a bare
aiohttp loop over the same pages, in the same run, from one worker process.

    .venv/bin/python -m bench.fetch [--hosts 250] [--pages-per-host 20] [--delay 0.1]

A local server (its own process, so it does not share this process's event loop) serves
``--hosts`` distinct host names, all resolving to 127.0.0.1 through the fetcher's static
host table, and records per-host request times so the run can show the per-host delay was
kept. Printed: pages/s and MB/s for both loops, their ratio (target >= 0.5), the smallest
gap between two requests to one host during the stage run, and the seen-table's memory per
100,000 URLs (Python heap, and bytes of JSON on the changelog topic).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import multiprocessing
import socket
import statistics
import time
import tracemalloc
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import aiohttp
import orjson
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from worker.fetch.client import Fetcher
from worker.fetch.stage import FetchOutcome, handle_fetch_request
from worker.fetch.urls import host_of
from worker.models import FetchHints, FetchRequest
from worker.settings import FetchSettings
from worker.urls import canonical_url


def make_page(size: int) -> str:
    paragraph = ("<p>Jakarta, the capital, saw heavy rain on Saturday as officials said the "
                 "flood gates would stay open through the night. Residents were told to keep "
                 "away from the river banks until further notice.</p>\n")
    body = paragraph * max(1, size // len(paragraph))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Story {n}</title>'
        '<link rel="canonical" href="/article/{n}"></head><body><article><h1>Story {n}</h1>'
        + body + "</article></body></html>"
    )


def serve(port_queue: multiprocessing.Queue, page_size: int, compress: bool) -> None:
    """Server process: pages for any host name, per-host request log, /stats, /reset."""
    template = make_page(page_size)
    arrivals: dict[str, list[float]] = defaultdict(list)
    peers: set[object] = set()

    async def page(request: web.Request) -> web.Response:
        host = (request.host or "").rsplit(":", 1)[0]
        arrivals[host].append(time.monotonic())
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        body = template.replace("{n}", request.match_info["n"]).encode()
        if compress and "gzip" in request.headers.get("Accept-Encoding", ""):
            return web.Response(body=gzip.compress(body, 1), headers={
                "Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"})
        return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain")

    async def stats(request: web.Request) -> web.Response:
        gaps = [b - a for times in arrivals.values() for a, b in itertools.pairwise(times)]
        return web.json_response({"hosts": len(arrivals),
                                  "requests": sum(len(t) for t in arrivals.values()),
                                  "connections": len(peers),
                                  "min_gap": min(gaps) if gaps else None})

    async def reset(request: web.Request) -> web.Response:
        arrivals.clear()
        peers.clear()
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/article/{n}", page)
        app.router.add_get("/robots.txt", robots)
        app.router.add_get("/_stats", stats)
        app.router.add_get("/_reset", reset)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


class LoopbackResolver(AbstractResolver):
    """Every name is 127.0.0.1: the bare loop's equivalent of the fetcher's static hosts."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        return None


def bare_session(concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency, resolver=LoopbackResolver()))


async def bare_loop(session: aiohttp.ClientSession, urls: list[str], concurrency: int
                    ) -> tuple[float, int]:
    total = 0
    queue = list(reversed(urls))

    async def worker() -> None:
        nonlocal total
        while queue:
            # text(): the same product as the stage's (decoded HTML), by aiohttp's own means
            async with session.get(queue.pop()) as resp:
                total += len(await resp.text())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, total


async def stage_loop(fetcher: Fetcher, requests: list[FetchRequest], concurrency: int
                     ) -> tuple[float, int, int, dict]:
    """The stage over ``requests`` with a fresh seen-table, ``concurrency`` at a time (as the
    fetch agent runs with ``concurrency``)."""
    seen: dict[str, dict] = {}
    now = datetime.now(UTC)
    queue = list(reversed(requests))
    total = pages = 0
    dead: dict[str, int] = defaultdict(int)

    async def worker() -> None:
        nonlocal total, pages
        while queue:
            outcome: FetchOutcome = await handle_fetch_request(queue.pop(), fetcher, seen, now)
            for page in outcome.pages:
                pages += 1
                total += len(page.html)
            for letter in outcome.dead_letters:
                dead[letter.reason] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, pages, total, dict(dead)


def seen_table_memory(n: int = 100_000) -> tuple[float, float]:
    """(MiB of Python heap, MiB of JSON key+value) for n article entries as the stage
    writes them."""
    fetched = datetime(2026, 11, 25, tzinfo=UTC)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    table: dict[str, dict] = {}
    for i in range(n):
        url = canonical_url(f"https://www.news{i % 500}.example/nasional/{2026}/11/25/"
                            f"{i}/pemerintah-umumkan-kebijakan-baru-nomor-{i}")
        table[url] = {"fetched_at": (fetched + timedelta(seconds=i)).isoformat(),
                      "modified_at": None}
    heap = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    wire = sum(len(k) + len(orjson.dumps(v)) for k, v in table.items())
    return heap / 2**20, wire / 2**20


async def run(args: argparse.Namespace) -> None:
    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = ctx.Queue()
    server = ctx.Process(target=serve, args=(ports, args.page_size, args.gzip), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=30)
        names = [f"site{i}.bench" for i in range(args.hosts)]
        hosts = dict.fromkeys(names, "127.0.0.1")
        # Interleaved by host, as a partition of kabar.fetch interleaves its hosts.
        urls = [f"http://{name}:{port}/article/{k * args.hosts + i}"
                for k in range(args.pages_per_host) for i, name in enumerate(names)]
        now = datetime.now(UTC).isoformat()
        requests = [FetchRequest(url=u, source="bench", host=host_of(u), requested_at=now,
                                 hints=FetchHints()) for u in urls]
        settings = FetchSettings(allow_private_addresses=True, per_host_delay=args.delay,
                                 per_host_concurrency=args.per_host_concurrency,
                                 concurrency=args.concurrency, retries=0)
        bare_runs: list[tuple[float, float, int]] = []  # (wall s, cpu s, bytes)
        stage_runs: list[tuple[float, float, int, int]] = []  # (wall s, cpu s, bytes, pages)
        dead: dict[str, int] = {}
        min_gaps: list[float] = []
        async with aiohttp.ClientSession() as control, bare_session(args.concurrency) as bare, \
                Fetcher(settings, static_hosts=hosts) as fetcher:
            control_url = f"http://127.0.0.1:{port}"
            # Warm-up, for both: connections to every host, the server's code paths, and for
            # the stage every host's robots.txt (cached for a day in a running worker).
            warm = [f"http://{name}:{port}/article/warm" for name in names]
            await bare_loop(bare, warm, args.concurrency)
            await stage_loop(fetcher, [FetchRequest(url=u, source="bench", host=host_of(u),
                                                    requested_at=now) for u in warm],
                             args.concurrency)
            # Alternate the two loops so both see the same (shared, noisy) machine.
            for _ in range(args.rounds):
                await (await control.get(f"{control_url}/_reset")).read()
                cpu = time.process_time()
                wall, size = await bare_loop(bare, urls, args.concurrency)
                bare_runs.append((wall, time.process_time() - cpu, size))
                bare_stats = await (await control.get(f"{control_url}/_stats")).json()
                await (await control.get(f"{control_url}/_reset")).read()
                cpu = time.process_time()
                wall, pages, size, dead = await stage_loop(fetcher, requests, args.concurrency)
                stage_runs.append((wall, time.process_time() - cpu, size, pages))
                stats = await (await control.get(f"{control_url}/_stats")).json()
                if stats["min_gap"] is not None:
                    min_gaps.append(stats["min_gap"])
    finally:
        server.terminate()
        server.join(5)
    n = len(urls)
    bare_wall, bare_cpu, bare_bytes = sorted(bare_runs)[len(bare_runs) // 2]
    stage_wall, stage_cpu, stage_bytes, pages = sorted(stage_runs)[len(stage_runs) // 2]
    bare_rate, stage_rate = n / bare_wall, pages / stage_wall
    cap = args.hosts / args.delay if args.delay else float("inf")
    print(f"fetch benchmark: {args.hosts} hosts x {args.pages_per_host} pages = {n} pages of "
          f"~{args.page_size // 1024} KiB{' (gzip)' if args.gzip else ''}, concurrency "
          f"{args.concurrency}, per-host delay {args.delay} s "
          f"(politeness ceiling {cap:.0f} pages/s), per-host concurrency "
          f"{args.per_host_concurrency}; median of {args.rounds} alternating rounds, "
          f"connections and robots.txt warm (steady state)")
    print(f"  bare aiohttp loop : {bare_rate:8.1f} pages/s  {bare_bytes / bare_wall / 2**20:7.1f} "
          f"MB/s  ({bare_wall:.2f} s, client CPU {bare_cpu / n * 1e3:.2f} ms/page)")
    print(f"  fetch stage       : {stage_rate:8.1f} pages/s  "
          f"{stage_bytes / stage_wall / 2**20:7.1f} MB/s  ({stage_wall:.2f} s, client CPU "
          f"{stage_cpu / max(pages, 1) * 1e3:.2f} ms/page, {pages} pages, dead letters "
          f"{dead or 0})")
    ratios = [(s[3] / s[0]) / (n / b[0]) for b, s in zip(bare_runs, stage_runs, strict=True)]
    print(f"  stage / bare      : {statistics.median(ratios):.2f} median of the per-round ratios "
          f"(target >= 0.5); rounds: {', '.join(f'{r:.2f}' for r in ratios)}; client CPU "
          f"per page bare/stage {bare_cpu / n / (stage_cpu / max(pages, 1)):.2f}")
    print(f"  connections used (last round): bare {bare_stats['connections']}, "
          f"stage {stats['connections']} (page requests: bare {bare_stats['requests']}, stage "
          f"{stats['requests']}, robots.txt not counted)")
    if min_gaps:
        print(f"  smallest gap between two requests to one host in the stage runs: "
              f"{min(min_gaps):.3f} s (delay {args.delay} s)")
    heap, wire = seen_table_memory()
    print(f"  seen-table per 100,000 URLs: {heap:.1f} MiB Python heap, {wire:.1f} MiB JSON "
          f"(changelog payload)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--pages-per-host", type=int, default=10)
    parser.add_argument("--page-size", type=int, default=40_000, help="bytes of HTML per page")
    parser.add_argument("--delay", type=float, default=0.1, help="per-host delay, seconds")
    parser.add_argument("--per-host-concurrency", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--gzip", action="store_true", help="serve gzip'd pages")
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
