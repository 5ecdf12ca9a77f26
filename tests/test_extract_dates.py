"""Publish dates: which evidence wins, and the forms pages print them in."""

import time
from datetime import date

import pytest

from worker.extract import extract_article
from worker.extract.dates import parse_text_date, prints_day

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


def test_the_byline_date_under_the_headline_is_used_without_structured_data():
    byline = "<p class='x'>By Ann Lee</p><span>Published on Oct 31, 2025</span>"
    related = "<aside><p>More</p><span>Dec 4, 2025</span></aside>"
    assert published(byline=byline + related) == "2025-10-31"


def test_dates_in_long_lines_after_the_headline_are_not_the_byline():
    caption = ("<figcaption>A file photograph shows the minister speaking in Shah Alam on "
               "November 19, 2024, before the vote.</figcaption>")
    assert published('<meta property="article:published_time" content="2024-11-22T10:00:00Z">',
                     caption) == "2024-11-22T10:00:00+00:00"


def test_an_updated_byline_date_is_not_the_publish_date():
    byline = "<div><span>Last updated:</span> <span>Dec 12, 2025</span></div>"
    head = '<meta property="article:published_time" content="2025-03-01T10:00:00Z">'
    assert published(head, byline) == "2025-03-01T10:00:00+00:00"


def test_a_byline_printed_well_before_the_structured_date_wins():
    # A migrated or re-indexed story: the CMS stamped it again, the page still prints its day.
    head = '<meta property="article:published_time" content="2025-01-31T12:00:00Z">'
    assert published(head, "<div class='meta'>03/01/2017</div>") == "2017-01-03"
    # One day apart that a time zone explains (08:00 UTC is still the 30th in Hawaii):
    # the structured instant stays.
    head = '<meta property="article:published_time" content="2025-01-31T08:00:00Z">'
    assert published(head, "<div>30 January 2025</div>") == "2025-01-31T08:00:00+00:00"


def test_a_utc_publish_time_takes_the_offset_the_byline_prints_it_at():
    head = '<meta property="article:published_time" content="2019-10-18T22:04:00Z">'
    assert published(head, "<p>19.10.2019, 00:04 Uhr</p>") == "2019-10-19T00:04:00+02:00"
    # A byline time that is not the same instant leaves the structured value alone.
    assert published(head, "<p>19.10.2019, 09:30 Uhr</p>") == "2019-10-18T22:04:00+00:00"


def test_bylines_with_two_digit_years_are_read_day_first():
    assert published(byline="<div class='sub'><div>23.09.22</div><div>Saarland</div></div>") \
        == "2022-09-23"
    assert published(byline="<span>Von: Björn Jahner</span> | <span>28.09.19 12:44</span>") \
        == "2019-09-28T12:44:00"


def test_two_digit_year_triples_in_prose_are_not_dates():
    assert published(byline="<p>Version 10.12.19 of the budget tool was used in the vote "
                            "by the council members yesterday evening.</p>") is None


def test_year_first_numeric_dates_are_year_month_day_even_on_us_pages():
    assert parse_text_date("Written: 2023-11-07 15:03:30", month_first=True).iso() == \
        "2023-11-07T15:03:30"
    assert parse_text_date("2024/11/06", month_first=True).iso() == "2024-11-06"


@pytest.mark.parametrize(("footer", "iso"), [
    ("Letzte Änderung: 31.10.2023 - 14:49:39 Erschienen am: 01.11.2023", "2023-11-01"),
    ("Ausgabejahr 2022 Datum 25.01.2022", "2022-01-25"),
    ("Published on Oct 31, 2025", "2025-10-31"),
])
def test_a_labelled_publication_date_anywhere_in_the_page_is_used(footer, iso):
    html = (f"<html><body><h1>Budget vote</h1><article>{BODY}</article>"
            f"<div class='foot'>{footer}</div></body></html>")
    assert extract_article(html, "https://example.org/a").published_at == iso


def test_a_label_not_followed_by_a_date_is_ignored():
    html = (f"<html><body><h1>Budget vote</h1><article>{BODY}<p>Mazda, SUV, veröffentlicht. "
            "Neuheit vom 5. November 2021 im Werk.</p></article></body></html>")
    assert extract_article(html, "https://example.org/a").published_at == "2021-11-05"


def test_the_byline_follows_the_headline_not_a_logo_heading():
    html = ("<html><body><h1>Attac France</h1><nav><a>Accueil</a></nav>"
            "<header><h1>Les privatisations profitent aux intérêts privés</h1>"
            "<div class='publication'>jeudi 13 juin 2019</div></header>"
            f"<article>{BODY}</article></body></html>")
    assert extract_article(html, "https://example.org/a").published_at == "2019-06-13"


