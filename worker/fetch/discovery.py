"""Finding article URLs: feeds (RSS, Atom, JSON Feed), sitemaps (index, urlset, gzip, Google
News), section pages (feed autodiscovery, article-looking links) and robots.txt Sitemap lines.

XML arrives from strangers, so entity declarations are refused before any parser that
could expand them sees the body (billion laughs, quadratic blow-up, external entities).
"""

from __future__ import annotations

import email.utils
import io
import re
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import ParseError
from xml.sax import SAXParseException

import defusedxml.ElementTree as SafeET
import feedparser
import orjson
from defusedxml import DefusedXmlException
from protego import Protego
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from worker.urls import canonical_url

#: gzip'd sitemaps may hold 50 MB of XML; nothing legitimate decodes to more
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
_FEED_TYPES = (
    "application/rss+xml", "application/atom+xml", "application/feed+json",
    "application/json", "application/rdf+xml", "application/xml", "text/xml",
)
_DATE_IN_PATH = re.compile(r"/(19|20)\d{2}[/-]?(0[1-9]|1[0-2])([/-]?(0[1-9]|[12]\d|3[01]))?(/|-|$)")
_LONG_NUMBER = re.compile(r"\d{5,}")
#: the first element's name (declarations, comments and processing instructions skipped)
_ROOT_ELEMENT = re.compile(rb"<([A-Za-z][\w:.-]{0,40})")
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
_FEED_ROOTS = frozenset({"rss", "feed", "rdf:rdf", "rdf"})
_NOT_ARTICLE_SEGMENTS = frozenset(
    {"tag", "tags", "category", "categories", "kategori", "author", "authors", "penulis",
     "topic", "topics", "topik", "search", "cari", "login", "logout", "register", "signin",
     "signup", "account", "subscribe", "about", "contact", "privacy", "terms", "page",
     "feed", "rss", "index", "indeks", "cdn-cgi", "wp-admin", "wp-login.php"}
)
_STATIC_SUFFIXES = (
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".ico", ".pdf", ".css", ".js", ".xml",
    ".rss", ".zip", ".mp3", ".mp4", ".m3u8", ".json", ".txt",
)


class DiscoveryError(ValueError):
    """A feed or sitemap that cannot be used, with a machine-readable ``reason``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(slots=True)
class FeedItem:
    url: str
    title: str | None = None
    guid: str | None = None
    published_at: str | None = None  # ISO 8601, UTC
    modified_at: str | None = None
    language: str | None = None


@dataclass(slots=True)
class SitemapEntry:
    url: str
    lastmod: str | None = None  # ISO 8601 as written, or normalised to UTC when parseable
    news_title: str | None = None
    news_published_at: str | None = None
    news_language: str | None = None


def _refuse_entities(body: bytes, what: str) -> None:
    """Refuse XML that declares entities (bombs, external entities), before parsing it."""
    ascii_compatible = b"\x00" not in body[:512]
    if ascii_compatible:
        if b"<!ENTITY" in body or b"<!entity" in body:
            raise DiscoveryError(
                "xml_entities", f"{what} declares XML entities (refused: XML bomb/XXE)"
            )
        if b"<!DOCTYPE" not in body[:4096] and b"<!doctype" not in body[:4096]:
            return
    # A DOCTYPE without entities is fine (RSS 0.91 has one), and UTF-16/32 bodies hide
    # their markup from byte searches: let defusedxml decide.
    try:
        SafeET.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise DiscoveryError("xml_entities", f"{what} declares XML entities: {exc!r}") from None
    except ParseError:
        return  # malformed after the prolog: the lenient parser after us decides


def _iso(parsed: time.struct_time | None) -> str | None:
    if not parsed:
        return None
    try:
        return datetime(*parsed[:6], tzinfo=UTC).isoformat()
    except (TypeError, ValueError):
        return None


def _iso_text(value: Any) -> str | None:
    """Normalise an ISO 8601 / W3C datetime string to UTC ISO; None when unparseable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:  # RFC 822 dates, as RSS writes them
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    if when.tzinfo is None:
        return when.isoformat()  # no offset given: keep as written, the source timezone decides
    return when.astimezone(UTC).isoformat()


