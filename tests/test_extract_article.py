"""The sample newsroom pages extract to the exact Articles the pipeline promises."""

import subprocess
import sys
from pathlib import Path

import pytest

from worker.extract import ExtractionError, extract_article

PAGES = Path(__file__).resolve().parent.parent / "worker" / "newsroom" / "pages"
REPO = Path(__file__).resolve().parent.parent
SEED = REPO.parent / "shared" / "seeds" / "000_11e1ebe3f3952f2a.txt"
SEED_URL = "http://127.0.0.1:8765/international/1234/kalah-lawan-azerbaijan-sekutu-rusia-ancam"


def _page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


@pytest.fixture(scope="module")
def seed():
    return extract_article(_page("sindonews_armenia.html"), SEED_URL,
                           fetched_at="2023-10-07T03:00:00+00:00", source="sindonews")


def test_seed_page_dates_come_from_visible_text_in_wib(seed):
    assert seed.published_at == "2023-10-07T08:48:00+07:00"
    assert seed.published_at_utc == "2023-10-07T01:48:00+00:00"


def test_seed_page_dateline_moves_out_of_first_paragraph(seed):
    assert seed.dateline == "YEREVAN"
    assert seed.paragraphs[0].startswith("Presiden Armenia Vahagn Khachaturyan")


def test_seed_page_prints_each_paragraph_once(seed):
    assert len(seed.paragraphs) == len(set(seed.paragraphs)) == 16
    assert seed.body == "\n\n".join(seed.paragraphs)


def test_seed_page_matches_seed_text_without_boilerplate(seed):
    lines = SEED.read_text(encoding="utf-8").splitlines()
    expected = [lines[2].removeprefix("YEREVAN - "), *lines[3:18]]
    assert seed.paragraphs == expected
    for junk in ("Baca Juga", "tulis komentar anda", "(sya)", "Terpopuler", "Copyright"):
        assert junk.casefold() not in seed.body.casefold()


def test_seed_page_metadata(seed):
    assert seed.title == "Kalah Lawan Azerbaijan, Sekutu Rusia Ancam Membelot ke Prancis"
    assert seed.declared_language == "id"
    assert seed.language is None  # set by the enrich stage
    assert seed.url == SEED_URL
    assert seed.source == "sindonews"
    assert seed.fetched_at == "2023-10-07T03:00:00+00:00"
    assert seed.word_count == len(seed.body.split())
    assert len(seed.id) == 32


def test_syndicated_copy_has_the_same_body_text(seed):
    copy = extract_article(_page("syndicated_armenia.html"), "http://127.0.0.1:8766/dunia/1")
    assert copy.body == seed.body
    assert copy.id != seed.id
    assert copy.canonical_url.startswith("https://wartanusantara.example/")
    assert copy.published_at == "2023-10-07T10:15:00+07:00"
    assert copy.authors == ["Redaksi Warta Nusantara"]


def test_english_article_uses_json_ld_graph_and_keeps_headings():
    article = extract_article(_page("english_article.html"))
    assert article.title == "Harbour city votes to turn disused docks into tidal park"
    assert article.published_at == "2024-03-14T18:30:00+00:00"
    assert article.modified_at == "2024-03-15T09:05:00+00:00"
    assert article.authors == ["Eleanor Whitcombe", "Tom Adeyemi"]
    assert article.declared_language == "en-GB"
    assert article.dateline == "PORTHAVEN"
    assert "Opposition from businesses" in article.paragraphs
    assert article.tags == ["urban planning", "climate adaptation"]
    assert article.section == "Local News"
    for junk in ("cookies", "newsletter", "Read more", "Share this", "All rights reserved"):
        assert junk not in article.body


def test_article_id_without_url_is_stable_and_content_derived():
    page = _page("sindonews_armenia.html")
    assert extract_article(page).id == extract_article(page).id


def test_broken_page_raises_no_article_body():
    with pytest.raises(ExtractionError) as caught:
        extract_article(_page("broken_page.html"), "http://127.0.0.1:1/missing")
    assert caught.value.reason == "no_article_body"
    assert caught.value.url == "http://127.0.0.1:1/missing"


def test_seed_site_profile_gives_the_same_article_as_the_generic_path(seed):
    profiled = extract_article(_page("sindonews_armenia.html"),
                               "https://international.sindonews.com/read/1234/42/kalah-lawan",
                               fetched_at="2023-10-07T03:00:00+00:00")
    assert profiled.paragraphs == seed.paragraphs
    assert profiled.dateline == "YEREVAN"
    assert profiled.published_at == "2023-10-07T08:48:00+07:00"


def test_timezone_comes_from_the_site_profile_when_the_page_prints_none():
    page = _page("sindonews_armenia.html").replace(b" WIB</div>", b"</div>")
    generic = extract_article(page, SEED_URL)
    profiled = extract_article(page, "https://international.sindonews.com/read/1234/42/x")
    assert generic.published_at == "2023-10-07T08:48:00"
    assert generic.published_at_utc is None
    assert profiled.published_at == "2023-10-07T08:48:00+07:00"


#: Six story paragraphs for pages built around one metadata case.
STORY = "".join(f"<p>The council met on day {n} and voted on the harbour plan again.</p>"
                for n in range(6))


def test_entities_escaped_twice_at_the_source_are_decoded_in_metadata():
    html = ('<html><head><meta property="og:title" content="Mexico to fight '
            '&amp;#8216;illogical&amp;#8217; tariffs">'
            '<meta property="og:site_name" content="Freie Presse GmbH &amp;amp; Co. KG">'
            '<meta name="description" content="AT&amp;T and R&amp;D &amp;not; here"></head>'
            f"<body><article>{STORY}</article></body></html>")
    article = extract_article(html, "https://example.org/a")
    assert article.title == "Mexico to fight ‘illogical’ tariffs"
    assert article.site_name == "Freie Presse GmbH & Co. KG"
    # a bare ampersand stays, and only entities written out in full are decoded
    assert article.lead == "AT&T and R&D ¬ here"


def test_the_byline_links_to_the_author_page_when_structured_data_names_nobody():
    html = ('<html><head><meta name="author" content="https://example.org/team"></head><body>'
            '<h1>Harbour plan approved</h1><div class="meta"><span>By '
            '<a href="/author/jane-doe/">Jane Doe</a> and <a href="/author/john-roe/">John Roe'
            f'</a></span></div><article>{STORY}</article><aside><ul>'
            '<li><a href="/other">Other story</a> <a href="/author/max-muster/">Max Muster</a></li>'
            '</ul></aside></body></html>')
    assert extract_article(html, "https://example.org/a").authors == ["Jane Doe", "John Roe"]


def test_extraction_needs_nothing_of_fetching():
    """`kabar extract` on saved pages loads no fetch code: URL identity lives in worker.urls."""
    code = ("import sys, worker.extract, worker.stages; "
            "print(sorted(m for m in sys.modules if m.startswith('worker.fetch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
