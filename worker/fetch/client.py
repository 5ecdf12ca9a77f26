"""The HTTP client of the fetch stage: aiohttp with every limit a hostile server can test.

* timeouts: connect and read per socket operation, and a total for the whole fetch
  (every redirect hop included), so a slow-drip body cannot hold a fetch forever;
* the body is streamed and counted while it arrives; compressed bodies are decompressed
  here (aiohttp's auto_decompress is off) with a cap on the decoded size;
* redirects are followed by hand, each hop checked: scheme, loop, count, robots.txt, and
  the address the host resolves to (private, loopback, link-local and metadata addresses
  are refused unless ``allow_private_addresses``). The check runs inside the connector's
  resolver, on the very addresses aiohttp connects to, so DNS rebinding cannot slip by;
* TLS certificates are verified unless ``verify_tls`` is off;
* politeness (robots.txt, per-host delay and concurrency, Retry-After, backoff, circuit
  breaker) comes from ``Politeness``, which this class owns.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import brotli
from aiohttp.abc import AbstractResolver, ResolveResult
from protego import Protego
from yarl import URL

from worker.fetch.charset import charset_from_content_type, decode_html
from worker.fetch.errors import FetchError
from worker.fetch.politeness import Politeness, parse_retry_after
from worker.fetch.urls import host_of
from worker.settings import FetchSettings

log = logging.getLogger(__name__)

__all__ = ["FetchError", "FetchResult", "Fetcher", "GuardedResolver", "is_public_address"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: response headers kept on a RawPage (the rest is noise downstream)
KEPT_HEADERS = (
    "content-type", "content-language", "content-length", "last-modified", "etag", "date",
    "link", "x-robots-tag", "cache-control", "expires",
)
_ACCEPT = {
    "article": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "page": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/feed+json,"
    "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.1",
    "sitemap": "application/xml,text/xml;q=0.9,*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.1",
}
_ENCODINGS = {"Accept-Encoding": "gzip, deflate, br"}
_REQUEST_HEADERS = {kind: {"Accept": accept, **_ENCODINGS} for kind, accept in _ACCEPT.items()}
_CHUNK = 64 * 1024
#: RFC 9309 §2.5: a crawler may limit the robots.txt it parses, to no less than 500 KiB;
#: a longer one is parsed up to the last whole line in its first 500 KiB
_ROBOTS_PARSE_BYTES = 500 * 1024
#: the sitemap protocol allows 50 MB uncompressed per file
_SITEMAP_MAX_BYTES = 50 * 1024 * 1024


def is_public_address(address: str) -> bool:
    """True for globally routable unicast addresses; False for private, loopback,
    link-local (which includes the 169.254.169.254 cloud metadata endpoint), shared
    (CGNAT), reserved, multicast and unspecified ones, including IPv4-mapped IPv6 forms."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PrivateAddressError(OSError):
    """Raised by GuardedResolver; aiohttp wraps it in ClientConnectorDNSError."""


class GuardedResolver(AbstractResolver):
    """Resolves through ``inner`` and drops addresses that are not public.

    ``static`` maps host names to fixed addresses (the test newsroom and the benchmark
    give hundreds of names to loopback this way); those addresses are checked too."""

    def __init__(
        self,
        inner: AbstractResolver,
        *,
        allow_private: bool = False,
        static: Mapping[str, str] | None = None,
    ) -> None:
        self.inner = inner
        self.allow_private = allow_private
        self.static = {k.lower(): v for k, v in (static or {}).items()}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        fixed = self.static.get(host.lower().rstrip("."))
        if fixed is not None:
            results: list[ResolveResult] = [
                {
                    "hostname": host, "host": fixed, "port": port,
                    "family": socket.AF_INET6 if ":" in fixed else socket.AF_INET,
                    "proto": 0, "flags": socket.AI_NUMERICHOST,
                }
            ]
        else:
            results = await self.inner.resolve(host, port, family)
        if self.allow_private:
            return results
        public = [r for r in results if is_public_address(r["host"])]
        if not public:
            addresses = ", ".join(sorted({r["host"] for r in results}))
            raise PrivateAddressError(f"{host} resolves only to non-public addresses ({addresses})")
        return public

    async def close(self) -> None:
        await self.inner.close()


