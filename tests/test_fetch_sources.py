"""Sources TOML: defaults, kind guessing, per-source options, and every problem with its line."""

from __future__ import annotations

import pytest

from worker.fetch.sources import (
    SourcesError,
    check_sources,
    guess_kind,
    load_sources,
    parse_duration,
)


def write(tmp_path, text: str):
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_name_and_url_are_enough(tmp_path):
    [source] = load_sources(write(tmp_path, '[[source]]\nname = "a"\nurl = "https://a.example/rss"\n'))
    assert (source.name, source.kind, source.poll_interval) == ("a", "feed", 300.0)
    assert source.min_poll_interval == 15.0 and source.max_poll_interval == 2400.0


@pytest.mark.parametrize(
    ("url", "kind"),
    [("https://a.example/rss", "feed"), ("https://a.example/feed/", "feed"),
     ("https://a.example/index.xml", "feed"), ("https://a.example/feed.json", "feed"),
     ("https://a.example/sitemap.xml", "sitemap"), ("https://a.example/news-sitemap.xml.gz",
                                                    "sitemap"),
     ("https://a.example/sitemaps/news.xml", "sitemap"), ("https://a.example/nasional", "page"),
     ("https://a.example/", "page")],
)
def test_kind_is_guessed_from_the_url(url, kind):
    assert guess_kind(url) == kind


def test_all_options_are_read(tmp_path):
    [source] = load_sources(write(tmp_path, """
[[source]]
name = "antara"
url = "https://antara.example/nasional"
kind = "page"
poll_interval = "2m"
min_poll_interval = 60
max_poll_interval = "1h"
language = "id"
timezone = "Asia/Jakarta"
include = ["/berita/"]
exclude = "/video/"
max_age = "36h"
per_host_delay = 2.5
per_host_concurrency = 1
"""))
    assert source.kind == "page" and source.poll_interval == 120.0
    assert (source.min_poll_interval, source.max_poll_interval) == (60.0, 3600.0)
    assert source.max_age == 36 * 3600
    assert (source.language, source.timezone) == ("id", "Asia/Jakarta")
    assert (source.per_host_delay, source.per_host_concurrency) == (2.5, 1)
    assert source.wants("https://antara.example/berita/1")
    assert not source.wants("https://antara.example/berita/video/1")
    assert not source.wants("https://antara.example/foto/1")


def test_every_problem_is_reported_with_its_line(tmp_path):
    path = write(tmp_path, """[[source]]
name = "a"
url = "ftp://a.example/rss"
kind = "podcast"

[[source]]
url = "https://b.example/rss"
poll_interval = "soon"
timezone = "Mars/Olympus"
include = ["("]
colour = "blue"

[[source]]
name = "a"
url = "https://c.example/rss"
""")
    problems = check_sources(path)
    text = "\n".join(problems)
    assert "line 3: source 'a': url 'ftp://a.example/rss' is not an absolute http(s) URL" in text
    assert "line 4: source 'a': kind must be one of feed, sitemap, page" in text
    assert "line 6: source #2: 'name' is required" in text
    assert "line 8: source #2: poll_interval:" in text
    assert "line 9: source #2: timezone 'Mars/Olympus'" in text
    assert "line 10: source #2: include pattern '('" in text
    assert "line 11: unknown option 'colour'" in text
    # the third source is valid on its own; its name clashes with the first (invalid) one
    assert len(problems) == 7
    with pytest.raises(SourcesError) as info:
        load_sources(path)
    assert info.value.problems == problems


def test_duplicate_names_are_refused(tmp_path):
    path = write(tmp_path, '[[source]]\nname = "a"\nurl = "https://a.example/rss"\n\n'
                           '[[source]]\nname = "a"\nurl = "https://b.example/rss"\n')
    assert check_sources(path) == [
        "line 6: source name 'a' is used twice (first at line 2); names must be unique"]


def test_invalid_toml_names_the_line(tmp_path):
    [problem] = check_sources(write(tmp_path, '[[source]]\nname = "a\n'))
    assert problem.startswith("invalid TOML:") and "line 2" in problem


def test_missing_file_and_empty_file(tmp_path):
    assert check_sources(tmp_path / "nope.toml")[0].endswith("file does not exist")
    assert check_sources(write(tmp_path, "")) == ["no [[source]] table in the file"]


@pytest.mark.parametrize(("value", "seconds"), [(90, 90.0), ("90s", 90.0), ("5m", 300.0),
                                                 ("2h", 7200.0), ("1d", 86400.0), ("1.5h", 5400.0)])
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [0, -1, "soon", True, "5 parsecs"])
def test_bad_durations(value):
    with pytest.raises(ValueError):
        parse_duration(value)


def test_polling_bounds_and_budget_are_read_and_checked(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nname = "a"\nurl = "https://example.org/rss"\n'
                    'min_poll_interval = "30s"\nmax_poll_interval = "20m"\n'
                    "max_polls_per_hour = 30\n")
    [source] = load_sources(path)
    assert (source.min_poll_interval, source.max_poll_interval) == (30.0, 1200.0)
    assert source.max_polls_per_hour == 30.0
    path.write_text('[[source]]\nname = "a"\nurl = "https://example.org/rss"\n'
                    "max_polls_per_hour = 1\n")
    assert any("max_polls_per_hour must be a number above" in p for p in check_sources(path))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "nan", "inf"])
def test_a_duration_that_is_no_finite_number_is_refused(value):
    # nan passes every range check and inf overflows the next poll's date
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize("url", ["https://[::1/rss", "https://exa mple.org/rss",
                                 "http://example.org:99999/rss", "http://example.org:x/rss"])
def test_a_url_the_fetcher_cannot_use_is_a_problem_with_its_line_not_a_crash(tmp_path, url):
    problems = check_sources(write(tmp_path, f'[[source]]\nname = "a"\nurl = "{url}"\n'))
    assert problems == [f"line 3: source 'a': url {url!r} is not an absolute http(s) URL"]


@pytest.mark.parametrize(("option", "value"), [
    ("poll_interval", "nan"), ("max_poll_interval", "inf"), ("max_polls_per_hour", "inf"),
    ("max_polls_per_hour", "nan"), ("per_host_delay", "nan"), ("per_host_delay", "inf"),
])
def test_options_that_are_no_finite_number_are_refused(tmp_path, option, value):
    text = f'[[source]]\nname = "a"\nurl = "https://a.example/rss"\n{option} = {value}\n'
    [problem] = check_sources(write(tmp_path, text))
    assert problem.startswith(f"line 4: source 'a': {option}")
