"""HTML → Article: the extraction stage.

``extract_article`` is a pure function over one page: decode, parse once with selectolax
(lexbor), read structured data and metadata, then find the story's paragraphs with a
content scorer (or a site profile), move the dateline out, and fill the Article contract.
Pages that cannot become an article raise ``ExtractionError`` with a reason code.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser, LexborNode

from worker.extract.body import extract_paragraphs, headline
from worker.extract.boilerplate import (
    is_boilerplate_text,
    is_lead_class,
    is_notice_text,
    strip_signoff,
)
from worker.extract.dateline import split_dateline
from worker.extract.dates import (
    DIGIT,
    PageDate,
    as_printed,
    hint_offset,
    not_after,
    parse_fetched_at,
    parse_iso,
    parse_relative,
    parse_text_date,
    parse_url_date,
    printed_earlier,
    zone_shifted_day,
)
from worker.extract.decode import decode_html
from worker.extract.errors import ExtractionError
from worker.extract.metadata import (
    author_line_date,
    byline_dates,
    date_after_headline,
    find_authors,
    find_canonical,
    find_description,
    find_language,
    find_lead_image,
    find_section,
    find_site_name,
    find_tags,
    find_title,
    meta_date_on_byline_day,
    month_first_language,
    only_untyped_date,
    printed_beats_untyped_date,
    printed_over_unprinted_date,
    script_date,
    structured_dates,
    visible_date,
)
from worker.extract.nodes import remove_nodes
from worker.extract.page_state import (
    paragraphs_in_page_state,
    place_streamed_parts,
    streamed_placeholders,
)
from worker.extract.profiles import SiteProfile, profile_for
from worker.extract.structured import Structured, text_of
from worker.html_cost import nesting_problem
from worker.models import Article
from worker.settings import MAX_BODY_BYTES
from worker.urls import article_id, canonical_url

__all__ = ["ExtractionError", "extract_article"]

#: Fewer words than this is a landing page, an error page or a login wall, not a story.
#: (Blog posts and dialogues of 10-20 words are stories: 20 refused them.)
MIN_WORDS = 10


def extract_article(html: bytes | str, url: str | None = None, *, fetched_at: str | None = None,
                    headers: Mapping[str, str] | None = None,
                    hints: Mapping[str, Any] | None = None,
                    source: str | None = None, max_bytes: int = MAX_BODY_BYTES) -> Article:
    """Extract one Article from a page; raises ExtractionError when it holds no story.

    ``hints`` may carry ``timezone`` (IANA name or '+07:00') for local times printed without
    an offset, and feed facts (``published_at``, ``title``) used as weak evidence.
    A page over ``max_bytes`` (the fetch.max_body_bytes setting) is refused as too_large.
    """
    hints = hints or {}
    try:
        host = urlsplit(url).hostname if url else None
    except ValueError as exc:
        raise ExtractionError("invalid_url", f"the page's URL cannot be parsed: {exc}",
                              url) from None
    decoded = decode_html(html, headers, url, max_bytes)
    if not decoded.has_markup():
        raise ExtractionError("not_html", "no HTML markup in the first 64 KiB", url)
    problem = nesting_problem(decoded.utf8)
    if problem:
        raise ExtractionError("too_nested", problem, url)
    # Without lexbor's mutation callbacks, run on every node and attribute inserted: they
    # serve CSS styling and mirror a <select>'s chosen <option> into <selectedcontent>,
    # which extraction does not read, and cost 3% of the parse.
    tree = LexborHTMLParser(decoded.utf8, options=LexborDocumentOptions.WO_EVENTS)
    if tree.root is None:
        raise ExtractionError("not_html", "the parser found no document", url)
    # Only Next.js streams parts, and a part needs a placeholder: looking for those first
    # spares most pages the search of 64 KiB for '/_next/' (twice the time).
    holders = streamed_placeholders(tree)
    if holders and decoded.head_contains("/_next/"):
        place_streamed_parts(tree.root, holders)
    data = Structured(tree)
    profile = profile_for(host)

    canonical = find_canonical(tree, data, url)
    site_name = find_site_name(data)
    language = find_language(tree, data)
    now = parse_fetched_at(fetched_at)
    limit = now or datetime.now(UTC)
    month_first = month_first_language(language, data.first_meta("og:locale"))
    # Looked up once for the headline, byline and standfirst: each lookup walks the tree.
    page_h1 = tree.css_first("h1")
    published, modified = _page_dates(tree, data, month_first, now, limit, profile, page_h1)

    title = find_title(tree, data, site_name, page_h1) or (hints.get("title") or None)
    authors = find_authors(tree, data)
    standfirst = _standfirst(tree, page_h1)
    lead = standfirst or find_description(data)
    lead_image = find_lead_image(data, canonical or url)
    section = find_section(data)
    tags = find_tags(data)

    if profile is not None and profile.drop:
        remove_nodes(tree.css(", ".join(profile.drop)))
    paragraphs = extract_paragraphs(tree, list(profile.body) if profile else None, title)
    paragraphs = _prefer_complete_article_body(paragraphs, data)
    paragraphs = _without_author_bio(paragraphs, authors)
    # (The canonical URL dates a page fetched under another address: a redirect, AMP, a
    # saved file.)
    in_url = parse_url_date(url) or parse_url_date(canonical)
    published = _on_url_day(_weak_dates(published, tree, month_first, limit, in_url, hints),
                            in_url)
    zone = hints.get("timezone") or (profile.timezone if profile else None)
    if published is not None:
        published = published.with_offset(hint_offset(zone, published))
    if modified is not None:
        modified = modified.with_offset(hint_offset(zone, modified))
    if standfirst and paragraphs and not any(standfirst[:60].casefold() in p.casefold()
                                             for p in paragraphs[:5]):
        # The standfirst is part of the story as printed, though often outside its container.
        paragraphs.insert(0, standfirst)
    dateline, paragraphs = _clean(paragraphs)
    body = "\n\n".join(paragraphs)
    words = _word_count(body, len(paragraphs))
    if words < MIN_WORDS and (state := paragraphs_in_page_state(decoded.utf8)):
        # Some sites ship the story only as page state, for a script to render.
        dateline, paragraphs = _clean(state)
        body = "\n\n".join(paragraphs)
        words = _word_count(body, len(paragraphs))
    if words < MIN_WORDS:
        raise ExtractionError("no_article_body",
                              f"expected an article body of at least {MIN_WORDS} words, "
                              f"found {words}", url)

    article_key = _id_source(canonical, url, body)
    return Article(
        id=article_id(article_key), url=url or article_key, canonical_url=canonical,
        title=title, body=body, paragraphs=paragraphs, lead=lead, authors=authors,
        published_at=published.iso() if published else None,
        published_at_utc=published.iso_utc() if published else None,
        modified_at=modified.iso() if modified else None, declared_language=language,
        dateline=dateline, lead_image=lead_image, site_name=site_name, section=section,
        tags=tags, word_count=words, fetched_at=fetched_at, source=source)


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


#: UTF-8 lead bytes of U+3000-U+DFFF, where all the _CJK ranges lie.
_CJK_LEAD_BYTES = tuple(bytes([b]) for b in range(0xE3, 0xEE))


def _word_count(body: str, paragraphs: int) -> int:
    """Whitespace words of a body of ``paragraphs`` paragraphs joined by blank lines, as
    _clean returns them (whitespace runs made one space, none at either end), counting
    Chinese/Japanese/Korean text at two characters a word (those scripts do not separate
    words with spaces)."""
    # One word more than spaces per paragraph: what ``len(body.split())`` counts, without
    # a string per word (1.7% of a median page).
    spaced = body.count(" ") + paragraphs
    if body.isascii():
        return spaced  # a C-speed test that spares the regex scan on English pages
    # Encoding and a byte search per lead byte take a fifth of the regex's scan, and spare
    # it on every page in a European language.
    encoded = body.encode("utf-8", "surrogatepass")
    if not any(lead in encoded for lead in _CJK_LEAD_BYTES):
        return spaced
    cjk = len(_CJK.findall(body))
    return max(spaced, cjk // 2 + len(_CJK.sub(" ", body).split())) if cjk else spaced


def _id_source(canonical: str | None, url: str | None, body: str) -> str:
    for candidate in (canonical, url):
        if candidate:
            try:
                return canonical_url(candidate)
            except ValueError:
                continue
    # No URL at all (a saved file): a content-derived key, stable across runs.
    return "urn:kabar:content:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def _page_dates(tree: LexborHTMLParser, data: Structured, month_first: bool,
                fetched: datetime | None, limit: datetime, profile: SiteProfile | None,
                page_h1: LexborNode | None) -> tuple[PageDate | None, PageDate | None]:
    """Dates from structured data, the profile's date element, the byline under the headline,
    then other date-like elements. Relative dates ('3 hours ago') count only against a known
    fetch time: against the clock they would date an old saved page today."""
    published, modified = structured_dates(tree, data)
    published = not_after(published, limit)
    byline, updated, above, updated_above = (
        not_after(d, limit) for d in byline_dates(tree, month_first, page_h1, data))
    if published is not None and byline is not None and (
            printed_earlier(byline, published, modified)
            or printed_beats_untyped_date(byline, published, modified, data)):
        # Sites re-stamp old stories when they migrate or re-index them; the day printed
        # under the headline is when the story first appeared.
        published = byline
    if published is not None and byline is None and only_untyped_date(data):
        # Without a byline, the date line above the headline or in a date element beats
        # untyped date tags in the same way (templates fill those with the day a page was
        # built or indexed).
        printed = above or not_after(visible_date(tree, month_first, fetched, page_h1), limit)
        if printed is not None and printed_beats_untyped_date(printed, published, modified,
                                                              data):
            published = printed
    if published is not None and byline is not None:
        published = as_printed(meta_date_on_byline_day(byline, published, data) or published,
                               byline)
    if published is not None:
        published = printed_over_unprinted_date(tree, byline, updated, published,
                                                modified) or published
    if published is None and profile is not None:
        for selector in profile.date:
            node = tree.css_first(selector)
            if node is not None:
                published = not_after(parse_text_date(node.text_lexbor(),
                                                      month_first=month_first), limit)
                if published:
                    break
    if published is None:
        # (An 'Updated' line over the headline is still the page's own date, unlike a date
        # element further down: a related post's.)
        published = byline or above or updated_above or not_after(
            visible_date(tree, month_first, fetched, page_h1), limit)
    if published is None:
        published = not_after(script_date(tree, data), limit)
    if published is None:
        published = not_after(author_line_date(tree, month_first), limit)
    # An "Updated …" byline is the modification time when structured data has none (never
    # the publication time, nor a time before it).
    if modified is None and updated is not None and (
            published is None or updated.calendar_day() >= published.calendar_day()):
        modified = updated
    return published, modified


def _weak_dates(published: PageDate | None, stripped: LexborHTMLParser, month_first: bool,
                limit: datetime, in_url: PageDate | None, hints: Mapping[str, Any]
                ) -> PageDate | None:
    """Weaker evidence, in order: the feed's date, the first date printed after the
    headline (on the tree stripped of scripts), a date in the URL."""
    if published is None and isinstance(hints.get("published_at"), str):
        published = not_after(parse_iso(hints["published_at"]), limit)
    if published is None:
        published = not_after(date_after_headline(stripped, month_first), limit)
    if published is None:
        published = not_after(in_url, limit)
    return published


def _on_url_day(published: PageDate | None, in_url: PageDate | None) -> PageDate | None:
    """A date in the URL fixes the calendar day: a datetime on a neighbouring day that a
    time-zone conversion explains (a UTC time stored for the local day the URL names) keeps
    the URL's day, without a time it no longer vouches for. (Measured on the shared sets:
    +2 pages on trafilatura's and on wcxb, none lost; a visible date line given the same
    power lost pages on fundus and wcxb, so it has none.) So does a date whose day and month
    are the URL's the other way round: '03/10/2023' read in the wrong order."""
    if published is None or in_url is None:
        return published
    if zone_shifted_day(published, in_url.calendar_day()):
        return in_url
    if (published.year, published.month, published.day) == (in_url.year, in_url.day,
                                                             in_url.month):
        return PageDate(in_url.year, in_url.month, in_url.day, published.hour,
                        published.minute, published.second, published.offset)
    return published