@dataclass(slots=True)
class FetchResult:
    """What a fetch produced. ``text``/``charset`` are set for HTML kinds only."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: list[str] = field(default_factory=list)
    text: str | None = None
    charset: str | None = None
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class _Decoder:
    """Incremental Content-Encoding decoder that refuses to grow past ``limit`` bytes, or
    with ``truncate`` stops there: ``full`` is then set and the output ends past ``limit``."""

    def __init__(self, encoding: str, limit: int, url: str, truncate: bool = False) -> None:
        self.encoding = encoding
        self.limit = limit
        self.url = url
        self.truncate = truncate
        self.full = False
        self.size = 0
        self._zlib: Any = None
        self._brotli: Any = None
        self._raw_deflate_tried = False
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding == "br":
            self._brotli = brotli.Decompressor()
        elif encoding not in ("", "identity"):
            raise FetchError("unsupported_encoding", f"Content-Encoding {encoding!r}", url)

    def _grow(self, n: int) -> None:
        self.size += n
        if self.size > self.limit and self.truncate:
            self.full = True
        elif self.size > self.limit:
            raise FetchError(
                "decompression_bomb",
                f"{self.encoding} body decodes to more than {self.limit} bytes",
                self.url,
            )

    def feed(self, data: bytes) -> bytes:
        if self._zlib is not None:
            return self._feed_zlib(data)
        if self._brotli is not None:
            return self._feed_brotli(data)
        self._grow(len(data))
        return data

    def _feed_zlib(self, data: bytes) -> bytes:
        out: list[bytes] = []
        while data and not self.full:
            try:
                piece = self._zlib.decompress(data, self.limit - self.size + 1)
            except zlib.error as exc:
                # "deflate" is often sent as raw deflate without the zlib header.
                if self.encoding == "deflate" and not self._raw_deflate_tried and not self.size:
                    self._raw_deflate_tried = True
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise FetchError(
                    "bad_encoding", f"invalid {self.encoding} data: {exc}", self.url
                ) from None
            self._grow(len(piece))
            out.append(piece)
            data = self._zlib.unconsumed_tail
        return b"".join(out)

    def _feed_brotli(self, data: bytes) -> bytes:
        out: list[bytes] = []
        try:
            piece = self._brotli.process(data, output_buffer_limit=self.limit - self.size + 1)
            self._grow(len(piece))
            out.append(piece)
            while not self._brotli.can_accept_more_data() and not self.full:
                piece = self._brotli.process(b"", output_buffer_limit=self.limit - self.size + 1)
                self._grow(len(piece))
                out.append(piece)
        except brotli.error as exc:
            raise FetchError("bad_encoding", f"invalid br data: {exc}", self.url) from None
        return b"".join(out)

    def finish(self) -> bytes:
        if self._zlib is not None:
            tail = self._zlib.flush()
            self._grow(len(tail))
            if not self._zlib.eof:
                raise FetchError("truncated", f"{self.encoding} stream ends early", self.url)
            return tail
        if self._brotli is not None and not self._brotli.is_finished():
            raise FetchError("truncated", "br stream ends early", self.url)
        return b""


def _content_type_ok(kind: str, content_type: str) -> bool:
    if not content_type or content_type == "application/octet-stream":
        return True  # decided by sniffing the body
    if kind in ("article", "page"):
        return content_type in ("text/html", "application/xhtml+xml")
    if kind == "robots":
        return content_type.startswith("text/")
    # feeds and sitemaps: XML, JSON, text, or gzip (sitemap.xml.gz); never media
    return (
        content_type.startswith("text/")
        or "xml" in content_type
        or "json" in content_type
        or content_type in ("application/gzip", "application/x-gzip")
    )


def _looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return b"\x00" not in body[:1024] and head.startswith(b"<")


class Fetcher:
    """One aiohttp session with the fetch stage's limits; use as an async context manager.

    ``resolver`` replaces the system resolver (tests); ``static_hosts`` maps names to
    addresses, still subject to the private-address check."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        politeness: Politeness | None = None,
        resolver: AbstractResolver | None = None,
        static_hosts: Mapping[str, str] | None = None,
        obey_robots: bool = True,
    ) -> None:
        self.settings = settings
        self.politeness = politeness or Politeness(settings)
        self.obey_robots = obey_robots
        self._resolver = resolver
        self._static_hosts = static_hosts
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        inner = self._resolver or aiohttp.ThreadedResolver()
        resolver = GuardedResolver(
            inner, allow_private=self.settings.allow_private_addresses, static=self._static_hosts
        )
        connector = aiohttp.TCPConnector(
            limit=self.settings.concurrency,
            limit_per_host=0,  # Politeness caps per host, with the per-host delay
            resolver=resolver,
            ttl_dns_cache=300,
            ssl=None if self.settings.verify_tls else False,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.settings.connect_timeout,
                sock_read=self.settings.read_timeout,
            ),
            headers={"User-Agent": self.settings.user_agent},
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per-host counters (fetched, not_modified, bytes, errors by kind, circuit state)."""
        return self.politeness.stats()

    # -- public API ----------------------------------------------------------------------
    async def fetch(
        self, url: str, *, kind: str = "article", conditional: Mapping[str, str] | None = None
    ) -> FetchResult:
        """Fetch one URL politely; retries retryable failures with backoff.

        ``conditional`` may hold ``etag`` and ``last_modified`` from an earlier answer; a
        304 then gives a result with ``not_modified`` set and an empty body.
        Raises FetchError with a machine-readable reason."""
        host = host_of(url)
        attempt = 0
        while True:
            try:
                await self.check_robots(url, host)
                async with self.politeness.slot(host, url, self.settings.user_agent):
                    result = await self._fetch_hops(url, kind, conditional)
            except FetchError as error:
                if error.reason in ("robots_disallowed", "robots_unavailable", "circuit_open",
                                    "host_backoff"):
                    self.politeness.count(host, error.reason)
                    raise
                self.politeness.record_failure(host, error, attempt=attempt)
                state = self.politeness.host(host)
                wait = state.blocked_until - self.politeness.clock()
                if (
                    error.retryable
                    and attempt < self.settings.retries
                    and wait <= self.politeness.max_wait
                    and state.circuit_open_until <= self.politeness.clock()
                ):
                    attempt += 1
                    log.debug("retrying %s after %s (attempt %d)", url, error.reason, attempt)
                    continue
                raise
            self.politeness.record_success(
                host, status=result.status, nbytes=len(result.body),
                not_modified=result.not_modified,
            )
            return result

    async def check_robots(self, url: str, host: str | None = None) -> None:
        """Raise FetchError(robots_disallowed) when robots.txt forbids ``url`` to us, and
        FetchError(robots_unavailable) while the host's robots.txt answers 5xx."""
        if not self.obey_robots:
            return
        host = host or host_of(url)
        rules = self.politeness.robots(host) or await self.robots_for(url)
        if self.politeness.robots_unavailable(host):
            raise FetchError("robots_unavailable",
                             "robots.txt answers with a server error; the site is off limits "
                             "until it answers again (RFC 9309)", url)
        if not rules.can_fetch(url, self.settings.user_agent):
            raise FetchError("robots_disallowed", "robots.txt disallows this URL for us", url)

    async def robots_for(self, url: str) -> Protego:
        """The robots.txt rules for the host of ``url``, fetched once and cached.

        A missing robots.txt (4xx) allows everything; one answering 5xx disallows
        everything for a short while, as RFC 9309 asks. Network failures are raised as
        they are (the page itself would fail the same way) and not cached."""
        host = host_of(url)
        rules = self.politeness.robots(host)
        if rules is not None:
            return rules
        async with self.politeness.robots_lock(host):
            rules = self.politeness.robots(host)
            if rules is not None:
                return rules
            robots_url = str(URL(url).with_path("/robots.txt").with_query(None).with_fragment(None))
            try:
                result = await self._fetch_hops(robots_url, "robots", None)
            except FetchError as error:
                status = error.reason.removeprefix("http_")
                if not status.isdigit():
                    raise
                if int(status) >= 500 or int(status) == 429:
                    log.info("robots.txt of %s answers %s; host off limits for now", host, status)
                    rules = Protego.parse("User-agent: *\nDisallow: /\n")
                    self.politeness.set_robots(host, rules, unavailable=True)
                else:
                    rules = Protego.parse("")
                    self.politeness.set_robots(host, rules)
                return rules
            rules = Protego.parse(result.body.decode("utf-8", errors="replace"))
            self.politeness.set_robots(host, rules)
            return rules

    # -- one fetch, all hops -------------------------------------------------------------
    async def _fetch_hops(
        self, url: str, kind: str, conditional: Mapping[str, str] | None
    ) -> FetchResult:
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        redirects: list[str] = []
        visited = {url}
        current = url
        headers = _REQUEST_HEADERS.get(kind) or {"Accept": "*/*", **_ENCODINGS}
        if conditional:
            headers = dict(headers)
            if conditional.get("etag"):
                headers["If-None-Match"] = conditional["etag"]
            if conditional.get("last_modified"):
                headers["If-Modified-Since"] = conditional["last_modified"]
        try:
            async with asyncio.timeout(self.settings.total_timeout):
                while True:
                    target = self._check_target(current)
                    if redirects and kind != "robots":
                        await self.check_robots(current)
                    async with self._session.get(
                        target, headers=headers, allow_redirects=False
                    ) as resp:
                        location = resp.headers.get("Location")
                        if resp.status in _REDIRECTS and location:
                            current = self._next_hop(resp.url, location, current, visited,
                                                     len(redirects))
                            redirects.append(current)
                            continue
                        return await self._read(url, current, redirects, resp, kind)
        except FetchError:
            raise
        except aiohttp.ConnectionTimeoutError:
            raise FetchError(
                "connect_timeout", f"no connection within {self.settings.connect_timeout} s",
                current,
            ) from None
        except aiohttp.SocketTimeoutError:
            raise FetchError(
                "read_timeout", f"server silent for {self.settings.read_timeout} s", current
            ) from None
        except TimeoutError:  # asyncio.timeout above: the total for the whole fetch
            raise FetchError(
                "timeout", f"no complete answer within {self.settings.total_timeout} s", current
            ) from None
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, PrivateAddressError):
                raise FetchError("private_address", str(exc.os_error), current) from None
            raise FetchError("dns_error", f"cannot resolve host: {exc.os_error}", current) from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise FetchError("tls_error", f"certificate not accepted: {exc}", current) from None
        except aiohttp.ClientSSLError as exc:
            raise FetchError("tls_error", f"TLS failed: {exc}", current) from None
        except aiohttp.ClientPayloadError as exc:
            raise FetchError(
                "truncated", f"body ends early or is malformed: {exc}", current
            ) from None
        except aiohttp.ServerDisconnectedError:
            raise FetchError("connect_error", "server closed the connection", current) from None
        except aiohttp.ClientConnectorError as exc:
            raise FetchError("connect_error", f"cannot connect: {exc.os_error}", current) from None
        except aiohttp.InvalidURL as exc:
            raise FetchError("invalid_url", f"invalid URL: {exc}", current) from None
        except aiohttp.ClientResponseError as exc:
            raise FetchError("bad_response", f"malformed HTTP response: {exc.message}",
                             current) from None
        except aiohttp.ClientError as exc:
            raise FetchError("connect_error", f"{type(exc).__name__}: {exc}", current) from None

    def _check_target(self, url: str) -> URL:
        """The URL to request, after the checks aiohttp's resolver cannot make:
        the scheme, and literal IP addresses (which never reach the resolver)."""
        try:
            target = URL(url)
        except ValueError as exc:
            raise FetchError("invalid_url", f"invalid URL: {exc}", url) from None
        if target.scheme not in ("http", "https"):
            raise FetchError("unsupported_scheme", f"scheme {target.scheme!r} is not fetched", url)
        # raw_host: the host as written (IDNA-encoded); .host would IDNA-decode it, slowly
        host = (target.raw_host or "").strip("[]")
        if not host:
            raise FetchError("invalid_url", "URL has no host", url)
        # Literal addresses (digits, or IPv6 with colons) never reach the resolver; names
        # are checked there, on what they resolve to.
        if (host[-1].isdigit() or ":" in host) and not self.settings.allow_private_addresses:
            try:
                ipaddress.ip_address(host.split("%", 1)[0])
            except ValueError:
                return target  # a name after all (an IDN label may end in a digit)
            if not is_public_address(host):
                raise FetchError("private_address", f"{host} is not a public address", url)
        return target

    def _next_hop(
        self, base: URL, location: str, current: str, visited: set[str], hops: int
    ) -> str:
        try:
            nxt = str(base.join(URL(location)).with_fragment(None))
        except ValueError:
            raise FetchError("invalid_url", f"bad Location header {location!r}", current) from None
        if nxt in visited:
            raise FetchError("redirect_loop", f"redirect back to {nxt}", current)
        if hops + 1 > self.settings.max_redirects:
            raise FetchError(
                "too_many_redirects", f"more than {self.settings.max_redirects} redirects", current
            )
        visited.add(nxt)
        return nxt

    async def _read(
        self, url: str, current: str, redirects: list[str], resp: aiohttp.ClientResponse, kind: str
    ) -> FetchResult:
        headers = {k: resp.headers[k] for k in KEPT_HEADERS if k in resp.headers}
        etag = resp.headers.get("ETag")
        last_modified = resp.headers.get("Last-Modified")
        if resp.status == 304:
            return FetchResult(url, current, 304, headers, b"", list(redirects), not_modified=True,
                               etag=etag, last_modified=last_modified)
        if resp.status in (429, 503):
            raise FetchError(
                f"http_{resp.status}", f"server answered {resp.status} {resp.reason}", current,
                retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            )
        if not 200 <= resp.status < 300:
            raise FetchError(f"http_{resp.status}", f"server answered {resp.status} {resp.reason}",
                             current)
        content_type = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not _content_type_ok(kind, content_type):
            raise FetchError(
                "not_html" if kind in ("article", "page") else "bad_content_type",
                f"content type {content_type!r} is not what {'an' if kind[0] in 'aeiou' else 'a'} "
                f"{kind} should be", current,
            )
        limit = {"robots": _ROBOTS_PARSE_BYTES, "sitemap": max(self.settings.max_body_bytes,
                                                             _SITEMAP_MAX_BYTES)}.get(
            kind, self.settings.max_body_bytes)
        truncate = kind == "robots"
        declared = resp.content_length
        if declared is not None and declared > limit and not truncate:
            raise FetchError("too_large", f"Content-Length {declared} exceeds {limit} bytes",
                             current)
        encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        decoder = _Decoder(encoding, limit, current, truncate)
        parts: list[bytes] = []
        if declared is not None and declared <= limit:
            # The parser stops at Content-Length (already checked against the limit): one
            # read, no per-chunk bookkeeping.
            parts.append(decoder.feed(await resp.read()))
        else:
            received = 0
            async for chunk in resp.content.iter_chunked(_CHUNK):
                received += len(chunk)
                if received > limit and not truncate:
                    raise FetchError("too_large", f"body exceeds {limit} bytes", current)
                parts.append(decoder.feed(chunk))
                if decoder.full:
                    break
                if received > limit:  # truncating: compressed bytes that give little text
                    raise FetchError("too_large", f"body exceeds {limit} bytes", current)
        if not decoder.full:
            parts.append(decoder.finish())
        body = b"".join(parts)
        if decoder.full:
            log.info("%s is longer than %d bytes: its whole lines within them are read",
                     current, limit)
            body = body[:limit]
            body = body[:body.rfind(b"\n") + 1]
        text = charset = None
        if kind in ("article", "page"):
            sniff = not content_type or content_type == "application/octet-stream"
            if sniff and not _looks_like_html(body):
                raise FetchError("not_html", "body without a content type is not HTML", current)
            text, charset = decode_html(body, charset_from_content_type(
                resp.headers.get("Content-Type")))
        return FetchResult(url, current, resp.status, headers, body, list(redirects), text,
                           charset, etag=etag, last_modified=last_modified)
