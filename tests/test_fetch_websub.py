"""WebSub push: hub discovery, signatures and replays as plain functions; then the
subscriber inside `kabar fetch` against a local hub that follows the spec (tests/websub_hub.py):
subscribe, verify, deliver, renew, unsubscribe, denial, forged and replayed notifications,
and a hub that goes away with polling taking over. The last test runs `kabar fetch`'s poller
on a real broker and measures notification → fetch request on the topic."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import math
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from prometheus_client import REGISTRY
from yarl import URL

from tests.websub_hub import LocalHub, NewsSite
from worker.fetch.sources import Source, check_sources, load_sources
from worker.fetch.stage import FetchOutcome
from worker.fetch.websub import (
    ReplayGuard,
    Subscriber,
    find_hubs,
    link_header_rels,
    settings_problems,
    signature_problem,
)
from worker.models import FetchRequest
from worker.runner import poll_sources
from worker.settings import FetchSettings, Settings, WebSubSettings, load_settings

ATOM = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<link rel="hub" href="https://hub.example/"/><link rel="self" href="https://a.example/atom"/>
<entry><link rel="self" href="https://a.example/entry-self"/>
<link rel="hub" href="https://entry-hub.example/"/><link href="https://a.example/1"/></entry>
</feed>"""
RSS = b"""<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>t</title><link>https://b.example/</link>
<atom:link rel="hub" href="https://pubsubhubbub.example/"/>
<atom:link rel="self" href="https://b.example/feed/" type="application/rss+xml"/>
<item><link>https://b.example/2</link></item></channel></rss>"""


# -- discovery ----------------------------------------------------------------------------
def test_atom_feed_names_its_hub_and_self_at_feed_level_only():
    links = find_hubs(ATOM, {}, "https://a.example/feed")
    assert links is not None
    assert links.hubs == ("https://hub.example/",)
    assert links.topic == "https://a.example/atom"


def test_rss_feed_names_its_hub_with_atom_link_inside_the_channel():
    links = find_hubs(RSS, {}, "https://b.example/rss")
    assert links is not None
    assert (links.hubs, links.topic) == (("https://pubsubhubbub.example/",),
                                         "https://b.example/feed/")


def test_http_link_header_comes_before_the_body_and_resolves_relative_urls():
    headers = {"link": '</hub>; rel="hub", <https://a.example/topic>; rel="self canonical"'}
    links = find_hubs(ATOM, headers, "https://a.example/feed")
    assert links is not None
    assert links.hubs == ("https://a.example/hub", "https://hub.example/")
    assert links.topic == "https://a.example/topic"
    assert link_header_rels("<https://x/>; rel=hub", "https://a/") == {"hub": ["https://x/"]}


def test_json_feed_hubs_and_a_feed_without_self_uses_its_own_url():
    body = b'{"version": "https://jsonfeed.org/version/1.1", "items": [],' \
           b' "hubs": [{"type": "WebSub", "url": "https://hub.example/"}]}'
    links = find_hubs(body, {}, "https://c.example/feed.json")
    assert links is not None
    assert links.topic == "https://c.example/feed.json"


@pytest.mark.parametrize("body", [
    b"<rss><channel><title>no hub</title></channel></rss>",
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss><channel>'
    b'<link rel="hub" href="&a;"/></channel></rss>',
    b"not xml at all <<<", b"{not json",
])
def test_no_hub_bad_xml_and_entity_declarations_give_none(body):
    assert find_hubs(body, {}, "https://a.example/feed") is None


# -- signatures and replays ----------------------------------------------------------------
@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_every_spec_signature_method_verifies(method):
    body, secret = b"<feed/>", "s3cret"
    header = f"{method}={hmac.new(secret.encode(), body, method).hexdigest()}"
    assert signature_problem(header, body, secret) is None
    assert signature_problem(header, body + b" ", secret) == "bad_signature"
    assert signature_problem(header, body, "other") == "bad_signature"


@pytest.mark.parametrize("header", [None, "", "md5=abc", "sha256=", "sha256"])
def test_missing_or_unusable_signatures_are_refused(header):
    assert signature_problem(header, b"x", "s") in ("unsigned", "bad_signature")
    assert signature_problem(None, b"x", "s") == "unsigned"


def test_replay_guard_remembers_bodies_per_subscription_for_its_window():
    now = [0.0]
    guard = ReplayGuard(60.0, clock=lambda: now[0])
    assert not guard.seen_before("a", b"body")
    assert guard.seen_before("a", b"body")
    assert not guard.seen_before("b", b"body")  # another subscription may get the same body
    now[0] = 61.0
    assert not guard.seen_before("a", b"body")


