"""The fetch stage: one FetchRequest in, pages / new requests / dead letters out.

The agent on ``kabar.fetch`` (keyed by host) calls ``handle_fetch_request`` per message and
sends what it returns: ``pages`` to ``kabar.pages``, ``requests`` back to ``kabar.fetch``
(keyed by their host), ``dead_letters`` to ``kabar.deadletter``. ``skipped`` lists what was
deliberately not fetched, with why, for logs and counters; ``repeated`` the refusals of a
listing that an earlier poll already dead-lettered, for logs, counters and source health.

``seen`` is the URL seen-table (a Faust table in production, any MutableMapping in tests),
keyed by canonical URL. A Faust table is sharded like the stream that writes it, so every
entry is read and written while handling a message of the host it belongs to:

* an article URL's entry ``{"fetched_at", "modified_at"}`` is written by the article
  fetch, which runs on the partition of the article's host: the authority on whether an
  article was fetched;
* a feed/sitemap/page URL's entry holds its conditional-GET validators, adaptive poll
  interval and the fingerprints of the items it already announced (so a feed polled every
  few minutes does not re-announce its 50 items each time; items on another host are
  checked again by their own host's partition), and the reasons its last poll refused
  child listings for (so a refusal that every poll repeats is one dead letter).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import xxhash

from worker.fetch.client import Fetcher, FetchResult
from worker.fetch.discovery import (
    DiscoveryError,
    FeedItem,
    SitemapEntry,
    parse_feed,
    parse_sitemap,
    robots_sitemaps,
    section_links,
)
from worker.fetch.errors import FetchError
from worker.fetch.schedule import (
    Bounds,
    Rhythm,
    Signals,
    is_due,
    next_poll,
    observe,
    parse_signals,
    spend_poll,
)
from worker.fetch.sources import DEFAULT_MAX_AGE, DEFAULT_POLL_INTERVAL, Source
from worker.fetch.urls import declared_canonical, host_of
from worker.html_cost import nesting_problem
from worker.models import DeadLetter, FetchHints, FetchRequest, RawPage
from worker.urls import canonical_url

log = logging.getLogger(__name__)
_HINT_FIELDS = tuple(f.name for f in dataclasses.fields(FetchHints))

LISTING_KINDS = ("feed", "sitemap", "page")
#: fingerprints of announced items kept per listing; bounds the table value (~20 B each)
MAX_RECENT = 5_000
#: child sitemaps announced per poll of a sitemap index: the sitemap protocol's limit
#: (sitemaps.org: at most 50,000 sitemaps per index), so real indexes of dated sitemaps
#: pass whole and a hostile 50 MB index cannot announce ten times that
MAX_INDEX_SITEMAPS = 50_000


@dataclass(slots=True)
class FetchOutcome:
    pages: list[RawPage] = field(default_factory=list)
    requests: list[FetchRequest] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    repeated: list[DeadLetter] = field(default_factory=list)


def _iso(now: datetime) -> str:
    return now.isoformat()


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def source_requests(sources: Iterable[Source], now: datetime) -> list[FetchRequest]:
    """One poll request per enabled source (the leader's timer sends these to kabar.fetch;
    the stage itself skips sources that are not due yet)."""
    return [
        FetchRequest(
            url=source.url,
            source=source.name,
            host=host_of(source.url),
            requested_at=_iso(now),
            kind=source.kind,
            hints=FetchHints(language=source.language, timezone=source.timezone),
        )
        for source in sources
        if source.enabled
    ]


def _dead(req: FetchRequest, reason: str, message: str, now: datetime, url: str | None = None
          ) -> DeadLetter:
    """A fetch dead letter; ``url`` is the hop that failed when it is not the request's own
    URL (its robots.txt, a redirect target), and the message then names both."""
    if url and url != req.url:
        message = f"{message} (on the way to {req.url} of source {req.source!r})"
    return DeadLetter(
        stage="fetch", reason=reason, message=message, failed_at=_iso(now),
        url=url or req.url, key=req.host, payload=req.to_dict(),
    )


async def handle_fetch_request(
    req: FetchRequest,
    fetcher: Fetcher,
    seen: MutableMapping[str, dict[str, Any]],
    now: datetime,
    *,
    sources: Mapping[str, Source] | None = None,
) -> FetchOutcome:
    """Handle one message of ``kabar.fetch``. Never raises for a bad URL, server or body:
    those become dead letters with a machine-readable reason.

    ``now`` must be timezone-aware; ``sources`` (by name) supplies per-source options
    (max_age, include/exclude, poll bounds); without it the defaults apply."""
    outcome = FetchOutcome()
    try:
        key = canonical_url(req.url, fetcher.settings.tracking_params)
    except ValueError as exc:
        outcome.dead_letters.append(_dead(req, "invalid_url", str(exc), now))
        return outcome
    source = (sources or {}).get(req.source)
    if req.kind not in ("article", *LISTING_KINDS):
        outcome.dead_letters.append(
            _dead(req, "unknown_kind", f"kind {req.kind!r} is not one of article, "
                  f"{', '.join(LISTING_KINDS)}", now)
        )
        return outcome
    try:
        if req.kind == "article":
            await _article(req, key, fetcher, seen, now, outcome)
        else:
            await _listing(req, key, fetcher, seen, now, source, outcome)
    except Exception as exc:  # a bug or a parser surprise must not stop the partition
        log.exception("fetch stage failed on %s", req.url)
        outcome.dead_letters.append(
            _dead(req, "internal_error", f"{type(exc).__name__}: {exc}", now)
        )
    return outcome


#: outcomes that are a publisher's wish, not a failure: reported as skips, not dead letters
_POLICY_SKIPS = frozenset({"robots_disallowed"})


def _failed(req: FetchRequest, error: FetchError, now: datetime, outcome: FetchOutcome) -> None:
    if error.reason in _POLICY_SKIPS:
        outcome.skipped.append((req.url, error.reason))
    else:
        outcome.dead_letters.append(_dead(req, error.reason, error.message, now, error.url))


def expire_seen(
    seen: MutableMapping[str, dict[str, Any]], *, now: datetime, retention: float,
    owns: Callable[[str], bool] = lambda key: True,
) -> int:
    """Forget URLs last fetched or polled more than ``retention`` seconds before ``now``
    (entries with no time at all too); ``owns(key)`` limits this to the keys the caller's
    partition owns. Returns how many entries went."""
    cutoff = now - timedelta(seconds=retention)
    stale = []
    for key, entry in list(seen.items()):
        when = _parse_time((entry or {}).get("fetched_at") or (entry or {}).get("polled_at"))
        if (when is None or _as_utc(when) < cutoff) and owns(key):
            stale.append(key)
    for key in stale:
        del seen[key]
    return len(stale)


# -- articles ---------------------------------------------------------------------------
def _revisit_reason(
    entry: Mapping[str, Any], hints: FetchHints, now: datetime, revisit_after: float
) -> str | None:
    """Why an already fetched article should be fetched again, or None to skip it."""
    fetched = _parse_time(entry.get("fetched_at"))
    if fetched is None or (now - fetched).total_seconds() >= revisit_after:
        return "revisit_window"
    announced = _parse_time(hints.modified_at)
    known = _parse_time(entry.get("modified_at"))
    if announced is not None and (known is None or _as_utc(announced) > _as_utc(known)):
        # The feed or sitemap says the article changed since we fetched it.
        return "modified"
    return None


def _as_utc(when: datetime) -> datetime:
    """Comparable datetimes: a date without an offset (sitemaps allow them) is taken as UTC."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


