"""The fetch client against a hostile local server: every bad case ends in a FetchError with
a reason, within the configured time and memory limits."""

from __future__ import annotations

import codecs
import contextlib
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.abc import AbstractResolver

from tests.hostile_server import BILLION_LAUGHS, HostileServer, article_html
from worker.fetch import client as client_module
from worker.fetch.client import Fetcher, FetchError, is_public_address
from worker.settings import FetchSettings

HOSTS = {"news.test": "127.0.0.1", "other.test": "127.0.0.1", "internal.test": "127.0.0.2"}
LIMIT = 1_000_000


def settings(**overrides: object) -> FetchSettings:
    values: dict[str, object] = dict(
        allow_private_addresses=True, connect_timeout=1.0, read_timeout=1.0, total_timeout=3.0,
        max_body_bytes=LIMIT, per_host_delay=0.0, retries=0, max_redirects=5,
    )
    values.update(overrides)
    return FetchSettings(**values)  # type: ignore[arg-type]




async def fetch_error(server: HostileServer, path: str, kind: str = "article",
                      **overrides: object) -> FetchError:
    async with Fetcher(settings(**overrides), static_hosts=HOSTS) as fetcher:
        with pytest.raises(FetchError) as info:
            await fetcher.fetch(server.url("news.test", path), kind=kind)
    return info.value


async def test_plain_article_is_fetched_with_user_agent_and_charset(server):
    async with Fetcher(settings(), static_hosts=HOSTS) as fetcher:
        result = await fetcher.fetch(server.url("news.test", "/article/one"))
    assert result.status == 200
    assert "<h1>/article/one</h1>" in (result.text or "")
    assert result.charset == "utf-8"
    sent = next(r for r in server.requests if r.path == "/article/one")
    assert sent.headers["User-Agent"] == FetchSettings().user_agent
    assert fetcher.stats()["news.test"]["fetched"] == 1


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "rawdeflate", "br"])
async def test_compressed_bodies_are_decoded(server, encoding):
    async with Fetcher(settings(), static_hosts=HOSTS) as fetcher:
        result = await fetcher.fetch(server.url("news.test", f"/gzip-ok?enc={encoding}"))
    assert "kata kata" in (result.text or "")


async def test_stalled_server_ends_in_read_timeout(server):
    started = time.monotonic()
    error = await fetch_error(server, "/stall", read_timeout=0.5)
    assert error.reason == "read_timeout"
    assert time.monotonic() - started < 2


async def test_slow_drip_body_ends_in_total_timeout(server):
    started = time.monotonic()
    error = await fetch_error(server, "/drip", read_timeout=1.0, total_timeout=1.5)
    assert error.reason == "timeout"
    assert time.monotonic() - started < 3


async def test_unreachable_port_is_a_connect_error(server):
    async with Fetcher(settings(), static_hosts=HOSTS) as fetcher:
        with pytest.raises(FetchError) as info:
            await fetcher.fetch("http://news.test:1/article/x")
    assert info.value.reason == "connect_error"


async def test_server_that_never_accepts_ends_in_connect_timeout():
    # A listener whose backlog is full drops further SYNs: the connect just hangs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        started = time.monotonic()
        async with Fetcher(settings(connect_timeout=0.5), static_hosts=HOSTS) as fetcher:
            with pytest.raises(FetchError) as info:
                await fetcher.fetch(f"http://news.test:{port}/article/x")
        assert info.value.reason == "connect_timeout"
        assert time.monotonic() - started < 2
    finally:
        for sock in (*fillers, listener):
            sock.close()


async def test_redirect_to_a_non_http_scheme_is_refused(server):
    error = await fetch_error(server, "/redirect?to=file:///etc/passwd")
    assert error.reason == "unsupported_scheme"


async def test_body_limit_is_enforced_while_streaming(server):
    error = await fetch_error(server, "/huge")
    assert error.reason == "too_large"
    # The server was stopped long before its 130 MB: the reader gave up at the limit.


