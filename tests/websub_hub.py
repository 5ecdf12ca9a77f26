"""A WebSub hub and a publishing site for the push tests, each an aiohttp server on 127.0.0.x.

``LocalHub`` plays the hub's side of the W3C WebSub Recommendation:

* a subscription or unsubscription request is a form POST (hub.mode, hub.topic,
  hub.callback, optional hub.lease_seconds and hub.secret); a valid one is answered
  202 Accepted and then verified by a GET to the callback with hub.mode, hub.topic,
  hub.challenge and (for subscribe) hub.lease_seconds; it takes effect only if the callback
  answers 2xx with the challenge as its body (§5.1–5.3);
* leases are granted up to ``max_lease`` seconds and end on time (§5.3);
* ``publish`` delivers a body to every live subscription of a topic with Link headers
  (rel=hub, rel=self) and, when the subscriber gave a secret, ``X-Hub-Signature`` (§7, §8);
* ``deny`` sends hub.mode=denied (§5.2); ``accepting = False`` makes it refuse requests
  with 503, and leaving the ``async with`` block takes it away altogether.

``NewsSite`` serves an Atom feed that names a hub (or not) and a page per story.
"""

from __future__ import annotations

import asyncio
import hmac
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web
from yarl import URL


@dataclass(slots=True)
class HubSubscription:
    topic: str
    callback: str
    secret: str | None
    lease: int
    expires_at: float


@dataclass(slots=True)
class Verification:
    mode: str
    topic: str
    callback: str
    status: int
    echoed: bool


async def _serve(app: web.Application, address: str) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, address, 0)
    await site.start()
    return runner, runner.addresses[0][1]