async def _article(
    req: FetchRequest, key: str, fetcher: Fetcher, seen: MutableMapping[str, dict[str, Any]],
    now: datetime, outcome: FetchOutcome,
) -> None:
    entry = seen.get(key)
    revisit = None
    if entry is not None:
        revisit = _revisit_reason(entry, req.hints, now, fetcher.settings.revisit_after)
        if revisit is None:
            outcome.skipped.append((req.url, "already_fetched"))
            return
    try:
        result = await fetcher.fetch(key, kind="article")
    except FetchError as error:
        _failed(req, error, now, outcome)
        return
    hints: dict[str, Any] = {f: getattr(req.hints, f) for f in _HINT_FIELDS}
    # the article's request was made when its feed or sitemap entry was read
    hints["discovered_at"] = req.requested_at
    if revisit:
        hints["revisit"] = revisit
    tracking = fetcher.settings.tracking_params
    declared = declared_canonical(result.text or "", result.final_url, tracking)
    if declared:
        hints["canonical_url"] = declared
    fetched_at = _iso(now)
    outcome.pages.append(RawPage(
        url=req.url, final_url=result.final_url, status=result.status, fetched_at=fetched_at,
        html=result.text or "", charset=result.charset or "utf-8", headers=result.headers,
        redirects=result.redirects, source=req.source, hints=hints,
    ))
    entry = {"fetched_at": fetched_at, "modified_at": req.hints.modified_at}
    seen[key] = entry
    # The same article reached under the URL it redirected to or declares as canonical is
    # not fetched again. Only same-host aliases: other hosts' entries live on other
    # partitions of the table.
    final = canonical_url(result.final_url, tracking) if result.redirects else key
    aliases = {final, declared} - {key, None}
    if aliases:
        host = host_of(key)
        for alias in aliases:
            if alias and host_of(alias) == host:
                seen[alias] = entry


