"""Title, authors, language, site name, section, tags, images and dates of a page."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser
from selectolax.lexbor import LexborNode as Node

from worker.extract.body import first_h1
from worker.extract.dates import (
    DIGIT,
    PageDate,
    as_printed,
    parse_iso,
    parse_relative,
    parse_short_year_date,
    parse_text_date,
    prints_day,
    year_windows,
    zone_shifted_day,
)
from worker.extract.structured import Structured, text_of

_TITLE_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|::|·|•|/|»|:)\s+")


#: An entity written out in full. Meta tags and JSON-LD escaped twice at the source
#: ('content="Mexico to fight &amp;#8216;illogical&amp;#8217; tariffs"') still hold one
#: after parsing; a bare '&' or 'AT&T' stays as it is.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _plain_text(text: str | None) -> str:
    """Whitespace collapsed, entities left escaped at the source decoded."""
    if text and "&" in text:
        text = _ENTITY.sub(lambda m: html_lib.unescape(m.group(0)), text)
    return " ".join((text or "").split())


def _first_h1(tree: LexborHTMLParser, page_h1: Node | None) -> str | None:
    """The text of the first <h1> with a title's length of text."""
    node = first_h1(tree.root, page_h1, _titled) if tree.root is not None else None
    return _plain_text(node.text_lexbor()) if node is not None else None


def _titled(node: Node) -> bool:
    return 3 <= len(_plain_text(node.text_lexbor())) <= 400


def _strip_site(title: str, site: str | None) -> str:
    """'Story — Site' → 'Story': drop separated parts that name the site or are very short."""
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    site_key = (site or "").casefold().replace(" ", "")
    def is_site(part: str) -> bool:
        key = part.casefold().replace(" ", "")
        return bool(site_key) and (key in site_key or site_key in key)
    while len(parts) > 1 and (is_site(parts[-1]) or (len(parts[-1].split()) <= 3
                              and len(parts[-1]) < len(parts[0]))):
        parts.pop()
    while len(parts) > 1 and is_site(parts[0]):
        parts.pop(0)
    if len(parts) == 1:
        return parts[0]
    # Keep the separators the headline itself used ("Armenia: the vote").
    return title[: title.rfind(parts[-1]) + len(parts[-1])] if title.startswith(parts[0]) else \
        " - ".join(parts)


def find_title(tree: LexborHTMLParser, data: Structured, site: str | None,
               page_h1: Node | None) -> str | None:
    """The headline: <h1>, og:title, JSON-LD headline and <title> reconciled, the site's
    name stripped. ``page_h1`` is the page's first <h1>."""
    h1 = _first_h1(tree, page_h1)
    og = _plain_text(data.first_meta("og:title", "twitter:title"))
    headline = _plain_text(text_of(data.article_value("headline", "name")))
    title_node = tree.css_first("title")
    html_title = _plain_text(title_node.text_lexbor()) if title_node else ""
    if h1:
        key = h1.casefold()
        for other in (og, headline, html_title):
            if other and key in other.casefold():
                return h1
    for candidate in (headline, og):
        if candidate:
            return _strip_site(candidate, site)
    if h1:
        return h1
    return _strip_site(html_title, site) if html_title else None


def find_site_name(data: Structured) -> str | None:
    name = data.first_meta("og:site_name", "application-name", "apple-mobile-web-app-title")
    if name:
        return _plain_text(name)
    publisher = data.article_value("publisher")
    return _plain_text(text_of(publisher)) or None if isinstance(publisher, (dict, list)) else None


def find_language(tree: LexborHTMLParser, data: Structured) -> str | None:
    html = tree.root  # the <html> element, without a query
    raw = None
    if html is not None:
        attrs = html.attributes
        raw = attrs.get("lang") or attrs.get("xml:lang")
    if not raw:
        raw = data.first_meta("content-language", "language", "og:locale", "inlanguage")
    if not raw:
        value = data.article_value("inLanguage")
        raw = value if isinstance(value, str) else None
    return normalize_language(raw)


_LANGUAGE = re.compile(r"[a-z]{2,3}")
_SUBTAG = re.compile(r"[A-Za-z0-9]{2,8}")


def normalize_language(raw: str | None) -> str | None:
    """BCP 47 casing: 'EN_us' → 'en-US', 'id' → 'id'; None for junk."""
    if not raw:
        return None
    parts = raw.strip().replace("_", "-").split(",")[0].split("-")
    lang = parts[0].lower()
    if not _LANGUAGE.fullmatch(lang):
        return None
    rest = [p.upper() if len(p) == 2 else p.title() if len(p) == 4 else p.lower()
            for p in parts[1:] if _SUBTAG.fullmatch(p)]
    return "-".join([lang, *rest])


