"""A local newsroom that misbehaves on purpose, for the fetch stage's tests and benchmark.

It listens on 127.0.0.1 only and tells hosts apart by the Host header, so any number of
names (given to the Fetcher as ``static_hosts``) act as distinct publishers. Every
request is recorded with its host, path and monotonic arrival time.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import ssl
import time
import zlib
from dataclasses import dataclass, field

import brotli
from aiohttp import web

BOMB_DECODED_BYTES = 20 * 1024 * 1024  # what the compression bombs expand to


def article_html(title: str, body: str = "Body text.", charset_meta: str = "utf-8") -> str:
    return (
        f'<!doctype html><html><head><meta charset="{charset_meta}"><title>{title}</title>'
        f"</head><body><article><h1>{title}</h1><p>{body}</p></article></body></html>"
    )


def rss(items: list[tuple[str, str, str]], extra_prolog: str = "") -> bytes:
    """RSS 2.0 with (link, title, RFC 822 pubDate) items."""
    entries = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{d}</pubDate></item>"
        for link, t, d in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{extra_prolog}<rss version="2.0"><channel>'
        f"<title>News</title><link>http://x/</link><language>en</language>{entries}"
        f"</channel></rss>"
    ).encode()


BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)
XXE = '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


@functools.cache
def _bomb(encoding: str) -> bytes:
    """A small body that decodes to BOMB_DECODED_BYTES of zeros (built once per process)."""
    zeros = bytes(BOMB_DECODED_BYTES)
    if encoding == "gzip":
        return gzip.compress(zeros, compresslevel=9)
    if encoding == "deflate":
        return zlib.compress(zeros, 9)
    return brotli.compress(zeros, quality=5)


@dataclass
class Recorded:
    host: str
    path: str
    at: float
    headers: dict[str, str] = field(default_factory=dict)


class HostileServer:
    """``async with HostileServer() as server:`` then ``server.url("news.test", "/path")``."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None,
                 addresses: tuple[str, ...] = ()) -> None:
        self.ssl_context = ssl_context
        #: extra loopback addresses (127.0.0.2, ...) to listen on, each a "host" by itself
        self.addresses = addresses
        self.ports: dict[str, int] = {}
        self.requests: list[Recorded] = []
        #: host → robots.txt text (hosts not listed answer 404: everything allowed)
        self.robots: dict[str, str] = {}
        #: path → (status, extra headers, body) for simple canned answers
        self.canned: dict[str, tuple[int, dict[str, str], bytes]] = {}
        #: path → (content type, body) served with an ETag, answering 304 when it matches
        self.conditional: dict[str, tuple[str, bytes]] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None

    def url(self, host: str, path: str) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{host}:{self.ports.get(host, self.port)}{path}"

    def times(self, host: str, path_prefix: str = "/") -> list[float]:
        return [r.at for r in self.requests if r.host == host and r.path.startswith(path_prefix)]

    async def __aenter__(self) -> HostileServer:
        app = web.Application()
        app.middlewares.append(self._record)
        app.router.add_route("GET", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        for address in ("127.0.0.1", *self.addresses):
            site = web.TCPSite(self._runner, address, 0, ssl_context=self.ssl_context)
            await site.start()
            self.ports[address] = site._server.sockets[0].getsockname()[1]  # type: ignore
        self.port = self.ports["127.0.0.1"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        host = (request.host or "").rsplit(":", 1)[0]
        self.requests.append(Recorded(host, request.path_qs, time.monotonic(),
                                      dict(request.headers)))
        return await handler(request)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        host = (request.host or "").rsplit(":", 1)[0]
        if path in self.conditional:
            content_type, body = self.conditional[path]
            etag = f'"{zlib.crc32(body):08x}"'
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(body=body, headers={"ETag": etag, "Content-Type": content_type})
        if path in self.canned:
            status, headers, body = self.canned[path]
            return web.Response(status=status, headers=headers, body=body)
        if path == "/robots.txt":
            if host in self.robots:
                return web.Response(text=self.robots[host], content_type="text/plain")
            raise web.HTTPNotFound()
        name = path.strip("/").split("/")[0]
        handler = getattr(self, f"_h_{name.replace('-', '_')}", None)
        if handler is None:
            raise web.HTTPNotFound()
        return await handler(request)

    # -- ordinary pages ----------------------------------------------------------------
    async def _h_article(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=article_html(request.path), content_type="text/html")

    async def _h_status(self, request: web.Request) -> web.StreamResponse:
        code = int(request.path.rstrip("/").rsplit("/", 1)[-1])
        headers = {}
        if "retry_after" in request.query:
            headers["Retry-After"] = request.query["retry_after"]
        return web.Response(status=code, headers=headers, text="status")

    async def _h_redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(request.query["to"])

    async def _h_loop(self, request: web.Request) -> web.StreamResponse:
        other = "/loop/b" if request.path.endswith("/a") else "/loop/a"
        raise web.HTTPMovedPermanently(other)

    async def _h_chain(self, request: web.Request) -> web.StreamResponse:
        n = int(request.path.rsplit("/", 1)[-1])
        if n == 0:
            return web.Response(text=article_html("end of chain"), content_type="text/html")
        raise web.HTTPFound(f"/chain/{n - 1}")

    async def _h_index_chain(self, request: web.Request) -> web.StreamResponse:
        # a sitemap index that always lists two indexes never seen before, the second on
        # the other host: an endless chain that only a depth bound ends
        n = int(request.path.rsplit("/", 1)[-1])
        here = (request.host or "").rsplit(":", 1)[0]
        other = "blog.test" if here == "news.test" else "news.test"
        children = "".join(
            f"<sitemap><loc>{self.url(host, f'/index-chain/{n + step}')}</loc></sitemap>"
            for host, step in ((here, 1), (other, 2)))
        return web.Response(
            text='<?xml version="1.0"?><sitemapindex '
                 f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>',
            content_type="application/xml")

    # -- slow and big ---------------------------------------------------------------------
    async def _h_stall(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.Response(text="too late", content_type="text/html")

    async def _h_drip(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        for _ in range(600):  # one byte every 0.1 s: never silent long enough to time out a read
            await response.write(b"<")
            await asyncio.sleep(0.1)
        return response

    async def _h_huge(self, request: web.Request) -> web.StreamResponse:
        # No Content-Length: the limit has to be enforced while streaming.
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        chunk = b"<p>" + b"x" * 65_536 + b"</p>"
        for _ in range(2_000):  # ~130 MB if nobody stops reading
            await response.write(chunk)
        return response

    async def _h_huge_declared(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/html", "Content-Length": str(10**10)}
        )
        await response.prepare(request)
        await response.write(b"<html>")
        await asyncio.sleep(5)
        return response

    async def _h_bomb(self, request: web.Request) -> web.StreamResponse:
        encoding = request.path.rstrip("/").rsplit("/", 1)[-1]
        return web.Response(body=_bomb(encoding), headers={
            "Content-Type": "text/html", "Content-Encoding": encoding})

    async def _h_truncated(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html",
                                               "Content-Length": "10000"})
        await response.prepare(request)
        await response.write(b"<html><body>" + b"a" * 4000)
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.close()
        return response

    async def _h_truncated_gzip(self, request: web.Request) -> web.StreamResponse:
        whole = gzip.compress(article_html("cut", "word " * 5000).encode())
        return web.Response(body=whole[: len(whole) // 2], headers={
            "Content-Type": "text/html", "Content-Encoding": "gzip"})

    async def _h_gzip_ok(self, request: web.Request) -> web.StreamResponse:
        encoding = request.query.get("enc", "gzip")
        html = article_html("compressed", "kata " * 200).encode()
        body = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress,
                "rawdeflate": lambda b: zlib.compress(b)[2:-4]}[encoding](html)
        header = "deflate" if encoding == "rawdeflate" else encoding
        return web.Response(body=body, headers={"Content-Type": "text/html",
                                                "Content-Encoding": header})