_INLINE = frozenset({"span", "a", "strong", "b", "em", "i", "font", "small"})


def _standfirst(tree: LexborHTMLParser, page_h1: LexborNode | None) -> str | None:
    """The printed standfirst (teaser, dek) near the headline, if the page has one."""
    h1 = headline(tree.root, page_h1) if tree.root is not None else None
    if h1 is None:
        return None
    area = h1
    levels = 0
    while levels < 3:  # the headline's block: standfirsts sit beside it
        if area.parent is None or area.parent.tag in ("body", "html"):
            break
        area = area.parent
        if area.tag not in _INLINE:  # an <h1> wrapped in <span>s is still in its block
            levels += 1
    # Class fragments tested in Python: one [class*=...] selector per fragment and tag
    # costs twice as much as the whole test.
    # (``attrs`` reads the one attribute; ``attributes`` would build a dict of all. Lazily:
    # the area may be the whole story, and the first lead blocks decide.)
    leads = (n for n in area.css("p[class], div[class], h2[class]")
             if is_lead_class(n.attrs.get("class") or ""))
    for node in islice(leads, 6):
        if node.tag in ("body", "html", "main", "article"):
            continue
        text = " ".join(node.text_lexbor().split())
        # (A lead block holding a picture, or a caption for one its scripts will load, is
        # the lead photo: its text is the caption. 'caption-s5' alone is a type style.)
        if 40 <= len(text) <= 600 and text.count(" ") >= 6 and not node.css_first(
                'a, img, picture, figure, video, [class~="caption"], [class*="-caption" i], '
                '[class*="_caption" i]'):
            return text
    return None