def _absolute(href: str, base: str | None) -> str:
    """``href`` resolved against ``base``. Pages mostly state absolute http(s) URLs, taken as
    they are: urljoin costs 10-40 µs a call, more than the query that found the URL."""
    href = href.strip()
    if not base or href.startswith(("https://", "http://")):
        return href
    return urljoin(base, href)


def find_canonical(tree: LexborHTMLParser, data: Structured, base: str | None) -> str | None:
    node = tree.css_first('link[rel="canonical"]')
    candidates = [node.attributes.get("href") if node else None, data.first_meta("og:url")]
    for href in candidates:
        if not href or not href.strip():
            continue
        try:
            absolute = _absolute(href, base)
            parts = urlsplit(absolute)
            parts.port  # noqa: B018 -- raises for a port out of range or not a number
        except ValueError:  # "http://[::1", ":99999": a broken declaration, not a broken page
            continue
        if parts.scheme in ("http", "https") and parts.hostname:
            return absolute
    return None


def find_lead_image(data: Structured, base: str | None) -> str | None:
    image = data.first_meta("og:image", "og:image:url", "twitter:image")
    if not image:
        image = text_of(data.article_value("image", "thumbnailUrl"))
    if not image:
        return None
    return _absolute(image, base)


def find_section(data: Structured) -> str | None:
    section = data.first_meta("article:section", "section", "parsely-section")
    if not section:
        section = text_of(data.article_value("articleSection"))
    return _plain_text(section) or None


_MAX_TAGS = 50


def find_tags(data: Structured) -> list[str]:
    tags = list(data.meta.get("article:tag", []))
    if not tags:
        keywords = data.article_value("keywords") or data.first_meta("news_keywords", "keywords")
        if isinstance(keywords, str):
            tags = keywords.split(",")
        elif isinstance(keywords, list):
            tags = [k for k in keywords if isinstance(k, str)]
    out: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        tag = _plain_text(tag)
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
            if len(out) == _MAX_TAGS:
                break  # a page may list 100,000 tags
    return out


def find_description(data: Structured) -> str | None:
    value = data.first_meta("og:description", "description", "twitter:description")
    if not value:
        value = text_of(data.article_value("description"))
    return _plain_text(value) or None


# --- authors -------------------------------------------------------------------------------

_BYLINE_PREFIX = re.compile(
    r"^\W*(?:by|oleh|penulis|reporter|wartawan|editor|penyunting|redaktur|von|par|por|di|"
    r"door|av|af|text|texto|written by|posted by|author|autor|auteur|autore|verfasst von)"
    r"\s*[:.]?\s+", re.I)
_ROLE = re.compile(
    r"\b(?:reporter|editor|penulis|wartawan|kontributor|correspondent|staff writer|"
    r"contributor|redakteur\w*|korrespondent\w*|journalist\w*|photographer|fotograf\w*|"
    r"senior|chief|political|business|news|local democracy reporters?|reporters?|"
    r"editors?|writers?)\b", re.I)
_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b|\bund\b|\bdan\b|\bet\b|\by\b|\be\b|\ben\b|\boch\b|"
                    r"\|| / |\bwith\b)\s*", re.I)
_NOT_NAME = re.compile(r"\d|@|https?:|www\.|\.com|\bupdated?\b|\bpublished\b|\bminutes?\b",
                       re.I)
#: Lower-case words that join the words of an organisation's name, never a person's.
_ORGANISATION = re.compile(r"^[A-Z][\w.-]*(?: [A-Z][\w.-]*)* (?:for|of|für)(?: [A-Z][\w.-]*)+"
                           r"(?: (?:and|und|&) [A-Z][\w.-]*)+$")
#: What links to an author's page say around the name: "View all posts by X", "Alle
#: Artikel von X", "Articles by X".
_AUTHOR_LINK_LABEL = re.compile(
    r"^(?:(?:view |see )?all (?:posts|articles|stories) by|more (?:posts |articles )?(?:by|from)|"
    r"(?:articles|posts|stories) by|alle (?:artikel|beiträge|posts) (?:von|vom autor)|alles von|"
    r"mehr von|tous les articles de|todos los artículos de)\s+", re.I)
#: Labels and link texts near bylines that name nobody.
_NOT_AUTHOR = re.compile(
    r"^(?:(?:written|posted|published|reviewed|edited) by|authors?|experts?|more by this|"
    r"latest posts|learn more|zu allen artikeln|zeige alle artikel|archiv anzeigen\W*)$|"
    r"author posts$|^(?:foto|photo|bild|image|credits?)s?\s*:", re.I)


