"""URL canonical form and the ids derived from it."""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_TRACKING_PARAMS = (
    "utm_*", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid",
    "yclid", "_ga", "_hsenc", "_hsmi", "ref_src", "cmpid", "ocid", "wt_mc",
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


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