#: Paragraphs at the start and at the end of a story where its author's bio or byline is
#: printed inside the story's container.
_BIO_LEADING, _BIO_TRAILING = 2, 3
_BIO_MAX_CHARS = 500


def _without_author_bio(paragraphs: list[str], authors: list[str]) -> list[str]:
    """The story without its author's bio or byline line: a short paragraph at either end
    that opens with the full name of an author the page names ('Jane Doe is a senior
    researcher at …', 'Jane Doe · City News · Posted: …')."""
    names = [name for name in authors if " " in name.strip()]
    count = len(paragraphs)
    if not names or count < 2:
        return paragraphs
    ends = {*range(min(_BIO_LEADING, count)), *range(max(0, count - _BIO_TRAILING), count)}
    bios = {i for i in ends if len(paragraphs[i]) < _BIO_MAX_CHARS
            and any(paragraphs[i].startswith(name) and len(paragraphs[i]) > len(name) + 20
                    for name in names)}
    return [text for i, text in enumerate(paragraphs) if i not in bios] if bios else paragraphs


def _prefer_complete_article_body(paragraphs: list[str], data: Structured) -> list[str]:
    """JSON-LD articleBody wins when it is complete and clearly longer than what the page
    showed (paywalls and lazy-loaded bodies), never when it is a teaser."""
    raw = text_of(data.article_value("articleBody"))
    if not raw or "<" in raw[:200]:
        return paragraphs
    shown = sum(len(p) + 1 for p in paragraphs)
    if len(raw) < 200 or len(raw) < 1.3 * shown:
        # Decoding entities and collapsing whitespace only shorten the text: too short as
        # it is, it is too short below (spares both passes over a body the page shows).
        return paragraphs
    if "&" in raw:
        # Entities, sometimes escaped twice ("&amp;ccedil;"), would inflate the length
        # compared below and reach readers as markup.
        raw = html_lib.unescape(html_lib.unescape(raw))
    flat = " ".join(raw.split())
    if len(flat) < 200 or flat.endswith(("...", "…")) or len(flat) < 1.3 * shown:
        return paragraphs
    if flat.find(flat[:200], 200) != -1:
        return paragraphs  # the record holds the story twice over: longer, not more complete
    parts = [" ".join(p.split()) for p in re.split(r"\n\s*\n|\n", raw)]
    return [p for p in parts if p]


