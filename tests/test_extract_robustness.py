"""Hostile input: every page returns an Article or a typed ExtractionError, quickly."""

import gzip
import random
import time
import tracemalloc
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from worker.extract import ExtractionError, extract_article
from worker.extract.decode import _is_utf8
from worker.extract.nodes import _TABLE_ID, _first_inside, remove_nodes
from worker.models import Article
from worker.settings import MAX_BODY_BYTES
from worker.stages import read_saved_page

PARAGRAPH = ("<p>The council voted on Thursday to approve the new budget, which raises spending "
             "on schools, roads and public transport by four per cent next year.</p>")
ARTICLE = ("<html><head><title>Budget</title></head><body><article>"
           f"{PARAGRAPH * 6}</article></body></html>")


def _outcome(page):
    start = time.perf_counter()
    try:
        result = extract_article(page, "https://example.org/news/1")
    except ExtractionError as exc:
        result = exc
    return result, time.perf_counter() - start


@pytest.mark.parametrize(("page", "reason"), [
    (b"", "empty"), ("   \n ", "empty"), (b" \r\n\t ", "empty"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 binary", "binary"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"), (b"\x00\x01\x02\x03" * 100, "binary"),
    ("just some plain text without any markup at all", "not_html"),
    (b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "no_article_body"),
])
def test_unusable_input_raises_typed_error(page, reason):
    result, _ = _outcome(page)
    assert isinstance(result, ExtractionError)
    assert result.reason == reason


@pytest.mark.parametrize(("prefix", "refused"), [
    ("€" * 3000, True),   # NULs from character 3,001, byte 9,001: read as text
    ("€" * 5000, False),  # NULs past the first 4096 characters: the parser's business
    ("a" * 4200, False),
])
def test_nuls_filling_the_opening_characters_of_a_utf8_page_mark_it_binary(prefix, refused):
    page = f"<html><body><p>{prefix}</p>".encode() + b"\x00" * 1000 + ARTICLE.encode()
    result, _ = _outcome(page)
    assert isinstance(result, ExtractionError) and result.reason == "binary" if refused \
        else not isinstance(result, ExtractionError) or result.reason != "binary"


@pytest.mark.parametrize("where", ["<html>\x00<head>", "<title>Budget\x00</title>",
                                   "<article>\x00<p>", "vote\x00d on", "</html>\x00"])
@pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes", "text"])
def test_a_page_with_a_stray_nul_is_read_as_browsers_render_it(where, as_bytes):
    page = ARTICLE.replace(where.replace("\x00", ""), where, 1)
    assert page.count("\x00") == 1
    result, _ = _outcome(page.encode() if as_bytes else page)
    assert isinstance(result, Article), result
    assert result.title.startswith("Budget")  # a NUL in a title is U+FFFD, as browsers show
    assert result.paragraphs[0].startswith("The council voted on Thursday")
    assert "\x00" not in result.to_json().decode()


@pytest.mark.parametrize("page", [
    ARTICLE.encode("utf-16-le"), ARTICLE.encode("utf-16-be"),
    # the fetcher's reading of such bytes with no charset declared: ASCII, NULs and all
    ARTICLE.encode("utf-16-le").decode("ascii"),
    ("<html><head><title>予算</title></head><body><article><p>"
     + "市議会は木曜日、来年度の予算案を承認した。" * 40 + "</p></article></body></html>"
     ).encode("utf-16-le"),
], ids=["utf-16-le", "utf-16-be", "utf-16-le read as ascii", "utf-16-le japanese"])
def test_utf16_without_a_bom_stays_binary(page):
    result, _ = _outcome(page)
    assert isinstance(result, ExtractionError) and result.reason == "binary"


@pytest.mark.parametrize("page", [
    b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 8,
    b"\x7fELF\x02\x01\x01" + bytes(4000),
    # no signature: compressed or encrypted bytes, about 1 in 10 a control byte
    random.Random(7).randbytes(8192),
    # mostly text, with a control byte every 16 bytes
    (b"<html><body><p>" + b"abcdefghijklmno\x00" * 300),
], ids=["jpeg", "elf", "random", "text with many NULs"])
def test_binary_content_stays_binary(page):
    result, _ = _outcome(page)
    assert isinstance(result, ExtractionError) and result.reason == "binary"


