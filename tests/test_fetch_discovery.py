"""Feeds, sitemaps, section pages and robots.txt as sources of article URLs."""

from __future__ import annotations

import gzip
import time

import orjson
import pytest

from tests.hostile_server import BILLION_LAUGHS, XXE, rss
from worker.fetch.discovery import (
    DiscoveryError,
    article_links,
    discover_feeds,
    looks_like_article,
    parse_feed,
    parse_sitemap,
    robots_sitemaps,
)

BASE = "https://news.example/"


def test_rss2_items_keep_link_title_guid_and_utc_date():
    body = rss([("https://news.example/a/1", "Satu", "Sat, 07 Oct 2023 08:48:00 +0700")])
    [item] = parse_feed(body, BASE)
    assert item.url == "https://news.example/a/1"
    assert item.title == "Satu"
    assert item.guid == "https://news.example/a/1"
    assert item.published_at == "2023-10-07T01:48:00+00:00"
    assert item.language == "en"


def test_rss091_with_its_public_doctype_is_accepted():
    prolog = ('<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
              '"http://my.netscape.com/publish/formats/rss-0.91.dtd">')
    body = rss([("https://news.example/a/2", "Dua", "Sat, 07 Oct 2023 08:48:00 GMT")],
               extra_prolog=prolog)
    assert [i.url for i in parse_feed(body, BASE)] == ["https://news.example/a/2"]


def test_rss10_rdf_items_are_read():
    body = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://news.example/"><title>t</title><link>https://news.example/</link>
<items><rdf:Seq><rdf:li resource="https://news.example/r/1"/></rdf:Seq></items></channel>
<item rdf:about="https://news.example/r/1"><title>RDF item</title>
<link>https://news.example/r/1</link><dc:date>2023-10-07T08:48:00+07:00</dc:date></item>
</rdf:RDF>"""
    [item] = parse_feed(body, BASE)
    assert item.url == "https://news.example/r/1"
    assert item.published_at == "2023-10-07T01:48:00+00:00"


def test_atom_entries_use_alternate_link_and_updated_date():
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="id"><title>t</title>
<entry><title>Atom</title><id>tag:news.example,2023:1</id>
<link rel="enclosure" href="https://cdn.example/a.mp3"/>
<link rel="alternate" href="/atom/1"/>
<published>2023-10-07T08:48:00+07:00</published><updated>2023-10-08T10:00:00Z</updated></entry>
</feed>"""
    [item] = parse_feed(body, BASE)
    assert item.url == "https://news.example/atom/1"
    assert item.guid == "tag:news.example,2023:1"
    assert item.modified_at == "2023-10-08T10:00:00+00:00"


def test_json_feed_items_are_read():
    body = orjson.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "t", "language": "id",
        "items": [{"id": "1", "url": "https://news.example/j/1", "title": "JSON",
                   "date_published": "2023-10-07T08:48:00+07:00"},
                  {"id": "2", "content_text": "no url: skipped"}],
    })
    [item] = parse_feed(body, BASE)
    assert (item.url, item.title, item.language) == ("https://news.example/j/1", "JSON", "id")
    assert item.published_at == "2023-10-07T01:48:00+00:00"


@pytest.mark.parametrize("prolog", [BILLION_LAUGHS, XXE])
def test_feeds_declaring_entities_are_refused_before_parsing(prolog):
    body = f'<?xml version="1.0"?>{prolog}<rss><channel><item><title>&lol9;</title>' \
           f"<link>https://news.example/x</link></item></channel></rss>".encode()
    started = time.perf_counter()
    with pytest.raises(DiscoveryError) as info:
        parse_feed(body, BASE)
    assert info.value.reason == "xml_entities"
    assert time.perf_counter() - started < 0.5


def test_utf16_feed_declaring_entities_is_refused():
    body = f'<?xml version="1.0" encoding="utf-16"?>{XXE}<rss><channel/></rss>'.encode("utf-16")
    with pytest.raises(DiscoveryError) as info:
        parse_feed(body, BASE)
    assert info.value.reason == "xml_entities"


def test_html_is_not_a_feed():
    with pytest.raises(DiscoveryError) as info:
        parse_feed(b"<html><body><p>hello</p></body></html>", BASE)
    assert info.value.reason == "not_a_feed"


@pytest.mark.parametrize(("body", "says"), [
    (b"<!doctype html><!-- <rss> --><html><body><p>hello</p></body></html>",
     "the document is <html>, not <rss>, <feed> or <rdf:RDF>"),
    (b'<?xml version="1.0"?><error>quota</error>', "the document is <error>"),
    (b"", "empty"),
])
def test_not_a_feed_says_what_the_document_is_not_feedparsers_missing_header(body, says):
    # feedparser blames "no Content-type specified": the header Kabar never hands it
    with pytest.raises(DiscoveryError) as info:
        parse_feed(body, BASE)
    assert info.value.reason == "not_a_feed"
    assert f"({says}" in str(info.value) and "Content-type" not in str(info.value)


URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://news.example/2023/10/07/one</loc><lastmod>2023-10-07T08:50:00+07:00</lastmod>
    <news:news><news:publication><news:name>N</news:name><news:language>id</news:language>
    </news:publication><news:publication_date>2023-10-07T08:48:00+07:00</news:publication_date>
    <news:title>Satu</news:title></news:news></url>
  <url><loc>https://news.example/plain</loc></url>