#: Degrees and professional credentials after a name ("Dylan Bailey, MS, RD, FAND",
#: "Genevieve Carlton, Ph.D.", "Rebecca Lake, CEPF®", "Martin Luther King, Jr."): not people.
_CREDENTIAL = re.compile(r"(?:(?:[A-Z][a-z]?\.?){1,6}|Ph\.?D\.?|Jr\.?|Sr\.?|Esq\.?|"
                         r"[A-Z]{1,2}[a-z]{1,2}[A-Z]{1,3})[®™]?")


def clean_authors(raw: list[str]) -> list[str]:
    """Names from byline strings: prefixes, roles, credentials, dates and agencies-with-dates
    removed."""
    out: list[str] = []
    for value in raw:
        value = _plain_text(value)
        if not value or len(value) > 200:
            continue
        value = _BYLINE_PREFIX.sub("", value)
        # "Center for Drug Evaluation and Research" is one organisation, not two people
        organisation = _ORGANISATION.search(value) is not None
        parts = [value] if organisation else _SPLIT.split(value)
        most_words = 8 if organisation else 5
        # after a full name, short capitals are its credentials ("Reuters, AFP" stays)
        named = len(parts[0].split()) >= 2
        for i, part in enumerate(parts):
            part = _BYLINE_PREFIX.sub("", part.strip(" -–—:|·•()[]→"))
            if _NOT_AUTHOR.search(part):
                continue
            part = _AUTHOR_LINK_LABEL.sub("", part)
            if i and named and _CREDENTIAL.fullmatch(part):
                continue
            part = _plain_text(_ROLE.sub("", part)).strip(" -–—:|·•,")
            if not part or _NOT_NAME.search(part) or not (1 <= len(part.split()) <= most_words):
                continue
            if len(part) < 3 or not any(c.isupper() for c in part[:1]):
                continue
            if part.casefold() not in {a.casefold() for a in out}:
                out.append(part)
    return out[:10]


def find_authors(tree: LexborHTMLParser, data: Structured) -> list[str]:
    raw: list[str] = []
    author = data.article_value("author", "creator")
    for item in author if isinstance(author, list) else [author]:
        name = text_of(item.get("name") if isinstance(item, dict) else item)
        if name and not name.startswith("http"):
            raw.append(name)
    if not raw:
        for key in ("author", "article:author", "dc.creator", "parsely-author",
                    "sailthru.author", "byl"):
            raw.extend(v for v in data.meta.get(key, []) if not v.startswith("http"))
    authors = clean_authors(raw)
    if authors:
        return authors
    # Structured data gave no usable name (none, or only a URL or a site name): the byline,
    # the first element that names someone and those beside it (later author links on the
    # page belong to related stories).
    raw, block = [], set()
    for node in tree.css(_AUTHOR_NODES)[:8]:
        text = _plain_text(node.text_lexbor())
        if not text or len(text) >= 120:
            continue
        near = _near_ids(node)
        if block and block.isdisjoint(near):
            continue
        if not block and not clean_authors([text]):
            continue
        block = block or near
        raw.append(text)
    return clean_authors(raw)


def _near_ids(node: Node) -> set[int]:
    """The parent and grandparent of ``node``: two names side by side share one of them."""
    parent = node.parent
    grand = parent.parent if parent is not None else None
    return {n.mem_id for n in (parent, grand) if n is not None}


#: Byline elements, and links to an author's page ("/author/jane-doe/", "/authors/…").
_AUTHOR_NODES = ('[rel="author"], [itemprop="author"], .author-name, .author, [class*="byline"], '
                 'a[href*="/author"]')


# --- dates ---------------------------------------------------------------------------------

_PUBLISHED_META = ("article:published_time", "og:article:published_time", "article.published",
                   "article:published", "pubdate", "publishdate", "publish-date", "publish_date",
                   "published", "published-date", "published_date", "published_time",
                   "date", "dc.date", "dc.date.issued", "dc.date.created", "dcterms.created",
                   "dcterms.date", "dcterms.issued", "sailthru.date", "parsely-pub-date",
                   "datepublished", "schema:datepublished", "og:pubdate", "date.available",
                   "citation_publication_date", "citation_date",
                   "cxenseparse:recs:publishtime", "publication_date", "release_date",
                   # Rarer names that CMSs, analytics and share plugins give the publish date
                   # (the list htmldate trusts, less its build and generation times).
                   "article:published_date", "article:publicationdate", "article:post_date",
                   "article.created", "og:published_time", "og:publish_date",
                   "og:datepublished", "og:article:published", "og:question:published_time",
                   "publish_time", "publisheddate", "date_published", "datecreated",
                   "date_created", "dateposted", "displaydate", "dc.created",
                   "dc.date.publication", "dc:created", "rnews:datepublished",
                   "shareaholic:article_published_time", "mediator_published_time",
                   "vr:published_time", "analyticsattributes.articledate", "twt-published-at",
                   "bt:pubdate", "rbpubdate", "pdate", "ptime", "content_create_date",
                   "doc_date", "video:release_date", "og:regdate", "field-name-post-date",
                   "dc:date")
_MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified",
                  "schema:datemodified", "dcterms.modified", "last-modified", "lastmod",
                  "article.updated", "og:article:modified_time", "og:modified_time",
                  "article:modified", "article:modified_date", "modified_time", "updated_time",
                  "dc.modified", "modificationdate", "revision_date")
#: Rank of each date meta name, best first.
_PUBLISHED_RANK = {key: rank for rank, key in enumerate(_PUBLISHED_META)}
_MODIFIED_RANK = {key: rank for rank, key in enumerate(_MODIFIED_META)}


def _ranked_meta(data: Structured, rank: dict[str, int]) -> list[tuple[str, str]]:
    """(name, first value) of the page's meta tags named in ``rank``, best-ranked first.
    (One pass over the page's own meta names: a lookup per known name cost 90 calls a
    page, also on pages without a meta tag.)"""
    found = [(rank[key], key, values[0]) for key, values in data.meta.items() if key in rank]
    found.sort()
    return [(key, value) for _, key, value in found]


#: Class fragments of date-like elements (case-sensitive, as in CSS).
_DATE_CLASS = re.compile("date|time|publish|posted|byline|meta|tanggal|datum|fecha|data|"
                         "submitted|created|publication|parution")
#: The elements that can be date-like: lexbor tests each ``[class*=…]`` selector as a
#: substring search at every element (400,000 instructions a selector on a median page), so
#: fragments share one where they can ('dat' for date, datum and data; 'ted' for posted,
#: submitted and created; 'publi') and the few extra elements are tested in Python
#: (_date_nodes): 12 selectors instead of 18.
_DATE_NODE_CANDIDATES = ('[itemprop="datePublished"], time, [id*="date"], [class*="dat"], '
                         '[class*="time"], [class*="publi"], [class*="ted"], '
                         '[class*="byline"], [class*="meta"], [class*="tanggal"], '
                         '[class*="fecha"], [class*="parution"]')


def _date_nodes(tree: LexborHTMLParser) -> list[Node]:
    """Date-like elements, in page order: <time>, itemprop=datePublished, and those whose
    class or id names a date."""
    found = []
    for node in tree.css(_DATE_NODE_CANDIDATES):
        attrs = node.attributes
        if (node.tag == "time" or attrs.get("itemprop") == "datePublished"
                or "date" in (attrs.get("id") or "")
                or _DATE_CLASS.search(attrs.get("class") or "") is not None):
            found.append(node)
    return found


_MODIFIED_HINT = re.compile(r"updat|modif|aktualisiert|diperbarui|mis à jour|actualiz|"
                            r"atualiz|aggiorn|bijgewerkt", re.I)


def _meta_date(value: str | None) -> PageDate | None:
    """ISO 8601, or a date with its month named ('March 27, 2025', '2023 Jan 7'), which meta
    tags also carry. Numeric non-ISO values ('11/01/2023') are left out: their order is a
    guess, and templates fill them with the wrong field more often than not."""
    if not value:
        return None
    return parse_iso(value) or parse_text_date(value[:100], numeric=False)


def _json_ld_published(data: Structured) -> PageDate | None:
    """The publish date the page's JSON-LD article (or web page) record states; the web
    page's first when the article record says it is about a page on another site (a
    template copied with its 'https://google.com/article', a syndicated story)."""
    records = (data.article, data.webpage)
    about, page = _site_of(data.article, "mainEntityOfPage"), _site_of(data.webpage, "url",
                                                                        "@id")
    if about and page and about != page:
        records = (data.webpage, data.article)
    for record in records:
        for key in ("datePublished", "dateCreated", "uploadDate"):
            value = text_of(record.get(key)) if record is not None else None
            if value:
                return parse_iso(value)
    return None


def _site_of(record: dict | None, *keys: str) -> str | None:
    """The host (less 'www.') of the first absolute URL among a JSON-LD record's ``keys``."""
    for key in keys:
        url = text_of(record.get(key)) if record is not None else None
        if url and url.startswith(("https://", "http://")):
            try:
                host = urlsplit(url).hostname
            except ValueError:  # "http://[::1": a broken record, not a broken page
                continue
            return (host or "").removeprefix("www.") or None
    return None