def test_an_updated_byline_fills_modified_at_when_structured_data_has_none():
    head = '<meta property="article:published_time" content="2025-03-01T10:00:00Z">'
    html = page(head, "<div><span>Last updated:</span> <span>Dec 12, 2025</span></div>")
    article = extract_article(html, "https://example.org/a")
    assert (article.published_at, article.modified_at) == ("2025-03-01T10:00:00+00:00",
                                                           "2025-12-12")


def test_a_date_printed_just_above_the_headline_is_used_when_nothing_else_dates_the_page():
    html = ("<html><body><div class='hero'><h5>January 23, 2025</h5>"
            "<h1>Solar installation in four steps</h1></div>"
            f"<article>{BODY}</article></body></html>")
    assert extract_article(html, "https://example.org/a").published_at == "2025-01-23"


def test_a_date_above_the_headline_does_not_override_structured_data():
    head = '<meta property="article:published_time" content="2025-02-11T23:55:00Z">'
    html = (f"<html><head>{head}</head><body><p>12.2.2025 7:25</p><h1>Budget vote</h1>"
            f"<article>{BODY}</article></body></html>")
    assert extract_article(html, "https://example.org/a").published_at == \
        "2025-02-11T23:55:00+00:00"


def test_a_byline_date_read_in_the_other_order_does_not_override_structured_data():
    head = '<meta property="article:published_time" content="2021-11-01T05:00:14">'
    assert published(head, "<p>11/01/2021</p>") == "2021-11-01T05:00:14"


def test_a_printed_time_only_shifts_the_zone_to_an_offset_in_use():
    head = '<meta property="article:published_time" content="2025-02-11T23:55:00Z">'
    # Same minute, 7.5 hours apart: no zone is at +07:30, so it is another time.
    assert published(head, "<p>12.2.2025 07:25</p>") == "2025-02-11T23:55:00+00:00"
    assert published(head, "<p>12.2.2025 05:25</p>") == "2025-02-12T05:25:00+05:30"


def test_an_updated_byline_before_the_publish_date_is_not_the_modification_date():
    head = '<meta property="article:published_time" content="2025-03-01T10:00:00Z">'
    html = page(head, "<div><span>Updated:</span> <span>Jan 12, 2025</span></div>")
    assert extract_article(html, "https://example.org/a").modified_at is None


def test_a_publication_date_in_page_state_scripts_is_used_when_nothing_else_dates_the_page():
    state = ('<script>window.__STATE__ = {"related": [], "article": {"id": 7, '
             '"publishDate": "2025-05-27T06:03:43Z"}, "items": [{"publishDate": '
             '"2025-01-02"}]};</script>')
    html = f"<html><head>{state}</head><body><h1>Budget vote</h1><article>{BODY}</article>"
    assert extract_article(html + "</body></html>", "https://example.org/a").published_at \
        == "2025-05-27T06:03:43+00:00"


def test_a_script_date_does_not_override_a_printed_byline():
    state = '<script>var page = {firstPublicationDate: "20230428"};</script>'
    assert published(state, "<p>By Ann Lee, 3 May 2023</p>") == "2023-05-03"
    assert published(state) == "2023-04-28"


def test_without_an_h1_the_byline_follows_the_heading_that_prints_the_title():
    html = ("<html><head><title>Council approves the new budget | Daily Post</title></head>"
            "<body><h3>Daily Post</h3><p>12.01.2019</p>"
            "<h2>Council approves the new budget</h2><p>By Ann Lee</p><p>28.09.19</p>"
            f"<article>{BODY}</article><aside><p>03.03.2018</p></aside></body></html>")
    assert extract_article(html, "https://example.org/a").published_at == "2019-09-28"


def test_a_short_h1_that_prints_the_title_stays_the_headline():
    html = ("<html><head><title>Budget vote - Daily Post</title></head><body>"
            "<aside><h2>Budget vote</h2><p>12.01.2019</p></aside>"
            f"<h1>Budget vote</h1><p>28.09.19</p><article>{BODY}</article></body></html>")
    assert extract_article(html, "https://example.org/a").published_at == "2019-09-28"


def test_a_dateline_opening_the_first_paragraph_dates_the_story():
    lead = ("<p>29.11.2022 – Mehrfach und vehement hatte die Branche vor den Folgen gewarnt, "
            "nun hat die Regierung entschieden.</p>")
    assert published(byline=lead + "<aside><span>02.12.2022</span></aside>") == "2022-11-29"