</urlset>"""


def test_google_news_sitemap_fields_become_hints():
    pages, children = parse_sitemap(URLSET, BASE)
    assert children == []
    first, second = pages
    assert first.url == "https://news.example/2023/10/07/one"
    assert first.lastmod == "2023-10-07T01:50:00+00:00"
    assert first.news_published_at == "2023-10-07T01:48:00+00:00"
    assert (first.news_title, first.news_language) == ("Satu", "id")
    assert second.url == "https://news.example/plain" and second.lastmod is None


def test_sitemap_index_lists_children():
    body = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://news.example/s1.xml</loc><lastmod>2023-10-07</lastmod></sitemap>
<sitemap><loc>https://news.example/s2.xml.gz</loc></sitemap></sitemapindex>"""
    pages, children = parse_sitemap(body, BASE)
    assert pages == []
    assert [c.url for c in children] == ["https://news.example/s1.xml",
                                         "https://news.example/s2.xml.gz"]
    assert children[0].lastmod == "2023-10-07T00:00:00"


def test_gzipped_sitemap_is_read():
    pages, _ = parse_sitemap(gzip.compress(URLSET), BASE)
    assert len(pages) == 2


def test_gzip_bomb_sitemap_is_refused():
    bomb = gzip.compress(bytes(5_000_000))
    with pytest.raises(DiscoveryError) as info:
        parse_sitemap(bomb, BASE, max_bytes=1_000_000)
    assert info.value.reason == "decompression_bomb"


@pytest.mark.parametrize("prolog", [BILLION_LAUGHS, XXE])
def test_sitemaps_declaring_entities_are_refused(prolog):
    body = (f'<?xml version="1.0"?>{prolog}<urlset xmlns="http://www.sitemaps.org/schemas/'
            f'sitemap/0.9"><url><loc>https://news.example/&lol9;</loc></url></urlset>').encode()
    with pytest.raises(DiscoveryError) as info:
        parse_sitemap(body, BASE)
    assert info.value.reason == "xml_entities"


def test_plain_text_sitemap_is_one_url_per_line():
    pages, _ = parse_sitemap(b"https://news.example/a\n\nhttps://news.example/b\n", BASE)
    assert [p.url for p in pages] == ["https://news.example/a", "https://news.example/b"]


def test_broken_sitemap_is_reported():
    with pytest.raises(DiscoveryError) as info:
        parse_sitemap(b"<urlset><url><loc>", BASE)
    assert info.value.reason == "bad_sitemap"


SECTION = """<html><head>
<link rel="alternate" type="application/rss+xml" href="/rss/nasional.xml">
<link rel="alternate" type="application/atom+xml" href="https://news.example/atom">
<link rel="alternate" hreflang="en" href="/en/">
</head><body>
<a href="/2023/10/07/armenia-azerbaijan-talks">A</a>
<a href="/berita/123456/gempa-bumi">B</a>
<a href="/politik/pemilu-2024-dimulai-hari-ini-di-seluruh-negeri?utm_source=x">C</a>
<a href="/tag/armenia">tag</a><a href="/category/world">cat</a><a href="/about">about</a>
<a href="/politik/">section</a><a href="https://other.example/2023/10/07/elsewhere">ext</a>
<a href="https://m.news.example/2023/10/08/mobile-story">mobile</a>
<a href="/2023/10/07/armenia-azerbaijan-talks#comments">dup</a>
<a href="/images/photo-of-the-day-big.jpg">img</a>
</body></html>"""


def test_section_page_feeds_are_autodiscovered():
    assert discover_feeds(SECTION, BASE) == [
        "https://news.example/rss/nasional.xml", "https://news.example/atom"]


def test_section_page_article_links_are_same_site_article_shaped_and_canonical():
    assert article_links(SECTION, BASE) == [
        "https://news.example/2023/10/07/armenia-azerbaijan-talks",
        "https://news.example/berita/123456/gempa-bumi",
        "https://news.example/politik/pemilu-2024-dimulai-hari-ini-di-seluruh-negeri",
        "https://m.news.example/2023/10/08/mobile-story",
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [("https://x.example/2024/01/31/some-story", True),
     ("https://x.example/read/20240131/a", True),
     ("https://x.example/news/world/big-quake-hits-the-coast", True),
     ("https://x.example/news/", False),
     ("https://x.example/page/2", False),
     ("https://x.example/author/jane-doe-smith-writer", False)],
)
def test_article_shaped_urls(url, expected):
    assert looks_like_article(url) is expected


def test_robots_sitemap_lines():
    text = "User-agent: *\nDisallow: /x\nSitemap: https://news.example/sitemap.xml\n" \
           "sitemap: https://news.example/news.xml\n"
    assert robots_sitemaps(text) == ["https://news.example/sitemap.xml",
                                     "https://news.example/news.xml"]


def test_a_feed_broken_before_its_first_item_is_not_read_as_a_quiet_feed():
    whole = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>H'
             b"</title><link>https://news.example/</link></channel></rss>")
    assert parse_feed(whole, BASE) == []  # a feed with no item yet is fine
    with pytest.raises(DiscoveryError) as info:
        parse_feed(whole[:100], BASE)  # cut inside <link>
    assert info.value.reason == "not_a_feed"
    assert "the feed is malformed before any item (<unknown>:1:" in str(info.value)
