"""URL canonical form and the ids derived from it."""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser

DEFAULT_TRACKING_PARAMS = (
    "utm_*", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid",
    "yclid", "_ga", "_hsenc", "_hsmi", "ref_src", "cmpid", "ocid", "wt_mc",
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: the canonical declaration lives in <head>; never parse more than this looking for it
_HEAD_SCAN = 256 * 1024


def canonical_url(url: str, tracking_params: Iterable[str] = DEFAULT_TRACKING_PARAMS) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters,
    query sorted. Raises ValueError for URLs that are not absolute http(s) URLs."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    patterns = tuple(p.lower() for p in tracking_params)
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not any(fnmatch.fnmatchcase(k.lower(), p) for p in patterns)
    )
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def host_of(url: str) -> str:
    """The host part of a URL, lower-cased (the partition key of ``kabar.fetch``)."""
    return (urlsplit(url).hostname or "").lower().rstrip(".")


def article_id(canonical: str) -> str:
    """Stable article id: the first 16 bytes of SHA-256 of the canonical URL, in hex."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def declared_canonical(
    html: str, base_url: str, tracking_params: Iterable[str] = DEFAULT_TRACKING_PARAMS
) -> str | None:
    """The URL a page declares as its own: ``<link rel="canonical">``, else ``og:url``, in
    canonical form; None when absent, not http(s), or implausible (a site-wide canonical
    pointing every article at the home page)."""
    head_end = html.find("</head>", 0, _HEAD_SCAN)
    if head_end < 0:
        head_end = html.lower().find("</head>", 0, _HEAD_SCAN)
    tree = LexborHTMLParser(html[: head_end if head_end >= 0 else _HEAD_SCAN])
    candidates = [
        node.attributes.get("href")
        for node in tree.css("link[rel][href]")
        if "canonical" in (node.attributes.get("rel") or "").lower().split()
    ]
    candidates += [
        node.attributes.get("content")
        for node in tree.css("meta[property][content]")
        if (node.attributes.get("property") or "").strip().lower() == "og:url"
    ]
    base_path = urlsplit(base_url).path or "/"
    for candidate in candidates:
        if not candidate or not candidate.strip():
            continue
        try:
            url = canonical_url(urljoin(base_url, candidate.strip()), tracking_params)
        except ValueError:
            continue
        if urlsplit(url).path == "/" and base_path != "/":
            continue
        return url
    return None