# -- settings and sources --------------------------------------------------------------------
def test_websub_settings_come_from_the_environment_and_bad_ones_are_named():
    settings = load_settings(env={"KABAR_WEBSUB_ENABLED": "1",
                                  "KABAR_WEBSUB_PUBLIC_URL": "https://kabar.example/hooks",
                                  "KABAR_WEBSUB_RENEW_FRACTION": "1.5"})
    assert settings.websub.enabled
    assert settings.websub.public_url == "https://kabar.example/hooks"
    assert settings_problems(settings.websub) == [
        "websub.renew_fraction must be between 0 and 1, got 1.5"]
    assert settings_problems(WebSubSettings(public_url="kabar.example")) == [
        "websub.public_url must be an absolute http(s) URL, got 'kabar.example'"]


def test_kabar_fetch_refuses_unusable_websub_settings(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from worker.cli import main

    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "a"\nurl = "https://a.example/rss"\n')
    monkeypatch.setenv("KABAR_WEBSUB_ENABLED", "1")
    monkeypatch.setenv("KABAR_WEBSUB_LEASE_SECONDS", "0")
    result = CliRunner().invoke(main, ["fetch", "--broker", "kafka://127.0.0.1:1",
                                       "--sources", str(sources)])
    assert result.exit_code == 2
    assert "websub.lease_seconds must be positive" in result.output


def test_sources_can_keep_a_feed_on_polling_only(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nname = "a"\nurl = "https://a.example/rss"\nwebsub = false\n'
                    '[[source]]\nname = "b"\nurl = "https://b.example/rss"\nwebsub = "no"\n')
    assert check_sources(path) == ["line 8: source 'b': websub must be true or false"]
    path.write_text('[[source]]\nname = "a"\nurl = "https://a.example/rss"\nwebsub = false\n')
    [source] = load_sources(path)
    assert source.websub is False

    async def publish(outcome: FetchOutcome) -> None:
        raise AssertionError("nothing to publish")

    assert Subscriber(WebSubSettings(), FetchSettings(), [source], publish).sources == {}


# -- the subscriber against a local hub ---------------------------------------------------
def count(outcome: str, name: str = "kabar_websub_notifications_total",
          label: str = "outcome") -> float:
    return REGISTRY.get_sample_value(name, {label: outcome}) or 0.0


async def until(check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


@dataclass
class Push:
    hub: LocalHub
    site: NewsSite
    subscriber: Subscriber
    source: Source
    outcomes: list[FetchOutcome] = field(default_factory=list)

    @property
    def requested(self) -> list[str]:
        return [r.url for o in self.outcomes for r in o.requests]

    @property
    def sub(self):
        return self.subscriber.by_source.get(self.source.name)

    async def active(self) -> None:
        await until(lambda: self.sub is not None and self.sub.state == "active"
                    and bool(self.hub.live(self.site.feed_url)), what="verified subscription")


@contextlib.asynccontextmanager
async def pushing(max_lease: int = 3600, **options) -> AsyncIterator[Push]:
    settings = WebSubSettings(enabled=True, port=0, **{"recheck_interval": 3600.0, **options})
    fetch = FetchSettings(allow_private_addresses=True, per_host_delay=0.0)
    async with LocalHub(max_lease=max_lease) as hub, NewsSite() as site:
        site.hub = hub.url
        source = Source(name="site", url=site.feed_url, kind="feed")
        outcomes: list[FetchOutcome] = []

        async def publish(outcome: FetchOutcome) -> None:
            outcomes.append(outcome)

        subscriber = Subscriber(settings, fetch, [source], publish)
        await subscriber.start()
        stop = asyncio.Event()
        timers = asyncio.create_task(subscriber.run(stop, tick=0.05))
        try:
            yield Push(hub, site, subscriber, source, outcomes)
        finally:
            stop.set()
            await timers
            await subscriber.close()


async def test_subscribe_verify_deliver_and_unsubscribe_on_shutdown():
    verified, unsubscribed = count("verified", *SUB), count("unsubscribed", *SUB)
    accepted = count("accepted")
    async with pushing() as push:
        await push.active()
        [request] = push.hub.requests
        assert request["hub.mode"] == "subscribe"
        assert request["hub.topic"] == push.site.feed_url
        assert int(request["hub.lease_seconds"]) > 0
        callback = request["hub.callback"]
        assert callback.startswith(push.subscriber.base_url + "/websub/")
        assert len(request["hub.secret"]) >= 32
        assert push.subscriber.pushed("site")

        story = push.site.add("harbour-reopens-after-storm", "Harbour reopens after storm")
        statuses = await push.hub.publish(push.site.feed_url, push.site.feed([story]))
        assert statuses == [202]
        assert push.requested == [push.site.story_url(story)]
        [request_out] = [r for o in push.outcomes for r in o.requests]
        assert (request_out.kind, request_out.source) == ("article", "site")
        assert request_out.hints.title == "Harbour reopens after storm"
        assert count("accepted") == accepted + 1
    # leaving stopped kabar fetch: the hub verified our unsubscription and dropped us
    assert [v.mode for v in push.hub.verifications] == ["subscribe", "unsubscribe"]
    assert all(v.echoed for v in push.hub.verifications)
    assert push.hub.live(push.site.feed_url) == []
    assert push.hub.verifications[1].callback == callback
    assert count("verified", *SUB) == verified + 1
    assert count("unsubscribed", *SUB) == unsubscribed + 1


SUB = ("kabar_websub_subscription_events_total", "event")


async def test_two_subscriptions_get_their_own_callback_and_secret():
    async with pushing() as first, pushing() as second:
        await first.active()
        await second.active()
        a, b = first.hub.requests[0], second.hub.requests[0]
        assert a["hub.callback"] != b["hub.callback"]
        assert a["hub.secret"] != b["hub.secret"]


async def test_behind_a_proxy_hubs_are_given_the_public_callback_url():
    async with pushing(public_url="https://kabar.example/push/") as push:
        await until(lambda: bool(push.hub.requests), what="a subscription request")
        callback = push.hub.requests[0]["hub.callback"]
        assert callback.startswith("https://kabar.example/push/websub/")
        assert push.subscriber.base_url == "https://kabar.example/push"


async def test_the_challenge_is_echoed_only_for_a_pending_request_on_the_same_topic():
    async with pushing() as push:
        await push.active()
        callback = push.hub.requests[0]["hub.callback"]
        session = push.hub._session
        assert session is not None

        async def ask(url: str, **query: str) -> tuple[int, str]:
            params = {"hub.challenge": "c123", "hub.lease_seconds": "60", **query}
            async with session.get(URL(url).update_query(params)) as resp:
                return resp.status, await resp.text()

        topic = push.site.feed_url
        # nobody asked to unsubscribe, another topic, an unknown callback: 404
        assert (await ask(callback, **{"hub.mode": "unsubscribe", "hub.topic": topic}))[0] == 404
        assert (await ask(callback, **{"hub.mode": "subscribe",
                                       "hub.topic": topic + "?x"}))[0] == 404
        unknown = push.subscriber.base_url + "/websub/not-a-subscription"
        assert (await ask(unknown, **{"hub.mode": "subscribe", "hub.topic": topic}))[0] == 404
        for lease in ("0", "-5", "inf", "nan", "soon"):
            assert (await ask(callback, **{"hub.mode": "subscribe", "hub.topic": topic,
                                           "hub.lease_seconds": lease}))[0] == 404, lease
        # a renewal's verification of the live subscription: echoed
        assert await ask(callback, **{"hub.mode": "subscribe", "hub.topic": topic}) == \
            (200, "c123")


async def test_the_lease_is_renewed_before_it_ends_with_the_same_callback():
    renewed = count("renewed", *SUB)
    async with pushing(max_lease=2, renew_fraction=0.5) as push:
        await push.active()
        await until(lambda: len(push.hub.requests) >= 3, timeout=6, what="two renewals")
        callbacks = {r["hub.callback"] for r in push.hub.requests}
        assert len(callbacks) == 1
        assert all(r["hub.mode"] == "subscribe" for r in push.hub.requests)
        await asyncio.sleep(0.3)
        # three 2-second leases in: still subscribed, still pushed
        assert push.hub.live(push.site.feed_url)
        assert push.subscriber.pushed("site")
        assert count("renewed", *SUB) >= renewed + 2


@pytest.mark.parametrize(("label", "signature", "sign"), [
    ("bad_signature", "sha256=" + "0" * 64, True),
    ("bad_signature", "md5=abc", True),
    ("unsigned", None, False),
])
async def test_unsigned_and_wrongly_signed_notifications_are_dropped_and_counted(
        label, signature, sign):
    before = count(label)
    async with pushing() as push:
        await push.active()
        story = push.site.add("forged-story", "Forged story")
        statuses = await push.hub.publish(push.site.feed_url, push.site.feed([story]),
                                          signature=signature, sign=sign)
        assert statuses == [202]  # acknowledged, as the spec allows, so a forger learns nothing
        assert push.outcomes == []
    assert count(label) == before + 1


async def test_a_signature_made_with_another_subscriptions_secret_is_refused():
    async with pushing() as push:
        await push.active()
        body = push.site.feed([push.site.add("x-story-here", "X")])
        wrong = hmac.new(b"someone-elses-secret", body, hashlib.sha256).hexdigest()
        assert await push.hub.publish(push.site.feed_url, body,
                                      signature=f"sha256={wrong}") == [202]
        assert push.outcomes == []


async def test_a_replayed_notification_is_dropped_and_counted():
    before = count("replayed")
    async with pushing() as push:
        await push.active()
        body = push.site.feed([push.site.add("replayed-story-once", "Once")])
        assert await push.hub.publish(push.site.feed_url, body) == [202]
        assert await push.hub.publish(push.site.feed_url, body) == [202]
        assert len(push.outcomes) == 1
    assert count("replayed") == before + 1


async def test_a_notification_that_cannot_be_published_is_refused_so_the_hub_retries():
    async with pushing() as push:
        await push.active()
        body = push.site.feed([push.site.add("broker-down-story", "Broker down")])
        publish = push.subscriber.publish

        async def broker_down(outcome: FetchOutcome) -> None:
            raise ConnectionError("broker unreachable")

        push.subscriber.publish = broker_down
        assert await push.hub.publish(push.site.feed_url, body) == [503]
        push.subscriber.publish = publish
        assert await push.hub.publish(push.site.feed_url, body) == [202]  # not a replay
        assert push.requested == [push.site.story_url(push.site.stories[0])]


async def test_an_oversized_notification_is_refused():
    before = count("too_large")
    async with pushing(max_body_bytes=2_000) as push:
        await push.active()
        stories = [push.site.add(f"story-number-{i}", "A" * 200) for i in range(20)]
        assert await push.hub.publish(push.site.feed_url, push.site.feed(stories)) == [413]
        assert push.outcomes == []
    assert count("too_large") == before + 1


async def test_a_pushed_body_that_is_no_feed_becomes_a_dead_letter():
    async with pushing() as push:
        await push.active()
        assert await push.hub.publish(push.site.feed_url, b"<html>oops</html>",
                                      content_type="text/html") == [202]
        [outcome] = push.outcomes
        [dead] = outcome.dead_letters
        assert (dead.stage, dead.reason, dead.url) == ("fetch", "not_a_feed", push.site.feed_url)


async def test_pushed_items_pass_the_sources_filters_like_polled_ones():
    async with pushing() as push:
        push.source.exclude = ["/news/video-"]
        push.source.__post_init__()
        await push.active()
        stories = [push.site.add("video-of-the-storm", "Video"),
                   push.site.add("storm-report-in-words", "Report")]
        await push.hub.publish(push.site.feed_url, push.site.feed(stories))
        assert push.requested == [push.site.story_url(stories[1])]
        assert (push.site.story_url(stories[0]), "excluded") in push.outcomes[0].skipped


async def test_a_denied_subscription_leaves_the_feed_to_polling():
    denied = count("denied", *SUB)
    async with pushing() as push:
        await push.active()
        callback = push.hub.requests[0]["hub.callback"]
        assert await push.hub.deny(push.site.feed_url, callback, "over quota") == 200
        assert push.sub is not None and push.sub.state == "denied"
        assert push.sub.reason == "over quota"
        assert not push.subscriber.pushed("site")
        assert push.subscriber.poll_due(push.source)
    assert count("denied", *SUB) == denied + 1


async def test_a_feed_that_stops_naming_the_hub_is_unsubscribed():
    async with pushing(recheck_interval=0.3) as push:
        await push.active()
        push.site.hub = None
        await until(lambda: not push.hub.live(push.site.feed_url), what="unsubscription")
        assert push.hub.verifications[-1].mode == "unsubscribe"
        assert push.sub is None
        assert push.subscriber.poll_due(push.source)


async def polled(push: Push, seconds: float) -> int:
    """How many poll requests `kabar fetch`'s poller sends for the source in ``seconds``,
    ticking every second, with the subscriber deciding which sources are due."""
    push.source.min_poll_interval = 1.0
    sent: list[FetchRequest] = []

    async def send(request: FetchRequest) -> None:
        sent.append(request)

    stop = asyncio.Event()
    polling = asyncio.create_task(poll_sources([push.source], send, once=False, stop=stop,
                                               due=push.subscriber.poll_due))
    await asyncio.sleep(seconds)
    stop.set()
    await polling
    return len(sent)


async def test_a_pushed_feed_is_polled_only_at_the_safety_net_rate():
    async with pushing(safety_poll_interval=1.5) as push:
        await push.active()
        # ticks at 0, 1, 2 and 3 s: the safety net lets through the first and the one 2 s on
        assert await polled(push, 3.5) == 2


async def test_when_the_hub_goes_away_the_lease_lapses_and_polling_takes_over():
    expired = count("expired", *SUB)
    async with pushing(max_lease=4, renew_fraction=0.9, safety_poll_interval=3600) as push:
        await push.active()
        assert await polled(push, 1.5) == 1  # pushed: ticks at 0 and 1 s, the safety net once
        await push.hub.go_away()
        await until(lambda: push.sub is not None and push.sub.state == "expired", timeout=5,
                    what="lease to lapse")
        assert not push.subscriber.pushed("site")
        # every tick again: the fetch stage's adaptive interval decides, as for any feed
        assert await polled(push, 2.5) == 3
    assert count("expired", *SUB) == expired + 1


async def test_a_hub_that_refuses_the_subscription_leaves_polling_on():
    async with pushing() as push:
        push.hub.accepting = False
        await until(lambda: push.sub is not None and push.sub.state == "failed",
                    what="failed subscription")
        assert "503" in push.sub.reason
        assert push.subscriber.poll_due(push.source)
        assert push.subscriber.poll_due(push.source)


async def test_a_silent_hub_is_trusted_only_for_the_silence_timeout():
    async with pushing(silence_timeout=0.4) as push:
        await push.active()
        assert push.subscriber.pushed("site")
        await asyncio.sleep(0.5)
        assert not push.subscriber.pushed("site")
        await push.hub.publish(push.site.feed_url, push.site.feed([push.site.add("a-b-c-d", "x")]))
        assert push.subscriber.pushed("site")


# -- on a real broker: notification → fetch request on the topic --------------------------
def report_latency(what: str, latencies: list[float], capsys: pytest.CaptureFixture[str]
                   ) -> float:
    """Print n, p50, p95 (nearest rank) and max of ``latencies``; return the p95."""
    ordered = sorted(latencies)
    p95 = ordered[math.ceil(0.95 * len(ordered)) - 1]
    with capsys.disabled():
        print(f"\nWebSub notification → {what}: n={len(ordered)} "
              f"p50={statistics.median(ordered) * 1000:.0f} ms p95={p95 * 1000:.0f} ms "
              f"max={ordered[-1] * 1000:.0f} ms")
    return p95


@pytest.mark.broker
async def test_push_latency_from_notification_to_the_fetch_topic(
        pipeline_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from aiokafka import AIOKafkaConsumer

    from worker.kafka_io import bootstrap_servers
    from worker.runner import run_poller

    settings = pipeline_settings
    settings.websub.enabled = True
    settings.websub.port = 0
    settings.websub.bind = "127.0.0.1"
    topic = settings.topic_name("fetch")
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap_servers(settings.broker.url),
                                auto_offset_reset="earliest", group_id=None)
    async with LocalHub() as hub, NewsSite() as site:
        site.hub = hub.url
        source = Source(name="site", url=site.feed_url, kind="feed")
        stop = asyncio.Event()
        poller = asyncio.create_task(run_poller(settings, [source], once=False, stop=stop))
        await consumer.start()
        try:
            await until(lambda: bool(hub.live(site.feed_url)), timeout=60, what="subscription")
            seen: dict[str, float] = {}

            async def consume() -> None:
                async for message in consumer:
                    request = FetchRequest.from_json(message.value)
                    if request.kind == "article":
                        seen.setdefault(request.url, time.monotonic())

            reader = asyncio.create_task(consume())
            latencies = []
            for i in range(20):
                story = site.add(f"pushed-story-number-{i}", f"Pushed story {i}")
                published = time.monotonic()
                assert await hub.publish(site.feed_url, site.feed([story])) == [202]
                url = site.story_url(story)
                await until(lambda url=url: url in seen, timeout=30, what=url)
                latencies.append(seen[url] - published)
                await asyncio.sleep(0.1)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        finally:
            stop.set()
            await poller
            await consumer.stop()
    assert report_latency(f"{topic} ({settings.broker.kind})", latencies, capsys) <= 5.0


@pytest.mark.broker
async def test_pushed_story_reaches_the_articles_topic_through_kabar_fetch_and_worker(
        broker_url: str, broker_kind: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The real commands, as deployed: `kabar worker` and `kabar fetch` processes on the
    broker with default settings (only loopback fetching allowed), a hub and a site; the
    time from the hub's notification to the article on kabar.articles."""
    from aiokafka import AIOKafkaConsumer

    from tests.brokers import free_port, kill_with_parent
    from tests.fleet import Fleet
    from worker.kafka_io import bootstrap_servers

    prefix = f"w{uuid.uuid4().hex[:10]}."
    env = {"KABAR_FETCH_ALLOW_PRIVATE_ADDRESSES": "1"}
    fleet = Fleet(broker_url, prefix, tmp_path, env=env)
    consumer = AIOKafkaConsumer(f"{prefix}articles", auto_offset_reset="earliest",
                                bootstrap_servers=bootstrap_servers(broker_url), group_id=None)
    async with LocalHub() as hub, NewsSite() as site:
        site.hub = hub.url
        sources = tmp_path / "sources.toml"
        sources.write_text(f'[[source]]\nname = "site"\nurl = "{site.feed_url}"\n')
        fleet.start("worker")
        fetch = None
        try:
            await fleet.wait_stable(1)
            environment = dict(os.environ, KABAR_BROKER=broker_url, KABAR_TOPIC_PREFIX=prefix,
                               KABAR_WEBSUB_ENABLED="1",
                               KABAR_WEBSUB_PORT=str(free_port("127.0.0.1")), **env)
            with open(tmp_path / "fetch.log", "ab") as log:
                fetch = subprocess.Popen(
                    [sys.executable, "-m", "worker", "-v", "fetch", "--sources", str(sources)],
                    env=environment, stdout=subprocess.DEVNULL, stderr=log,
                    preexec_fn=kill_with_parent(os.getpid()))
            await until(lambda: bool(hub.live(site.feed_url)), timeout=60,
                        what="kabar fetch to subscribe")
            await consumer.start()
            arrived: dict[str, float] = {}
            articles: list[str] = []

            async def consume() -> None:
                async for message in consumer:
                    slug = orjson.loads(message.value)["url"].rsplit("/", 1)[-1]
                    articles.append(slug)
                    arrived.setdefault(slug, time.monotonic())

            reader = asyncio.create_task(consume())
            latencies = []
            for i in range(21):  # the first one warms the path up and is not counted
                story = site.add(f"pushed-story-{i}-{uuid.uuid4().hex[:6]}", f"Story {i}")
                published = time.monotonic()
                assert await hub.publish(site.feed_url, site.feed([story])) == [202]
                await until(lambda slug=story.slug: slug in arrived, timeout=60,
                            what=f"article {story.slug}")
                if i:
                    latencies.append(arrived[story.slug] - published)
                await asyncio.sleep(1.0)  # stories a second apart: the host's polite delay
            # the whole feed pushed again (a new body, so no replay): the fetch agent's
            # seen-table skips every story already fetched, as it would for a poll
            late = site.add(f"late-story-{uuid.uuid4().hex[:6]}", "Late story")
            assert await hub.publish(site.feed_url, site.feed()) == [202]
            await until(lambda: late.slug in arrived, timeout=60, what="the late story")
            await asyncio.sleep(2.0)
            assert sorted(articles) == sorted(s.slug for s in site.stories)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            # SIGTERM: kabar fetch unsubscribes before it exits
            fetch.send_signal(signal.SIGTERM)
            await until(lambda: fetch.poll() is not None, timeout=30, what="kabar fetch to stop")
            assert fetch.returncode == 0, (tmp_path / "fetch.log").read_text()[-3000:]
            assert hub.verifications[-1].mode == "unsubscribe"
            assert hub.verifications[-1].echoed
            assert not hub.live(site.feed_url)
        finally:
            if fetch is not None and fetch.poll() is None:
                fetch.kill()
                fetch.wait()
            fleet.stop_all()
            await consumer.stop()
    what = f"{prefix}articles (kabar fetch + kabar worker, {broker_kind})"
    assert report_latency(what, latencies, capsys) <= 5.0