def structured_dates(tree: LexborHTMLParser, data: Structured) -> tuple[PageDate | None,
                                                                        PageDate | None]:
    """(published, modified) from JSON-LD, meta tags, microdata and <time datetime>."""
    published = _json_ld_published(data)
    for _, value in () if published else _ranked_meta(data, _PUBLISHED_RANK):
        published = _meta_date(value)
        if published:
            break
    if published is None:
        nodes = tree.css('[itemprop="datePublished"], time[datetime]')[:5]
        # Times in teaser cards that name different days date a list of other stories.
        teasers = {n.mem_id: (n.attrs.get("datetime") or "")[:10] for n in nodes
                   if n.tag == "time" and _in_teaser(n)}
        teaser_list = len(set(teasers.values())) >= 2
        for node in nodes:
            attrs = node.attributes
            context = _plain_text(node.text_lexbor())
            if node.tag == "time" and (_MODIFIED_HINT.search(
                    f"{attrs.get('class') or ''} {attrs.get('itemprop') or ''} {context}")
                    or _in_site_chrome(node) or (teaser_list and node.mem_id in teasers)):
                continue
            published = parse_iso(attrs.get("datetime") or attrs.get("content") or "")
            if published:
                break
    modified = parse_iso(text_of(data.article_value("dateModified")) or "")
    for _, value in () if modified else _ranked_meta(data, _MODIFIED_RANK):
        modified = _meta_date(value)
        if modified:
            break
    return published, modified


#: A publication date under a key of its own in page state, data layers and analytics
#: objects (not JSON-LD, or JSON-LD of a type not read above): '"publishDate":"2025-05-27"',
#: 'firstPublicationDate: "20230428"', also with escaped quotes inside a JavaScript string.
_SCRIPT_DATE = re.compile(
    r"""\b(?:date_?published|publish(?:ed)?_?(?:date|at|on)|publication_?date|"""
    r"""first_?publication_?date|pub_?date)\\?["']?\s*:\s*\\?(["'])([^"'\\]{4,40})""", re.I)


def script_date(tree: LexborHTMLParser, data: Structured) -> PageDate | None:
    """The first publication date that a script or a JSON value in a <meta> tag states under
    a publication key. The page's own record comes first: related items follow it."""
    texts = [node.text_lexbor() for node in tree.css("script")]
    texts += [v for values in data.meta.values() for v in values if v.startswith("{")]
    for text in texts:
        for m in _SCRIPT_DATE.finditer(text):
            found = _meta_date(m.group(2))
            if found is not None:
                return found
    return None


#: Meta names that state a date without saying of what: templates fill them with the day
#: the page was built, indexed or edited as often as with the day the story appeared.
_UNTYPED_META = frozenset({"date", "dc.date", "dc:date", "dcterms.date"})


def only_untyped_date(data: Structured) -> bool:
    """Whether the page's structured publish date comes only from untyped date meta tags: no
    JSON-LD publish date, and no typed publication tag (``citation_date``,
    ``article:published_time``…) states a date beside them."""
    if _json_ld_published(data):
        return False
    stating = [k for k, value in _ranked_meta(data, _PUBLISHED_RANK) if _meta_date(value)]
    return bool(stating) and all(k in _UNTYPED_META for k in stating)


def printed_beats_untyped_date(printed: PageDate, published: PageDate,
                               modified: PageDate | None, data: Structured) -> bool:
    """A date line printed on the page (the byline under the headline, or one above it or in
    a date element) names another day than the structured publish date, which only untyped
    date meta tags state (and not the modification day either)."""
    day = printed.calendar_day()
    if day == published.calendar_day() or (
            modified is not None and day == modified.calendar_day()):
        return False
    return only_untyped_date(data)


def meta_date_on_byline_day(byline: PageDate, published: PageDate,
                            data: Structured) -> PageDate | None:
    """A typed publication date meta tag on the byline's day, when the JSON-LD publish date
    is on another day (read at the byline's offset). Sites that re-date a story write the
    new day in one record and keep the old one in the other; the page prints the one it
    stands by under the headline. (Untyped date tags are as often the day of a print
    edition or a re-index.)"""
    day = byline.calendar_day()
    if as_printed(published, byline).calendar_day() == day or published != _json_ld_published(
            data):
        return None
    for key, value in _ranked_meta(data, _PUBLISHED_RANK):
        if key in _UNTYPED_META:
            continue
        found = _meta_date(value)
        if found is not None and found.calendar_day() == day:
            return found
    return None


_SKIP_TEXT = frozenset({"script", "style", "noscript", "template", "svg", "button", "select"})
#: A byline line that states when the story was changed, not when it appeared.
_UPDATED_LABEL = re.compile(r"updat|modif|aktualisiert|geändert|letzte änderung|\bstand\b|"
                            r"diperbarui|mis à jour|actualiz|atualiz|aggiorn|bijgewerkt", re.I)