def _json_feed(body: bytes, base_url: str) -> list[FeedItem]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DiscoveryError("not_a_feed", f"invalid JSON Feed: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise DiscoveryError("not_a_feed", "JSON without an 'items' list is not a JSON Feed")
    language = data.get("language") if isinstance(data.get("language"), str) else None
    items = []
    for raw in data["items"]:
        if not isinstance(raw, dict):
            continue
        link = raw.get("url") or raw.get("external_url")
        if not isinstance(link, str):
            continue
        items.append(FeedItem(
            url=urljoin(base_url, link.strip()),
            title=raw.get("title") if isinstance(raw.get("title"), str) else None,
            guid=str(raw["id"]) if raw.get("id") is not None else None,
            published_at=_iso_text(raw.get("date_published")),
            modified_at=_iso_text(raw.get("date_modified")),
            language=raw.get("language") if isinstance(raw.get("language"), str) else language,
        ))
    return items


def _entry_link(entry: Any) -> str | None:
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    link = entry.get("link")
    if link:
        return link
    guid = entry.get("id")
    if entry.get("guidislink") and guid:
        return guid
    return None


def parse_feed(body: bytes, base_url: str) -> list[FeedItem]:
    """Items of an RSS 0.9x/1.0/2.0, Atom or JSON Feed document, in document order.

    Raises DiscoveryError(xml_entities) for entity declarations and
    DiscoveryError(not_a_feed) for bodies that are no feed at all."""
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        return _json_feed(body, base_url)
    _refuse_entities(body, "feed")
    parsed = feedparser.parse(body, response_headers={"content-location": base_url},
                              sanitize_html=False, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        # feedparser's complaint is often of the Content-Type header it was not handed, or a
        # bare "syntax error": what the document is says more, unless it is a broken feed
        root = _ROOT_ELEMENT.search(_COMMENT.sub(b"", body[:64 * 1024]))
        name = root[1].decode("ascii") if root else None
        problem = (f"the document is <{name}>, not <rss>, <feed> or <rdf:RDF>"
                   if name and name.lower() not in _FEED_ROOTS
                   else parsed.get("bozo_exception") or "empty")
        raise DiscoveryError("not_a_feed", f"no RSS/Atom/JSON feed found ({problem})")
    problem = parsed.get("bozo_exception")
    if not parsed.entries and isinstance(problem, SAXParseException):
        # a feed cut short or broken before its first item would otherwise read as a quiet
        # one, poll after poll: the silent failure source health exists to catch
        raise DiscoveryError("not_a_feed", f"the feed is malformed before any item ({problem})")
    language = parsed.feed.get("language")
    items = []
    for entry in parsed.entries:
        link = _entry_link(entry)
        if not link:
            continue
        items.append(FeedItem(
            url=urljoin(base_url, link.strip()),
            title=(entry.get("title") or "").strip() or None,
            guid=entry.get("id"),
            # RSS 1.0's dc:date lands in "updated"; an item with no other date was
            # published then. dict.get skips feedparser's deprecated key fallbacks.
            published_at=_iso(dict.get(entry, "published_parsed")
                              or dict.get(entry, "created_parsed")
                              or dict.get(entry, "updated_parsed")),
            modified_at=_iso(dict.get(entry, "updated_parsed")),
            language=entry.get("language") or language,
        ))
    return items


def _gunzip(body: bytes, limit: int) -> bytes:
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decoder.decompress(body, limit + 1)
    except zlib.error as exc:
        raise DiscoveryError("bad_sitemap", f"invalid gzip data: {exc}") from None
    if len(out) > limit:
        raise DiscoveryError("decompression_bomb", f"gzip'd sitemap decodes to over {limit} bytes")
    if not decoder.eof:
        raise DiscoveryError("truncated", "gzip'd sitemap ends early")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def parse_sitemap(
    body: bytes, base_url: str, *, max_bytes: int = MAX_SITEMAP_BYTES
) -> tuple[list[SitemapEntry], list[SitemapEntry]]:
    """(page entries, child sitemaps) of a sitemap: urlset, sitemap index, plain-text list,
    optionally gzip'd; Google News fields (news:publication_date, news:title,
    news:language) are kept on the entries."""
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body, max_bytes)
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped.startswith(b"<"):
        # The text format: one URL per line.
        urls = [line.strip() for line in body.decode("utf-8", "replace").splitlines()]
        return [SitemapEntry(urljoin(base_url, u)) for u in urls if u.startswith("http")], []
    _refuse_entities(body, "sitemap")
    pages: list[SitemapEntry] = []
    children: list[SitemapEntry] = []
    fields: dict[str, str] = {}
    try:
        for _event, element in SafeET.iterparse(io.BytesIO(body), events=("end",),
                                                forbid_dtd=True):
            name = _local(element.tag)
            if name in ("loc", "lastmod", "publication_date", "title", "language"):
                fields.setdefault(name, (element.text or "").strip())
            elif name in ("url", "sitemap"):
                loc = fields.get("loc")
                if loc:
                    entry = SitemapEntry(
                        url=urljoin(base_url, loc),
                        lastmod=_iso_text(fields.get("lastmod")),
                        news_title=fields.get("title") or None,
                        news_published_at=_iso_text(fields.get("publication_date")),
                        news_language=fields.get("language") or None,
                    )
                    (pages if name == "url" else children).append(entry)
                fields = {}
                element.clear()
    except DefusedXmlException as exc:
        raise DiscoveryError("xml_entities", f"sitemap uses a DTD or entities: {exc!r}") from None
    except ParseError as exc:
        if not pages and not children:
            raise DiscoveryError("bad_sitemap", f"sitemap is not well-formed XML: {exc}") from None
        # A truncated sitemap still gave us its first entries; keep them.
    return pages, children


def discover_feeds(page: str | HTMLParser, base_url: str) -> list[str]:
    """Feed URLs a page (its HTML or parsed tree) advertises with
    <link rel="alternate" type="...rss/atom/json...">."""
    tree = HTMLParser(page) if isinstance(page, str) else page
    feeds: list[str] = []
    for node in tree.css("link[rel][href]"):
        rel = (node.attributes.get("rel") or "").lower().split()
        kind = (node.attributes.get("type") or "").lower().split(";")[0].strip()
        href = (node.attributes.get("href") or "").strip()
        if "alternate" in rel and kind in _FEED_TYPES and href:
            url = urljoin(base_url, href)
            if url not in feeds and urlsplit(url).scheme in ("http", "https"):
                feeds.append(url)
    return feeds


def _same_site(host: str, base_host: str) -> bool:
    a, b = host.removeprefix("www."), base_host.removeprefix("www.")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def looks_like_article(url: str) -> bool:
    """An article-looking URL: a date or a long id in the path, or a multi-word slug; and
    no listing/utility segment (tag, category, author, search, pagination, ...)."""
    parts = urlsplit(url)
    path = parts.path.lower()
    if path in ("", "/") or path.endswith(_STATIC_SUFFIXES):
        return False
    segments = [s for s in path.split("/") if s]
    if any(s in _NOT_ARTICLE_SEGMENTS for s in segments):
        return False
    last = re.sub(r"\.(s?html?|php|aspx?)$", "", segments[-1])
    words = [w for w in re.split(r"[-_+]", last) if w]
    return bool(
        _DATE_IN_PATH.search(path)
        or _LONG_NUMBER.search(path)
        or (len(words) >= 4 and sum(w.isalpha() for w in words) >= 3)
    )


def article_links(page: str | HTMLParser, base_url: str) -> list[str]:
    """Article-looking links of a section page (its HTML or parsed tree) on the same site,
    canonical, in page order."""
    base_host = (urlsplit(base_url).hostname or "").lower()
    tree = HTMLParser(page) if isinstance(page, str) else page
    seen: set[str] = set()
    links: list[str] = []
    for node in tree.css("a[href]"):
        href = (node.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        try:
            url = canonical_url(urljoin(base_url, href))
        except ValueError:
            continue
        host = (urlsplit(url).hostname or "").lower()
        if url in seen or not _same_site(host, base_host) or not looks_like_article(url):
            continue
        seen.add(url)
        links.append(url)
    return links


def section_links(html: str, base_url: str) -> tuple[list[str], list[str]]:
    """(feeds, article links) of a section page, from one parse: the feeds it advertises,
    and its article links only when it advertises none (its feed lists them better)."""
    tree = HTMLParser(html)
    feeds = discover_feeds(tree, base_url)
    return feeds, [] if feeds else article_links(tree, base_url)


def robots_sitemaps(robots_txt: str) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt."""
    return list(Protego.parse(robots_txt).sitemaps)
