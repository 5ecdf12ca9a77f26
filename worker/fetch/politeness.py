"""Per-host politeness: minimum delay, concurrency cap, robots.txt cache, Retry-After,
exponential backoff with jitter and a circuit breaker, plus the per-host counters.

All state is per process. It holds across a fleet because ``kabar.fetch`` is keyed by host:
one host maps to one partition and so to one worker at a time.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge
from protego import Protego

from worker.fetch.errors import FetchError
from worker.metrics import host_label
from worker.settings import FetchSettings

if TYPE_CHECKING:
    from worker.fetch.sources import Source

log = logging.getLogger(__name__)

# `host` labels go through worker.metrics.host_label: bounded however many hosts feeds name
_RESPONSES = PromCounter(
    "kabar_fetch_responses_total", "Fetch outcomes by host", ["host", "outcome"]
)
_BYTES = PromCounter("kabar_fetch_bytes_total", "Body bytes received by host", ["host"])
_CIRCUIT = Gauge("kabar_fetch_circuit_open",
                 'Hosts whose circuit breaker is open (0 or 1 per named host; hosts past the '
                 'label limit add up under "other")', ["host"])

#: failures that count towards opening a host's circuit: the host, not the page, is unwell
_HOST_FAILURES = frozenset(
    {"timeout", "connect_timeout", "read_timeout", "connect_error", "tls_error", "truncated"}
)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


@dataclass(slots=True)
class HostState:
    delay: float
    concurrency: int
    semaphore: asyncio.Semaphore
    next_slot: float = 0.0
    #: no request before this (Retry-After or backoff), monotonic seconds
    blocked_until: float = 0.0
    consecutive_failures: int = 0
    circuit_open_until: float = 0.0
    circuit_cooldown: float = 0.0
    robots: Protego | None = None
    robots_expires: float = 0.0
    #: robots.txt answered 5xx: RFC 9309 says treat the site as fully disallowed for now
    robots_unavailable: bool = False
    robots_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    counters: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    last_used: float = 0.0
    #: prometheus children by outcome: .labels() costs more than the increment itself
    metrics: dict[str, Any] = field(default_factory=dict)
    circuit_counted: bool = False

    def metric(self, host: str, outcome: str) -> Any:
        child = self.metrics.get(outcome)
        if child is None:
            label = host_label(host)
            child = self.metrics[outcome] = (
                _BYTES.labels(label) if outcome == "bytes" else _RESPONSES.labels(label, outcome)
            )
        return child

    def circuit_metric(self, host: str, open_: bool) -> None:
        """Count this host in kabar_fetch_circuit_open while its circuit is open (once)."""
        if open_ != self.circuit_counted:
            self.circuit_counted = open_
            _CIRCUIT.labels(host_label(host)).inc(1 if open_ else -1)

    def idle(self, now: float, for_at_least: float) -> bool:
        """Nothing in flight, nothing pending, unused for a while: safe to forget."""
        return (
            now - self.last_used >= for_at_least
            and not self.semaphore.locked()
            and not self.robots_lock.locked()
            and self.next_slot <= now
            and self.blocked_until <= now
            and self.circuit_open_until <= now
        )


class _Slot:
    __slots__ = ("delay", "host", "politeness", "semaphore", "state", "url", "user_agent")

    def __init__(self, politeness: Politeness, host: str, url: str, user_agent: str) -> None:
        self.politeness = politeness
        self.host = host
        self.url = url
        self.user_agent = user_agent
        self.state = politeness.host(host)
        # the semaphore acquired is the one released, even if the host is reconfigured
        self.semaphore = self.state.semaphore
        self.delay = 0.0

    async def __aenter__(self) -> None:
        self.delay = await self.politeness._enter(self.state, self.semaphore, self.host,
                                                  self.url, self.user_agent)

    async def __aexit__(self, *exc: object) -> None:
        self.politeness._exit(self.state, self.semaphore, self.delay)


class Politeness:
    """Decides when a request to a host may start, and learns from how the host answers.

    ``max_wait`` bounds how long a fetch waits for a host (Retry-After, backoff): a fetch
    that would wait longer fails with ``host_backoff`` instead of blocking its partition.
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        max_wait: float = 30.0,
        max_crawl_delay: float = 60.0,
        robots_ttl: float = 86_400.0,
        robots_error_ttl: float = 600.0,
        circuit_threshold: int = 5,
        circuit_cooldown: float = 60.0,
        circuit_max_cooldown: float = 3_600.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        max_hosts: int = 10_000,
        idle_after: float = 3_600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.max_wait = max_wait
        self.max_crawl_delay = max_crawl_delay
        self.robots_ttl = robots_ttl
        self.robots_error_ttl = robots_error_ttl
        self.circuit_threshold = circuit_threshold
        self.circuit_cooldown = circuit_cooldown
        self.circuit_max_cooldown = circuit_max_cooldown
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.clock = clock
        #: beyond this many hosts, idle ones are forgotten (their robots.txt is re-read
        #: when they come back) so a long run over many hosts keeps bounded memory
        self.max_hosts = max_hosts
        self.idle_after = idle_after
        self._hosts: dict[str, HostState] = {}
        self._overrides: dict[str, tuple[float | None, int | None]] = {}

    # -- configuration ---------------------------------------------------------------
    def configure_host(
        self, host: str, *, delay: float | None = None, concurrency: int | None = None
    ) -> None:
        """Per-host overrides (from a source's politeness options)."""
        self._overrides[host] = (delay, concurrency)
        state = self._hosts.get(host)
        if state is not None:
            if delay is not None:
                state.delay = delay
            if concurrency is not None and concurrency != state.concurrency:
                state.concurrency = concurrency
                state.semaphore = asyncio.Semaphore(concurrency)

    def apply_sources(self, sources: Iterable[Source]) -> None:
        from worker.fetch.urls import host_of

        for source in sources:
            if source.per_host_delay is not None or source.per_host_concurrency is not None:
                self.configure_host(
                    host_of(source.url),
                    delay=source.per_host_delay,
                    concurrency=source.per_host_concurrency,
                )

    def host(self, host: str) -> HostState:
        state = self._hosts.get(host)
        if state is None:
            if len(self._hosts) >= self.max_hosts:
                self._forget_idle()
            delay, concurrency = self._overrides.get(host, (None, None))
            delay = self.settings.per_host_delay if delay is None else delay
            concurrency = concurrency or self.settings.per_host_concurrency
            state = HostState(
                delay=delay, concurrency=concurrency, semaphore=asyncio.Semaphore(concurrency)
            )
            self._hosts[host] = state
        state.last_used = self.clock()
        return state

    def _forget_idle(self) -> None:
        now = self.clock()
        for name in [n for n, st in self._hosts.items() if st.idle(now, self.idle_after)]:
            del self._hosts[name]

    # -- robots.txt --------------------------------------------------------------------
    def robots(self, host: str) -> Protego | None:
        """The cached robots.txt rules of a host, or None when absent or expired."""
        state = self.host(host)
        if state.robots is not None and self.clock() < state.robots_expires:
            return state.robots
        return None

    def robots_unavailable(self, host: str) -> bool:
        return self.host(host).robots_unavailable

    def set_robots(self, host: str, rules: Protego, *, unavailable: bool = False) -> None:
        state = self.host(host)
        state.robots = rules
        state.robots_unavailable = unavailable
        state.robots_expires = self.clock() + (
            self.robots_error_ttl if unavailable else self.robots_ttl
        )

    def robots_lock(self, host: str) -> asyncio.Lock:
        return self.host(host).robots_lock

    def effective_delay(self, host: str, user_agent: str) -> float:
        state = self.host(host)
        delay = state.delay
        rules = self.robots(host)
        if rules is not None:
            crawl_delay = rules.crawl_delay(user_agent)
            if crawl_delay:
                delay = max(delay, min(float(crawl_delay), self.max_crawl_delay))
        return delay

    # -- scheduling --------------------------------------------------------------------
    def slot(self, host: str, url: str, user_agent: str) -> _Slot:
        """``async with politeness.slot(host, url, ua):`` waits for the right to send one
        request to ``host`` and holds it while inside (a class, not a generator-based
        context manager: this runs for every fetch)."""
        return _Slot(self, host, url, user_agent)

    async def _enter(self, state: HostState, semaphore: asyncio.Semaphore, host: str, url: str,
                     user_agent: str) -> float:
        now = self.clock()
        if state.circuit_open_until > now:
            raise FetchError(
                "circuit_open",
                f"host {host} failed {state.consecutive_failures} times in a row; paused for "
                f"{state.circuit_open_until - now:.0f} s more",
                url,
            )
        wait = state.blocked_until - now
        if wait > self.max_wait:
            raise FetchError(
                "host_backoff",
                f"host {host} asked us to wait {wait:.0f} s (Retry-After or backoff), "
                f"longer than the {self.max_wait:.0f} s a fetch may wait",
                url,
                retry_after=wait,
            )
        await semaphore.acquire()
        delay = self.effective_delay(host, user_agent)
        now = self.clock()
        start = max(now, state.next_slot, state.blocked_until)
        # Reserve the slot before sleeping so concurrent waiters queue up behind it.
        state.next_slot = start + delay
        if start > now:
            try:
                await asyncio.sleep(start - now)
            except BaseException:
                semaphore.release()
                raise
        return delay

    def _exit(self, state: HostState, semaphore: asyncio.Semaphore, delay: float) -> None:
        # The delay also runs from when this exchange ended, so that the host sees the gap
        # however late the loop woke us or however long it took to answer.
        state.next_slot = max(state.next_slot, self.clock() + delay)
        semaphore.release()

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: base·2^attempt, scaled by a random 0.5–1.5."""
        return min(self.backoff_max, self.backoff_base * 2**attempt) * random.uniform(0.5, 1.5)

    # -- learning from answers -----------------------------------------------------------
    def record_success(self, host: str, *, status: int, nbytes: int, not_modified: bool) -> None:
        state = self.host(host)
        if state.circuit_cooldown:
            log.info("host %s answers again; circuit closed", host)
            state.circuit_metric(host, False)
        state.consecutive_failures = 0
        state.circuit_cooldown = 0.0
        state.circuit_open_until = 0.0
        outcome = "not_modified" if not_modified else "fetched"
        state.counters[outcome] += 1
        state.counters["bytes"] += nbytes
        state.metric(host, outcome).inc()
        state.metric(host, "bytes").inc(nbytes)

    def record_failure(self, host: str, error: FetchError, *, attempt: int = 0) -> None:
        """Count a failure; push the host back (Retry-After or backoff); maybe open its circuit."""
        state = self.host(host)
        state.errors[error.reason] += 1
        state.metric(host, error.reason).inc()
        now = self.clock()
        if error.retry_after is not None and error.reason in ("http_429", "http_503"):
            state.blocked_until = max(state.blocked_until, now + error.retry_after)
        elif error.retryable:
            state.blocked_until = max(state.blocked_until, now + self.backoff(attempt))
        if error.reason in _HOST_FAILURES or error.reason.startswith("http_5"):
            state.consecutive_failures += 1
            if state.consecutive_failures >= self.circuit_threshold:
                state.circuit_cooldown = min(
                    self.circuit_max_cooldown,
                    max(self.circuit_cooldown, state.circuit_cooldown * 2),
                )
                state.circuit_open_until = now + state.circuit_cooldown
                state.counters["circuit_opened"] += 1
                state.circuit_metric(host, True)
                log.warning(
                    "host %s: %d failures in a row (last: %s); circuit open for %.0f s",
                    host, state.consecutive_failures, error.reason, state.circuit_cooldown,
                )

    def count(self, host: str, what: str) -> None:
        """Count a non-error event for a host (robots_disallowed, skipped, ...)."""
        state = self.host(host)
        state.counters[what] += 1
        state.metric(host, what).inc()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per-host counters as plain data: fetched, not_modified, bytes, errors by kind,
        and whether the circuit is open (for `kabar up`, logs and tests)."""
        now = self.clock()
        return {
            host: {
                "fetched": state.counters["fetched"],
                "not_modified": state.counters["not_modified"],
                "bytes": state.counters["bytes"],
                "errors": dict(state.errors),
                "robots_disallowed": state.counters["robots_disallowed"],
                "circuit_open": state.circuit_open_until > now,
                "circuit_opened": state.counters["circuit_opened"],
                "delay": state.delay,
            }
            for host, state in self._hosts.items()
        }
