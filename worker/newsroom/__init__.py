"""A local newsroom: a few sample news sites served on loopback addresses for demos and tests.

Each site has its own address (127.0.0.1, 127.0.0.2, … are distinct hosts to the fetcher),
a robots.txt, an RSS feed, a sitemap and article pages, and every request is recorded so
tests can check politeness (who asked for what, when).

Live sites (``LiveSite``) publish a new generated story every few seconds while they are
watched, and can go quiet, turn into a bot wall or change their layout on a schedule: the
source-health demo.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from importlib import resources
from xml.sax.saxutils import escape

from aiohttp import web


@dataclass(frozen=True, slots=True)
class SamplePage:
    path: str
    file: str
    title: str
    published: str  # ISO 8601, used for the feed's pubDate


@dataclass(frozen=True, slots=True)
class SampleSite:
    name: str
    address: str
    pages: tuple[SamplePage, ...]
    #: seconds each article response is held back: a slow publisher (it also makes the
    #: syndicated copy arrive after the original, as it does in real life)
    article_delay: float = 0.0


SITES: tuple[SampleSite, ...] = (
    SampleSite(
        name="sindonews",
        address="127.0.0.1",
        pages=(
            SamplePage(
                "/international/1211457/kalah-lawan-azerbaijan-sekutu-rusia-ancam-membelot-ke-prancis",
                "sindonews_armenia.html",
                "Kalah Lawan Azerbaijan, Sekutu Rusia Ancam Membelot ke Prancis",
                "2023-10-07T08:48:00+07:00",
            ),
            SamplePage(
                "/read/1211460/halaman-hilang",
                "broken_page.html",
                "Halaman tidak ditemukan",
                "2023-10-07T09:10:00+07:00",
            ),
        ),
    ),
    SampleSite(
        name="wartanusantara",
        address="127.0.0.2",
        pages=(
            SamplePage(
                "/dunia/2023/10/07/kalah-lawan-azerbaijan-sekutu-rusia-ancam-membelot-ke-prancis",
                "syndicated_armenia.html",
                "Kalah Lawan Azerbaijan, Sekutu Rusia Ancam Membelot ke Prancis",
                "2023-10-07T10:15:00+07:00",
            ),
        ),
        article_delay=1.5,
    ),
    SampleSite(
        name="coastalledger",
        address="127.0.0.3",
        pages=(
            SamplePage(
                "/news/2024/03/14/harbour-city-votes-tidal-park",
                "english_article.html",
                "Harbour city votes to turn disused docks into tidal park",
                "2024-03-14T18:30:00+00:00",
            ),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class LiveSite:
    """A site that publishes while it is watched. Its clock starts at the first request it
    gets, so the schedule holds however long the watcher took to start."""

    name: str
    address: str
    #: a new story every this many seconds
    every: float
    #: it stops publishing after this many stories (and goes quiet)
    stories: int | None = None
    #: from this many seconds on, every request gets 403 and a challenge page (a bot wall)
    fails_after: float | None = None
    #: stories published from this many seconds on come as an empty, script-rendered shell
    layout_changes_after: float | None = None
    #: the source's health rules, as the inline TOML table of its sources entry
    health: str = ""


#: the source-health demo: one source that goes quiet, one that fails, one whose layout
#: changes; short rules so that each shows within seconds
LIVE_SITES: tuple[LiveSite, ...] = (
    LiveSite("lakeside-gazette", "127.0.0.4", every=1.0, stories=4,
             health='{ quiet_factor = 3, quiet_min = "4s" }'),
    LiveSite("northern-courier", "127.0.0.5", every=1.5, fails_after=4.0,
             health="{ failing_errors = 3 }"),
    LiveSite("valley-times", "127.0.0.6", every=0.8, layout_changes_after=4.0,
             health="{ drift_window = 4, drift_min_baseline = 3, drift_margin = 0.5 }"),
)

_TOWNS = ("Millbrook", "Eastwick", "Harrowgate", "Kingsbridge", "Ashford", "Redcliffe")
_SENTENCES = (
    "The council said the decision followed months of consultation with residents.",
    "Local businesses have asked for clearer information about the road closures.",
    "A spokesperson for the county said the budget for the scheme had been agreed in March.",
    "Parents at the primary school raised concerns about traffic at drop-off times.",
    "The river authority expects water levels to fall over the coming week.",
    "Volunteers spent the weekend clearing litter from the footpaths along the canal.",
    "Tickets for the summer festival went on sale on Monday and sold out within hours.",
    "The hospital trust confirmed that the new ward would open before the winter.",
    "Police asked anyone who saw the incident to contact them with dashcam footage.",
    "The bus operator said timetables would change from the start of next month.",
    "Farmers in the valley reported the wettest spring in more than twenty years.",
    "A planning inspector will visit the site before a final ruling is made.",
    "The library will extend its opening hours on Thursdays and Saturdays.",
    "Campaigners delivered a petition with more than four thousand signatures.",
    "Engineers found that the bridge needed repairs to two of its supporting piers.",
    "The football club thanked supporters for raising money for the new stand.",
    "Residents were invited to comment on the plans at the town hall until Friday.",
    "The chamber of commerce welcomed the news but warned about rising rents.",
    "A new cycle lane linking the station to the college is due to open in May.",
    "The charity said demand for its food bank had doubled since last year.",
    "Officials promised a full report on the flooding by the end of the summer.",
    "The museum has received a grant to restore its collection of maritime paintings.",
    "Councillors voted by a narrow margin to keep the swimming pool open.",
    "The fire service reminded households to test their smoke alarms every month.",
)


def live_story(site: LiveSite, number: int) -> tuple[str, list[str]]:
    """The title and paragraphs of a live site's story ``number`` (the same every time)."""
    pick = random.Random(f"{site.name}/{number}")
    town = pick.choice(_TOWNS)
    title = f"{town}: {site.name.replace('-', ' ').title()} report {number}"
    lead = (f"{town.upper()} - Reporters from the {site.name.replace('-', ' ')} followed "
            f"story number {number} of the week as it unfolded across the district.")
    return title, [lead, *pick.sample(_SENTENCES, 8)]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    host: str
    path: str
    at: float
    user_agent: str


