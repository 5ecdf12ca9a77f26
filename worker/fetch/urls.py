"""The canonical URL a page declares in its <head> (identity itself: worker.urls)."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable, Iterator
from urllib.parse import urljoin, urlsplit

from worker.urls import DEFAULT_TRACKING_PARAMS, canonical_url

#: the canonical declaration lives in <head>; never parse more than this looking for it
_HEAD_SCAN = 256 * 1024
_CANONICAL_HINT = re.compile("canonical|og:url", re.IGNORECASE)
_HIDDEN = re.compile(r"<!--.*?-->|<script\b.*?</script\s*>|<style\b.*?</style\s*>",
                     re.IGNORECASE | re.DOTALL)
_HEAD_TAG = re.compile(r"<(link|meta)\b([^>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(
    r"""([^\s"'>/=]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"""
)


def host_of(url: str) -> str:
    """The host part of a URL, lower-cased (the partition key of ``kabar.fetch``)."""
    return (urlsplit(url).hostname or "").lower().rstrip(".")


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
