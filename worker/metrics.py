"""Pipeline counters: shown live by ``kabar up``, exported to Prometheus, and used to tell
when a ``--once`` run has drained (everything this process sent has been processed)."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field

from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge, start_http_server

from worker.health.rules import STATES as HEALTH_STATES

_EVENTS = PromCounter("kabar_events_total", "Pipeline events by kind", ["kind"])
_DEAD = PromCounter("kabar_dead_letters_total", "Dead letters by stage and reason",
                    ["stage", "reason"])

#: the counters shown in the live display, in order
DISPLAY = ("feeds_polled", "pages_fetched", "skipped", "articles_out", "versions", "unchanged",
           "duplicates", "corrections", "dead_letters", "errors")


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

    def message_sent(self, topic_suffix: str) -> None:
        self.sent[topic_suffix] += 1
        self.last_activity = time.monotonic()

    def message_done(self, topic_suffix: str) -> None:
        self.done[topic_suffix] += 1
        self.last_activity = time.monotonic()

    def drained(self, quiet_for: float = 1.5) -> bool:
        """True when every message this process sent to a work topic was processed and
        nothing happened for ``quiet_for`` seconds."""
        if not self.sent:
            return False
        pending = any(self.done[t] < n for t, n in self.sent.items())
        return not pending and time.monotonic() - self.last_activity >= quiet_for


def serve_metrics(bind: str, port: int) -> int:
    """Expose every Kabar counter at http://bind:port/metrics (a daemon thread); returns
    the port (useful with port 0 in tests)."""
    server, _ = start_http_server(port, addr=bind)
    return server.server_port


# -- source health ------------------------------------------------------------------------
# Source names come from the sources file: user-configured and bounded, fine as labels.
_SOURCE_HEALTH = Gauge("kabar_source_health",
                       "1 for a source's current health state, 0 for the others "
                       "(exported by the worker that owns the source's host)",
                       ["source", "state"])


def set_source_health(source: str, state: str) -> None:
    for name in HEALTH_STATES:
        _SOURCE_HEALTH.labels(source, name).set(1 if name == state else 0)


def forget_source_health(source: str) -> None:
    """Stop exporting a source whose health another worker now keeps."""
    for name in HEALTH_STATES:
        with contextlib.suppress(KeyError):
            _SOURCE_HEALTH.remove(source, name)