class LocalHub:
    def __init__(self, address: str = "127.0.0.5", *, max_lease: int = 3600,
                 method: str = "sha256") -> None:
        self.address = address
        self.max_lease = max_lease
        self.method = method
        self.accepting = True
        self.url = ""
        self.subscriptions: dict[tuple[str, str], HubSubscription] = {}
        self.requests: list[dict[str, str]] = []
        self.verifications: list[Verification] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> LocalHub:
        app = web.Application()
        app.router.add_post("/", self._request)
        self._runner, port = await _serve(app, self.address)
        self.url = f"http://{self.address}:{port}/"
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.go_away()

    async def go_away(self) -> None:
        """Stop answering anything, as a hub that shut down."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def live(self, topic: str) -> list[HubSubscription]:
        now = time.monotonic()
        return [s for s in self.subscriptions.values() if s.topic == topic and s.expires_at > now]

    async def _request(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        form = {k: str(v) for k, v in form.items()}
        self.requests.append(form)
        if not self.accepting:
            return web.Response(status=503, text="hub unavailable")
        mode, topic, callback = (form.get(k, "") for k in ("hub.mode", "hub.topic",
                                                            "hub.callback"))
        if mode not in ("subscribe", "unsubscribe") or not topic or not callback:
            return web.Response(status=400, text="hub.mode, hub.topic and hub.callback needed")
        try:
            asked = int(form.get("hub.lease_seconds") or self.max_lease)
        except ValueError:
            return web.Response(status=400, text="hub.lease_seconds is not an integer")
        lease = max(1, min(asked, self.max_lease))
        task = asyncio.ensure_future(self._verify(mode, topic, callback, lease,
                                                  form.get("hub.secret")))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def _verify(self, mode: str, topic: str, callback: str, lease: int,
                      secret: str | None) -> None:
        assert self._session is not None
        challenge = secrets.token_urlsafe(24)
        query = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            query["hub.lease_seconds"] = str(lease)
        try:
            async with self._session.get(URL(callback).update_query(query)) as resp:
                status, text = resp.status, await resp.text()
        except aiohttp.ClientError:
            status, text = 0, ""  # the subscriber is unreachable: not verified
        echoed = 200 <= status < 300 and text == challenge
        self.verifications.append(Verification(mode, topic, callback, status, echoed))
        if not echoed:
            return
        if mode == "subscribe":
            self.subscriptions[(topic, callback)] = HubSubscription(
                topic, callback, secret, lease, time.monotonic() + lease)
        else:
            self.subscriptions.pop((topic, callback), None)

    async def deny(self, topic: str, callback: str, reason: str) -> int:
        assert self._session is not None
        self.subscriptions.pop((topic, callback), None)
        query = {"hub.mode": "denied", "hub.topic": topic, "hub.reason": reason}
        async with self._session.get(URL(callback).update_query(query)) as resp:
            return resp.status

    async def publish(self, topic: str, body: bytes, *,
                      content_type: str = "application/atom+xml",
                      signature: str | None = None, sign: bool = True) -> list[int]:
        """Deliver ``body`` to the topic's live subscribers; ``signature`` overrides the
        X-Hub-Signature header, ``sign=False`` leaves it out. Returns their statuses."""
        assert self._session is not None
        statuses = []
        for sub in self.live(topic):
            headers = {"Content-Type": content_type,
                       "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"'}
            if signature is not None:
                headers["X-Hub-Signature"] = signature
            elif sign and sub.secret:
                digest = hmac.new(sub.secret.encode(), body, self.method).hexdigest()
                headers["X-Hub-Signature"] = f"{self.method}={digest}"
            async with self._session.post(sub.callback, data=body, headers=headers) as resp:
                statuses.append(resp.status)
        return statuses


_VOCABULARY = (
    "harbour council river market school bridge station minister court budget rain flood "
    "festival railway hospital farmers election village mayor police teachers union strike "
    "museum airport border ferry mountain coast island factory workers price rice fuel "
    "vaccine clinic storm drought forest fire road tunnel power grid water dam port ship "
    "cargo tourism hotel beach reef fishermen harvest coffee tea sugar palm oil coal nickel "
    "copper gold mine export import trade bank loan rate inflation currency bond shares "
    "court judge verdict appeal prison lawyer witness report survey census data study"
)
_WORDS = _VOCABULARY.split()


@dataclass(slots=True)
class Story:
    slug: str
    title: str
    published: datetime = field(default_factory=lambda: datetime.now(UTC))


class NewsSite:
    """An Atom feed at /feed.atom naming ``hub`` (when set), and a page per story."""

    def __init__(self, address: str = "127.0.0.6") -> None:
        self.address = address
        self.hub: str | None = None
        self.stories: list[Story] = []
        self.base = ""
        self.feed_requests = 0
        self._runner: web.AppRunner | None = None

    @property
    def feed_url(self) -> str:
        return f"{self.base}/feed.atom"

    def story_url(self, story: Story) -> str:
        return f"{self.base}/news/{story.slug}"

    async def __aenter__(self) -> NewsSite:
        app = web.Application()
        app.router.add_get("/feed.atom", self._feed)
        app.router.add_get("/news/{slug}", self._story)
        self._runner, port = await _serve(app, self.address)
        self.base = f"http://{self.address}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def add(self, slug: str, title: str) -> Story:
        story = Story(slug, title)
        self.stories.append(story)
        return story

    def feed(self, stories: list[Story] | None = None) -> bytes:
        """The feed as it is now (or with only ``stories``: a hub's fat ping of new ones)."""
        entries = "".join(
            f"<entry><title>{escape(s.title)}</title><id>{self.story_url(s)}</id>"
            f'<link rel="alternate" href="{self.story_url(s)}"/>'
            f"<updated>{s.published.isoformat()}</updated></entry>"
            for s in (self.stories if stories is None else stories)
        )
        hub = f'<link rel="hub" href="{self.hub}"/>' if self.hub else ""
        return (f'<?xml version="1.0" encoding="utf-8"?>'
                f'<feed xmlns="http://www.w3.org/2005/Atom"><title>Site</title>'
                f'<id>{self.feed_url}</id><updated>{datetime.now(UTC).isoformat()}</updated>'
                f'{hub}<link rel="self" href="{self.feed_url}"/>{entries}</feed>').encode()

    async def _feed(self, request: web.Request) -> web.Response:
        self.feed_requests += 1
        return web.Response(body=self.feed(), content_type="application/atom+xml")

    async def _story(self, request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        story = next((s for s in self.stories if s.slug == slug), None)
        if story is None:
            raise web.HTTPNotFound()
        # words drawn per story, so no two stories look like near-duplicates to dedupe
        rng = random.Random(slug)
        paragraphs = "".join(
            "<p>" + " ".join(rng.choice(_WORDS) for _ in range(40)).capitalize() + ".</p>"
            for _ in range(6))
        html = (f"<html><head><title>{escape(story.title)}</title></head><body><article>"
                f"<h1>{escape(story.title)}</h1>{paragraphs}</article></body></html>")
        return web.Response(text=html, content_type="text/html")