def test_a_long_paragraph_with_a_date_after_a_dash_is_prose_not_a_dateline():
    prose = ("<p>The council met again – on 3 May 2023 it voted to approve the new budget for "
             "the schools and the roads of the district.</p>")
    assert published(byline=prose + "<div class='date'>5 May 2023</div>") == "2023-05-05"


def test_a_byline_day_beats_an_untyped_date_meta_tag():
    # <meta name="date"> does not say what it dates; the byline under the headline does.
    assert published('<meta name="date" content="2020-04-30">',
                     "<p>29.04.2020, 12:01 Uhr</p>") == "2020-04-29T12:01:00"
    assert published('<meta name="dcterms.date" content="2022-01-21T09:43+01:00">',
                     "<p>27.01.2022</p>") == "2022-01-27"
    # A typed publication time keeps its day against a byline one day off (time zones).
    assert published('<meta property="article:published_time" content="2020-04-30">',
                     "<p>29.04.2020, 12:01 Uhr</p>") == "2020-04-30"


def test_a_meta_publish_time_on_the_byline_day_beats_a_stale_json_ld_date():
    json_ld = ('<script type="application/ld+json">{"@type": "NewsArticle", '
               '"datePublished": "2021-12-06T14:36:00", "dateModified": "2022-12-15"}</script>')
    typed = '<meta property="article:published_time" content="2022-12-15T09:13:00+01:00">'
    assert published(json_ld + typed, "<p>15.12.2022</p>") == "2022-12-15T09:13:00+01:00"
    # an untyped date tag is not enough to overrule JSON-LD (print editions, re-indexing),
    # on a page that prints the JSON-LD day too (a byline that alone prints the
    # modification day is a re-dating: see below)
    untyped = '<meta name="date" content="2022-12-15">'
    assert published(json_ld + untyped, "<p>15.12.2022</p><p>Erschienen 06.12.2021</p>") \
        == "2021-12-06T14:36:00"
    # nor is a meta tag the byline does not print (on a page that prints the JSON-LD day:
    # a byline after an unprinted one wins on its own)
    assert published(json_ld + typed, "<p>01.03.2022</p><p>Erschienen 06.12.2021</p>") \
        == "2021-12-06T14:36:00"


def test_the_url_day_beats_a_utc_time_a_time_zone_away():
    """A UTC time stored for the local day the URL names: the URL's day stands."""
    meta = '<meta property="article:published_time" content="2020-02-25T02:25:54+00:00">'
    assert published(meta, url="https://example.org/2020/02/24/budget-vote/") == "2020-02-24"


def test_the_url_day_does_not_override_a_day_no_time_zone_explains():
    meta = '<meta property="article:published_time" content="2020-02-25T13:00:00+00:00">'
    url = "https://example.org/2020/02/23/budget-vote/"
    assert published(meta, url=url) == "2020-02-25T13:00:00+00:00"
    # a datetime without an offset is no instant: nothing converted it
    naive = '<meta property="article:published_time" content="2020-02-25T02:00:00">'
    assert published(naive, url="https://example.org/2020/02/24/x/").startswith("2020-02-25")


@pytest.mark.parametrize(("text", "iso"), [
    ("15 августа 2016, 13:43", "2016-08-15T13:43:00"),
    ("3 січня 2024", "2024-01-03"),
    ("Опубликовано 1 мая 2023", "2023-05-01"),
])
def test_russian_and_ukrainian_month_names_are_read(text, iso):
    assert parse_text_date(text).iso() == iso


def long_page(head: str, above: str = "", aside: str = "") -> str:
    """A story longer than the byline scan, so that a date after it is no byline."""
    return (f"<html><head>{head}</head><body>{above}<h1>Budget vote</h1>"
            f"<article>{BODY * 4}</article>{aside}</body></html>")


def test_a_printed_date_line_beats_a_date_only_untyped_meta_tags_state():
    """Templates fill 'date' / 'dc.date' / 'dcterms.date' with the day a page was built or
    indexed; without a byline, the date printed above the headline or in a date element
    is the story's."""
    untyped = '<meta name="dcterms.date" content="2022-01-21T09:43+01:00">'
    above = "<p class='kicker'>25.01.2022</p>"
    assert extract_article(long_page(untyped, above=above), "https://example.org/a") \
        .published_at == "2022-01-25"
    element = "<footer><div class='article-meta'>05.02.2022</div></footer>"
    assert extract_article(long_page(untyped, aside=element), "https://example.org/a") \
        .published_at == "2022-02-05"