async def test_declared_oversize_body_is_refused_before_reading(server):
    started = time.monotonic()
    error = await fetch_error(server, "/huge-declared")
    assert error.reason == "too_large"
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_compression_bombs_stop_at_the_decoded_limit(server, encoding):
    error = await fetch_error(server, f"/bomb/{encoding}")
    assert error.reason == "decompression_bomb"


async def test_redirect_loop_is_detected(server):
    error = await fetch_error(server, "/loop/a")
    assert error.reason == "redirect_loop"


async def test_redirect_chain_longer_than_limit_is_refused(server):
    error = await fetch_error(server, "/chain/6", max_redirects=5)
    assert error.reason == "too_many_redirects"


async def test_redirects_are_followed_and_recorded(server):
    async with Fetcher(settings(), static_hosts=HOSTS) as fetcher:
        result = await fetcher.fetch(server.url("news.test", "/chain/2"))
    assert result.final_url == server.url("news.test", "/chain/0")
    assert result.redirects == [server.url("news.test", "/chain/1"),
                                server.url("news.test", "/chain/0")]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/pdf", b"%PDF-1.4"), ("image/png", b"\x89PNG\r\n"), ("text/plain", b"hi")],
)
async def test_non_html_content_types_are_refused_for_articles(server, content_type, body):
    server.canned["/file"] = (200, {"Content-Type": content_type}, body)
    error = await fetch_error(server, "/file")
    assert error.reason == "not_html"
    assert f"content type {content_type!r} is not what an article should be" in str(error)


async def test_binary_body_without_content_type_is_refused(server):
    server.canned["/blob"] = (200, {"Content-Type": "application/octet-stream"},
                              b"\x00\x01\x02binary")
    error = await fetch_error(server, "/blob")
    assert error.reason == "not_html"


async def test_truncated_body_is_reported(server):
    error = await fetch_error(server, "/truncated")
    assert error.reason == "truncated"


async def test_truncated_gzip_stream_is_reported(server):
    error = await fetch_error(server, "/truncated-gzip")
    assert error.reason == "truncated"


async def test_http_errors_carry_their_status(server):
    error = await fetch_error(server, "/status/404")
    assert error.reason == "http_404"


# -- charsets ------------------------------------------------------------------------------
async def fetched_text(server: HostileServer, headers: dict[str, str], body: bytes):
    server.canned["/page"] = (200, headers, body)
    async with Fetcher(settings(), static_hosts=HOSTS) as fetcher:
        result = await fetcher.fetch(server.url("news.test", "/page"))
    return result.text or "", result.charset


async def test_header_charset_lying_about_utf8_body_falls_back(server):
    body = article_html("Berita", "Café olé à Paris").encode("cp1252")
    text, charset = await fetched_text(server, {"Content-Type": "text/html; charset=utf-8"}, body)
    assert "Café olé à Paris" in text
    assert charset == "cp1252"


async def test_latin1_header_over_utf8_body_is_read_as_utf8(server):
    body = article_html("Berita", "Café — “quoted”").encode("utf-8")
    text, charset = await fetched_text(server, {"Content-Type": "text/html; charset=iso-8859-1"},
                                       body)
    assert "Café — “quoted”" in text
    assert charset == "utf-8"


async def test_meta_charset_is_used_when_header_has_none(server):
    body = article_html("Новости", "Москва сегодня", charset_meta="windows-1251").encode("cp1251")
    text, charset = await fetched_text(server, {"Content-Type": "text/html"}, body)
    assert "Москва сегодня" in text
    assert charset == "cp1251"


async def test_bom_wins_over_a_wrong_header(server):
    body = codecs.BOM_UTF16_LE + article_html("Berita", "Jakarta ¡olé!").encode("utf-16-le")
    text, charset = await fetched_text(server, {"Content-Type": "text/html; charset=iso-8859-1"},
                                       body)
    assert "Jakarta ¡olé!" in text
    assert charset == "utf-16-le"


async def test_undeclared_charset_is_detected(server):
    sentence = "Příliš žluťoučký kůň úpěl ďábelské ódy. " * 20
    body = ("<html><head><title>t</title></head><body><p>" + sentence + "</p></body></html>")
    text, charset = await fetched_text(server, {"Content-Type": "text/html"},
                                       body.encode("cp1250"))
    assert "žluťoučký kůň" in text
    assert charset in ("cp1250", "iso8859_2")