def test_markup_is_found_in_the_opening_bytes_of_a_utf8_page():
    result, _ = _outcome(("é" * 100 + ARTICLE).encode())
    assert isinstance(result, Article)
    assert result.paragraphs[0].startswith("The council voted")


def test_truncated_page_still_yields_the_text_before_the_cut():
    cut = ARTICLE[: len(ARTICLE) * 2 // 3]
    result, _ = _outcome(cut.encode())
    assert isinstance(result, Article)
    assert result.paragraphs[0].startswith("The council voted")


def test_a_page_at_the_size_limit_is_handled_in_bounded_time():
    filler = "<div class='promo'><a href='/x'>link</a></div>" * 108_000
    page = f"<html><body>{filler}<article>{PARAGRAPH * 5}</article></body></html>".encode()
    assert 4_900_000 < len(page) <= MAX_BODY_BYTES
    result, seconds = _outcome(page)
    assert isinstance(result, Article)
    assert seconds < 10


@pytest.mark.parametrize("page", [b"<html>" + b" " * MAX_BODY_BYTES,
                                  "<html>" + " " * MAX_BODY_BYTES])
def test_a_page_over_the_fetch_size_limit_is_refused(page):
    result, _ = _outcome(page)
    assert isinstance(result, ExtractionError)
    assert result.reason == "too_large"
    assert f"{MAX_BODY_BYTES + 6:,} bytes, over the limit of {MAX_BODY_BYTES:,}" in str(result)


def test_the_size_limit_is_the_one_passed():
    page = ARTICLE.encode()
    assert isinstance(extract_article(page, max_bytes=len(page)), Article)
    with pytest.raises(ExtractionError, match="too_large"):
        extract_article(page, max_bytes=len(page) - 1)


def test_a_saved_page_over_the_limit_is_refused_before_it_is_read(tmp_path):
    page = tmp_path / "huge.html"
    with page.open("wb") as file:
        file.truncate(200 * 1024 * 1024)  # sparse: nothing written to disk
    tracemalloc.start()
    try:
        with pytest.raises(ExtractionError, match="209,715,200 bytes, over the limit of 5,000,000"):
            read_saved_page(page)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_ten_thousand_levels_of_nesting_do_not_recurse():
    page = "<html><body>" + "<div>" * 10_000 + PARAGRAPH * 5 + "</div>" * 10_000 + "</body></html>"
    result, seconds = _outcome(page)
    assert isinstance(result, (Article, ExtractionError))
    assert seconds < 10


def test_mis_encoded_bytes_are_replaced_not_fatal():
    page = ARTICLE.replace("council", "caf\xe9 council").encode("latin-1")
    page = page.replace(b"<head>", b"<head><meta charset='utf-8'>")  # the declaration lies
    result, _ = _outcome(page)
    assert isinstance(result, Article)
    assert "council voted" in result.body and "caf\ufffd council" in result.body


def test_declared_legacy_charset_is_decoded():
    page = ARTICLE.replace("council", "Gemeinderat für Straßen council").encode("cp1252")
    result = extract_article(page, headers={"Content-Type": "text/html; charset=windows-1252"})
    assert "Gemeinderat für Straßen" in result.body


def test_utf8_bytes_under_a_legacy_charset_label_are_read_as_utf8():
    page = ARTICLE.replace("council", "El tetracampeón eligió council").encode("utf-8")
    page = page.replace(b"<head>", b'<head><meta charset="iso-8859-15">')  # a stale label
    result = extract_article(page)
    assert "El tetracampeón eligió" in result.body


_BLOCK = b"a" * 4095  # ends one byte before the validator's first block boundary


@pytest.mark.parametrize("page", [
    b"", "é".encode(), b"\xc3", b"\xc3A\xa9",  # a sequence broken by an ASCII byte
    _BLOCK + "é".encode() + _BLOCK,               # a valid character across the boundary
    _BLOCK + b"\xc3" + _BLOCK,                    # a lead byte cut off by the boundary
    _BLOCK + b"a" + b"\xa9" + _BLOCK,             # a stray continuation after an ASCII block
    _BLOCK + "€".encode() + _BLOCK * 2 + b"\xe9t\xe9",  # valid run, ASCII blocks, bad run
    "x€".encode() * 3000, b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80",
])
def test_a_page_is_taken_as_utf8_exactly_when_python_decodes_it_strictly(page):
    try:
        page.decode("utf-8")
    except UnicodeDecodeError:
        valid = False
    else:
        valid = True
    assert _is_utf8(page) is valid


_TAGS = st.sampled_from(["div", "p", "span", "article", "section", "a", "li", "ul", "h2",
                         "br", "table", "td", "script", "style", "nav", "b", "</div>", "</p>"])


@st.composite
def _html_soup(draw):
    parts = []
    for _ in range(draw(st.integers(0, 60))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            parts.append(f"<{draw(_TAGS)}>")
        elif kind == 1:
            parts.append(draw(st.text(max_size=80)))
        elif kind == 2:
            parts.append(PARAGRAPH[: draw(st.integers(0, len(PARAGRAPH)))])
        else:
            parts.append(draw(st.sampled_from(['<meta charset="koi8-r">', "<!--", "-->",
                                               '<script type="application/ld+json">{"@type":',
                                               "<time datetime='2023-13-45'>", "&#xD800;"])))
    return "".join(parts)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(_html_soup())
def test_random_html_gives_article_or_typed_error(page):
    result, _ = _outcome(page)
    assert isinstance(result, (Article, ExtractionError))
    if isinstance(result, Article):
        assert result.body == "\n\n".join(result.paragraphs)


@settings(max_examples=100, deadline=2000)
@given(st.binary(max_size=2000), st.integers(0, len(ARTICLE)))
def test_mutated_article_bytes_give_article_or_typed_error(noise, at):
    page = ARTICLE.encode()[:at] + noise + ARTICLE.encode()[at:]
    result, _ = _outcome(page)
    assert isinstance(result, (Article, ExtractionError))


def test_nested_overlays_and_furniture_wrapping_the_story():
    story = "".join(f"<p>Paragraph {n} of the story tells what the council decided and why, "
                    "with the reasons given by each side.</p>" for n in range(5))
    page = ("<html><body><div class='cookie-consent'><div id='cookie-inner'>"
            "<div class='modal'>We use cookies</div></div></div>"
            f"<aside class='banner'><main><article><h1>Council vote</h1>{story}</article></main>"
            "</aside><nav><ul><li><a href='/'>Home</a></li></ul></nav></body></html>")
    article = extract_article(page, "https://example.org/news/2")
    assert len(article.paragraphs) == 5
    assert "cookies" not in article.body


@pytest.mark.parametrize("streamed", [
    # a part holding its own placeholder
    "<div hidden id='S:0'><template id='B:0'></template>" + PARAGRAPH * 5 + "</div>",
    # a part inside the fallback it replaces
    "<!--$?--><template id='B:0'></template><div>Loading<div hidden id='S:0'>" + PARAGRAPH * 5
    + "</div></div><!--/$-->",
    # two placeholders sharing one fallback, and a part listed as its own fallback
    "<article><!--$?--><template id='B:0'></template><template id='B:1'></template>"
    "<div hidden id='S:1'>" + PARAGRAPH * 3 + "</div><div>Loading</div><!--/$--></article>"
    "<div hidden id='S:0'>" + PARAGRAPH * 3 + "</div>",
    # thousands of parts with no place
    "".join(f"<div hidden id='S:{i:x}'><p>part {i}</p></div>" for i in range(5000))
    + "<article>" + PARAGRAPH * 5 + "</article>",
])
def test_hostile_streamed_parts_give_article_or_typed_error(streamed):
    page = ("<html><head><script src='/_next/static/app.js'></script></head><body>"
            f"{streamed}</body></html>")
    result, seconds = _outcome(page)
    assert isinstance(result, (Article, ExtractionError))
    assert seconds < 10


def test_removing_nodes_inside_removed_ones_in_any_order_leaves_the_rest_intact() -> None:
    # remove_nodes relies on selectolax unlinking a removed subtree without freeing it: a
    # node inside one already removed is removed again, harmlessly, before or after it.
    tree = LexborHTMLParser("<body><div id=a><p id=b>gone</p><p id=c>gone</p></div>"
                            "<p>kept text</p></body>")
    outer, first, second = tree.css_first("#a"), tree.css_first("#b"), tree.css_first("#c")
    remove_nodes([first, outer, second, outer])
    assert tree.body is not None
    assert tree.body.text(deep=True) == "kept text"
    assert second.parent is None and second.text(deep=True) == ""


@pytest.mark.parametrize("inner", [
    "<table><tr><td>x</td></tr></table>",  # right inside
    "<span>a</span>" * 30 + "<table></table><table id=second></table>",  # past the walk
    "<div><p>no table</p></div>" * 10,  # none
    "<b>" * 40 + "<table></table>" + "</b>" * 40,  # deep
])
def test_the_first_element_inside_is_the_one_css_first_finds(inner) -> None:
    tree = LexborHTMLParser(f"<body><figure id=f>{inner}</figure></body>")
    figure = tree.css_first("#f")
    found, expected = _first_inside(figure, _TABLE_ID, "table"), figure.css_first("table")
    assert (found is None and expected is None) or found.mem_id == expected.mem_id
    assert _first_inside(figure, figure.tag_id, "figure").mem_id == figure.mem_id


def test_megabytes_of_page_state_in_scripts_are_searched_in_bounded_time():
    # A shell page with no story: the page-state fallback reads its scripts, which a hostile
    # page fills with megabytes of one-paragraph JSON strings.
    literal = '"' + "\\u003cp\\u003eword " * 120_000 + '"'
    scripts = "".join(f"<script>var s{i} = {literal};</script>" for i in range(2))
    page = f"<html><body><div id=root></div>{scripts}</body></html>".encode()
    assert 4_000_000 < len(page) <= MAX_BODY_BYTES
    result, seconds = _outcome(page)
    assert isinstance(result, ExtractionError) and result.reason == "no_article_body"
    assert seconds < 10


@pytest.mark.parametrize("declaration", [
    '<link rel="canonical" href="http://[::1">',
    '<link rel="canonical" href="//[::1/news">',
    '<meta property="og:url" content="https://[bad/news/1">',
    '<link rel="canonical" href="http://example.com:99999/news">',
    '<link rel="canonical" href="http://example.com:port/news">',
])
def test_an_unparsable_canonical_url_is_ignored_not_fatal(declaration):
    page = ARTICLE.replace("<head>", f"<head>{declaration}")
    result, _ = _outcome(page)
    assert isinstance(result, Article)
    assert result.canonical_url is None and "council voted" in result.body


def test_an_unparsable_url_in_a_json_ld_record_is_ignored_not_fatal():
    records = ('<script type="application/ld+json">{"@type": "NewsArticle", '
               '"datePublished": "2024-01-02", "mainEntityOfPage": "http://[::1"}</script>'
               '<script type="application/ld+json">{"@type": "WebPage", '
               '"url": "https://example.org/news/1"}</script>')
    result, _ = _outcome(ARTICLE.replace("<head>", f"<head>{records}"))
    assert isinstance(result, Article)
    assert result.published_at == "2024-01-02" and "council voted" in result.body


def test_an_unparsable_page_url_is_a_typed_error():
    with pytest.raises(ExtractionError) as caught:
        extract_article(ARTICLE, "http://[::1")
    assert caught.value.reason == "invalid_url"


def test_memory_for_deep_nesting_grows_with_the_depth_not_its_square():
    import tracemalloc

    depth = 4000  # the ancestor lists of every level once took 67 MB here, 1 GB at 16,000
    page = "<html><body>" + "<span>" * depth + PARAGRAPH * 6 + "</span>" * depth + "</body></html>"
    tracemalloc.start()
    try:
        result, _ = _outcome(page)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(result, Article)
    assert peak < 20_000_000, f"{peak / 1e6:.0f} MB"


@pytest.mark.parametrize(("codec", "title", "sentence"), [
    ("windows-1251", "Новости дня",
     "В субботу в центре Москвы открыли новый городской парк, и жители района гуляли там."),
    ("shift_jis", "東京で新しい公園",
     "土曜日、東京の中心部に新しい都市公園が開園しました。住民は木々の間を散歩しました。"),
    ("gb18030", "北京新闻", "星期六，北京市中心的一座新城市公园开放了，附近的居民在树木之间散步。"),
], ids=["windows-1251", "shift_jis", "gb18030"])
def test_an_undeclared_legacy_charset_is_detected_not_read_as_cp1252(codec, title, sentence):
    page = (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            + f"<p>{sentence} {sentence}</p>" * 4 + "</article></body></html>").encode(codec)
    result, _ = _outcome(page)
    assert isinstance(result, Article), result
    assert result.title == title and sentence in result.body


def test_many_story_blocks_nested_deep_are_scored_in_linear_time():
    block = ("<span><p>The council voted on Thursday to approve the new budget, which raises "
             "spending on schools, roads and transport by four per cent, said block {}.</p></span>")
    depth = 20_000
    page = ("<html><body>" + "<span>" * depth + "".join(block.format(i) for i in range(2000))
            + "</span>" * depth + "</body></html>")
    result, seconds = _outcome(page)
    assert isinstance(result, Article) and "block 1999" in result.body
    assert seconds < 2, f"{seconds:.1f} s"  # 5.6 s when each block summed its 20,000 ancestors


def test_a_hundred_thousand_tags_cost_linear_time_and_keep_the_first_fifty():
    tags = "".join(f'<meta property="article:tag" content="tag {i}">' for i in range(100_000))
    result, seconds = _outcome(ARTICLE.replace("<head>", f"<head>{tags}"))
    assert isinstance(result, Article)
    assert result.tags == [f"tag {i}" for i in range(50)]
    assert seconds < 3, f"{seconds:.1f} s"  # minutes when each tag was compared with all kept


def test_tables_nested_deep_are_read_in_linear_time():
    page = ARTICLE.replace("<article>", "<article>" + "<table><tr><td>" * 20_000)
    result, seconds = _outcome(page)
    assert isinstance(result, Article) and "council voted" in result.body
    assert seconds < 2, f"{seconds:.1f} s"  # 5 s when every cell read its whole subtree


def _gzip_bomb(inflated: int) -> bytes:
    """gzip data of ``inflated`` spaces (about a thousandth of that), built without holding
    them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b" " * 1_000_000
    parts = [packer.compress(chunk) for _ in range(inflated // len(chunk))]
    return b"".join([*parts, packer.flush()])


def test_a_gzipped_saved_page_is_inflated_and_extracted(tmp_path):
    page = tmp_path / "story.html.gz"
    page.write_bytes(gzip.compress(ARTICLE.encode()))
    result = extract_article(read_saved_page(page), "https://example.org/news/1")
    assert result.paragraphs[0].startswith("The council voted")


def test_a_gzipped_page_of_several_members_is_read_whole(tmp_path):
    page = tmp_path / "story.html.gz"
    half = len(ARTICLE) // 2
    page.write_bytes(gzip.compress(ARTICLE[:half].encode())
                     + gzip.compress(ARTICLE[half:].encode()))
    assert read_saved_page(page) == ARTICLE.encode()


@pytest.mark.parametrize(("inflated", "limit", "limit_text"), [
    (50_000_000, MAX_BODY_BYTES, "5,000,000"),  # 50 kB of gzip against the default limit
    (5_000_000, 100_000, "100,000"),  # 5 kB against a lower fetch.max_body_bytes
])
def test_a_gzip_bomb_stops_at_the_size_limit_without_inflating_whole(
        tmp_path, inflated, limit, limit_text):
    bomb = tmp_path / "bomb.html.gz"
    bomb.write_bytes(_gzip_bomb(inflated))
    assert bomb.stat().st_size < inflated // 900
    tracemalloc.start()
    try:
        with pytest.raises(ExtractionError, match="too_large: gzip-compressed, and inflates past "
                           f"the limit of {limit_text} bytes"):
            read_saved_page(bomb, limit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * limit  # zlib's output buffer up to the limit, not the whole inflation


def test_corrupt_gzip_data_is_a_clear_error(tmp_path):
    page = tmp_path / "story.html.gz"
    page.write_bytes(gzip.compress(ARTICLE.encode())[:10] + b"\xff" * 50)
    with pytest.raises(ExtractionError, match="binary: gzip-compressed, but not valid gzip"):
        read_saved_page(page)