def test_a_printed_date_line_does_not_beat_a_typed_publication_tag():
    above = "<p class='kicker'>04.04.2019</p>"
    typed = '<meta property="article:published_time" content="2019-06-25">'
    assert extract_article(long_page(typed, above=above), "https://example.org/a") \
        .published_at == "2019-06-25"
    # a typed tag beside an untyped one vouches for the untyped one's day
    both = '<meta name="dc.date" content="2019-06-25"><meta name="citation_date" ' \
        'content="2019-06-25">'
    assert extract_article(long_page(both, above=above), "https://example.org/a") \
        .published_at == "2019-06-25"


@pytest.mark.parametrize("value", [
    "0000-00-00", "0000-01-01T00:00:00Z", "99999-99-99", "2999-01-01", "1900-01-01",
    "2023-02-30", "2023-13-01", "+275760-09-13T00:00:00Z", "-0001-01-01", "2023-01-01T99:99:99",
    "1" * 400,
])
def test_odd_structured_dates_give_no_date_rather_than_a_crash(value):
    assert published(f'<meta property="article:published_time" content="{value}">') is None \
        or value.startswith("2023-01-01")


@pytest.mark.parametrize("text", ["31 февраля 2023", "0 January 0", "99 мая 99999",
                                  "32.13.2023", "Published 12 January 20230"])
def test_odd_printed_dates_give_no_date(text):
    assert parse_text_date(text) is None


def test_the_byline_follows_a_kicker_and_title_heading_behind_a_long_menu():
    menu = "".join(f"<h3>Menu {n}</h3>" for n in range(60))
    html = ("<html><head><meta property='og:title' content='Council approves the new budget'>"
            f"</head><body><nav>{menu}</nav><article><h3><span>Vote in Porthaven</span> - "
            "<span>Council approves the new budget</span></h3>"
            "<div class='lineinfo'>Do 25.04.24 | 14:07 Uhr | Von Ann Lee</div>"
            f"{BODY}</article></body></html>")
    assert extract_article(html, "https://example.org/a").published_at == "2024-04-25T14:07:00"


@pytest.mark.parametrize(("text", "iso"), [
    ("2019年6月24日", "2019-06-24"),
    ("2019年06月24日 10:30", "2019-06-24T10:30:00"),
    ("2019年6月24日(月) 午後3時05分", "2019-06-24T15:05:00"),
    ("2019年6月24日 星期一 下午 3:30", "2019-06-24T15:30:00"),
    ("２０１９年６月２４日", "2019-06-24"),
    ("2019년 6월 24일 (월) 오전 10:30", "2019-06-24T10:30:00"),
    ("2019-06-24 오후 3:05", "2019-06-24T15:05:00"),
    ("입력 2019. 6. 24. 오후 10:30", "2019-06-24T22:30:00"),
])
def test_chinese_japanese_and_korean_dates_are_read(text, iso):
    assert parse_text_date(text).iso() == iso


@pytest.mark.parametrize(("text", "iso"), [
    ("24 Haz 2019", "2019-06-24"),
    ("24. června 2019", "2019-06-24"),
    ("24 júna 2019", "2019-06-24"),
    ("2019. június 24.", "2019-06-24"),
    ("24 iunie 2019", "2019-06-24"),
    ("24. lipnja 2019.", "2019-06-24"),
    ("24 Ιουνίου 2019", "2019-06-24"),
    ("24 ΙΟΥΝΙΟΥ 2019", "2019-06-24"),
    ("24 يونيو 2019", "2019-06-24"),
    ("الجمعة 8 فيفري 2019", "2019-02-08"),
    ("3 تشرين الأول 2019", "2019-10-03"),
    ("٢٤ يونيو ٢٠١٩", "2019-06-24"),
    ("۲۴ ژوئن ۲۰۱۹", "2019-06-24"),
    ("24 जून 2019", "2019-06-24"),
    ("२४ जून २०१९", "2019-06-24"),
    ("24 юни 2019", "2019-06-24"),
    ("24 tháng 6 năm 2019", "2019-06-24"),
    ("24 มิถุนายน 2562", "2019-06-24"),
    ("24 มิ.ย. 2562 10:30", "2019-06-24T10:30:00"),
])
def test_month_names_and_digits_of_more_news_languages_are_read(text, iso):
    assert parse_text_date(text).iso() == iso


