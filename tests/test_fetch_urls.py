"""Canonical URLs: the seen-table key and the article id derive from them."""

from __future__ import annotations

import pytest

from worker.fetch.urls import declared_canonical, host_of
from worker.urls import article_id, canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [("HTTPS://News.Example.ORG:443/a/b?utm_source=x&b=2&a=1#top",
      "https://news.example.org/a/b?a=1&b=2"),
     ("http://news.example:80", "http://news.example/"),
     ("http://news.example:8080/x?fbclid=1&gclid=2&mc_cid=3", "http://news.example:8080/x"),
     ("https://news.example./x?q=", "https://news.example/x?q=")],
)
def test_canonical_form(url, expected):
    assert canonical_url(url) == expected


def test_tracking_parameter_list_is_configurable():
    assert canonical_url("https://a.example/x?ref=1&utm_x=2", tracking_params=["ref"]) == \
        "https://a.example/x?utm_x=2"


@pytest.mark.parametrize("url", ["ftp://a.example/x", "/relative", "mailto:a@b.c", "https://"])
def test_non_http_urls_are_refused(url):
    with pytest.raises(ValueError):
        canonical_url(url)


def test_article_id_is_stable_and_follows_the_canonical_url():
    a = article_id(canonical_url("https://A.example/x?utm_medium=rss"))
    assert a == article_id(canonical_url("https://a.example/x")) and len(a) == 32
    assert host_of("https://WWW.A.example:8443/x") == "www.a.example"


def test_link_rel_canonical_is_preferred_to_og_url():
    html = ('<html><head><meta property="og:url" content="https://a.example/og">'
            '<link rel="canonical" href="/news/1?utm_source=x"></head><body></body></html>')
    assert declared_canonical(html, "https://a.example/amp/news/1") == "https://a.example/news/1"


def test_og_url_is_used_without_link_canonical():
    html = '<head><meta property="og:url" content="https://a.example/news/2"></head>'
    assert declared_canonical(html, "https://a.example/x") == "https://a.example/news/2"


def test_home_page_canonical_on_an_article_is_ignored():
    html = '<head><link rel="canonical" href="https://a.example/"></head>'
    assert declared_canonical(html, "https://a.example/news/3") is None


def test_no_declaration_or_a_useless_one_gives_none():
    assert declared_canonical("<html><head></head><body>x</body></html>", "https://a.example/x") \
        is None
    assert declared_canonical('<head><link rel="canonical" href="javascript:void(0)"></head>',
                              "https://a.example/x") is None


def test_canonical_declaration_is_found_whatever_its_case():
    html = '<HEAD><LINK REL="Canonical" HREF="/news/4"></HEAD>'
    assert declared_canonical(html, "https://a.example/x") == "https://a.example/news/4"


def test_canonical_quoted_in_comments_or_scripts_is_not_read():
    html = ('<head><!-- <link rel="canonical" href="/old"> -->'
            '<script>document.write(\'<link rel="canonical" href="/js">\')</script>'
            "<link rel=canonical href=/news/5?a=1&amp;b=2></head>")
    assert declared_canonical(html, "https://a.example/x") == "https://a.example/news/5?a=1&b=2"