def page_html(file: str) -> bytes:
    """The bytes of one sample page."""
    return resources.files("worker.newsroom").joinpath("pages", file).read_bytes()


@dataclass
class Newsroom:
    """Serves SITES on one port across several loopback addresses. Async context manager."""

    sites: tuple[SampleSite, ...] = SITES
    live_sites: tuple[LiveSite, ...] = ()
    port: int = 0
    #: page file → replacement body: a publisher editing a story after it went out
    revisions: dict[str, bytes] = field(default_factory=dict)
    revised_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    requests: list[RecordedRequest] = field(default_factory=list)
    _runners: list[web.AppRunner] = field(default_factory=list)
    #: live site name → wall-clock time of its first request (its schedule starts then)
    _live_started: dict[str, float] = field(default_factory=dict)

    def base_url(self, site: SampleSite | LiveSite) -> str:
        return f"http://{site.address}:{self.port}"

    def feed_url(self, site: SampleSite | LiveSite) -> str:
        return f"{self.base_url(site)}/rss.xml"

    def sources_toml(self) -> str:
        """A sources file naming every site's feed, in the format of DESIGN.md. The sample
        stories are years old, so the sources accept old items (the default is 2 days), and
        a local newsroom can be polled every few seconds."""
        return "".join(
            f'[[source]]\nname = "{s.name}"\nurl = "{self.feed_url(s)}"\nkind = "feed"\n'
            'max_age = "5000d"\npoll_interval = "4s"\nmin_poll_interval = "1s"\n\n'
            for s in self.sites
        ) + "".join(
            f'[[source]]\nname = "{s.name}"\nurl = "{self.feed_url(s)}"\nkind = "feed"\n'
            'max_age = "1d"\npoll_interval = "2s"\nmin_poll_interval = "1s"\n'
            f'per_host_delay = 0.2\nhealth = {s.health or "{}"}\n\n'
            for s in self.live_sites
        )

    def _app(self, site: SampleSite) -> web.Application:
        async def record(request: web.Request) -> None:
            self.requests.append(
                RecordedRequest(
                    site.address,
                    request.path_qs,
                    time.monotonic(),
                    request.headers.get("User-Agent", ""),
                )
            )

        async def robots(request: web.Request) -> web.Response:
            await record(request)
            sitemap_url = f"{self.base_url(site)}/sitemap.xml"
            body = f"User-agent: *\nDisallow: /private/\n\nSitemap: {sitemap_url}\n"
            return web.Response(text=body, content_type="text/plain")

        async def feed(request: web.Request) -> web.Response:
            await record(request)
            items = "".join(
                "<item>"
                f"<title>{escape(p.title)}</title>"
                f"<link>{self.base_url(site)}{p.path}</link>"
                f"<guid>{self.base_url(site)}{p.path}</guid>"
                f"<pubDate>{format_datetime(datetime.fromisoformat(p.published))}</pubDate>"
                # a revised story is announced as updated, as publishers' feeds do
                + (
                    f"<atom:updated>{self.revised_at}</atom:updated>"
                    if p.file in self.revisions
                    else ""
                )
                + "</item>"
                for p in site.pages
            )
            body = (
                '<?xml version="1.0" encoding="utf-8"?>'
                '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
                f"<title>{site.name}</title><link>{self.base_url(site)}/</link>"
                f"<description>{site.name} sample feed</description>{items}</channel></rss>"
            )
            return web.Response(text=body, content_type="application/rss+xml")

        async def sitemap(request: web.Request) -> web.Response:
            await record(request)
            urls = "".join(
                f"<url><loc>{self.base_url(site)}{p.path}</loc><lastmod>{p.published}</lastmod></url>"
                for p in site.pages
            )
            body = (
                '<?xml version="1.0" encoding="utf-8"?>'
                f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
            )
            return web.Response(text=body, content_type="application/xml")

        def article(page: SamplePage) -> Callable[[web.Request], Awaitable[web.Response]]:
            async def handler(request: web.Request) -> web.Response:
                await record(request)
                if site.article_delay:
                    await asyncio.sleep(site.article_delay)
                # the broken page is served with 200, the harder case: the fetch succeeds
                # and extraction has to notice that there is no article
                body = self.revisions.get(page.file) or page_html(page.file)
                return web.Response(body=body, content_type="text/html", charset="utf-8")

            return handler

        app = web.Application()
        app.router.add_get("/robots.txt", robots)
        app.router.add_get("/rss.xml", feed)
        app.router.add_get("/sitemap.xml", sitemap)
        for page in site.pages:
            app.router.add_get(page.path, article(page))
        return app

    def _live_app(self, site: LiveSite) -> web.Application:
        def published(number: int) -> float:
            return self._live_started[site.name] + number * site.every

        def visible(now: float) -> list[int]:
            count = int((now - self._live_started[site.name]) // site.every) + 1
            return list(range(min(count, site.stories or count)))

        @web.middleware
        async def schedule(request: web.Request, handler: Callable[[web.Request], Awaitable[
                web.StreamResponse]]) -> web.StreamResponse:
            now = time.time()
            self._live_started.setdefault(site.name, now)
            self.requests.append(RecordedRequest(site.address, request.path_qs,
                                                 time.monotonic(),
                                                 request.headers.get("User-Agent", "")))
            if site.fails_after is not None and now - self._live_started[site.name] \
                    >= site.fails_after:
                return web.Response(status=403, content_type="text/html", text=(
                    "<html><head><title>Just a moment...</title></head><body>Checking your "
                    "browser before accessing the site.</body></html>"))
            return await handler(request)

        async def robots(request: web.Request) -> web.Response:
            return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain")

        async def feed(request: web.Request) -> web.Response:
            items = "".join(
                f"<item><title>{escape(live_story(site, n)[0])}</title>"
                f"<link>{self.base_url(site)}/news/{n}</link>"
                f"<guid>{self.base_url(site)}/news/{n}</guid>"
                f"<pubDate>{format_datetime(datetime.fromtimestamp(published(n), UTC))}"
                "</pubDate></item>"
                for n in reversed(visible(time.time())[-20:])
            )
            return web.Response(content_type="application/rss+xml", text=(
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{site.name}</title><link>{self.base_url(site)}/</link>"
                f"<description>{site.name} live feed</description>{items}</channel></rss>"))

        async def story(request: web.Request) -> web.Response:
            number = int(request.match_info["number"])
            if number not in visible(time.time()):
                raise web.HTTPNotFound()
            title, paragraphs = live_story(site, number)
            when = datetime.fromtimestamp(published(number), UTC).isoformat(timespec="seconds")
            shell = (site.layout_changes_after is not None
                     and published(number) - self._live_started[site.name]
                     >= site.layout_changes_after)
            body = (f'<div id="app" data-story="{number}"></div>'
                    '<script src="/static/app.js"></script>') if shell else (
                f'<article><h1>{escape(title)}</h1><time datetime="{when}">{when}</time>'
                + "".join(f"<p>{escape(p)}</p>" for p in paragraphs) + "</article>")
            return web.Response(content_type="text/html", charset="utf-8", text=(
                f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                f"<title>{escape(title)} | {site.name}</title>"
                f'<meta property="article:published_time" content="{when}"></head><body>'
                f'<header><a href="/">{site.name}</a></header><main>{body}</main>'
                f"<footer>&copy; {site.name}</footer></body></html>"))

        app = web.Application(middlewares=[schedule])
        app.router.add_get("/robots.txt", robots)
        app.router.add_get("/rss.xml", feed)
        app.router.add_get(r"/news/{number:\d+}", story)
        return app

    async def __aenter__(self) -> Newsroom:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        for attempt in range(20):
            port = self.port or _free_port((self.sites or self.live_sites)[0].address)
            try:
                apps = [(self._app(site), site.address) for site in self.sites]
                apps += [(self._live_app(site), site.address) for site in self.live_sites]
                for app, address in apps:
                    runner = web.AppRunner(app, access_log=None)
                    await runner.setup()
                    self._runners.append(runner)
                    await web.TCPSite(runner, address, port).start()
            except OSError:
                await self.stop()
                if self.port or attempt == 19:
                    raise
                continue
            self.port = port
            return

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]