def test_a_gmt_offset_after_the_time_is_the_offset_not_gmt():
    assert parse_text_date("Thứ hai, 24/6/2019, 10:30 (GMT+7)").iso() == \
        "2019-06-24T10:30:00+07:00"


@pytest.mark.parametrize("label", ["发布时间：", "發佈時間:", "公開日 ", "입력 "])
def test_a_cjk_publication_label_marks_the_publish_date(label):
    html = (f"<html><body><h1>Budget vote</h1><article>{BODY * 4}</article>"
            f"<div class='foot'>相关 2019年6月1日</div><div>{label}2019-06-24</div>"
            "</body></html>")
    assert extract_article(html, "https://example.org/a").published_at == "2019-06-24"


@pytest.mark.parametrize("text", [
    "24 6 2019", "2019 6 24", "24 Haziran", "Haziran 2019", "2019年13月45日", "2019년 2월 30일",
    "第2019号 12月", "3月4日 2019", "２０１９年", "٢٠١٩", "2019. 13. 45.",
    "24 tháng 13 năm 2019", "1 มกราคม 9999", "年" * 5000, "2019年" * 1000,
    "오후 99:99 2019-06-24x", "10 tem 2019", "5 ara 2019",
])
def test_odd_or_unmarked_cjk_and_foreign_text_gives_no_false_date(text):
    found = parse_text_date(text, limit=6000)
    assert found is None or found.iso() == "2019-06-24"


@pytest.mark.parametrize("meta", [
    '<meta property="og:published_time" content="2024-03-04T10:00:00+01:00">',
    '<meta name="publish_time" content="2024-03-04T10:00:00+01:00">',
    '<meta itemprop="dateCreated" content="2024-03-04T10:00:00+01:00">',
    '<meta name="shareaholic:article_published_time" content="2024-03-04T10:00:00+01:00">',
    '<meta name="displaydate" content="2024-03-04T10:00:00+01:00">',
])
def test_rarer_publish_date_meta_names_date_the_page(meta):
    assert published(meta) == "2024-03-04T10:00:00+01:00"


def test_rarer_modified_meta_names_fill_modified_at():
    meta = ('<meta property="article:published_time" content="2024-03-04T10:00:00+01:00">'
            '<meta property="og:article:modified_time" content="2024-03-06T08:00:00+01:00">')
    assert extract_article(page(meta), "https://example.org/a").modified_at == \
        "2024-03-06T08:00:00+01:00"


def test_a_dc_colon_date_tag_is_untyped_like_dc_dot_date():
    """It dates a page that prints no date, and gives way to a date line printed on it."""
    untyped = '<meta name="dc:date" content="2022-01-21">'
    assert published(untyped) == "2022-01-21"
    above = "<p class='kicker'>25.01.2022</p>"
    assert extract_article(long_page(untyped, above=above), "https://example.org/a") \
        .published_at == "2022-01-25"


@pytest.mark.parametrize(("url", "iso"), [
    ("https://example.org/home/2017/7/12/montauk", "2017-07-12"),
    ("https://example.org/news/budget-vote-2022-05-03.html", "2022-05-03"),
    ("https://example.org/news/budget_vote_2022_05_03", "2022-05-03"),
    ("https://example.org/2023/13/45/a/2023/10/07/x", "2023-10-07"),
])
def test_url_dates_in_more_forms_date_a_page_that_prints_none(url, iso):
    assert published(url=url) == iso


@pytest.mark.parametrize("url", [
    "https://example.org/id/2023123456", "https://example.org/2023/10/",
    "https://example.org/a/story-20231007", "https://example.org/2023/1/2020",
    "https://example.org/v2023.1.5/x",
])
def test_url_numbers_that_are_no_year_first_date_give_no_date(url):
    assert published(url=url) is None


def test_the_canonical_url_dates_a_page_fetched_under_another_address():
    canonical = '<link rel="canonical" href="https://example.org/2020/02/24/budget-vote/">'
    assert extract_article(page(canonical), None).published_at == "2020-02-24"
    # and fixes the day of a UTC time a time zone away, as the fetched URL does
    meta = '<meta property="article:published_time" content="2020-02-25T02:25:54+00:00">'
    assert extract_article(page(canonical + meta), "https://example.org/amp/a").published_at \
        == "2020-02-24"


@pytest.mark.parametrize("cls", ["submitted", "node-created", "publication-info", "parution"])
def test_drupal_and_french_date_elements_count_as_date_lines(cls):
    """'Submitted by … on …' (Drupal), 'created', 'publication', 'parution': the element that
    dates the story comes before a date element further down the page."""
    aside = (f"<div class='{cls}'>Submitted by Ann on 24 July 2017 - 18:55</div>"
             "<div class='sidebar-date'>26 August 2017</div>")
    assert extract_article(long_page("", aside=aside), "https://example.org/a").published_at \
        == "2017-07-24T18:55:00"


