"""Enrichment parts one by one: language, dates, summary, keywords, places."""

from __future__ import annotations

import gc

import pytest

from worker.enrich import enrich
from worker.enrich.dates import to_utc
from worker.enrich.entities import extract_entities
from worker.enrich.keywords import extract_keywords
from worker.enrich.language import detect_language, primary_subtag
from worker.enrich.places import country_counts, primary_place
from worker.enrich.summary import reading_time_minutes, summarize
from worker.models import Article

INDONESIAN = (
    "Presiden Joko Widodo meresmikan jalan tol baru di Jawa Tengah pada hari Senin. "
    "Menurut pemerintah, jalan tol ini akan mempercepat distribusi barang dan mengurangi "
    "kemacetan di jalur pantai utara selama musim mudik lebaran tahun ini."
)
MALAY = (
    "Perdana Menteri Anwar Ibrahim berkata kerajaan akan memastikan rakyat mendapat bantuan "
    "sewajarnya daripada kerajaan negeri. Beliau berkata demikian ketika berucap di majlis "
    "pelancaran program bantuan rakyat di Kuala Lumpur semalam."
)


def test_language_of_clear_text_ignores_a_wrong_declaration():
    assert detect_language(INDONESIAN, "en")[0] == "id"


def test_language_tells_malay_from_indonesian():
    assert detect_language(MALAY)[0] == "ms"
    assert detect_language(INDONESIAN)[0] == "id"


def test_declared_language_tips_a_close_call_but_short_text_is_und():
    close = "Presiden Armenia menyatakan negaranya mengincar kerja sama militer dengan Prancis"
    assert detect_language(close, "id")[0] == "id"
    assert detect_language(close, "ms")[0] == "ms"
    assert detect_language("Hello world", "en") == ("und", 0.0)


def test_declared_language_keeps_its_own_spelling():
    assert primary_subtag("nb-NO") == "nb"
    assert primary_subtag("id_ID") == "id"
    assert primary_subtag("") is None


@pytest.mark.parametrize(
    ("value", "hint", "expected"),
    [
        ("2023-10-07T08:48:00+07:00", None, "2023-10-07T01:48:00Z"),
        ("2023-10-07T08:48:00Z", "Asia/Jakarta", "2023-10-07T08:48:00Z"),
        ("2023-10-07T08:48:00", "Asia/Jakarta", "2023-10-07T01:48:00Z"),
        ("2023-10-07T08:48:00", "+09:00", "2023-10-06T23:48:00Z"),
        ("2023-07-01T12:00:00", "Europe/Berlin", "2023-07-01T10:00:00Z"),
        ("2023-10-07T08:48:00", None, None),
        ("2023-10-07T08:48:00", "Mars/Olympus", None),
        ("not a date", "UTC", None),
        (None, "UTC", None),
    ],
)
def test_published_at_utc_uses_offset_or_hint_and_never_guesses(value, hint, expected):
    assert to_utc(value, hint) == expected


def test_enrich_applies_the_sources_time_zone_hint_and_keeps_extractor_values():
    art = Article(
        id="a",
        url="u",
        body=INDONESIAN,
        paragraphs=[INDONESIAN],
        published_at="2023-10-07T08:48:00",
        word_count=7,
    )
    out = enrich(art, timezone_hint="Asia/Jakarta")
    assert out.published_at_utc == "2023-10-07T01:48:00Z"
    assert out.word_count == 7  # the extractor's count stands
    assert enrich(art).published_at_utc is None
    assert art.enrichment == {}  # the input is not modified


def test_summary_is_the_lead_or_whole_first_sentences():
    paras = ["First sentence here. Second one follows. " + "Third is long " * 30]
    assert summarize("A standfirst.", paras) == "A standfirst."
    assert summarize(None, paras) == "First sentence here. Second one follows."
    long = ["word " * 200]
    cut = summarize(None, long, limit=50)
    assert cut.endswith("…") and len(cut) <= 51
    assert summarize(None, []) is None


def test_reading_time_rounds_up_whole_minutes():
    assert reading_time_minutes(0) == 0
    assert reading_time_minutes(1) == 1
    assert reading_time_minutes(238) == 1
    assert reading_time_minutes(239) == 2


def test_keywords_skip_stop_words_at_the_edges_and_repeat_no_word():
    text = (
        "The central bank raised interest rates again on Tuesday. The central bank said "
        "inflation remains high, and interest rates will stay high for longer. "
        "Economists expect the central bank to pause in the spring."
    )
    keywords = extract_keywords(text, "en")
    assert keywords
    words = [w.lower() for k in keywords for w in k.split()]
    assert len(words) == len(set(words))
    assert all(k.split()[0].lower() not in {"the", "and", "on"} for k in keywords)
    assert any("bank" in k.lower() for k in keywords)


def test_primary_place_is_the_dateline_then_the_most_central_place():
    ents = extract_entities(
        [
            "Officials in Jakarta and Surabaya met.",
            "Jakarta said talks would follow in Jakarta.",
            "Jakarta and Jakarta again.",
        ],
        lang="en",
        title="Talks in Surabaya",
    )
    assert primary_place(ents, None)["name"] == "Jakarta"
    assert primary_place(ents, "BERLIN (dpa)") == {
        "name": "Berlin",
        "country": "DE",
        "source": "dateline",
    }
    assert primary_place([], "NOWHERE-LAND") is None


def test_country_counts_include_places_inside_the_country():
    ents = extract_entities(["Crowds gathered in Paris and Lyon, and France said so."], lang="en")
    assert country_counts(ents) == {"FR": 3}


def test_an_empty_article_gets_an_empty_block_and_und():
    out = enrich(Article(id="x", url="https://example.org/x"))
    assert out.language == "und"
    assert out.enrichment["entities"] == [] and out.enrichment["summary"] is None
    assert out.enrichment["reading_time_minutes"] == 0 and out.enrichment["primary_place"] is None


@pytest.mark.parametrize("collecting", [True, False])
def test_enrich_leaves_automatic_garbage_collection_as_it_found_it(collecting, monkeypatch):
    art = Article(id="a", url="u", body=INDONESIAN, paragraphs=[INDONESIAN])
    was = gc.isenabled()
    try:
        (gc.enable if collecting else gc.disable)()
        enrich(art)
        assert gc.isenabled() is collecting
        # also when a stage fails half-way
        monkeypatch.setattr("worker.enrich.detect_language", lambda *_: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            enrich(art)
        assert gc.isenabled() is collecting
    finally:
        (gc.enable if was else gc.disable)()
