"""Whatever bytes a server sends, the parsers answer with a result or a DiscoveryError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.fetch.charset import decode_html
from worker.fetch.discovery import (
    DiscoveryError,
    article_links,
    discover_feeds,
    parse_feed,
    parse_sitemap,
)
from worker.fetch.urls import declared_canonical

BASE = "https://news.example/section/"
FRAGMENTS = [b"<?xml version='1.0'?>", b"<rss>", b"<channel>", b"<item>", b"<link>", b"</link>",
             b"https://news.example/a", b"<urlset>", b"<url><loc>", b"</loc></url>", b"<!DOCTYPE x",
             b"<!ENTITY e 'x'>", b"&e;", b"]>", b"\x1f\x8b", b"{\"items\": [", b"\xff\xfe",
             b"<feed xmlns='http://www.w3.org/2005/Atom'>", b"<entry>", b"<a href='/2024/01/01/x'>",
             b"<link rel='alternate' type='application/rss+xml' href='", b"'>", b"\x00"]
documents = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=20)),
                     max_size=25).map(b"".join)
quick = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@quick
@given(documents)
def test_feed_parser_never_crashes(body):
    try:
        items = parse_feed(body, BASE)
    except DiscoveryError:
        return
    assert all(item.url for item in items)


@quick
@given(documents)
def test_sitemap_parser_never_crashes(body):
    try:
        pages, children = parse_sitemap(body, BASE, max_bytes=100_000)
    except DiscoveryError:
        return
    assert all(entry.url for entry in pages + children)


@quick
@given(documents, st.sampled_from([None, "utf-8", "iso-8859-1", "shift_jis", "bogus", "utf-16"]))
def test_html_decoding_and_page_discovery_never_crash(body, declared):
    text, charset = decode_html(body, declared)
    assert isinstance(text, str) and charset
    discover_feeds(text, BASE)
    article_links(text, BASE)
    declared_canonical(text, BASE)