@pytest.mark.parametrize(("text", "iso"), [
    ("Wed, 02 Feb 2022 09:12:22 +0100", "2022-02-02T09:12:22+01:00"),
    ("2024/03/04 10:00 +09:00", "2024-03-04T10:00:00+09:00"),
    ("May 8, 2014 14:04:53 -0400", "2014-05-08T14:04:53-04:00"),
])
def test_a_numeric_offset_after_the_time_is_read(text, iso):
    assert parse_text_date(text).iso() == iso


@pytest.mark.parametrize("text", ["04.03.2024 10:00-12:00", "4 March 2024 10:00 - 2025",
                                  "4 March 2024 10:00 +2500"])
def test_a_time_range_or_an_impossible_offset_is_no_offset(text):
    assert parse_text_date(text).iso() == "2024-03-04T10:00:00"


def test_a_bare_en_page_with_a_british_locale_reads_numeric_dates_day_first():
    def dated(locale: str) -> str | None:
        html = (f"<html lang='en'><head>{locale}</head><body><h1>Budget vote</h1>"
                f"<p class='byline'>03/10/2023</p><article>{BODY}</article></body></html>")
        return extract_article(html, "https://example.org/a").published_at
    assert dated('<meta property="og:locale" content="en_GB">') == "2023-10-03"
    assert dated('<meta property="og:locale" content="en_US">') == "2023-03-10"
    assert dated("") == "2023-03-10"


def test_a_date_element_printing_a_relative_time_is_dated_by_its_tooltip():
    byline = "<span class='date' title='2024-03-04T10:00:00+01:00'>vor 3 Stunden</span>"
    assert published(byline=byline) == "2024-03-04T10:00:00+01:00"
    printed = "<span class='date' title='Montag, 4. März 2024'>gestern</span>"
    assert published(byline=printed) == "2024-03-04"


def test_a_date_in_the_site_header_or_navigation_is_not_the_story_date():
    """The masthead's 'today' and the header's news ticker are no date of the story; an
    article's own <header> is."""
    chrome = ("<header><span class='header-date'>Monday, 7 December 2020</span><nav>"
              + "".join(f"<a href='/s{n}'>Section {n}</a>" for n in range(6)) + "</nav></header>")
    aside = "<div class='post-date'>21 November 2020</div>"
    assert extract_article(long_page("", above=chrome, aside=aside),
                           "https://example.org/a").published_at == "2020-11-21"
    own = ("<html><body><article><header><h1>Budget vote</h1></header>" + BODY * 4
           + "<header><span class='entry-date'>3 March 2020</span></header></article>"
           + "</body></html>")
    assert extract_article(own, "https://example.org/a").published_at == "2020-03-03"


def test_a_time_element_in_the_site_header_is_not_the_structured_publish_time():
    ticker = ("<header><nav><a href='/live'>Live: markets <time datetime='2024-03-05T08:00:00"
              "+01:00'>08:00</time></a></nav></header>")
    html = (f"<html><body>{ticker}<article><h1>Budget vote</h1><p class='byline'>By Ann Lee"
            "</p>" + BODY * 4 + "<time datetime='2024-03-01T09:30:00+01:00'></time>"
            "</article></body></html>")
    assert extract_article(html, "https://example.org/a").published_at == \
        "2024-03-01T09:30:00+01:00"


def test_a_byline_the_day_before_an_unprinted_structured_time_no_zone_explains_wins():
    """The byline prints the day before a structured time that no UTC offset puts on that
    day, and the page prints the structured day nowhere: the byline is what readers see."""
    late = '<meta property="article:published_time" content="2025-12-19T22:02:58+00:00">'
    assert published(late, "<p>Dec 18, 2025</p>") == "2025-12-18"
    # the structured day printed on the page (a ticker, a second date line) keeps it
    assert published(late, "<p>Dec 18, 2025</p><p>Updated Dec 19, 2025</p>").startswith(
        "2025-12-19")
    # a UTC time whose local day the byline prints is a time-zone matter: it stays
    early = '<meta property="article:published_time" content="2025-12-19T02:00:00+00:00">'
    assert published(early, "<p>Dec 18, 2025</p>").startswith("2025-12-19")
    # as does a structured date without an offset, which no zone can explain
    naive = '<meta property="article:published_time" content="2025-12-19T22:02:58">'
    assert published(naive, "<p>Dec 18, 2025</p>").startswith("2025-12-19")


