"""Publish dates: which evidence wins, and the forms pages print them in."""

import pytest

from worker.extract import extract_article
from worker.extract.dates import parse_text_date

BODY = "".join(f"<p>The council voted {n} times to approve the new budget, raising spending "
               "on schools and roads across the district.</p>" for n in range(4))


def page(head: str = "", byline: str = "") -> str:
    return (f"<html><head>{head}</head><body><h1>Budget vote</h1>{byline}"
            f"<article>{BODY}</article></body></html>")


def published(head: str = "", byline: str = "", url: str = "https://example.org/a") -> str | None:
    return extract_article(page(head, byline), url).published_at


@pytest.mark.parametrize(("meta", "iso"), [
    ('<meta name="published" content="July 17, 2025">', "2025-07-17"),
    ('<meta name="citation_publication_date" content="2023 Jan 7">', "2023-01-07"),
    ('<meta name="published-date" content="2021-02-16">', "2021-02-16"),
])
def test_meta_dates_with_a_named_month_are_read_as_printed(meta, iso):
    assert published(meta) == iso


def test_numeric_non_iso_meta_dates_are_not_trusted():
    # 11/01/2023 could be either month first or day first: left to the visible date.
    assert published('<meta name="date" content="11/01/2023">',
                     "<div class='date'>3 October 2023</div>") == "2023-10-03"


def test_named_month_only_parsing_ignores_numeric_dates():
    assert parse_text_date("11/01/2023", numeric=False) is None
    assert parse_text_date("Sat, 19 Oct 2019 00:04:00", numeric=False).iso() == \
        "2019-10-19T00:04:00"


def test_long_texts_find_the_first_date_with_its_time_far_from_the_start():
    filler = "The council met again to talk about roads and schools. " * 40
    text = f"{filler} Posted 08:48 WIB, 7 Oktober 2023. {filler} 9 October 2023"
    assert parse_text_date(text, limit=6000).iso() == "2023-10-07T08:48:00+07:00"


def test_texts_without_a_plausible_year_have_no_date():
    assert parse_text_date("Page 12 of 30, chapter 7, 1500 words") is None
    assert parse_text_date("7 October 1850") is None
