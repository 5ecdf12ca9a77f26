"""Politeness against the local server: per-host delay and concurrency, robots.txt with
Crawl-delay, Retry-After, backoff with retries, and the circuit breaker."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import time

import pytest

from worker.fetch.client import Fetcher, FetchError
from worker.fetch.politeness import Politeness, parse_retry_after
from worker.fetch.sources import Source
from worker.settings import FetchSettings

HOSTS = {f"h{i}.test": "127.0.0.1" for i in range(4)}


def settings(**overrides: object) -> FetchSettings:
    values: dict[str, object] = dict(allow_private_addresses=True, per_host_delay=0.2,
                                     per_host_concurrency=2, retries=0, total_timeout=3.0)
    values.update(overrides)
    return FetchSettings(**values)  # type: ignore[arg-type]




def gaps(times: list[float]) -> list[float]:
    times = sorted(times)
    return [b - a for a, b in itertools.pairwise(times)]


async def test_requests_to_one_host_keep_the_minimum_delay_other_hosts_do_not_wait(server):
    async with Fetcher(settings(), static_hosts=HOSTS) as fetcher:
        urls = [server.url(f"h{i % 2}.test", f"/article/{n}") for n, i in
                enumerate(range(10))]
        started = time.monotonic()
        await asyncio.gather(*(fetcher.fetch(u) for u in urls))
        elapsed = time.monotonic() - started
    for host in ("h0.test", "h1.test"):
        assert min(gaps(server.times(host, "/article/"))) >= 0.19
    # 5 requests per host at 0.2 s apart, hosts in parallel: about 0.8 s, not 1.8 s.
    assert elapsed < 1.5


async def test_per_host_concurrency_is_capped(server):
    politeness = Politeness(settings(per_host_delay=0.0, per_host_concurrency=1))
    inside = peak = 0

    async def one() -> None:
        nonlocal inside, peak
        async with politeness.slot("h0.test", "http://h0.test/", "ua"):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    await asyncio.gather(*(one() for _ in range(5)))
    assert peak == 1


async def test_source_overrides_the_delay_for_its_host(server):
    politeness = Politeness(settings(per_host_delay=0.0))
    politeness.apply_sources([Source(name="s", url="http://h2.test/rss", per_host_delay=0.3)])
    async with Fetcher(settings(per_host_delay=0.0), politeness=politeness,
                       static_hosts=HOSTS) as fetcher:
        for n in range(3):
            await fetcher.fetch(server.url("h2.test", f"/article/{n}"))
    assert min(gaps(server.times("h2.test", "/article/"))) >= 0.29


async def test_robots_disallow_is_honoured_and_counted(server):
    server.robots["h0.test"] = "User-agent: *\nDisallow: /private/\n"
    async with Fetcher(settings(), static_hosts=HOSTS) as fetcher:
        with pytest.raises(FetchError) as info:
            await fetcher.fetch(server.url("h0.test", "/private/secret"))
        await fetcher.fetch(server.url("h0.test", "/article/public"))
        await fetcher.fetch(server.url("h0.test", "/article/public2"))
        assert fetcher.stats()["h0.test"]["robots_disallowed"] == 1
    assert info.value.reason == "robots_disallowed"
    assert not [r for r in server.requests if r.path.startswith("/private/")]
    assert len([r for r in server.requests if r.path == "/robots.txt"]) == 1  # cached


async def test_robots_rules_for_our_user_agent_apply_to_feeds_too(server):
    server.robots["h0.test"] = "User-agent: KabarBot\nDisallow: /rss\n\nUser-agent: *\nAllow: /\n"
    async with Fetcher(settings(), static_hosts=HOSTS) as fetcher:
        with pytest.raises(FetchError) as info:
            await fetcher.fetch(server.url("h0.test", "/rss.xml"), kind="feed")
    assert info.value.reason == "robots_disallowed"


def long_robots_txt() -> bytes:
    """A robots.txt over 500 KiB: a rule at the top, a rule whose line the 500 KiB mark
    cuts, and a rule after the mark."""
    head = "User-agent: *\nDisallow: /early\n"
    cut = 500 * 1024
    comments = "".join(f"# filler {n:06d}\n" for n in range((cut - 100) // 16))
    pad = "#" * (cut - 20 - len(head) - len(comments)) + "\n"
    text = head + comments + pad + "Disallow: /straddling\n"
    assert len(text) - len("Disallow: /straddling\n") < cut < len(text) - 1
    return (text + comments + "Disallow: /late\n").encode()


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_robots_txt_over_500_kib_is_parsed_up_to_its_last_whole_line(server, encoding):
    # RFC 9309 §2.5: parse at least the first 500 KiB rather than refuse the whole site
    body = long_robots_txt()
    headers = {"Content-Type": "text/plain"}
    if encoding == "gzip":
        body, headers = gzip.compress(body), {**headers, "Content-Encoding": "gzip"}
    server.canned["/robots.txt"] = (200, headers, body)
    async with Fetcher(settings(), static_hosts=HOSTS) as fetcher:
        with pytest.raises(FetchError) as info:
            await fetcher.fetch(server.url("h0.test", "/early/story"))
        rules = await fetcher.robots_for(server.url("h0.test", "/"))
        await fetcher.fetch(server.url("h0.test", "/article/late"))
    assert info.value.reason == "robots_disallowed"
    assert not rules.can_fetch(server.url("h0.test", "/early/x"), "KabarBot")
    # the line the mark cuts is dropped, not read as "Disallow: /straddli"
    assert rules.can_fetch(server.url("h0.test", "/straddli"), "KabarBot")
    assert rules.can_fetch(server.url("h0.test", "/late"), "KabarBot")


async def test_crawl_delay_raises_the_per_host_delay(server):
    server.robots["h1.test"] = "User-agent: *\nCrawl-delay: 0.4\n"
    async with Fetcher(settings(per_host_delay=0.0), static_hosts=HOSTS) as fetcher:
        for n in range(3):
            await fetcher.fetch(server.url("h1.test", f"/article/{n}"))
    assert min(gaps(server.times("h1.test", "/article/"))) >= 0.39


async def test_robots_txt_answering_5xx_puts_the_host_off_limits(server):
    server.canned["/robots.txt"] = (503, {}, b"down")
    async with Fetcher(settings(), static_hosts=HOSTS) as fetcher:
        with pytest.raises(FetchError) as info:
            await fetcher.fetch(server.url("h3.test", "/article/x"))
    assert info.value.reason == "robots_unavailable"
    assert not [r for r in server.requests if r.path == "/article/x"]


async def test_retry_after_is_honoured_before_the_retry(server):
    async with Fetcher(settings(retries=1, per_host_delay=0.0), static_hosts=HOSTS) as fetcher:
        with pytest.raises(FetchError) as info:
            await fetcher.fetch(server.url("h0.test", "/status/429?retry_after=1"))
    assert info.value.reason == "http_429"
    first, second = server.times("h0.test", "/status/")
    assert second - first >= 0.95


async def test_retry_after_longer_than_max_wait_fails_fast_and_blocks_the_host(server):
    politeness = Politeness(settings(retries=2), max_wait=5.0)
    async with Fetcher(settings(retries=2), politeness=politeness,
                       static_hosts=HOSTS) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError) as first:
            await fetcher.fetch(server.url("h1.test", "/status/503?retry_after=120"))
        with pytest.raises(FetchError) as second:
            await fetcher.fetch(server.url("h1.test", "/article/next"))
        assert time.monotonic() - started < 1.0
    assert first.value.reason == "http_503"
    assert second.value.reason == "host_backoff" and second.value.retry_after > 100
    assert len(server.times("h1.test", "/status/")) == 1


async def test_server_errors_are_retried_with_backoff(server):
    politeness = Politeness(settings(), backoff_base=0.2)
    async with Fetcher(settings(retries=2, per_host_delay=0.0), politeness=politeness,
                       static_hosts=HOSTS) as fetcher:
        with pytest.raises(FetchError) as info:
            await fetcher.fetch(server.url("h2.test", "/status/502"))
    assert info.value.reason == "http_502"
    times = server.times("h2.test", "/status/")
    assert len(times) == 3
    first_gap, second_gap = gaps(times)
    assert first_gap >= 0.09 and second_gap >= 0.19  # 0.2·2^n, jitter 0.5–1.5


async def test_circuit_breaker_opens_after_repeated_failures_and_reports_it(server):
    politeness = Politeness(settings(), circuit_threshold=3, circuit_cooldown=60,
                            backoff_base=0.0)
    async with Fetcher(settings(per_host_delay=0.0), politeness=politeness,
                       static_hosts=HOSTS) as fetcher:
        for n in range(3):
            with pytest.raises(FetchError):
                await fetcher.fetch(server.url("h3.test", f"/status/500?n={n}"))
        with pytest.raises(FetchError) as info:
            await fetcher.fetch(server.url("h3.test", "/article/fine"))
        stats = fetcher.stats()["h3.test"]
    assert info.value.reason == "circuit_open"
    assert stats["circuit_open"] and stats["circuit_opened"] == 1
    assert stats["errors"] == {"http_500": 3}
    assert not [r for r in server.requests if r.path == "/article/fine"]


def test_circuit_closes_after_cooldown_and_a_success():
    clock = [1000.0]
    politeness = Politeness(settings(), circuit_threshold=2, circuit_cooldown=10,
                            clock=lambda: clock[0])
    error = FetchError("connect_error", "refused", "http://h.test/")
    politeness.record_failure("h.test", error)
    politeness.record_failure("h.test", error)
    assert politeness.stats()["h.test"]["circuit_open"]
    clock[0] += 11
    assert not politeness.stats()["h.test"]["circuit_open"]
    politeness.record_success("h.test", status=200, nbytes=10, not_modified=False)
    assert politeness.host("h.test").consecutive_failures == 0


def test_retry_after_forms():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 60) == 60.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_idle_hosts_are_forgotten_beyond_the_host_limit():
    clock = [0.0]
    politeness = Politeness(settings(), max_hosts=3, idle_after=60, clock=lambda: clock[0])
    for name in ("a", "b", "c"):
        politeness.host(name)
    clock[0] = 30.0
    politeness.host("c")  # recently used: kept
    clock[0] = 70.0
    politeness.host("d")
    assert set(politeness.stats()) == {"c", "d"}