def test_a_byline_days_after_an_unprinted_structured_date_wins():
    """The CMS's first save of the page (2013) against the date printed under the headline
    (2023), with the 2013 day printed nowhere: readers see the printed one."""
    saved = ('<meta property="article:published_time" content="2013-03-11T11:11:07-07:00">'
             '<meta property="article:modified_time" content="2026-02-18T07:49:16-08:00">')
    assert published(saved, "<p>March 20, 2023</p>") == "2023-03-20"
    # not when the page prints the structured day too
    assert published(saved, "<p>March 20, 2023</p><p>First published March 11, 2013</p>") \
        .startswith("2013-03-11")
    # nor a byline on the local day of the modification time (a modification day only the
    # page shows is a re-dating: see below)
    utc = ('<meta property="article:published_time" content="2022-02-16T10:00:00+00:00">'
           '<meta property="article:modified_time" content="2023-09-28T02:00:00+00:00">')
    assert published(utc, "<p>September 27, 2023</p>").startswith("2022-02-16")


def test_a_page_that_prints_only_its_modification_day_is_dated_by_the_modification():
    """Structured data holds a publish and a modification date; the page shows readers only
    the modification day (as its byline or an 'Updated' line) and prints the publish day
    nowhere: the site re-dated the story, and the modification time is its date."""
    both = ('<meta property="article:published_time" content="2021-03-16T16:16:10+00:00">'
            '<meta property="article:modified_time" content="2021-03-20T14:00:17+00:00">')
    assert published(both, "<p>20. März 2021 - 15:00</p>") == "2021-03-20T14:00:17+00:00"
    assert published(both, "<p>Updated Mar 20, 2021</p>") == "2021-03-20T14:00:17+00:00"
    # the publish day printed as well: it stays the publish date
    assert published(both, "<p>Published Mar 16, 2021</p><p>Updated Mar 20, 2021</p>") \
        .startswith("2021-03-16")
    # a byline on the local day of a UTC publish time is that time, not a re-dating
    utc = ('<meta property="article:published_time" content="2025-12-02T23:00:55+00:00">'
           '<meta property="article:modified_time" content="2025-12-03T21:31:05+00:00">')
    assert published(utc, "<p>Published: 03 Dec 2025</p>").startswith("2025-12-02")


@pytest.mark.parametrize(("url", "iso"), [
    ("https://example.org/world/2024/feb/24/budget-vote", "2024-02-24"),
    ("https://example.org/blog/2023/october/03/budget-vote/", "2023-10-03"),
    ("https://example.org/news/2023/Sep/5", "2023-09-05"),
])
def test_url_dates_with_a_named_month_date_a_page_that_prints_none(url, iso):
    assert published(url=url) == iso


@pytest.mark.parametrize("url", [
    "https://example.org/2023/feb/30/budget-vote", "https://example.org/2023/news/05/a",
    "https://example.org/2023/march/123/a", "https://example.org/a?d=/2023/may/05/",
])
def test_url_words_that_are_no_month_or_no_day_give_no_date(url):
    assert published(url=url) is None


def test_the_url_day_fixes_a_numeric_date_read_in_the_wrong_order():
    """'03/10/2023' on an 'en' page is read month first; the URL says 3 October."""
    en = '<html lang="en"><head></head><body><h1>Budget vote</h1><p>03/10/2023</p>' \
        f'<article>{BODY}</article></body></html>'
    assert extract_article(en, "https://example.org/blog/2023/october/03/budget-vote/") \
        .published_at == "2023-10-03"
    # a URL day that is no reading of the printed date leaves it alone
    assert extract_article(en, "https://example.org/blog/2023/october/04/budget-vote/") \
        .published_at == "2023-03-10"


def test_an_updated_line_by_the_headline_dates_a_page_with_no_other_date_of_its_own():
    """No structured date and no byline: the 'Last updated' line above the headline is the
    page's own date, not the first date element further down (a related post's)."""
    above = "<p>Last updated:</p><p>Dec 12, 2025</p>"
    related = "<div class='r-posts-date'>December 2, 2025</div>"
    assert extract_article(long_page("", above=above, aside=related),
                           "https://example.org/a").published_at == "2025-12-12"