#: Elements whose text a reader never sees (an <iframe>'s is its fallback markup).
_NOT_PRINTED = _SKIP_TEXT | {"iframe"}


def printed_text(tree: LexborHTMLParser) -> str:
    """The text a reader sees on the page: the body's text nodes, less scripts, styles and
    form controls."""
    body = tree.body
    if body is None:
        return ""
    return "\n".join(node.text_content or "" for node in body.traverse(include_text=True)
                     if node.tag == "-text" and node.parent is not None
                     and node.parent.tag not in _NOT_PRINTED)


def printed_over_unprinted_date(tree: LexborHTMLParser, byline: PageDate | None,
                                updated: PageDate | None, published: PageDate,
                                modified: PageDate | None) -> PageDate | None:
    """What the page prints under its headline, where it names another day than the
    structured publish date and the page prints that day nowhere (a CMS's record of the
    story, not what readers see):
    - a byline the day before, when the structured date has an offset (no time zone
      explains the difference: the local day of a UTC time is labelled both ways by the
      sets, and is left alone in every case below);
    - a byline two days or more after it: the structured date is when the CMS first saved
      the page;
    - a byline or an "Updated" line on the structured modification day: the site re-dated
      the story and shows readers only that day (the modification time is returned)."""
    published_day = published.calendar_day()
    shown = byline or updated
    if shown is None or shown.calendar_day() == published_day:
        return None
    day = shown.calendar_day()
    if published.offset == 0 and zone_shifted_day(published, day):
        return None  # a UTC time's local day
    if modified is not None and day == modified.calendar_day():
        found: PageDate | None = modified
    elif byline is None or (modified is not None and zone_shifted_day(modified, day)):
        return None
    else:
        apart = (day - published_day).days
        earlier = apart == -1 and published.aware() is not None and not zone_shifted_day(
            published, day)
        found = byline if earlier or apart >= 2 else None
    if found is None or prints_day(printed_text(tree), published_day):
        return None
    return found


def _texts_after(node: Node, count: int) -> Iterator[str]:
    """The next ``count`` non-empty text nodes after ``node`` (not inside it), in reading order,
    skipping scripts, styles and form controls."""
    current, descend = node, False
    while count > 0:
        child = current.child if descend and current.tag not in _SKIP_TEXT else None
        if child is not None:
            current = child
        else:
            while current.next is None:
                current = current.parent
                if current is None:
                    return
            current = current.next
        descend = True
        if current.tag == "-text":
            text = current.text_content.strip()
            if text:
                count -= 1
                yield text


def _texts_before(node: Node, count: int) -> Iterator[str]:
    """The ``count`` non-empty text nodes before ``node``, nearest first, skipping scripts,
    styles and form controls."""
    current = node
    while count > 0:
        if current.prev is None:
            current = current.parent
            if current is None:
                return
            continue
        current = current.prev
        while current.tag not in _SKIP_TEXT and current.last_child is not None:
            current = current.last_child
        if current.tag == "-text":
            text = current.text_content.strip()
            if text:
                count -= 1
                yield text


def _titled_heading(tree: LexborHTMLParser, data: Structured, h1: Node | None
                    ) -> Node | None:
    """The <h2>, <h3> or itemprop=headline element that prints the page's title (as its
    metadata or <title> states it), for pages whose headline is not an <h1>; None when the
    short ``h1`` is the title after all."""
    title_node = tree.css_first("title")
    titles = [t.casefold() for t in (_plain_text(data.first_meta("og:title", "twitter:title")),
                                     _plain_text(text_of(data.article_value("headline"))),
                                     _plain_text(title_node.text_lexbor()) if title_node else "")
              if t]
    if not titles:
        return None
    if h1 is not None and (short := _plain_text(h1.text_lexbor()).casefold()) and any(
            short in title for title in titles):
        return None
    # (Mega-menus put dozens of headings before the story's.)
    for node in tree.css('h2, h3, [itemprop="headline"]')[:100]:
        text = _plain_text(node.text_lexbor()).casefold()
        # Most of the title: not the site's name, a section or a series name in it; or the
        # title with a kicker before it ('Premiere in X - Title').
        if len(text) >= 12 and any((text in title and 2 * len(text) >= len(title))
                                   or (len(title) >= 12 and title in text
                                       and len(text) <= 2 * len(title)) for title in titles):
            return node
    return None