# -- feeds, sitemaps and pages -----------------------------------------------------------
def _fingerprint(url: str, stamp: str | None) -> str:
    return xxhash.xxh64_hexdigest(f"{url}\x00{stamp or ''}".encode())


def _too_old(stamp: str | None, now: datetime, max_age: float) -> bool:
    when = _parse_time(stamp)
    if when is None:
        return False  # undated: cannot tell, the article seen-table decides
    if when.tzinfo is None:
        when = when.replace(tzinfo=now.tzinfo)
    return (now - when).total_seconds() > max_age


def _bounds(source: Source | None) -> Bounds:
    if source is None:
        return Bounds(base=DEFAULT_POLL_INTERVAL)
    return Bounds(base=source.poll_interval, low=source.min_poll_interval or source.poll_interval,
                  high=source.max_poll_interval or source.poll_interval,
                  per_hour=source.max_polls_per_hour)


def _arrival(stamp: str | None, previous_poll: datetime | None, now: datetime) -> float:
    """When an item new to us appeared: its own date when that falls between the previous
    poll and this one (it cannot have been listed earlier, or it would not be new), else the
    nearest end of that span; undated items arrived half way."""
    when = _parse_time(stamp)
    end = now.timestamp()
    if previous_poll is None:
        return min(end, _as_utc(when).timestamp()) if when is not None else end
    start = _as_utc(previous_poll).timestamp()
    if when is None:
        return (start + end) / 2
    return min(end, max(start, _as_utc(when).timestamp()))


async def _listing(
    req: FetchRequest, key: str, fetcher: Fetcher, seen: MutableMapping[str, dict[str, Any]],
    now: datetime, source: Source | None, outcome: FetchOutcome,
) -> None:
    state = dict(seen.get(key) or {})
    bounds = _bounds(source)
    due = _parse_time(state.get("next_poll_at"))
    if not is_due(due.timestamp() if due else None, bounds.low, now.timestamp()):
        outcome.skipped.append((req.url, "not_due"))
        return
    # The agent handles requests concurrently: while a poll waits for a slow site, the next
    # tick's request for the listing must not poll it again. The claim lasts as long as a
    # fetch may take; the poll's own state replaces it, and a failed poll releases it (the
    # next tick retries, as before).
    polling_until = _parse_time(state.pop("polling_until", None))
    if polling_until is not None and now < polling_until:
        outcome.skipped.append((req.url, "in_flight"))
        return
    claim = timedelta(seconds=fetcher.settings.total_timeout)
    seen[key] = {**state, "polling_until": _iso(now + claim)}
    conditional = {k: state[k] for k in ("etag", "last_modified") if state.get(k)}
    try:
        result = await fetcher.fetch(key, kind=req.kind, conditional=conditional or None)
    except FetchError as error:
        if state:
            seen[key] = state
        else:
            seen.pop(key, None)
        _failed(req, error, now, outcome)
        return
    previous_poll = _parse_time(state.get("polled_at"))
    state["polled_at"] = _iso(now)
    previous = Signals.from_dict(state.get("signals"))
    if result.not_modified:
        outcome.skipped.append((req.url, "not_modified"))
        signals = parse_signals(None, result.headers, now.timestamp(), previous)
        _save_listing(seen, key, state, bounds, signals, now, [], None)
        return
    state["etag"] = result.etag
    state["last_modified"] = result.last_modified
    signals = parse_signals(result.body, result.headers, now.timestamp(), previous)
    try:
        found = _discover(req, result)
    except DiscoveryError as error:
        outcome.dead_letters.append(_dead(req, error.reason, error.message, now, result.final_url))
        _save_listing(seen, key, state, bounds, signals, now, [], None)
        return
    found = bound_listings(req, found, fetcher.settings.max_listing_depth, source, now, outcome,
                           refused_before=state.get("refused") or ())
    # nothing else failed in a poll that got this far: these are this poll's refusals
    if refused := sorted({d.reason for d in (*outcome.dead_letters, *outcome.repeated)}):
        state["refused"] = refused
    else:
        state.pop("refused", None)
    recent = list(state.get("recent") or [])
    announced = _announce(req, found, now, source, set(recent), outcome)
    state["recent"] = ([mark for mark, _ in announced] + recent)[:MAX_RECENT]
    arrivals = [_arrival(stamp, previous_poll, now) for _, stamp in announced]
    # a first poll's items go back to the oldest one: the feed shows that whole span
    since = min(arrivals) if previous_poll is None and arrivals else None
    _save_listing(seen, key, state, bounds, signals, now, arrivals, since)