@pytest.mark.parametrize("label", ["Post time:", "Post Date:", "post date"])
def test_a_post_date_or_post_time_label_marks_the_publish_date(label):
    # far below a long story: only a labelled date is looked for that far down
    html = (f"<html lang='en'><body><h1>Budget vote</h1><article>{BODY * 30}</article>"
            f"<div>{label} 01-04-2024</div></body></html>")
    assert extract_article(html, "https://example.org/a").published_at == "2024-01-04"


def test_the_web_page_record_dates_a_page_whose_article_record_is_about_another_site():
    """An article record copied with Google's example 'mainEntityOfPage' (or syndicated from
    another site) is not this page's: its own web page record's publish date comes first."""
    graph = ('<script type="application/ld+json">{"@graph": [{"@type": "WebPage", '
             '"@id": "https://www.example.org/budget-vote/", '
             '"datePublished": "2023-05-18T04:39:05+00:00"}]}</script>')
    copied = ('<script type="application/ld+json">{"@type": "NewsArticle", '
              '"mainEntityOfPage": {"@type": "WebPage", "@id": "https://google.com/article"}, '
              '"datePublished": "2023-05-17T00:00:00+0000"}</script>')
    assert published(graph + copied) == "2023-05-18T04:39:05+00:00"
    # an article record about this site's page keeps its date
    own = copied.replace("https://google.com/article", "https://example.org/budget-vote/")
    assert published(graph + own) == "2023-05-17T00:00:00+00:00"


def test_times_in_a_list_of_teaser_cards_do_not_date_the_page():
    cards = "".join(f"<article class='article-card'><h3>Story {n}</h3>"
                    f"<time class='article-card__date' datetime='{day}'>{day}</time></article>"
                    for n, day in enumerate(("2025-10-23", "2022-01-01", "2025-07-17")))
    html = ("<html><body><h1>Budget vote</h1><p>Page updated:</p>"
            "<div class='date'>12 November 2025</div>"
            f"<article>{BODY * 4}</article><section class='cards'>{cards}</section>"
            "</body></html>")
    assert extract_article(html, "https://example.org/a").published_at == "2025-11-12"
    # the story's own time in a card layout, or in an author's hCard, still counts
    own = ("<div class='vcard'><time datetime='2025-11-10T09:00:00+01:00'>10 Nov</time></div>")
    assert extract_article(html.replace("<article>", own + "<article>", 1),
                           "https://example.org/a").published_at == "2025-11-10T09:00:00+01:00"
    one = cards.split("</article>")[0] + "</article>"
    assert extract_article(html.replace(cards, one), "https://example.org/a") \
        .published_at == "2025-10-23"


@pytest.mark.parametrize("text", ["2025 " * 20000, "x2025-11-05" * 20000,
                                  "5 May 2025, " * 20000, "2025" * 100000])
def test_looking_for_a_printed_day_in_a_hostile_page_text_is_quick(text):
    started = time.perf_counter()
    assert not prints_day(text, date(2025, 1, 1))
    assert time.perf_counter() - started < 1.0


def test_a_printed_day_is_found_in_either_numeric_order():
    assert prints_day("Published 3/4/2024 here", date(2024, 4, 3))
    assert prints_day("Published 3/4/2024 here", date(2024, 3, 4))
    assert prints_day("Stand: 2024-05-06", date(2024, 5, 6))
    assert not prints_day("Stand: 2024-05-06", date(2024, 5, 7))


def test_date_like_elements_are_those_the_class_and_id_selectors_name():
    """_date_nodes tests shared class fragments ('dat', 'ted') in Python: it finds exactly
    the elements of one ``[class*=…]`` selector per fragment, in page order."""
    from selectolax.lexbor import LexborHTMLParser

    from worker.extract.metadata import _DATE_CLASS, _date_nodes
    classes = ["date", "update", "datum", "data", "validation", "posted", "related", "created",
               "publish", "publication", "public", "DATE", "post-meta", "fecha", "x"]
    markup = "".join(f'<div class="{c}">{c}</div>' for c in classes) + (
        '<time>t</time><span id="pubdate">i</span><span id="Date">j</span>'
        '<p itemprop="datePublished">k</p><p itemprop="datepublished">l</p>')
    tree = LexborHTMLParser(f"<!doctype html><html><body>{markup}</body></html>")
    selector = ", ".join(['[itemprop="datePublished"]', "time", '[id*="date"]',
                          *(f'[class*="{f}"]' for f in _DATE_CLASS.pattern.split("|"))])
    expected = [node.text() for node in tree.css(selector)]
    assert [node.text() for node in _date_nodes(tree)] == expected
    assert "related" not in expected and "validation" not in expected