async def test_unknown_charset_label_does_not_crash(server):
    text, charset = await fetched_text(
        server, {"Content-Type": "text/html; charset=x-no-such-charset"},
        article_html("t", "plain ascii").encode())
    assert "plain ascii" in text and charset in ("ascii", "utf-8")


# -- private addresses -------------------------------------------------------------------
def test_address_classification():
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254",
                    "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00:ec2::254",
                    "::ffff:127.0.0.1", "224.0.0.1"):
        assert not is_public_address(address), address
    for address in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"):
        assert is_public_address(address), address


async def test_default_settings_refuse_loopback_after_resolution(server):
    error = await fetch_error(server, "/article/x", allow_private_addresses=False)
    assert error.reason == "private_address"
    assert not [r for r in server.requests if r.path == "/article/x"]


async def test_default_settings_refuse_literal_private_addresses():
    async with Fetcher(settings(allow_private_addresses=False)) as fetcher:
        for url in ("http://127.0.0.1/", "http://169.254.169.254/latest/meta-data/",
                    "http://[::1]/", "http://10.0.0.1/"):
            with pytest.raises(FetchError) as info:
                await fetcher.fetch(url)
            assert info.value.reason == "private_address", url


async def test_every_redirect_hop_is_checked(server, monkeypatch):
    # Pretend 127.0.0.1 is public so the first hop connects; the hops it redirects to
    # (another loopback address by name, the metadata address by literal) must be refused.
    monkeypatch.setattr(client_module, "is_public_address", lambda address: address == "127.0.0.1")
    for target in (f"http://internal.test:{server.port}/article/secret",
                   "http://169.254.169.254/latest/meta-data/"):
        path = f"/redirect?to={target}"
        error = await fetch_error(server, path, allow_private_addresses=False)
        assert error.reason == "private_address", target
    assert not [r for r in server.requests if r.path == "/article/secret"]


@pytest.fixture
async def tls_server(tmp_path) -> AsyncIterator[HostileServer]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=news.test", "-addext", "subjectAltName=DNS:news.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    async with HostileServer(ssl_context=context) as srv:
        yield srv


async def test_self_signed_certificate_is_refused_by_default(tls_server):
    assert FetchSettings().verify_tls is True
    error = await fetch_error(tls_server, "/article/x")
    assert error.reason == "tls_error"
    async with Fetcher(settings(verify_tls=False), static_hosts=HOSTS) as fetcher:
        result = await fetcher.fetch(tls_server.url("news.test", "/article/x"))
    assert result.status == 200


async def test_oversized_response_header_is_a_bad_response(server):
    server.canned["/big-header"] = (200, {"Content-Type": "text/html", "X-Junk": "a" * 20_000},
                                    b"<html></html>")
    error = await fetch_error(server, "/big-header")
    assert error.reason == "bad_response"


async def test_xml_bomb_served_as_feed_is_fetched_but_never_expanded(server):
    # The fetcher returns the bytes; refusing the entities is discovery's job (see
    # test_fetch_discovery) — here the point is that the body stays as small as it came.
    body = f'<?xml version="1.0"?>{BILLION_LAUGHS}<rss><channel/></rss>'.encode()
    server.canned["/feed.xml"] = (200, {"Content-Type": "application/rss+xml"}, body)
    async with Fetcher(settings(), static_hosts=HOSTS) as fetcher:
        result = await fetcher.fetch(server.url("news.test", "/feed.xml"), kind="feed")
    assert result.body == body and result.text is None


class FailingResolver(AbstractResolver):
    async def resolve(self, host, port=0, family=socket.AF_INET):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def close(self):
        return None


async def test_unknown_host_is_a_dns_error():
    async with Fetcher(settings(), resolver=FailingResolver()) as fetcher:
        with pytest.raises(FetchError) as info:
            await fetcher.fetch("http://no-such-host.test/article/x")
    assert info.value.reason == "dns_error"
