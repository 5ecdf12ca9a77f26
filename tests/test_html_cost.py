"""Pages whose nesting would cost the HTML parser minutes are refused before parsing, in
both places that parse untrusted HTML (extraction and section-page discovery), and pages
as real sites write them are never refused."""

from __future__ import annotations

import glob
import time
from pathlib import Path

import pytest

from worker.extract import ExtractionError, extract_article
from worker.html_cost import MAX_PARSE_STEPS, nesting_problem

PARAGRAPH = ("<p>The council voted on Thursday to approve the new budget, which raises spending "
             "on schools, roads and public transport by four per cent next year.</p>")
NESTED_DIVS = ("<html><body>" + "<div>" * 60_000 + PARAGRAPH * 6 + "</div>" * 60_000
               + "</body></html>")  # 360 kB; lexbor alone: 7 s
BLOCKS_UNDER_SPANS = ("<html><body>" + "<span>" * 20_000 + "<section></section>" * 20_000
                      + PARAGRAPH * 6 + "</body></html>")  # open spans are free, the search is not


@pytest.mark.parametrize("page", [NESTED_DIVS, BLOCKS_UNDER_SPANS],
                         ids=["nested divs", "block tags under open spans"])
def test_deeply_nested_blocks_are_refused_before_parsing(page: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ExtractionError) as caught:
        extract_article(page.encode(), "https://example.org/news/1")
    assert caught.value.reason == "too_nested"
    assert "open elements" in str(caught.value)
    assert time.perf_counter() - started < 2


def test_many_blocks_at_a_shallow_depth_are_not_refused() -> None:
    page = "<html><body><main>" + "<div><span>x</span></div>" * 200_000 + "</main></body></html>"
    assert page.count("<") ** 2 > MAX_PARSE_STEPS  # followed tag by tag, not cleared by a count
    assert nesting_problem(page) is None


def test_no_page_of_the_shared_sets_is_refused() -> None:
    pages = glob.glob(str(Path(__file__).parents[1] / ".data" / "*" / "html" / "*.html"))
    if not pages:
        pytest.skip("the shared sets are not unpacked in .data/")
    assert [p for p in pages if nesting_problem(Path(p).read_bytes())] == []


@pytest.mark.parametrize("page", [NESTED_DIVS, BLOCKS_UNDER_SPANS, PARAGRAPH * 3_000],
                         ids=["nested divs", "block tags under open spans", "flat paragraphs"])
def test_bytes_and_text_of_a_page_are_judged_alike(page: str) -> None:
    # (Bytes have their "<" counted by bytes.replace, text by str.count.)
    assert nesting_problem(page.encode()) == nesting_problem(page)