def bound_listings(
    req: FetchRequest, found: list[Found], max_depth: int, source: Source | None,
    now: datetime, outcome: FetchOutcome, *, refused_before: Collection[str] = (),
) -> list[Found]:
    """``found`` without the listings it may not announce, each kind of refusal one dead
    letter for this poll: child listings deeper than ``max_depth`` below the source
    (``too_deep``), and child sitemaps beyond the protocol's MAX_INDEX_SITEMAPS
    (``too_many_sitemaps``). Articles always pass: they list nothing. A refusal whose
    reason is in ``refused_before`` (the listing's previous poll refused for it too) goes
    to ``outcome.repeated`` instead: the listing keeps naming what it named, and the
    dead-letter topic already holds that."""
    depth = req.depth + 1
    kept: list[Found] = []
    too_deep: list[str] = []
    too_many: list[str] = []
    sitemaps = 0
    for item in found:
        kind, url = item[0], item[1]
        if kind in LISTING_KINDS and depth > max_depth:
            too_deep.append(url)
            continue
        if kind == "sitemap":
            sitemaps += 1
            if sitemaps > MAX_INDEX_SITEMAPS:
                too_many.append(url)
                continue
        kept.append(item)
    origin = f"source {req.source!r}" + (f" ({source.url})" if source else "")

    def refuse(letter: DeadLetter) -> None:
        (outcome.repeated if letter.reason in refused_before
         else outcome.dead_letters).append(letter)

    if too_deep:
        refuse(_dead(
            req, "too_deep",
            f"{req.kind} {req.url} (depth {req.depth}) lists {len(too_deep)} listing(s) at "
            f"depth {depth} below {origin}, deeper than fetch.max_listing_depth = "
            f"{max_depth}; not fetched: {_some(too_deep)}", now))
    if too_many:
        refuse(_dead(
            req, "too_many_sitemaps",
            f"sitemap index {req.url} of {origin} lists {sitemaps} sitemaps, over the "
            f"sitemap protocol's {MAX_INDEX_SITEMAPS}; the rest are not fetched: "
            f"{_some(too_many)}", now))
    return kept


def _some(urls: list[str], shown: int = 3) -> str:
    more = len(urls) - shown
    return ", ".join(urls[:shown]) + (f" and {more} more" if more > 0 else "")


def _announce(
    req: FetchRequest, found: list[Found], now: datetime, source: Source | None,
    known: set[str], outcome: FetchOutcome,
) -> list[tuple[str, str | None]]:
    """Requests for what a listing names, minus what the source refuses and the articles
    in ``known`` (fingerprints); returns (fingerprint, date stamp) of the articles announced."""
    fresh: list[tuple[str, str | None]] = []
    max_age = source.max_age if source else DEFAULT_MAX_AGE
    for kind, url, stamp, hints in found:
        if kind == "invalid":
            outcome.skipped.append((url, "invalid_url"))
            continue
        if _too_old(stamp, now, max_age):
            outcome.skipped.append((url, "too_old"))
            continue
        if kind == "article" and source is not None and not source.wants(url):
            outcome.skipped.append((url, "excluded"))
            continue
        if kind == "article":
            mark = _fingerprint(url, stamp)
            if mark in known:
                continue
            known.add(mark)
            fresh.append((mark, stamp))
        # Feeds and child sitemaps are announced on every poll: their own conditional GET
        # and poll interval decide whether they are fetched.
        outcome.requests.append(FetchRequest(
            url=url, source=req.source, host=host_of(url), requested_at=_iso(now), kind=kind,
            hints=hints, depth=req.depth + 1,
        ))
    return fresh


