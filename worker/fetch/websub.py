"""WebSub push (W3C WebSub Recommendation): `kabar fetch` subscribes to the hubs its feeds
name, answers the hubs at a callback, and turns each verified notification into the fetch
requests a poll of the feed would have sent.

* discovery (spec §4): a ``Link: <…>; rel="hub"`` header, or ``<link rel="hub">`` /
  ``<atom:link rel="hub">`` at feed level of an Atom or RSS body, or a JSON Feed's
  ``hubs``; the topic is the ``rel="self"`` URL (the feed's own URL when none is given);
* subscription (§5): a form POST to the hub with a callback URL and a random secret of
  its own per subscription; the hub's verification GET is answered with the challenge only
  for a subscription we asked for, on the same topic, in the same mode (404 otherwise); a
  ``denied`` GET ends it; renewed once ``renew_fraction`` of the granted lease has passed;
  unsubscribed on shutdown and when the feed stops naming the hub;
* notifications (§7, §8): a body larger than ``max_body_bytes`` is refused; one without a
  valid ``X-Hub-Signature`` (HMAC of the raw body with the subscription's secret; sha1,
  sha256, sha384 or sha512; constant-time comparison) or already seen within
  ``replay_window`` is dropped with a counted reason and still answered 2xx, as §8 allows,
  so a forger learns nothing. An accepted body goes through ``pushed_listing``: the same
  discovery, source filters and seen-table as a polled feed. Pushed is not trusted more.

Push only shortens the wait: while a subscription is verified, unexpired and has been
heard from within ``silence_timeout``, the poller polls that feed at the slow
``safety_poll_interval``; otherwise (hub refused or gone, lease lapsed, silence) the feed is
polled at its normal adaptive rate again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import logging
import math
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import ParseError

import aiohttp
import defusedxml.ElementTree as SafeET
import orjson
from aiohttp import web
from defusedxml import DefusedXmlException

from worker.fetch.client import Fetcher, FetchResult, GuardedResolver
from worker.fetch.errors import FetchError
from worker.fetch.sources import Source
from worker.fetch.stage import FetchOutcome, pushed_listing
from worker.fetch.urls import host_of
from worker.metrics import WEBSUB_NOTIFICATIONS, WEBSUB_SUBSCRIPTIONS
from worker.models import FetchHints, FetchRequest
from worker.settings import FetchSettings, WebSubSettings

log = logging.getLogger(__name__)

SIGNATURE_METHODS = ("sha1", "sha256", "sha384", "sha512")
CALLBACK_PATH = "/websub/"
#: replay digests remembered at most (oldest forgotten first), whatever the window
MAX_DIGESTS = 100_000
#: how long a hub may take to send its verification GET before the request counts as lost
VERIFY_TIMEOUT_S = 120.0
#: how long shutdown waits for hubs to verify the unsubscriptions it sends
UNSUBSCRIBE_WAIT_S = 5.0
_LINK = re.compile(r"<([^>]*)>([^,<]*)")
_REL = re.compile(r""";\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""", re.IGNORECASE)
_FEED_LEVEL = frozenset({"feed", "channel", "rdf"})


@dataclass(frozen=True, slots=True)
class HubLinks:
    """What a feed says about push: its hubs (in document order) and its topic URL."""

    hubs: tuple[str, ...]
    topic: str


# -- discovery ------------------------------------------------------------------------------
def link_header_rels(value: str | None, base_url: str) -> dict[str, list[str]]:
    """rel → URLs of an HTTP ``Link`` header (RFC 8288), resolved against ``base_url``."""
    rels: dict[str, list[str]] = {}
    for target, params in _LINK.findall(value or ""):
        for match in _REL.finditer(params):
            for rel in (match.group(1) or match.group(2) or "").lower().split():
                rels.setdefault(rel, []).append(urljoin(base_url, target.strip()))
    return rels


def _body_rels(body: bytes, base_url: str) -> dict[str, list[str]]:
    """rel → URLs of the feed-level links of an Atom/RSS/RDF body or a JSON Feed."""
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    rels: dict[str, list[str]] = {}
    if head.startswith(b"{"):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return rels
        if not isinstance(data, dict):
            return rels
        for hub in data.get("hubs") or []:
            if isinstance(hub, dict) and isinstance(hub.get("url"), str) and \
                    str(hub.get("type", "")).lower() in ("websub", "pubsubhubbub"):
                rels.setdefault("hub", []).append(urljoin(base_url, hub["url"]))
        if isinstance(data.get("feed_url"), str):
            rels["self"] = [urljoin(base_url, data["feed_url"])]
        return rels
    parents: list[str] = []
    try:
        for event, element in SafeET.iterparse(io.BytesIO(body), events=("start", "end"),
                                               forbid_dtd=False, forbid_entities=True,
                                               forbid_external=True):
            name = element.tag.rsplit("}", 1)[-1].lower()
            if event == "start":
                if name == "link" and parents and parents[-1] in _FEED_LEVEL:
                    href = (element.get("href") or "").strip()
                    for rel in (element.get("rel") or "").lower().split():
                        if href:
                            rels.setdefault(rel, []).append(urljoin(base_url, href))
                parents.append(name)
            else:
                parents.pop()
                if name in ("item", "entry"):
                    element.clear()  # items hold no hub links; keep memory flat
    except (DefusedXmlException, ParseError):
        pass  # what was read before the problem still counts; the pipeline reports the rest
    return rels


def find_hubs(body: bytes, headers: Mapping[str, str], url: str) -> HubLinks | None:
    """The hubs and topic a fetched feed names, or None when it names no hub. HTTP Link
    headers come first, as the spec prefers them."""
    from_header = link_header_rels(headers.get("link") or headers.get("Link"), url)
    from_body = _body_rels(body, url)
    hubs = [h for h in [*from_header.get("hub", []), *from_body.get("hub", [])]
            if urlsplit(h).scheme in ("http", "https")]
    if not hubs:
        return None
    topic = (from_header.get("self") or from_body.get("self") or [url])[0]
    return HubLinks(tuple(dict.fromkeys(hubs)), topic)


def settings_problems(settings: WebSubSettings) -> list[str]:
    """What makes these settings unusable, one line per problem (empty when fine)."""
    problems = []
    if not 0 < settings.renew_fraction < 1:
        problems.append(f"websub.renew_fraction must be between 0 and 1, got "
                        f"{settings.renew_fraction}")
    for name in ("lease_seconds", "safety_poll_interval", "recheck_interval", "replay_window"):
        if getattr(settings, name) <= 0:
            problems.append(f"websub.{name} must be positive, got {getattr(settings, name)}")
    if settings.silence_timeout < 0:
        problems.append(f"websub.silence_timeout must be >= 0, got {settings.silence_timeout}")
    if not 0 <= settings.port <= 65_535:
        problems.append(f"websub.port must be a TCP port, got {settings.port}")
    if settings.max_body_bytes <= 0:
        problems.append(f"websub.max_body_bytes must be positive, got {settings.max_body_bytes}")
    url = urlsplit(settings.public_url)
    if settings.public_url and (url.scheme not in ("http", "https") or not url.hostname):
        problems.append(f"websub.public_url must be an absolute http(s) URL, got "
                        f"{settings.public_url!r}")
    return problems


# -- notifications: signature and replay -------------------------------------------------------
def signature_problem(header: str | None, body: bytes, secret: str) -> str | None:
    """None when ``X-Hub-Signature`` is a valid HMAC of ``body`` with ``secret``; else the
    reason to drop it: unsigned, bad_signature."""
    if not header:
        return "unsigned"
    method, _, digest = header.strip().partition("=")
    method = method.strip().lower()
    if method not in SIGNATURE_METHODS or not digest:
        return "bad_signature"
    expected = hmac.new(secret.encode(), body, method).hexdigest()
    return None if hmac.compare_digest(expected, digest.strip().lower()) else "bad_signature"


class ReplayGuard:
    """Remembers body digests per subscription for ``window`` seconds."""

    def __init__(self, window: float, *, clock: Callable[[], float] = time.monotonic,
                 limit: int = MAX_DIGESTS) -> None:
        self.window = window
        self.clock = clock
        self.limit = limit
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def seen_before(self, subscription_id: str, body: bytes) -> bool:
        """True if this body came for this subscription within the window; else remember it."""
        now = self.clock()
        while self._seen and (next(iter(self._seen.values())) <= now - self.window
                              or len(self._seen) > self.limit):
            self._seen.popitem(last=False)
        key = (subscription_id, hashlib.sha256(body).hexdigest())
        if key in self._seen:
            return True
        self._seen[key] = now
        return False

    def forget(self, subscription_id: str, body: bytes) -> None:
        """Let this body come again (it could not be handled; the hub will retry it)."""
        self._seen.pop((subscription_id, hashlib.sha256(body).hexdigest()), None)


# -- subscriptions --------------------------------------------------------------------------
@dataclass(slots=True)
class Subscription:
    """One subscription of one source's feed at one hub; ``id`` names its callback URL."""

    source: str
    feed_url: str
    hub: str
    topic: str
    id: str
    secret: str
    #: requested (asked, not verified) | active | unsubscribing | denied | failed | expired
    #: | unsubscribed
    state: str = "requested"
    requested_at: float = 0.0
    lease: float = 0.0
    expires_at: float = 0.0
    renew_at: float = 0.0
    heard_at: float = 0.0
    reason: str = ""