def byline_dates(tree: LexborHTMLParser, month_first: bool, page_h1: Node | None,
                 data: Structured | None = None
                 ) -> tuple[PageDate | None, PageDate | None, PageDate | None,
                            PageDate | None]:
    """(published, updated, above, updated_above): the first date on a short line just after
    the headline (the byline), the first one there labelled as the time of an update, a date
    printed just above the headline (a kicker; weaker: tickers and clocks sit there too), and
    one there labelled as an update ('Last updated: Dec 12, 2025' over the title). Long lines
    are skipped (their dates belong to captions and prose) unless they open with a dateline
    ('29.11.2022 – …'). Without a headline <h1>, the headline is the heading that prints the
    title ``data`` states. ``page_h1`` is the page's first <h1>."""
    # A page may spend its first <h1> on the site's logo: the headline has a few words.
    # (The first one usually is the headline; all of them cost a whole-tree query.)
    h1 = page_h1
    if h1 is not None and len(h1.text_lexbor().split()) < 4:
        h1 = next((node for node in tree.css("h1")[1:5]
                   if len(node.text_lexbor().split()) >= 4), h1)
        if data is not None and len(h1.text_lexbor().split()) < 4:
            h1 = _titled_heading(tree, data, h1) or h1
    elif h1 is None and data is not None:
        h1 = _titled_heading(tree, data, None)
    if h1 is None:
        return None, None, None, None
    updated = None
    previous = ""
    for text in _texts_after(h1, 12):
        if len(text) > 80 and (m := _DATELINE_DASH.search(text, 6, 40)) is not None:
            text = text[:m.start()]  # '29.11.2022 – Mehrfach hatte …': the story's dateline
        if len(text) <= 80:
            found = _short_line_date(text, month_first)
            if found is not None:
                if not _UPDATED_LABEL.search(text) and (
                        len(previous) > 40 or not _UPDATED_LABEL.search(previous)):
                    return found, updated, None, None
                updated = updated or found
        previous = text
    previous = ""
    updated_above = None
    for text in reversed(list(_texts_before(h1, 3))):
        if len(text) <= 80 and (found := _short_line_date(text, month_first)) is not None:
            if not _UPDATED_LABEL.search(text) and (
                    len(previous) > 40 or not _UPDATED_LABEL.search(previous)):
                return None, updated, found, updated_above
            updated_above = updated_above or found
        previous = text
    return None, updated, None, updated_above


def author_line_date(tree: LexborHTMLParser, month_first: bool) -> PageDate | None:
    """The date on a short line just after the page's first author credits (an author link
    or byline element), wherever they sit: blog templates print 'Written by … / April 8,
    2024' under the story or in a side column rather than under the headline. Lines that
    label an update are passed over."""
    for node in tree.css(_AUTHOR_NODES)[:3]:
        for text in _texts_after(node, 3):
            if len(text) <= 80 and (found := _short_line_date(text, month_first)) is not None:
                if _UPDATED_LABEL.search(text) is None:
                    return found
                break
    return None


#: The dash after a dateline that opens the story's first paragraph.
_DATELINE_DASH = re.compile(r"\s[–—-]\s")


def _short_line_date(text: str, month_first: bool) -> PageDate | None:
    if DIGIT.search(text) is None:
        return None  # most lines under a headline: spares both parsers' set-up
    return parse_text_date(text, month_first=month_first) or parse_short_year_date(text)


def _in_site_chrome(node: Node) -> bool:
    """Inside the site's own header or navigation (a masthead's 'today' date), not an
    article's header."""
    chrome = False
    parent = node.parent
    while parent is not None:
        if parent.tag in ("article", "main"):
            return False
        if parent.tag in ("header", "nav"):
            chrome = True
        parent = parent.parent
    return chrome


#: Classes of a story's teaser in a list of others ('vcard' is an author's hCard).
_TEASER = re.compile(r"(?<!v)card|teaser|related|recommend", re.I)


def _in_teaser(node: Node) -> bool:
    """Whether ``node`` or one of its four nearest ancestors has a teaser card's class."""
    current: Node | None = node
    for _ in range(5):
        if current is None or current.tag == "-document":
            return False
        if _TEASER.search(current.attrs.get("class") or ""):
            return True
        current = current.parent
    return False