def pushed_listing(req: FetchRequest, result: FetchResult, now: datetime,
                   source: Source | None) -> FetchOutcome:
    """A listing body that arrived without being fetched (a WebSub notification): the
    requests a poll that found this body would send. Nothing is remembered here; the fetch
    agent's article seen-table, on each article's host partition, skips what was already
    fetched, exactly as for the items of a polled feed."""
    outcome = FetchOutcome()
    try:
        found = _discover(req, result)
    except DiscoveryError as error:
        outcome.dead_letters.append(_dead(req, error.reason, error.message, now, result.url))
        return outcome
    _announce(req, found, now, source, set(), outcome)
    return outcome


def _save_listing(
    seen: MutableMapping[str, dict[str, Any]], key: str, state: dict[str, Any], bounds: Bounds,
    signals: Signals, now: datetime, arrivals: list[float], since: float | None,
) -> None:
    """Learn from this poll and decide the next one (worker/fetch/schedule.py)."""
    at = now.timestamp()
    rhythm = observe(Rhythm.from_dict(state.get("rhythm")), arrivals, at, since)
    rhythm = spend_poll(rhythm, bounds, at)
    decision = next_poll(rhythm, signals, bounds, at)
    state["rhythm"] = rhythm.to_dict()
    state["signals"] = signals.to_dict()
    state["interval"] = decision.interval
    state["poll_reason"] = decision.reason
    state["next_poll_at"] = _iso(datetime.fromtimestamp(decision.at, UTC))
    seen[key] = state


Found = tuple[str, str, str | None, FetchHints]  # kind, canonical URL, date stamp, hints


def _discover(req: FetchRequest, result: FetchResult) -> list[Found]:
    base = result.final_url
    found: list[Found] = []

    def add(kind: str, url: str, stamp: str | None, hints: FetchHints) -> None:
        try:
            found.append((kind, canonical_url(url), stamp, hints))
        except ValueError:
            # A non-http(s) link (mailto:, urn:, ...): nothing we could fetch; reported.
            found.append(("invalid", url, None, hints))

    if req.kind == "feed":
        items: list[FeedItem] = parse_feed(result.body, base)
        for item in items:
            add("article", item.url, item.modified_at or item.published_at, FetchHints(
                title=item.title, published_at=item.published_at, modified_at=item.modified_at,
                guid=item.guid, language=item.language or req.hints.language,
                timezone=req.hints.timezone,
            ))
    elif req.kind == "sitemap":
        if urlsplit(base).path == "/robots.txt":
            text = result.body.decode("utf-8", "replace")
            children = [SitemapEntry(url) for url in robots_sitemaps(text)]
            pages: list[SitemapEntry] = []
        else:
            pages, children = parse_sitemap(result.body, base)
        for child in children:
            add("sitemap", child.url, child.lastmod, FetchHints(modified_at=child.lastmod,
                                                                 timezone=req.hints.timezone))
        for entry in pages:
            published = entry.news_published_at
            add("article", entry.url, entry.lastmod or published, FetchHints(
                title=entry.news_title, published_at=published, modified_at=entry.lastmod,
                language=entry.news_language or req.hints.language, timezone=req.hints.timezone,
            ))
    else:
        html = result.text or ""
        problem = nesting_problem(html)
        if problem:
            raise DiscoveryError("too_nested", problem)
        feeds, links = section_links(html, base)
        for feed in feeds:
            add("feed", feed, None, FetchHints(language=req.hints.language,
                                               timezone=req.hints.timezone))
        for link in links:
            add("article", link, None, FetchHints(language=req.hints.language,
                                                  timezone=req.hints.timezone))
    return found