#: Any instant will do to tell whether a line is a relative date ('3 hours ago').
_SOME_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def _is_date_line(text: str) -> bool:
    """A short line that only states when (and perhaps by whom): page furniture, not story.
    ``text`` has single spaces between words, as _clean keeps them."""
    if len(text) > 90 or text.count(" ") > 9:  # over ten words
        return False
    # Every printed date has a digit; only relative ones ('an hour ago') may not.
    if DIGIT.search(text) and parse_text_date(text) is not None:
        return True
    return parse_relative(text, _SOME_TIME) is not None


def _clean(paragraphs: list[str]) -> tuple[str | None, list[str]]:
    """Move the dateline out, drop sign-offs and repeated paragraphs. Takes and returns
    paragraphs whose whitespace runs are one space, with none at either end (_word_count
    counts on it)."""
    out: list[str] = []
    seen: set[str] = set()
    dateline = None
    for i, text in enumerate(paragraphs):
        if i < 2 and dateline is None:
            # The first paragraph may be a standfirst; the dateline opens the story proper.
            dateline, text = split_dateline(text)
        text = strip_signoff(text) if i == len(paragraphs) - 1 else text
        if "&" in text and ";" in text:
            text = html_lib.unescape(text)  # entities escaped twice at the source ("&amp;nbsp;")
            text = " ".join(text.split())
        key = text.lower()
        if (not text or key in seen or is_boilerplate_text(text) or is_notice_text(text)
                or _is_date_line(text)):
            continue
        seen.add(key)
        out.append(text)
    return dateline, out
