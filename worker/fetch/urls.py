"""URL canonical form and the ids derived from it."""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import html as html_lib
import re
from collections.abc import Iterable, Iterator
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

DEFAULT_TRACKING_PARAMS = (
    "utm_*", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid",
    "yclid", "_ga", "_hsenc", "_hsmi", "ref_src", "cmpid", "ocid", "wt_mc",
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: the canonical declaration lives in <head>; never parse more than this looking for it
_HEAD_SCAN = 256 * 1024
_CANONICAL_HINT = re.compile("canonical|og:url", re.IGNORECASE)
_HIDDEN = re.compile(r"<!--.*?-->|<script\b.*?</script\s*>|<style\b.*?</style\s*>",
                     re.IGNORECASE | re.DOTALL)
_HEAD_TAG = re.compile(r"<(link|meta)\b([^>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(
    r"""([^\s"'>/=]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"""
)


@functools.lru_cache(maxsize=32)
def _tracking_matcher(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled regex for a list of shell-style parameter patterns (case-insensitive)."""
    if not patterns:
        return re.compile(r"(?!)")  # matches nothing
    return re.compile("|".join(fnmatch.translate(p.lower()) for p in patterns))


def canonical_url(url: str, tracking_params: Iterable[str] = DEFAULT_TRACKING_PARAMS) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters,
    query sorted. Raises ValueError for URLs that are not absolute http(s) URLs."""
    return _canonical(url, tuple(tracking_params))


# The same URL is canonicalised several times per fetch (request, redirect target, declared
# canonical) and on every poll of the feed that lists it: worth a small cache.
@functools.lru_cache(maxsize=8192)
def _canonical(url: str, tracking_params: tuple[str, ...]) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = ""
    if parts.query:
        tracking = _tracking_matcher(tracking_params)
        query = urlencode(
            sorted(
                (k, v)
                for k, v in parse_qsl(parts.query, keep_blank_values=True)
                if not tracking.match(k.lower())
            ),
            doseq=True,
        )
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def host_of(url: str) -> str:
    """The host part of a URL, lower-cased (the partition key of ``kabar.fetch``)."""
    return (urlsplit(url).hostname or "").lower().rstrip(".")


def article_id(canonical: str) -> str:
    """Stable article id: the first 16 bytes of SHA-256 of the canonical URL, in hex."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _head_tags(head: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(tag, attributes) of the <link> and <meta> tags of a document head.

    A tag scanner rather than an HTML parser on purpose: building a parser costs more than
    the rest of a fetch's own work, and these void tags in <head> are all it needs.
    Comments and scripts are dropped first so that markup quoted in them is not read."""
    head = _HIDDEN.sub("", head)
    for match in _HEAD_TAG.finditer(head):
        attributes = {
            name.lower(): html_lib.unescape(a or b or c)
            for name, a, b, c in _ATTRIBUTE.findall(match.group(2))
        }
        yield match.group(1).lower(), attributes


def declared_canonical(
    html: str, base_url: str, tracking_params: Iterable[str] = DEFAULT_TRACKING_PARAMS
) -> str | None:
    """The URL a page declares as its own: ``<link rel="canonical">``, else ``og:url``, in
    canonical form; None when absent, not http(s), or implausible (a site-wide canonical
    pointing every article at the home page)."""
    head_end = html.find("</head>", 0, _HEAD_SCAN)
    if head_end < 0:
        head_end = html.lower().find("</head>", 0, _HEAD_SCAN)
    head = html[: head_end if head_end >= 0 else _HEAD_SCAN]
    if not _CANONICAL_HINT.search(head):
        return None
    links: list[str] = []
    og: list[str] = []
    for tag, attributes in _head_tags(head):
        if tag == "link" and "canonical" in attributes.get("rel", "").lower().split():
            links.append(attributes.get("href", ""))
        elif tag == "meta" and attributes.get("property", "").strip().lower() == "og:url":
            og.append(attributes.get("content", ""))
    base_path = urlsplit(base_url).path or "/"
    for candidate in links + og:
        if not candidate.strip():
            continue
        try:
            url = canonical_url(urljoin(base_url, candidate.strip()), tracking_params)
        except ValueError:
            continue
        if urlsplit(url).path == "/" and base_path != "/":
            continue
        return url
    return None
