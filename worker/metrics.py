"""Pipeline counters: shown live by ``kabar up``, exported to Prometheus, and used to tell
when a ``--once`` run has drained (everything this process sent has been processed).

Every Prometheus metric of a worker is registered here or in worker/fetch/politeness.py (the
per-host fetch outcomes); deploy/prometheus and deploy/grafana use these names, and
tests/test_deploy_files.py fails when a rule or panel names a metric that does not exist.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, Histogram, generate_latest
from prometheus_client import Counter as PromCounter

from worker.extract.dates import parse_fetched_at
from worker.health.rules import STATES as HEALTH_STATES

_EVENTS = PromCounter("kabar_events_total", "Pipeline events by kind", ["kind"])
_DEAD = PromCounter("kabar_dead_letters_total", "Dead letters by stage and reason",
                    ["stage", "reason"])
_STAGE = PromCounter("kabar_stage_messages_total",
                     "Messages each stage handled, by outcome (ok, failed: dead-lettered by "
                     "the guard, redelivered: outputs already out, fenced: dropped after a "
                     "freeze, delivered again)", ["stage", "outcome"])
_EXTRACT = Histogram("kabar_extract_seconds", "Time to extract one page into an article",
                     buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
_DISCOVERY = Histogram(
    "kabar_discovery_to_article_seconds",
    "From the feed or sitemap entry that announced a story to its article on kabar.articles",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 86400))
_PUBLISHED = Histogram(
    "kabar_published_to_emit_seconds",
    "From an article's published_at to its emission on kabar.articles",
    buckets=(10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400,
             2 * 86400, 7 * 86400))
_LAG = Gauge("kabar_consumer_lag",
             "Messages after this worker's committed offset, per topic and partition it owns",
             ["topic", "partition"])
_TABLE = Gauge("kabar_table_entries", "Entries in each table on this worker's partitions",
               ["table"])
_READY = Gauge("kabar_worker_ready",
               "1 while this worker is ready: partitions assigned, tables recovered")
#: kept by the source-health stage (one series per source and state, 1 for the current one)
SOURCE_HEALTH = Gauge("kabar_source_health", "Source health state (1 = current)",
                      ["source", "state"])

#: WebSub push (worker/fetch/websub.py): each notification's fate, each subscription event
WEBSUB_NOTIFICATIONS = PromCounter(
    "kabar_websub_notifications_total",
    "WebSub notifications by outcome (accepted, bad_signature, unsigned, replayed, ...)",
    ["outcome"])
WEBSUB_SUBSCRIPTIONS = PromCounter(
    "kabar_websub_subscription_events_total",
    "WebSub subscription events (requested, verified, denied, failed, expired, ...)",
    ["event"])
#: table changelog writes no stage waits for (worker.delivery.note_changelog_write): a
#: timer's, or the offsets a batch commit records in `delivered`; a failed one is logged
CHANGELOG_UNCHECKED = PromCounter(
    "kabar_changelog_unchecked_writes_total",
    "Table changelog writes whose results no stage waits for (timers, recorded offsets)",
    ["table"])

#: the counters shown in the live display, in order
DISPLAY = ("feeds_polled", "pages_fetched", "skipped", "articles_out", "versions", "unchanged",
           "duplicates", "corrections", "dead_letters", "errors")
#: counts of work that ended well, with an article or without one: a copy (duplicates), a
#: page that did not change (unchanged), a fetch request with nothing new to do (a listing
#: polled without a dead letter that announced nothing, an article already fetched). A
#: ``--once`` run with none of these and dead letters produced only failures; a listing
#: that announced articles is judged by what became of them.
FINE_OUTCOMES = ("articles_out", "versions", "corrections", "duplicates", "unchanged",
                 "nothing_new")
#: what the metrics port serves (worker.metrics.serve_metrics)
ENDPOINTS = ("/metrics", "/livez", "/readyz")
#: the agents' stages (kabar_stage_messages_total{stage})
STAGES = ("fetch", "clean", "versions", "dedupe", "audit", "health")

# Series that exist from the start, at 0: a rate or an absence alert needs them before the
# first event (no articles yet is 0 articles, not "no data").
for _kind in DISPLAY:
    _EVENTS.labels(_kind)
for _stage in STAGES:
    _STAGE.labels(_stage, "ok")


@dataclass(slots=True)
class PipelineStats:
    counts: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    done: Counter[str] = field(default_factory=Counter)
    dead_reasons: Counter[str] = field(default_factory=Counter)
    last_activity: float = field(default_factory=time.monotonic)

    def count(self, kind: str, n: int = 1) -> None:
        self.counts[kind] += n
        _EVENTS.labels(kind).inc(n)
        self.last_activity = time.monotonic()

    def dead_letter(self, stage: str, reason: str) -> None:
        self.count("dead_letters")
        self.dead_reasons[f"{stage}:{reason}"] += 1
        _DEAD.labels(stage, reason).inc()

    def stage_done(self, stage: str, outcome: str) -> None:
        _STAGE.labels(stage, outcome).inc()

    def extracted(self, seconds: float) -> None:
        _EXTRACT.observe(seconds)

    def emitted(self, *, discovered_at: str | None, published_at: str | None,
                now: datetime | None = None) -> None:
        """An article went out: how long after its discovery and its publication."""
        now = now or datetime.now(UTC)
        for stamp, histogram in ((discovered_at, _DISCOVERY), (published_at, _PUBLISHED)):
            age = seconds_since(stamp, now)
            if age is not None:
                histogram.observe(age)

    def message_sent(self, topic_suffix: str) -> None:
        self.sent[topic_suffix] += 1
        self.last_activity = time.monotonic()

    def message_done(self, topic_suffix: str) -> None:
        self.done[topic_suffix] += 1
        self.last_activity = time.monotonic()

    def only_failures(self) -> bool:
        """True when dead letters are all that came out: no article, and no page or listing
        that ended well without one (FINE_OUTCOMES)."""
        return self.counts["dead_letters"] > 0 and not any(
            self.counts[kind] for kind in FINE_OUTCOMES)

    def drained(self, quiet_for: float = 1.5) -> bool:
        """True when every message this process sent to a work topic was processed and
        nothing happened for ``quiet_for`` seconds."""
        if not self.sent:
            return False
        pending = any(self.done[t] < n for t, n in self.sent.items())
        return not pending and time.monotonic() - self.last_activity >= quiet_for


def seconds_since(stamp: str | None, now: datetime) -> float | None:
    """Seconds from an ISO 8601 time to ``now``; None when absent, unreadable or in the
    future (a clock ahead of ours says nothing about our latency). A time without an offset
    is taken as UTC."""
    when = parse_fetched_at(stamp)
    if when is None:
        return None
    age = (now - when).total_seconds()
    return age if age >= 0 else None


class HostLabels:
    """The ``host`` label of per-host series: the first ``limit`` hosts this process sees
    keep their name, every later one is counted under "other". Feeds can link to any number
    of hosts; Prometheus must not get a series per host of the web."""

    OTHER = "other"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._named: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, host: str) -> str:
        if host in self._named:
            return host
        with self._lock:
            if len(self._named) < self.limit:
                self._named.add(host)
                return host
        return self.OTHER


#: the label policy of every per-host series (web.metrics_host_limit sets the limit)
host_label = HostLabels(limit=200)


_lag_series: set[tuple[str, str]] = set()


def record_consumer_lag(lags: Mapping[tuple[str, int], int]) -> None:
    """Set the lag gauge to exactly these partitions: partitions this worker no longer owns
    lose their series (their new owner reports them)."""
    current = {(topic, str(partition)) for topic, partition in lags}
    for labels in _lag_series - current:
        _LAG.remove(*labels)
    _lag_series.clear()
    _lag_series.update(current)
    for (topic, partition), lag in lags.items():
        _LAG.labels(topic, str(partition)).set(lag)


def record_table_sizes(sizes: Mapping[str, int]) -> None:
    for table, entries in sizes.items():
        _TABLE.labels(table).set(entries)


class Probes(Protocol):
    """What /livez and /readyz answer: (healthy, a one-line reason)."""

    def live(self) -> tuple[bool, str]: ...

    def ready(self) -> tuple[bool, str]: ...


def _handler(probes: Probes | None) -> type[BaseHTTPRequestHandler]:
    routes: dict[str, Callable[[], tuple[bool, str]]] = (
        {"/livez": probes.live, "/readyz": probes.ready} if probes else {})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self.reply(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            elif path in routes:
                ok, reason = routes[path]()
                self.reply(200 if ok else 503, f"{'ok' if ok else 'failing'}: {reason}\n"
                           .encode(), "text/plain; charset=utf-8")
            else:
                self.reply(404, f"not found: {', '.join(ENDPOINTS)}\n".encode(), "text/plain")

        def reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # a scrape every 15 s is not news

    return Handler


def serve_metrics(bind: str, port: int, probes: Probes | None = None) -> ThreadingHTTPServer:
    """Serve /metrics (every Kabar metric) and, given ``probes``, /livez and /readyz at
    http://bind:port, from daemon threads: a wedged event loop cannot silence the probes
    that must report it. ``server.server_port`` is the port (port 0 in tests); stop with
    ``shutdown()`` and ``server_close()``."""
    server = ThreadingHTTPServer((bind, port), _handler(probes))
    server.daemon_threads = True
    if probes is not None:
        _READY.set_function(lambda: float(probes.ready()[0]))
    threading.Thread(target=server.serve_forever, name="kabar-metrics", daemon=True).start()
    return server


# -- source health ------------------------------------------------------------------------
# Source names come from the sources file: user-configured and bounded, fine as labels.


def set_source_health(source: str, state: str) -> None:
    for name in HEALTH_STATES:
        SOURCE_HEALTH.labels(source, name).set(1 if name == state else 0)


def forget_source_health(source: str) -> None:
    """Stop exporting a source whose health another worker now keeps."""
    for name in HEALTH_STATES:
        with contextlib.suppress(KeyError):
            SOURCE_HEALTH.remove(source, name)