def visible_date(tree: LexborHTMLParser, month_first: bool, now: datetime | None,
                 page_h1: Node | None) -> PageDate | None:
    """A publish date printed on the page, from date-like elements first, near the title
    (``page_h1``, the page's first <h1>) next."""
    checked = 0
    for node in _date_nodes(tree):
        text = _plain_text(node.text_lexbor())
        if not text or len(text) > 250:
            continue
        checked += 1
        if checked > 40:
            break
        if _MODIFIED_HINT.match(text) or _in_site_chrome(node):
            continue
        found = parse_text_date(text, month_first=month_first)
        if found is None and (title := node.attrs.get("title")):
            # '3 hours ago' printed, the date itself in the tooltip (also Blogspot's links)
            found = parse_iso(title) or parse_text_date(title, month_first=month_first)
        if found is None and now is not None:
            found = parse_relative(text, now)
        if found is not None:
            return found
    h1 = page_h1
    if h1 is not None:
        parent = h1.parent
        for _ in range(3):
            if parent is None or parent.parent is None:
                break
            parent = parent.parent
        if parent is not None:
            # (``parent`` may be the document, whose text_lexbor() is empty.)
            text = _plain_text(parent.text(deep=True))[:3000]
            start = text.find(_plain_text(h1.text_lexbor()))
            text = text[max(0, start):][:1500]
            found = _labelled_date(text, month_first) or parse_text_date(
                text, month_first=month_first)
            if found is not None:
                return found
    return None


#: "Published on", "Veröffentlicht am", "Datum:"… right before a date.
_PUBLISHED_LABEL = re.compile(
    r"(?:\b(?:published|publié|publiée|veröffentlicht|erschienen|erscheinungsdatum|publicado|"
    r"publicada|pubblicato|diterbitkan|dipublikasikan|gepubliceerd|written|posted|"
    r"post\s+(?:date|time))"
    r"(?:\s+(?:on|am|le|el|em|il|op|at|pada))?|\bdatum|\bfecha|\btanggal|"
    r"(?:发布|發佈|發布|发表|發表)(?:时间|時間|日期)?|公開日|掲載日|配信日|입력|등록일?|작성일)"
    r"\s*[:：]?\s*", re.I)
#: How far before its date's year a label may start: the label, then up to 60 characters.
_LABEL_REACH = 100
#: The date must follow at once: a digit, or one word (a month or weekday) and a digit.
_DATE_START = re.compile(r"\W{0,3}(?:\d|[^\W\d_]+\.?,?\s+\d)")


def _reach_back(text: str, end: int, reach: int) -> int:
    """Where to start so that ``reach`` characters other than whitespace come before ``end``
    (page text keeps the markup's runs of blank lines and indentation)."""
    start = end
    while reach > 0 and start > 0:
        chunk = text[max(0, start - reach):start]
        start -= len(chunk)
        reach = len(chunk) - len("".join(chunk.split()))  # go on past the blanks met
    return start


def _labelled_date(text: str, month_first: bool) -> PageDate | None:
    """The first date the page labels as the publication date, anywhere in its text."""
    # Page texts run to 100,000 characters: look for labels only just before a year.
    windows: list[tuple[int, int]] = []
    for start, end in year_windows(text, 0, 4):
        start = _reach_back(text, start, _LABEL_REACH)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    for start, end in windows:
        for m in _PUBLISHED_LABEL.finditer(text, start, end):
            if _DATE_START.match(text, m.end()):
                found = parse_text_date(text[m.end():m.end() + 60], month_first=month_first)
                if found is not None:
                    return found
    return None


def date_after_headline(tree: LexborHTMLParser, month_first: bool) -> PageDate | None:
    """A date the page labels as published, else the first date printed after the headline,
    else the first anywhere in the page's text.

    Meant for a tree already stripped of scripts, styles and navigation."""
    body = tree.body
    if body is None:
        return None
    text = body.text(deep=True, separator="\n")
    found = _labelled_date(text, month_first)
    if found is not None:
        return found
    h1 = tree.css_first("h1")
    start = -1
    if h1 is not None:
        title = h1.text_lexbor().strip()
        start = text.find(title) if title else -1
    end = 6000
    if start >= 0:
        found = parse_text_date(text[start:start + 6000], month_first=month_first, limit=6000)
        if found is not None:
            return found
        # What follows the headline was searched just now: only a date that starts before it
        # is left (the whole opening again cost a tenth of a dateless page).
        end = min(end, start + _DATE_REACH)
    return parse_text_date(text[:end], month_first=month_first, limit=6000)


#: More than the longest printed date with its time and zone ('Wednesday, 12 September 2024,
#: 10:45 a.m. Eastern Daylight Time' is 63 characters).
_DATE_REACH = 200


def month_first_language(language: str | None, locale: str | None = None) -> bool:
    """US English writes 03/04/2024 for March 4; everyone else for 3 April. A bare 'en'
    is taken as US unless the page's ``og:locale`` names another English region
    ('en_GB', 'en_AU', 'en-ZA'): British, Indian, African and Australian sites declare
    a bare 'en' as often as American ones."""
    if not language or language.lower() not in ("en-us", "en"):
        return False
    if language.lower() == "en" and (region := normalize_language(locale)):
        return region.lower() in ("en", "en-us") or not region.lower().startswith("en-")
    return True


