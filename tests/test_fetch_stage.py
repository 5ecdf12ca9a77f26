"""The per-message fetch stage: seen-table, conditional GET, discovery, dead letters."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.hostile_server import BILLION_LAUGHS, HostileServer, rss
from worker.batches import StagedWrites
from worker.fetch import discovery
from worker.fetch.client import Fetcher
from worker.fetch.sources import Source
from worker.fetch.stage import (
    MAX_INDEX_SITEMAPS,
    FetchOutcome,
    bound_listings,
    expire_seen,
    handle_fetch_request,
    source_requests,
)
from worker.fetch.urls import host_of
from worker.health.events import fetch_events
from worker.models import FetchHints, FetchRequest
from worker.settings import FetchSettings

HOSTS = {"news.test": "127.0.0.1", "blog.test": "127.0.0.1"}
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def request(url: str, kind: str = "article", source: str = "s", **hints: str) -> FetchRequest:
    return FetchRequest(url=url, source=source, host=host_of(url), requested_at=NOW.isoformat(),
                        kind=kind, hints=FetchHints(**hints))




@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    settings = FetchSettings(allow_private_addresses=True, per_host_delay=0.0, retries=0,
                             total_timeout=3.0, revisit_after=3600.0)
    async with Fetcher(settings, static_hosts=HOSTS) as f:
        yield f


async def test_article_becomes_a_raw_page_once(server, fetcher):
    seen: dict = {}
    url = server.url("news.test", "/article/one?utm_source=feed")
    req = request(url, title="One", published_at="2026-11-25T11:00:00+00:00")
    out = await handle_fetch_request(req, fetcher, seen, NOW)
    [page] = out.pages
    assert page.url == url and page.status == 200 and page.source == "s"
    assert page.final_url == server.url("news.test", "/article/one")  # tracking dropped
    assert "<h1>/article/one</h1>" in page.html and page.charset == "utf-8"
    assert page.headers["content-type"].startswith("text/html")
    assert page.fetched_at == NOW.isoformat()
    assert page.hints["title"] == "One"
    assert not out.dead_letters and not out.requests
    again = await handle_fetch_request(req, fetcher, seen, NOW + timedelta(minutes=5))
    assert again.pages == [] and again.skipped == [(url, "already_fetched")]
    assert len([r for r in server.requests if r.path.startswith("/article/one")]) == 1


async def test_article_is_refetched_when_its_feed_says_it_changed(server, fetcher):
    seen: dict = {}
    url = server.url("news.test", "/article/two")
    await handle_fetch_request(request(url, modified_at="2026-11-25T10:00:00+00:00"), fetcher,
                               seen, NOW)
    same = await handle_fetch_request(request(url, modified_at="2026-11-25T10:00:00+00:00"),
                                      fetcher, seen, NOW)
    assert same.skipped == [(url, "already_fetched")]
    changed = await handle_fetch_request(request(url, modified_at="2026-11-25T11:30:00+00:00"),
                                         fetcher, seen, NOW)
    assert changed.pages[0].hints["revisit"] == "modified"


async def test_article_is_refetched_after_the_revisit_window(server, fetcher):
    seen: dict = {}
    url = server.url("news.test", "/article/three")
    await handle_fetch_request(request(url), fetcher, seen, NOW)
    later = await handle_fetch_request(request(url), fetcher, seen, NOW + timedelta(hours=2))
    assert later.pages[0].hints["revisit"] == "revisit_window"


async def test_failed_article_becomes_a_dead_letter_with_the_request(server, fetcher):
    req = request(server.url("news.test", "/status/410"))
    out = await handle_fetch_request(req, fetcher, {}, NOW)
    [dead] = out.dead_letters
    assert (dead.stage, dead.reason) == ("fetch", "http_410")
    assert dead.payload == req.to_dict() and dead.url == req.url and dead.key == "news.test"


async def test_a_dead_letter_for_a_failed_hop_names_the_url_the_source_asked_for(server,
                                                                                 fetcher):
    gone = server.url("news.test", "/status/404")
    req = request(server.url("news.test", f"/redirect?to={gone}"), kind="feed", source="wire")
    [dead] = (await handle_fetch_request(req, fetcher, {}, NOW)).dead_letters
    assert (dead.reason, dead.url) == ("http_404", gone)
    assert dead.message.endswith(f"(on the way to {req.url} of source 'wire')")
    server.canned["/robots.txt"] = (200, {"Content-Type": "image/png"}, b"\x89PNG")
    req = request(server.url("blog.test", "/article/x"), source="wire")
    [dead] = (await handle_fetch_request(req, fetcher, {}, NOW)).dead_letters
    assert dead.url == server.url("blog.test", "/robots.txt")
    assert f"on the way to {req.url} of source 'wire'" in dead.message


async def test_invalid_url_becomes_a_dead_letter(fetcher):
    out = await handle_fetch_request(request("mailto:someone@example.org"), fetcher, {}, NOW)
    assert out.dead_letters[0].reason == "invalid_url"


async def test_a_page_carries_when_its_feed_entry_was_discovered(server, fetcher):
    """The discovery time travels with the story, for the discovery → article histogram."""
    server.conditional["/rss.xml"] = ("application/rss+xml", rss(feed_items(server, "a")))
    polled = await handle_fetch_request(request(server.url("news.test", "/rss.xml"),
                                                kind="feed"), fetcher, {}, NOW)
    [announced] = polled.requests
    assert announced.requested_at == NOW.isoformat()
    fetched = await handle_fetch_request(announced, fetcher, {}, NOW + timedelta(seconds=40))
    [page] = fetched.pages
    assert page.hints["discovered_at"] == NOW.isoformat()
    assert page.fetched_at == (NOW + timedelta(seconds=40)).isoformat()


def feed_items(server: HostileServer, *names: str, age: timedelta = timedelta(hours=1)):
    when = format_datetime(NOW - age)
    return [(server.url("news.test", f"/article/{n}?utm_medium=rss"), f"T {n}", when)
            for n in names]


async def test_feed_poll_announces_new_items_then_304_announces_nothing(server, fetcher):
    server.conditional["/rss.xml"] = ("application/rss+xml", rss(
        feed_items(server, "a", "b") + feed_items(server, "old", age=timedelta(days=5))))
    seen: dict = {}
    poll = request(server.url("news.test", "/rss.xml"), kind="feed", language="en")
    out = await handle_fetch_request(poll, fetcher, seen, NOW)
    assert [r.url for r in out.requests] == [server.url("news.test", "/article/a"),
                                             server.url("news.test", "/article/b")]
    first = out.requests[0]
    assert (first.kind, first.host, first.source) == ("article", "news.test", "s")
    assert first.hints.title == "T a" and first.hints.language == "en"
    assert first.hints.published_at == (NOW - timedelta(hours=1)).isoformat()
    assert (server.url("news.test", "/article/old"), "too_old") in out.skipped
    # Not due yet: the stage does not even ask.
    early = await handle_fetch_request(poll, fetcher, seen, NOW + timedelta(seconds=10))
    assert early.skipped == [(poll.url, "not_due")]
    # Due: a conditional GET, answered 304, produces nothing downstream.
    due = NOW + timedelta(hours=1)
    unchanged = await handle_fetch_request(poll, fetcher, seen, due)
    assert unchanged.requests == [] and unchanged.skipped == [(poll.url, "not_modified")]
    assert server.requests[-1].headers.get("If-None-Match")
    assert fetcher.stats()["news.test"]["not_modified"] == 1


async def test_feed_announces_only_items_it_has_not_announced(server, fetcher):
    seen: dict = {}
    poll = request(server.url("news.test", "/rss.xml"), kind="feed")
    server.conditional["/rss.xml"] = ("application/rss+xml", rss(feed_items(server, "a")))
    await handle_fetch_request(poll, fetcher, seen, NOW)
    server.conditional["/rss.xml"] = ("application/rss+xml", rss(feed_items(server, "b", "a")))
    out = await handle_fetch_request(poll, fetcher, seen, NOW + timedelta(hours=1))
    assert [r.url for r in out.requests] == [server.url("news.test", "/article/b")]


async def test_source_include_exclude_and_max_age_apply_to_items(server, fetcher):
    server.conditional["/rss.xml"] = ("application/rss+xml", rss(
        feed_items(server, "keep-1", "video-2", "other-3")))
    source = Source(name="s", url=server.url("news.test", "/rss.xml"), include=["keep|video"],
                    exclude=["video"], max_age=7200)
    out = await handle_fetch_request(request(source.url, kind="feed"), fetcher, {}, NOW,
                                     sources={"s": source})
    assert [r.url for r in out.requests] == [server.url("news.test", "/article/keep-1")]
    assert {reason for _, reason in out.skipped} == {"excluded"}


async def test_poll_schedule_learns_from_items_and_backs_off_on_304s(server, fetcher):
    items = [(server.url("news.test", f"/article/n{n}"), f"T {n}",
              format_datetime(NOW - timedelta(minutes=10 * n))) for n in range(6)]
    server.conditional["/rss.xml"] = ("application/rss+xml", rss(items))
    source = Source(name="s", url=server.url("news.test", "/rss.xml"), poll_interval=100,
                    min_poll_interval=20, max_poll_interval=900)
    seen: dict = {}
    now = NOW
    intervals = []
    while now < NOW + timedelta(hours=6):
        await handle_fetch_request(request(source.url, kind="feed"), fetcher, seen, now,
                                   sources={"s": source})
        entry = seen[source.url]
        intervals.append(entry["interval"])
        now += timedelta(seconds=entry["interval"])
    # six items in the last hour: a busy feed, polled about every minute; then only 304s
    assert 20 <= intervals[0] <= 90 and entry["rhythm"]["arrivals"][-1] == NOW.timestamp()
    assert intervals[-1] == 900 and max(intervals) == 900
    assert len(intervals) < 0.6 * 6 * 60  # fewer than a poll a minute, and falling


async def test_poll_is_not_made_before_it_is_due(server, fetcher):
    server.conditional["/rss.xml"] = ("application/rss+xml", rss(feed_items(server, "a")))
    source = Source(name="s", url=server.url("news.test", "/rss.xml"), min_poll_interval=20)
    seen: dict = {}
    await handle_fetch_request(request(source.url, kind="feed"), fetcher, seen, NOW,
                               sources={"s": source})
    early = await handle_fetch_request(request(source.url, kind="feed"), fetcher, seen,
                                       NOW + timedelta(seconds=5), sources={"s": source})
    assert early.skipped == [(source.url, "not_due")]


async def test_a_listing_is_polled_once_while_its_poll_is_in_flight(server, fetcher):
    # the agent handles requests concurrently: a slow site must not get the next tick's poll
    server.conditional["/rss.xml"] = ("application/rss+xml", rss(feed_items(server, "a")))
    source = Source(name="s", url=server.url("news.test", "/rss.xml"), min_poll_interval=20)
    seen: dict = {}
    first, second = await asyncio.gather(*(
        handle_fetch_request(request(source.url, kind="feed"), fetcher, seen,
                             NOW + timedelta(seconds=s), sources={"s": source})
        for s in (0, 1)))  # within the fetch's total timeout (3 s here)
    assert [r.path for r in server.requests if r.path == "/rss.xml"] == ["/rss.xml"]
    assert len(first.requests) == 1 and second.skipped == [(source.url, "in_flight")]
    assert "polling_until" not in seen[source.url]
    assert seen[source.url]["rhythm"]["arrivals"]  # the finished poll's state, not the claim


async def test_a_failed_poll_releases_its_claim_and_is_retried_on_the_next_tick(server, fetcher):
    server.canned["/gone.xml"] = (503, {}, b"down")
    url = server.url("news.test", "/gone.xml")
    seen: dict = {}
    for s in (0, 1):
        out = await handle_fetch_request(request(url, kind="feed"), fetcher, seen,
                                         NOW + timedelta(seconds=s))
        assert [d.reason for d in out.dead_letters] and not out.skipped
    assert url not in seen


async def test_xml_bomb_feed_becomes_a_dead_letter(server, fetcher):
    body = f'<?xml version="1.0"?>{BILLION_LAUGHS}<rss><channel/></rss>'.encode()
    server.canned["/bomb.xml"] = (200, {"Content-Type": "application/rss+xml"}, body)
    out = await handle_fetch_request(request(server.url("news.test", "/bomb.xml"), kind="feed"),
                                     fetcher, {}, NOW)
    assert out.dead_letters[0].reason == "xml_entities"


async def test_sitemap_index_then_news_sitemap(server, fetcher):
    child = server.url("news.test", "/news-sitemap.xml")
    server.canned["/sitemap.xml"] = (200, {"Content-Type": "application/xml"}, (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{child}</loc><lastmod>{NOW.isoformat()}</lastmod></sitemap>"
        f"<sitemap><loc>{server.url('news.test', '/2019.xml')}</loc>"
        "<lastmod>2019-01-01</lastmod></sitemap></sitemapindex>").encode())
    server.canned["/news-sitemap.xml"] = (200, {"Content-Type": "text/xml"}, (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"<url><loc>{server.url('news.test', '/article/n1')}</loc><news:news>"
        "<news:publication><news:language>id</news:language></news:publication>"
        f"<news:publication_date>{(NOW - timedelta(hours=2)).isoformat()}"
        "</news:publication_date><news:title>Berita</news:title></news:news></url>"
        "</urlset>").encode())
    seen: dict = {}
    index = await handle_fetch_request(request(server.url("news.test", "/sitemap.xml"),
                                               kind="sitemap"), fetcher, seen, NOW)
    assert [(r.url, r.kind) for r in index.requests] == [(child, "sitemap")]
    assert (server.url("news.test", "/2019.xml"), "too_old") in index.skipped
    news = await handle_fetch_request(index.requests[0], fetcher, seen, NOW)
    [item] = news.requests
    assert item.url == server.url("news.test", "/article/n1")
    assert (item.hints.title, item.hints.language) == ("Berita", "id")


async def test_robots_sitemap_lines_are_a_sitemap_source(server, fetcher):
    server.robots["news.test"] = f"User-agent: *\nSitemap: {server.url('news.test', '/s.xml')}\n"
    out = await handle_fetch_request(request(server.url("news.test", "/robots.txt"),
                                             kind="sitemap"), fetcher, {}, NOW)
    assert [(r.url, r.kind) for r in out.requests] == [(server.url("news.test", "/s.xml"),
                                                         "sitemap")]


async def test_section_page_leads_to_its_feed_or_else_its_article_links(server, fetcher):
    server.canned["/nasional"] = (200, {"Content-Type": "text/html"}, (
        b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        b'</head><body><a href="/2026/11/25/story-one">x</a></body></html>'))
    server.canned["/dunia"] = (200, {"Content-Type": "text/html"}, (
        b'<html><body><a href="/2026/11/25/story-two">x</a><a href="/tag/x">t</a>'
        b"</body></html>"))
    with_feed = await handle_fetch_request(request(server.url("news.test", "/nasional"),
                                                   kind="page"), fetcher, {}, NOW)
    assert [(r.url, r.kind) for r in with_feed.requests] == [
        (server.url("news.test", "/rss.xml"), "feed")]
    without = await handle_fetch_request(request(server.url("news.test", "/dunia"),
                                                 kind="page"), fetcher, {}, NOW)
    assert [(r.url, r.kind) for r in without.requests] == [
        (server.url("news.test", "/2026/11/25/story-two"), "article")]


async def test_a_section_page_without_a_feed_is_parsed_once(server, fetcher, monkeypatch):
    parses: list[str] = []

    def counting_parser(html: str) -> discovery.HTMLParser:
        parses.append(html)
        return parser(html)

    parser = discovery.HTMLParser
    monkeypatch.setattr(discovery, "HTMLParser", counting_parser)
    server.canned["/dunia"] = (200, {"Content-Type": "text/html"}, (
        b'<html><body><a href="/2026/11/25/story-two">x</a></body></html>'))
    out = await handle_fetch_request(request(server.url("news.test", "/dunia"), kind="page"),
                                     fetcher, {}, NOW)
    assert [r.kind for r in out.requests] == ["article"]
    assert len(parses) == 1


def test_source_requests_are_one_poll_per_enabled_source():
    sources = [Source(name="a", url="https://a.example/rss", language="id",
                      timezone="Asia/Jakarta"),
               Source(name="b", url="https://b.example/sitemap.xml", kind="sitemap"),
               Source(name="c", url="https://c.example/", kind="page", enabled=False)]
    reqs = source_requests(sources, NOW)
    assert [(r.source, r.kind, r.host) for r in reqs] == [("a", "feed", "a.example"),
                                                          ("b", "sitemap", "b.example")]
    assert (reqs[0].hints.language, reqs[0].hints.timezone) == ("id", "Asia/Jakarta")
    assert reqs[0].requested_at == NOW.isoformat()


async def test_declared_canonical_is_a_hint_and_marks_the_alias_seen(server, fetcher):
    server.canned["/amp/story"] = (200, {"Content-Type": "text/html"}, (
        b'<html><head><link rel="canonical" href="/article/story"></head>'
        b"<body><p>x</p></body></html>"))
    seen: dict = {}
    out = await handle_fetch_request(request(server.url("news.test", "/amp/story")), fetcher,
                                     seen, NOW)
    assert out.pages[0].hints["canonical_url"] == server.url("news.test", "/article/story")
    again = await handle_fetch_request(request(server.url("news.test", "/article/story")),
                                       fetcher, seen, NOW)
    assert again.skipped == [(server.url("news.test", "/article/story"), "already_fetched")]


async def test_robots_disallowed_article_is_a_counted_skip_not_a_dead_letter(server, fetcher):
    server.robots["news.test"] = "User-agent: *\nDisallow: /article/private\n"
    url = server.url("news.test", "/article/private-1")
    out = await handle_fetch_request(request(url), fetcher, {}, NOW)
    assert out.skipped == [(url, "robots_disallowed")] and not out.dead_letters
    assert fetcher.stats()["news.test"]["robots_disallowed"] == 1


async def test_modified_dates_with_and_without_offsets_compare(server, fetcher):
    seen: dict = {}
    url = server.url("news.test", "/article/dates")
    await handle_fetch_request(request(url, modified_at="2026-11-25T10:00:00"), fetcher, seen,
                               NOW)
    later = await handle_fetch_request(request(url, modified_at="2026-11-25T11:00:00+00:00"),
                                       fetcher, seen, NOW)
    assert later.pages[0].hints["revisit"] == "modified"


def test_seen_table_forgets_urls_after_its_retention_and_only_those_its_partition_owns():
    now = datetime(2026, 3, 1, tzinfo=UTC)
    old, fresh = (now - timedelta(days=20)).isoformat(), (now - timedelta(days=2)).isoformat()
    seen = {
        "https://a.example/old": {"fetched_at": old},
        "https://a.example/fresh": {"fetched_at": fresh},
        "https://a.example/feed": {"polled_at": old, "recent": ["x"]},
        "https://b.example/old": {"fetched_at": old},
        "https://a.example/undated": {},
    }
    gone = expire_seen(seen, now=now, retention=14 * 86_400.0,
                       owns=lambda key: host_of(key) == "a.example")
    assert gone == 3
    assert set(seen) == {"https://a.example/fresh", "https://b.example/old"}


async def test_section_page_nested_too_deep_to_parse_is_a_dead_letter(server, fetcher):
    server.canned["/deep"] = (200, {"Content-Type": "text/html"}, (
        b"<html><body>" + b"<div>" * 60_000 + b'<a href="/2026/11/25/story-one">x</a>'
        + b"</div>" * 60_000 + b"</body></html>"))  # lexbor alone: 7 s, for each of 2 parses
    started = asyncio.get_running_loop().time()
    out = await handle_fetch_request(request(server.url("news.test", "/deep"), kind="page"),
                                     fetcher, {}, NOW)
    assert [d.reason for d in out.dead_letters] == ["too_nested"]
    assert "open elements" in out.dead_letters[0].message and not out.requests
    assert asyncio.get_running_loop().time() - started < 3


async def test_sitemap_index_listing_itself_is_fetched_once_per_poll(server, fetcher):
    me = server.url("news.test", "/self-index.xml")
    server.canned["/self-index.xml"] = (200, {"Content-Type": "application/xml"}, (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{me}</loc></sitemap><sitemap><loc>{me}?page=2</loc></sitemap>"
        "</sitemapindex>").encode())
    seen: dict = {}
    queue, handled, now = [request(me, kind="sitemap")], 0, NOW
    while queue:
        handled += 1
        assert handled < 20, "the index keeps requesting itself"
        out = await handle_fetch_request(queue.pop(0), fetcher, seen, now)
        queue += out.requests
        now += timedelta(seconds=1)
    assert sorted(r.path for r in server.requests if r.path.startswith("/self-index")) == [
        "/self-index.xml", "/self-index.xml?page=2"]


async def test_a_failed_first_poll_through_the_agents_staged_table_is_a_fetch_dead_letter(
        server, fetcher):
    # the worker hands the stage its seen-table through StagedWrites: releasing the claim of
    # a listing never polled before must undo the staged write, not fail as internal_error
    server.canned["/never.xml"] = (503, {}, b"down")
    url = server.url("news.test", "/never.xml")
    table: dict = {}
    staged = StagedWrites(table)
    out = await handle_fetch_request(request(url, kind="feed"), fetcher, staged, NOW)
    assert [d.reason for d in out.dead_letters] == ["http_503"]
    staged.commit()
    assert url not in table


async def crawl(first: FetchRequest, fetcher: Fetcher, source: Source, limit: int = 200
                ) -> tuple[list[FetchRequest], FetchOutcome]:
    """Handle ``first`` and every request it leads to, as the fetch agent would, until none
    are left; returns the requests handled and everything they gave."""
    seen: dict = {}
    queue, handled, total = [first], [], FetchOutcome()
    now = NOW
    while queue:
        assert len(handled) < limit, f"still crawling after {limit} requests"
        req = queue.pop(0)
        handled.append(req)
        out = await handle_fetch_request(req, fetcher, seen, now, sources={source.name: source})
        queue += out.requests
        total.pages += out.pages
        total.dead_letters += out.dead_letters
        now += timedelta(seconds=1)
    return handled, total


async def test_endless_chain_of_sitemap_indexes_stops_at_the_depth_bound(server, fetcher):
    server.robots["news.test"] = (
        f"User-agent: *\nSitemap: {server.url('news.test', '/index-chain/1')}\n")
    robots = server.url("news.test", "/robots.txt")
    source = Source(name="hostile", url=robots, kind="sitemap")
    handled, out = await crawl(request(robots, kind="sitemap", source="hostile"), fetcher,
                               source)
    assert fetcher.settings.max_listing_depth == 3
    assert max(r.depth for r in handled) == 3
    fetched = sorted({r.path for r in server.requests if r.path.startswith("/index-chain/")})
    # robots.txt (0) → 1 (1) → 2, 3 (2) → 4, 5 (3): the indexes 4 and 5 list are not fetched
    assert fetched == [f"/index-chain/{n}" for n in range(1, 6)]
    assert {r.host for r in server.requests if r.path.startswith("/index-chain/")} == {
        "news.test", "blog.test"}  # crossing to another host does not reset the depth
    assert out.dead_letters and {d.reason for d in out.dead_letters} == {"too_deep"}
    letter = out.dead_letters[0]
    assert letter.payload["depth"] == 3 and letter.url == letter.payload["url"]
    assert "at depth 4 below source 'hostile' (" + robots + ")" in letter.message
    assert "fetch.max_listing_depth = 3" in letter.message
    assert "/index-chain/" in letter.message.rsplit("not fetched: ", 1)[1]


@pytest.mark.parametrize("indexes", [1, 2])
async def test_site_with_nested_sitemap_indexes_yields_all_its_articles(server, fetcher,
                                                                       indexes):
    # robots.txt → index (→ index) → urlset: the usual shapes stay within the bound
    articles = [server.url("news.test", f"/article/nested-{i}") for i in range(5)]
    server.canned["/urlset.xml"] = (200, {"Content-Type": "application/xml"}, (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<url><loc>{a}</loc></url>" for a in articles) + "</urlset>").encode())
    child = server.url("news.test", "/urlset.xml")
    for level in range(indexes, 0, -1):
        server.canned[f"/index-{level}.xml"] = (200, {"Content-Type": "application/xml"}, (
            '<?xml version="1.0"?><sitemapindex '
            'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{child}</loc></sitemap></sitemapindex>").encode())
        child = server.url("news.test", f"/index-{level}.xml")
    server.robots["news.test"] = f"User-agent: *\nSitemap: {child}\n"
    robots = server.url("news.test", "/robots.txt")
    source = Source(name="site", url=robots, kind="sitemap")
    handled, out = await crawl(request(robots, kind="sitemap", source="site"), fetcher, source)
    assert not out.dead_letters
    assert sorted(page.url for page in out.pages) == sorted(articles)
    assert max(r.depth for r in handled if r.kind == "sitemap") == indexes + 1


def found(kind: str, n: int) -> list:
    return [(kind, f"https://news.test/{kind}/{i}", None, FetchHints()) for i in range(n)]


def test_listings_deeper_than_the_bound_are_one_dead_letter_articles_pass():
    index = FetchRequest(url="https://news.test/i.xml", source="s", host="news.test",
                         requested_at=NOW.isoformat(), kind="sitemap", depth=2)
    items = found("sitemap", 4) + found("article", 3)
    out = FetchOutcome()
    assert bound_listings(index, items, 3, None, NOW, out) == items
    assert not out.dead_letters
    deeper = dataclasses.replace(index, depth=3)
    kept = bound_listings(deeper, items, 3, None, NOW, out)
    assert kept == found("article", 3)
    [letter] = out.dead_letters
    assert (letter.reason, letter.url, letter.stage) == ("too_deep", index.url, "fetch")
    assert "lists 4 listing(s) at depth 4 below source 's'" in letter.message
    assert letter.message.endswith("https://news.test/sitemap/2 and 1 more")


def test_a_refusal_the_previous_poll_made_too_is_repeated_not_dead_lettered_again():
    index = FetchRequest(url="https://news.test/i.xml", source="s", host="news.test",
                         requested_at=NOW.isoformat(), kind="sitemap", depth=3)
    items = found("sitemap", 2) + found("article", 1)
    out = FetchOutcome()
    kept = bound_listings(index, items, 3, None, NOW, out, refused_before=["too_deep"])
    assert kept == found("article", 1) and not out.dead_letters
    [letter] = out.repeated
    assert (letter.reason, letter.url) == ("too_deep", index.url)
    other = FetchOutcome()
    bound_listings(index, items, 3, None, NOW, other, refused_before=["too_many_sitemaps"])
    assert [d.reason for d in other.dead_letters] == ["too_deep"] and not other.repeated


async def test_an_index_that_every_poll_finds_too_deep_is_one_dead_letter_until_it_mends(
        server, fetcher):
    index = server.url("news.test", "/deep-index.xml")

    def lists(*paths: str) -> None:
        server.canned["/deep-index.xml"] = (200, {"Content-Type": "application/xml"}, (
            '<?xml version="1.0"?><sitemapindex '
            'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<sitemap><loc>{server.url('news.test', path)}</loc></sitemap>"
                      for path in paths) + "</sitemapindex>").encode())

    req = dataclasses.replace(request(index, kind="sitemap"), depth=3)
    seen: dict = {}
    polls = []
    # a new index each poll (no validators: every poll reads the body)
    for day, paths in enumerate([["/d1.xml"], ["/d2.xml"], ["/d3.xml"], [], ["/d5.xml"]]):
        lists(*paths)
        polls.append(await handle_fetch_request(req, fetcher, seen, NOW + timedelta(days=day)))
    assert [[d.reason for d in out.dead_letters] for out in polls] == [
        ["too_deep"], [], [], [], ["too_deep"]]
    assert [[d.reason for d in out.repeated] for out in polls] == [
        [], ["too_deep"], ["too_deep"], [], []]
    assert "/d2.xml" in polls[1].repeated[0].message  # what this poll refused
    assert all(not out.requests for out in polls)
    # source health still sees each of those polls fail
    assert [fetch_events(req, out, 0.0)[0].error for out in polls] == [
        "too_deep", "too_deep", "too_deep", None, "too_deep"]


def test_an_index_announces_at_most_the_protocols_50000_sitemaps():
    index = FetchRequest(url="https://news.test/i.xml", source="s", host="news.test",
                         requested_at=NOW.isoformat(), kind="sitemap")
    items = found("sitemap", MAX_INDEX_SITEMAPS + 2) + found("article", 2)
    out = FetchOutcome()
    kept = bound_listings(index, items, 3, None, NOW, out)
    assert MAX_INDEX_SITEMAPS == 50_000
    assert kept == items[:MAX_INDEX_SITEMAPS] + found("article", 2)
    [letter] = out.dead_letters
    assert letter.reason == "too_many_sitemaps"
    assert f"lists {MAX_INDEX_SITEMAPS + 2} sitemaps" in letter.message


async def test_what_a_listing_announces_is_one_level_deeper(server, fetcher):
    server.canned["/depth-index.xml"] = (200, {"Content-Type": "application/xml"}, (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{server.url('news.test', '/child.xml')}</loc></sitemap>"
        "</sitemapindex>").encode())
    req = dataclasses.replace(request(server.url("news.test", "/depth-index.xml"),
                                      kind="sitemap"), depth=1)
    out = await handle_fetch_request(req, fetcher, {}, NOW)
    assert [(r.kind, r.depth) for r in out.requests] == [("sitemap", 2)]
