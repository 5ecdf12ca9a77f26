"""URL identity: the canonical form of a URL and the article id derived from it.

One neutral home for what fetch (seen-table keys), extract (article ids) and dedupe (the
index) must agree on, so that none of them depends on another stage's package."""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_TRACKING_PARAMS = (
    "utm_*", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid",
    "yclid", "_ga", "_hsenc", "_hsmi", "ref_src", "cmpid", "ocid", "wt_mc",
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def article_id(canonical: str) -> str:
    """Stable article id: the first 16 bytes of SHA-256 of the canonical URL, in hex."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
