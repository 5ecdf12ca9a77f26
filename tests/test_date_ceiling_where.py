"""Where a page states a day, as bench/date_ceiling.py lists it for each miss."""

import importlib.util
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "bench_date_ceiling", Path(__file__).resolve().parent.parent / "bench" / "date_ceiling.py")
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)

PAGE = (b"<html><head><title>Vote | News | 28.04.2023</title>"
        b'<meta property="article:published_time" content="2023-04-28T08:00:00Z">'
        b'<script type="application/ld+json">{"datePublished": "2023-04-24"}</script></head>'
        b"<body><h1>Vote</h1><img src='/media/2023-04-28-vote.jpg' alt='The vote'>"
        b"<span class='byline date'>Published 28 April 2023</span>"
        b"<time datetime='2023-04-28'>Friday</time></body></html>")


def test_each_kind_of_markup_that_states_the_day_is_named_once_in_page_order():
    assert bench.where_stated(PAGE, "2023-04-28") == [
        "<title>", "meta article:published_time", "file path", "text in span.byline.date",
        "<time datetime>"]


def test_a_day_the_page_states_nowhere_has_no_place():
    assert bench.where_stated(PAGE, "2023-05-01") == []
    assert "2023-05-01" not in bench.stated_days(PAGE)
    assert {"2023-04-28", "2023-04-24"} <= bench.stated_days(PAGE)
