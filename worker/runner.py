"""Running the pipeline in this process: the Faust worker, the source poller, live progress,
and the ``--once`` drain check. ``kabar up``, ``kabar worker``, ``kabar fetch`` and
``kabar demo`` are thin shells over these functions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TextIO

import faust
from rich.console import Console
from rich.live import Live
from rich.table import Table

from worker import metrics
from worker.agents import Pipeline
from worker.app import create_app, topic_specs
from worker.broker import faust_settings_for_embedded
from worker.clock import Clock
from worker.dedupe.fingerprints import fingerprint_text
from worker.enrich import warm as warm_enrichment
from worker.fetch.schedule import poll_tick
from worker.fetch.sources import Source
from worker.fetch.stage import source_requests
from worker.kafka_io import create_missing_topics
from worker.metrics import DISPLAY, PipelineStats, serve_metrics
from worker.models import FetchRequest
from worker.probes import WorkerProbes
from worker.routing import load_rules
from worker.settings import Settings

log = logging.getLogger("kabar.runner")


STOP_TIMEOUT_S = 60.0
#: How often a worker that is still starting says so.
STARTING_NOTICE_S = 30.0


class PipelineTimeout(RuntimeError):
    """A ``--once`` run did not drain within its time limit."""


def stats_table(stats: PipelineStats, title: str) -> Table:
    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    for name in DISPLAY:
        table.add_row(name.replace("_", " "), str(stats.counts[name]))
    for reason, n in sorted(stats.dead_reasons.items()):
        table.add_row(f"  dead letter {reason}", str(n))
    return table


async def poll_sources(
    sources: list[Source], send: Callable[[FetchRequest], Awaitable[None]], *, once: bool,
    stop: asyncio.Event, due: Callable[[Source], bool] | None = None,
    once_for: float | None = None, clock: Clock | None = None,
) -> None:
    """Send one poll request per source now, then on a tick. The fetch stage decides from
    each listing's state whether it is due (worker/fetch/schedule.py), so the tick only has
    to be as short as the shortest interval a source allows. ``due`` holds back sources
    polled on another schedule (feeds that WebSub pushes). ``once`` stops after the first
    round, or with ``once_for`` after that many seconds of rounds. ``clock`` (sped up by
    benchmarks) times the tick."""
    clock = clock or Clock()
    tick = poll_tick(s.min_poll_interval or s.poll_interval for s in sources)
    until = time.monotonic() + (once_for or 0.0)
    while not stop.is_set():
        polled = sources if due is None else [s for s in sources if due(s)]
        # together: one after another, the last source's request would trail the tick by
        # a broker round trip per source
        await asyncio.gather(*(send(request) for request in source_requests(polled,
                                                                             clock.now())))
        if once and time.monotonic() >= until:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=clock.real_seconds(tick))


def faust_worker(app: faust.App, chatter: TextIO) -> faust.Worker:
    """The Faust worker that runs ``app``, its terminal chatter on ``chatter`` (stderr: stdout
    belongs to the command's output). Faust's start-up spinner is kept for a terminal only:
    it writes its cursor codes (``\\b\\x1b[?25h`` when the worker has started) to a file or a
    pipe too."""
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, override_logging=False,
                          daemon=False, stdout=chatter)
    if not chatter.isatty():
        worker.spinner = None
    return worker


async def start_worker(worker: faust.Worker, broker_url: str, *, limit: float | None) -> None:
    """Start the Faust worker. ``Worker.start`` returns once every table has recovered from
    its changelog, which can take long (or, on a broken cluster, forever): say so every
    STARTING_NOTICE_S seconds, and give up after ``limit`` seconds if one is given."""
    starting = asyncio.ensure_future(worker.start())
    waited = 0.0
    while True:
        step = STARTING_NOTICE_S if limit is None else min(STARTING_NOTICE_S, limit - waited)
        done, _ = await asyncio.wait({starting}, timeout=step)
        if done:
            starting.result()
            return
        waited += step
        if limit is not None and waited >= limit:
            starting.cancel()
            raise PipelineTimeout(
                f"worker did not start within {limit:g}s: table recovery did not complete "
                f"(broker {broker_url})"
            )
        log.warning("the worker is still starting after %.0fs: its tables are recovering "
                    "from their changelogs on %s", waited, broker_url)


async def run_pipeline(
    settings: Settings,
    *,
    sources: list[Source] | None,
    poll: bool = True,
    once: bool = False,
    progress: bool = True,
    console: Console | None = None,
    timeout: float | None = None,
    stats: PipelineStats | None = None,
    poll_for: float | None = None,
) -> PipelineStats:
    """Run the worker (and with ``poll`` the poller of ``sources``) until Ctrl-C, or with
    ``once`` until everything this process started has been processed (with ``poll_for``,
    polling on schedule for that many seconds first). ``sources`` also gives the fetch agent
    each source's options."""
    console = console or Console(stderr=True)
    stats = stats or PipelineStats()
    options = faust_settings_for_embedded() if settings.broker.kind == "tansu" else {}
    app = create_app(settings, **options)
    rules = load_rules(settings.routing.file) if settings.routing.file else None
    pipeline = Pipeline(app, settings, stats, rules=rules, sources=sources)
    worker = faust_worker(app, sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    # gazetteers, the language model and the normalisation tables, built before the first
    # article has to wait for them
    warm_enrichment(settings.enrich.spacy_model)
    fingerprint_text("Kabar: warm-up — ünïcödé")
    metrics.host_label.limit = settings.web.metrics_host_limit
    await create_missing_topics(settings.broker.url,
                                topic_specs(app, pipeline.topics, settings),
                                replication=settings.topic.replication)
    probes = WorkerProbes(app, loop, poll_timeout=settings.web.liveness_poll_timeout)
    server = (serve_metrics(settings.web.bind, settings.web.metrics_port, probes)
              if settings.web.metrics_port else None)
    worker_started = False
    try:
        await start_worker(worker, settings.broker.url, limit=None if timeout is None
                           else max(1.0, timeout - (time.monotonic() - started)))
        probes.mark_started()
        worker_started = True
        # Worker.start installs its own handlers (they stop the app without telling us)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        poller = None
        if sources and poll:
            poller = asyncio.create_task(
                poll_sources(sources, pipeline.send_fetch, once=once, stop=stop,
                             once_for=poll_for, clock=pipeline.clock)
            )
        live = Live(stats_table(stats, "kabar"), console=console, refresh_per_second=4,
                    transient=False) if progress and console.is_terminal else None
        with live or contextlib.nullcontext():
            last_log = 0.0
            while not stop.is_set():
                elapsed = time.monotonic() - started
                if live:
                    live.update(stats_table(stats, f"kabar · {elapsed:.0f}s"))
                elif progress and time.monotonic() - last_log > 5:
                    last_log = time.monotonic()
                    console.print(" ".join(f"{k}={stats.counts[k]}" for k in DISPLAY))
                if once and (poller is None or poller.done()) and stats.drained():
                    break
                if timeout is not None and elapsed > timeout:
                    raise PipelineTimeout(
                        f"pipeline did not drain within {timeout:.0f}s "
                        f"(sent {dict(stats.sent)}, done {dict(stats.done)})"
                    )
                if worker._stopped.is_set() or app._crash_reason:
                    raise RuntimeError(f"worker stopped: {app._crash_reason or 'unknown'}")
                if pipeline.fatal is not None:  # the worker stops, and leaves the group
                    raise pipeline.fatal
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=0.25)
        if poller:
            stop.set()
            await poller
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if worker_started:
            try:
                await asyncio.wait_for(pipeline.flush_health(), 10.0)
            except Exception:  # a broken worker: its sources' health is published next run
                log.warning("could not publish the last source health records", exc_info=True)
        try:
            await asyncio.wait_for(worker.stop(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("the worker did not stop within %.0fs; leaving it", STOP_TIMEOUT_S)
        # only now: a fetch still running when the fetcher closed would end as a dead
        # letter for a page another worker then fetches (two outcomes for one URL)
        await pipeline.close()
        if server is not None:
            server.shutdown()
            server.server_close()
    return stats


async def run_poller(settings: Settings, sources: list[Source], *, once: bool,
                     stop: asyncio.Event | None = None) -> int:
    """`kabar fetch`: send poll requests to the fetch topic with a plain producer until
    Ctrl-C, ``stop`` or (with ``once``) one round; with websub.enabled, also subscribe to
    the hubs the feeds name and send what their notifications announce. Returns how many
    requests were sent."""
    from aiokafka import AIOKafkaProducer

    from worker.fetch.stage import FetchOutcome
    from worker.fetch.websub import Subscriber
    from worker.kafka_io import bootstrap_servers

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(settings.broker.url))
    await producer.start()
    sent = 0
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def send(request: FetchRequest) -> None:
        nonlocal sent
        await producer.send_and_wait(settings.topic_name("fetch"), request.to_json(),
                                     key=request.host.encode())
        sent += 1
        log.info("poll request for %s (%s)", request.source, request.url)

    async def publish_pushed(outcome: FetchOutcome) -> None:
        nonlocal sent
        # all of a notification's messages in flight at once: push is about latency
        pending = [await producer.send(settings.topic_name("fetch"), r.to_json(),
                                       key=r.host.encode()) for r in outcome.requests]
        pending += [await producer.send(settings.topic_name("deadletter"), d.to_json(),
                                        key=(d.key or d.url or "").encode())
                    for d in outcome.dead_letters]
        await asyncio.gather(*pending)
        sent += len(outcome.requests)

    subscriber = maintenance = None
    try:
        if settings.web.metrics_port:
            serve_metrics(settings.web.bind, settings.web.metrics_port)
        if settings.websub.enabled and not once:
            subscriber = Subscriber(settings.websub, settings.fetch, sources, publish_pushed)
            await subscriber.start()
            maintenance = asyncio.create_task(subscriber.run(stop))
        await poll_sources(sources, send, once=once, stop=stop,
                           due=subscriber.poll_due if subscriber else None,
                           clock=Clock.from_settings(settings.clock))
    finally:
        stop.set()
        if maintenance is not None:
            await maintenance
        if subscriber is not None:
            await subscriber.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await producer.stop()
    return sent
