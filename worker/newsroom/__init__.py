"""A local newsroom: a few sample news sites served on loopback addresses for demos and tests.

Each site has its own address (127.0.0.1, 127.0.0.2, … are distinct hosts to the fetcher),
a robots.txt, an RSS feed, a sitemap and article pages, and every request is recorded so
tests can check politeness (who asked for what, when).
"""

from __future__ import annotations

import asyncio
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
    port: int = 0
    #: page file → replacement body: a publisher editing a story after it went out
    revisions: dict[str, bytes] = field(default_factory=dict)
    revised_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    requests: list[RecordedRequest] = field(default_factory=list)
    _runners: list[web.AppRunner] = field(default_factory=list)

    def base_url(self, site: SampleSite) -> str:
        return f"http://{site.address}:{self.port}"

    def feed_url(self, site: SampleSite) -> str:
        return f"{self.base_url(site)}/rss.xml"

    def sources_toml(self) -> str:
        """A sources file naming every site's feed, in the format of DESIGN.md. The sample
        stories are years old, so the sources accept old items (the default is 2 days), and
        a local newsroom can be polled every few seconds (its stories are years old, so the
        scheduler would otherwise learn that they are quiet and poll them rarely)."""
        return "".join(
            f'[[source]]\nname = "{s.name}"\nurl = "{self.feed_url(s)}"\nkind = "feed"\n'
            'max_age = "5000d"\npoll_interval = "4s"\nmin_poll_interval = "1s"\n'
            'max_poll_interval = "4s"\n\n'
            for s in self.sites
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

    async def __aenter__(self) -> Newsroom:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        for attempt in range(20):
            port = self.port or _free_port(self.sites[0].address)
            try:
                for site in self.sites:
                    runner = web.AppRunner(self._app(site), access_log=None)
                    await runner.setup()
                    self._runners.append(runner)
                    await web.TCPSite(runner, site.address, port).start()
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