Publish = Callable[[FetchOutcome], Awaitable[None]]


class Subscriber:
    """Subscriptions, the callback server and their timers, for the feeds of ``sources``.

    ``publish`` receives what each accepted notification yields (requests for kabar.fetch,
    dead letters). ``poll_due`` tells the poller whether a source should be polled now.
    """

    def __init__(
        self, settings: WebSubSettings, fetch: FetchSettings, sources: Iterable[Source],
        publish: Publish, *, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.fetch_settings = fetch
        self.sources = {s.name: s for s in sources if s.enabled and s.websub and s.kind == "feed"}
        self.publish = publish
        self.clock = clock
        self.replays = ReplayGuard(settings.replay_window, clock=clock)
        self.by_id: dict[str, Subscription] = {}
        self.by_source: dict[str, Subscription] = {}
        self._checked: dict[str, float] = {}
        self._safety_polled: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._fetcher: Fetcher | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the clients and start the callback server on websub.bind:port."""
        # the feed reads that find hubs keep the same politeness as any fetch
        self._fetcher = Fetcher(self.fetch_settings)
        self._fetcher.politeness.apply_sources(self.sources.values())
        await self._fetcher.__aenter__()
        # Hub URLs come from strangers' feeds: the same address guard as every fetch.
        resolver = GuardedResolver(aiohttp.ThreadedResolver(),
                                   allow_private=self.fetch_settings.allow_private_addresses)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=resolver),
            timeout=aiohttp.ClientTimeout(total=self.fetch_settings.total_timeout),
            headers={"User-Agent": self.fetch_settings.user_agent}, trust_env=False)
        app = web.Application(client_max_size=self.settings.max_body_bytes)
        app.router.add_get(CALLBACK_PATH + "{id}", self._verify)
        app.router.add_post(CALLBACK_PATH + "{id}", self._notify)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.bind, self.settings.port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = (self.settings.public_url.rstrip("/")
                         or f"http://{self.settings.bind}:{port}")
        log.info("WebSub callback server on %s:%s, announced as %s", self.settings.bind, port,
                 self.base_url)

    async def close(self) -> None:
        """Unsubscribe from every live subscription (waiting briefly for the hubs to verify),
        then stop the server and the clients."""
        live = [s for s in self.by_id.values() if s.state in ("requested", "active")]
        # all at once and bounded: a dead hub must not hold the shutdown for long
        requests = [asyncio.ensure_future(self._request(s, "unsubscribe")) for s in live]
        deadline = time.monotonic() + UNSUBSCRIBE_WAIT_S
        if requests:
            await asyncio.wait(requests, timeout=UNSUBSCRIBE_WAIT_S)
        while time.monotonic() < deadline and any(s.state == "unsubscribing" for s in live):
            await asyncio.sleep(0.05)
        for request in requests:
            request.cancel()
        await asyncio.gather(*requests, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
        if self._fetcher is not None:
            await self._fetcher.close()

    async def run(self, stop: asyncio.Event, *, tick: float = 1.0) -> None:
        """Discover, subscribe, renew and expire on a tick until ``stop`` is set."""
        while not stop.is_set():
            self.maintain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick)

    def maintain(self) -> None:
        """One round of timers: expire lapsed leases, renew due ones, re-read feeds whose
        hub check is due (which subscribes, re-subscribes or unsubscribes)."""
        now = self.clock()
        for name, source in self.sources.items():
            sub = self.by_source.get(name)
            if sub is not None and sub.state == "active" and now >= sub.expires_at:
                self._event(sub, "expired", "lease ended without renewal", state="expired")
            if sub is not None and sub.state == "requested" and \
                    now - sub.requested_at > VERIFY_TIMEOUT_S:
                self._event(sub, "failed", "the hub never verified the request", state="failed")
            if sub is not None and sub.state == "active" and now >= sub.renew_at:
                # the hub's verification sets the next renewal; until it comes, try again
                # half way to the end of the lease
                sub.renew_at = now + max((sub.expires_at - now) / 2, min(60.0, sub.lease / 10))
                self._spawn(self._recheck(source, renew=True))
            elif now - self._checked.get(name, -float("inf")) >= self.settings.recheck_interval:
                self._checked[name] = now
                self._spawn(self._recheck(source, renew=False))

    def pushed(self, source_name: str) -> bool:
        """Whether push is live for a source: verified, unexpired and recently heard from."""
        sub = self.by_source.get(source_name)
        if sub is None or sub.state != "active":
            return False
        now = self.clock()
        quiet_too_long = self.settings.silence_timeout > 0 and \
            now - sub.heard_at > self.settings.silence_timeout
        return now < sub.expires_at and not quiet_too_long

    def poll_due(self, source: Source) -> bool:
        """For the poller: every source is due on every tick (the fetch stage's adaptive
        interval decides), except a pushed one, due once per safety_poll_interval."""
        if not self.pushed(source.name):
            return True
        now = self.clock()
        if now - self._safety_polled.get(source.name, -float("inf")) >= \
                self.settings.safety_poll_interval:
            self._safety_polled[source.name] = now
            return True
        return False

    # -- talking to hubs --------------------------------------------------------------------
    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("WebSub: a subscription task failed", exc_info=error)

    def _event(self, sub: Subscription, event: str, reason: str = "", *,
               state: str | None = None) -> None:
        if state is not None:
            sub.state, sub.reason = state, reason
        WEBSUB_SUBSCRIPTIONS.labels(event).inc()
        level = logging.WARNING if event in ("denied", "failed", "expired") else logging.INFO
        log.log(level, "WebSub %s: source %s, topic %s at hub %s%s", event, sub.source,
                sub.topic, sub.hub, f": {reason}" if reason else "")

    async def _recheck(self, source: Source, *, renew: bool) -> None:
        """Re-read a feed for the hub it names now; subscribe, renew, move or unsubscribe."""
        assert self._fetcher is not None
        try:
            result = await self._fetcher.fetch(source.url, kind="feed")
        except FetchError as error:
            log.info("WebSub: cannot read %s to find its hub: %s", source.url, error)
            if renew and (sub := self.by_source.get(source.name)):
                await self._request(sub, "subscribe")  # keep what we have until told otherwise
            return
        links = find_hubs(result.body, result.headers, result.final_url)
        await self.follow(source, links, renew=renew)

    async def follow(self, source: Source, links: HubLinks | None, *, renew: bool = False
                     ) -> None:
        """Bring a source's subscription in line with what its feed names now (and with
        ``renew``, renew it if it still stands)."""
        sub = self.by_source.get(source.name)
        live = sub is not None and sub.state in ("requested", "active")
        if sub is not None and live and links is not None and \
                (sub.hub, sub.topic) == (links.hubs[0], links.topic):
            if renew and sub.state == "active":
                await self._request(sub, "subscribe")  # same callback and secret
            return
        if sub is not None and live:
            await self._request(sub, "unsubscribe")  # the feed no longer names this hub
        elif sub is not None:
            self.by_id.pop(sub.id, None)  # failed, denied or expired: replaced below or gone
            del self.by_source[source.name]
        if links is None:
            return
        sub = Subscription(source=source.name, feed_url=source.url, hub=links.hubs[0],
                           topic=links.topic, id=secrets.token_urlsafe(16),
                           secret=secrets.token_urlsafe(32))
        self.by_id[sub.id] = self.by_source[source.name] = sub
        await self._request(sub, "subscribe")

    def callback_url(self, sub: Subscription) -> str:
        return f"{self.base_url}{CALLBACK_PATH}{sub.id}"

    async def _request(self, sub: Subscription, mode: str) -> None:
        """POST a (un)subscription request to the hub (spec §5.1); the hub answers 202 and
        verifies with a GET to the callback."""
        assert self._session is not None
        form = {"hub.mode": mode, "hub.topic": sub.topic, "hub.callback": self.callback_url(sub)}
        if mode == "subscribe":
            form["hub.lease_seconds"] = str(int(self.settings.lease_seconds))
            form["hub.secret"] = sub.secret
            if sub.state != "active":
                sub.state, sub.requested_at = "requested", self.clock()
        else:
            sub.state = "unsubscribing"
        WEBSUB_SUBSCRIPTIONS.labels(f"{mode}_requested").inc()
        try:
            async with self._session.post(sub.hub, data=form, allow_redirects=False) as resp:
                if 200 <= resp.status < 300:
                    return
                problem = f"hub answered {resp.status} {resp.reason}: " \
                          f"{(await resp.text(errors='replace'))[:200]}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            problem = f"hub unreachable: {type(exc).__name__}: {exc}"
        if mode == "subscribe" and sub.state == "active":
            # a failed renewal: push stays live until the lease ends, then polling resumes
            log.warning("WebSub renewal for %s at %s failed: %s", sub.topic, sub.hub, problem)
            WEBSUB_SUBSCRIPTIONS.labels("renewal_failed").inc()
        elif mode == "subscribe":
            self._event(sub, "failed", problem, state="failed")
        else:
            self._forget(sub, "unsubscribe_failed", problem)

    # -- the callback -----------------------------------------------------------------------
    async def _verify(self, request: web.Request) -> web.StreamResponse:
        """The hub's GET (spec §5.2, §5.3): echo the challenge only for what we asked."""
        sub = self.by_id.get(request.match_info["id"])
        query = request.query
        mode, topic = query.get("hub.mode", ""), query.get("hub.topic", "")
        if sub is None or topic != sub.topic:
            return web.Response(status=404, text="no such subscription")
        if mode == "denied":
            if sub.state in ("requested", "active"):
                self._event(sub, "denied", query.get("hub.reason", "no reason given"),
                            state="denied")
            return web.Response(text="")
        challenge = query.get("hub.challenge", "")
        if not challenge:
            return web.Response(status=404, text="no hub.challenge")
        if mode == "subscribe" and sub.state in ("requested", "active"):
            try:
                lease = float(query.get("hub.lease_seconds", ""))
            except ValueError:
                return web.Response(status=404, text="no usable hub.lease_seconds")
            if not (math.isfinite(lease) and lease > 0):
                return web.Response(status=404, text="no usable hub.lease_seconds")
            now = self.clock()
            renewal = sub.state == "active"
            sub.lease, sub.expires_at = lease, now + lease
            sub.renew_at = now + lease * self.settings.renew_fraction
            sub.heard_at = max(sub.heard_at, now)
            self._event(sub, "renewed" if renewal else "verified", state="active")
            return web.Response(text=challenge, content_type="text/plain")
        if mode == "unsubscribe" and sub.state == "unsubscribing":
            self._forget(sub, "unsubscribed")
            return web.Response(text=challenge, content_type="text/plain")
        return web.Response(status=404, text=f"no pending {mode or 'request'} for this topic")

    async def _notify(self, request: web.Request) -> web.StreamResponse:
        """A content distribution POST (spec §7, §8)."""
        received = time.monotonic()
        sub = self.by_id.get(request.match_info["id"])
        if sub is None or sub.state in ("unsubscribed", "denied"):
            return self._drop("unknown_subscription", 404)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._drop("too_large", 413)
        problem = signature_problem(request.headers.get("X-Hub-Signature"), body, sub.secret)
        if problem:
            log.warning("WebSub notification for %s dropped: %s", sub.topic, problem)
            return self._drop(problem, 202)
        if self.replays.seen_before(sub.id, body):
            return self._drop("replayed", 202)
        sub.heard_at = self.clock()
        source = self.sources.get(sub.source)
        now = datetime.now(UTC)
        req = FetchRequest(url=sub.feed_url, source=sub.source, host=host_of(sub.feed_url),
                           requested_at=now.isoformat(), kind="feed",
                           hints=FetchHints(language=source.language if source else None,
                                            timezone=source.timezone if source else None))
        headers = {"content-type": request.headers.get("Content-Type", "")}
        result = FetchResult(url=sub.feed_url, final_url=sub.topic, status=200, headers=headers,
                             body=body)
        outcome = pushed_listing(req, result, now, source)
        try:
            await self.publish(outcome)
        except Exception:
            # not lost: a non-2xx answer makes the hub deliver it again
            log.exception("WebSub notification for %s could not be published", sub.topic)
            self.replays.forget(sub.id, body)
            return self._drop("publish_failed", 503)
        WEBSUB_NOTIFICATIONS.labels("accepted" if not outcome.dead_letters else "not_a_feed").inc()
        log.info("WebSub notification for %s: %d request(s) in %.1f ms", sub.topic,
                 len(outcome.requests), (time.monotonic() - received) * 1000)
        return web.Response(status=202)

    def _forget(self, sub: Subscription, event: str, reason: str = "") -> None:
        """An unsubscription done (or given up on): its callback answers 404 from now on."""
        self._event(sub, event, reason, state="unsubscribed")
        self.by_id.pop(sub.id, None)
        if self.by_source.get(sub.source) is sub:
            del self.by_source[sub.source]

    @staticmethod
    def _drop(outcome: str, status: int) -> web.Response:
        WEBSUB_NOTIFICATIONS.labels(outcome).inc()
        return web.Response(status=status)
