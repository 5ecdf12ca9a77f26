"""Main-text extraction over a selectolax tree: score containers, then walk the winner.

A readability-style scorer finds the container holding most of the story's paragraph text
(comma and length statistics, link density, class/id hints); a single iterative walk of that
container (and of sibling containers that score alike) turns its blocks into paragraphs,
skipping boilerplate subtrees and texts. No recursion, so any nesting depth is safe.

An element's text is read with ``text_lexbor()`` (lexbor's textContent): the same text as
``text(deep=True)``, in two thirds of the time, which serves the metadata readers too. (On
the document node it is empty, and on a comment it is the comment.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from itertools import islice

import orjson
from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.extract.boilerplate import (
    FORM_MESSAGE_SELECTOR,
    HIDDEN_SELECTOR,
    LEAD_CLASS,
    OVERLAY_SELECTOR,
    POSITIVE_FRAGMENTS,
    STRONG_NEGATIVE_FRAGMENTS,
    has_fragment,
    has_negative_word,
    is_boilerplate_text,
    is_form_message,
    is_overlay_id,
    is_teaser_heading,
)
from worker.html_cost import nesting_problem

#: Removed with their content before scoring: never story text.
DROP_TAGS = ["script", "style", "template", "svg", "iframe", "object", "embed",
             "button", "select", "textarea", "input", "figcaption", "figure", "picture",
             "video", "audio", "canvas", "map", "dialog", "label"]
#: Page furniture, removed unless broken markup made it wrap the story itself.
_FURNITURE_TAGS = ("nav", "footer", "aside", "menu")
#: What marks the story (with <main>, <article> and <h1>, which _by_tag finds by tag number).
_ARTICLE_BODY = '[itemprop="articleBody"]'
_LEAF_BLOCKS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "pre", "dt", "dd", "li",
                          "blockquote", "address", "summary"})
_CONTAINERS = frozenset({"div", "section", "article", "main", "header", "ul", "ol", "dl",
                         "table", "tbody", "thead", "tfoot", "tr", "td", "th", "center",
                         "details", "hgroup", "body", "form", "fieldset", "caption", "h1"})
_NESTED_BLOCK_SELECTOR = "p, div, ul, ol, table, section, article, blockquote, h2, h3, h4"
#: List items and definitions holding blocks: walked into, not read whole.
_NESTING_ITEMS = f"li:has({_NESTED_BLOCK_SELECTOR}), dd:has({_NESTED_BLOCK_SELECTOR})"
_SCORED_SELECTOR = "p, pre, td, blockquote, h2, h3, li:not(:has(p, div, li))"
#: Blocks whose length counts as story text when widening the winner; list items too, for
#: guides and recipes told in lists (link-heavy teaser items stay out by link density).
_MASS_TAGS = frozenset({"p", "pre", "blockquote", "div", "section", "article", "span", "font",
                        "li"})
_LEAF_DIV_SELECTOR = ("div:not(:has(div, p, ul, ol, table, section, article, li, h1, h2, h3, "
                      "h4, blockquote, pre, header, form))")
_TAXONOMY_CLASSES = ("tag-", "category-", "categories-", "format-", "status-", "type-",
                     "post_tag-", "topic-", "section-")
_TAXONOMY = re.compile(r"(?:^|\s)(?:" + "|".join(_TAXONOMY_CLASSES) + ")")
#: A paragraph's score reaches its parent whole, its grandparent halved, then a third of
#: that per further level, up to five levels.
_LEVEL_DIVISORS = (1, 2, 6, 9, 12)
#: Story text share an ancestor must keep to be taken as the container (0.3 gained on wcxb
#: but lost on fundus; 0.4 gains on all three sets). Relative to the
#: winner's own share, but a winner that is one pure paragraph block (share near 1) would
#: otherwise refuse every wrapper that also holds the story's headings and lists.
_CLIMB_DENSITY = 0.4


def _norm(text: str) -> str:
    """Whitespace runs made one space, none at either end."""
    # Every whitespace character but the space is unprintable: a printable text with no
    # double space and none at either end is already normal (four texts in ten; a third
    # of the split-and-join's time).
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def _tlen(text: str) -> int:
    """Characters that are not spaces or line breaks: a length that ignores template
    indentation without building a normalised copy of the text."""
    return len(text) - text.count(" ") - text.count("\n")


def _text_size(node: LexborNode, sizes: dict[int, int]) -> int:
    """_tlen of the node's text, measured once per page: the scorer, the climb and the walk
    measure the same containers (each measure serialises the whole subtree). ``sizes`` is
    the page's record, valid while the tree is not changed."""
    key = node.mem_id
    size = sizes.get(key)
    if size is None:
        size = sizes[key] = _tlen(node.text_lexbor())
    return size


def _attr_text(node: LexborNode) -> str:
    attrs = node.attributes
    if not attrs:
        return ""
    ident = attrs.get("id") or ""
    # (A slug has four hyphens at least: counting them spares most ids the regex.)
    if ident.count("-") >= 4 and _SLUG.fullmatch(ident) and _is_slug_of_text(ident, node):
        ident = ""
    return f"{attrs.get('class') or ''} {ident}"


#: An id of five or more hyphenated words: either a machine name ('block-views-block-
#: related-articles') or an anchor made from the block's own heading.
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){4,}")
_TOKEN = re.compile(r"[^\W_]+")


def _is_slug_of_text(ident: str, node: LexborNode) -> bool:
    """The id spells the block's opening words ('zendaya-promoted-dune-part-two-…' over a
    slide titled 'Zendaya promoted "Dune: Part Two"…'): its words say what the block is
    about, not what it is for ('promoted', 'shared' are no verdict on it)."""
    words = [w for w in ident.split("-") if len(w) > 1][:3]
    opening = " ".join(_TOKEN.findall(node.text_lexbor()[:400].lower()))
    return len(words) == 3 and " ".join(words) in opening


@lru_cache(maxsize=32768)
def _hints(words: str) -> tuple[bool, bool, bool]:
    """(negative, strong negative, positive) for a class/id string; pages repeat them."""
    if not words.strip():
        return False, False, False
    # WordPress tags the post wrapper with its taxonomy ('tag-sharing', 'category-social'):
    # those classes describe the story's topic, not the container's role.
    words = words.lower()
    own = words
    if _TAXONOMY.search(words):
        own = " ".join(w for w in words.split() if not w.startswith(_TAXONOMY_CLASSES))
    return (has_negative_word(own), has_fragment(own, STRONG_NEGATIVE_FRAGMENTS),
            has_fragment(words, POSITIVE_FRAGMENTS))


def _class_weight(node: LexborNode) -> float:
    """Multiplier from class/id words: hints, not verdicts, so they scale the text score."""
    negative, _, positive = _hints(_attr_text(node))
    weight = 1.0
    if negative:
        weight *= 0.6
    if positive:
        weight *= 1.3
    return weight


def _link_density(node: LexborNode, text_len: int) -> float:
    if text_len == 0:
        return 1.0
    if text_len < 1500:
        # A paragraph's few descendants are walked in half the time a query takes: each
        # query parses its selector anew.
        links = sum(len(a.text_lexbor()) for a in node.traverse() if a.tag_id == _A_ID)
    else:
        links = sum(len(a.text_lexbor()) for a in node.css("a"))
    return min(1.0, links / text_len)


#: The three kinds of text block in one selector: each whole-document query costs about a
#: tenth of a millisecond however little it matches (one query: 0.22 ms, three: 0.48 ms).
_BLOCKS_SELECTOR = f"{_SCORED_SELECTOR}, {_LEAF_DIV_SELECTOR}, br"


_CELLS = frozenset({"td", "th"})


def _paragraph_nodes(root: LexborNode, leaf_divs: set[int], broken: set[int]
                     ) -> list[tuple[LexborNode, str, str, int]]:
    """Text-bearing blocks as (node, tag, raw text, length without whitespace): <p>, <pre>,
    cells, leaf list items, bare-text <div>s, and elements whose own text is split by <br>."""
    scored: list[tuple[LexborNode, str]] = []
    divs: list[LexborNode] = []
    breaks: list[LexborNode] = []
    for node in root.css(_BLOCKS_SELECTOR):
        tag = node.tag
        if tag == "div":
            divs.append(node)
        elif tag == "br":
            breaks.append(node)
        else:
            scored.append((node, tag))
    found: list[tuple[LexborNode, str, str, int]] = []
    seen: set[int] = set()
    # (_tlen written out: a call per block costs more than its two counts on most blocks;
    # a text shorter than the least size needs no counting.)
    for node, tag in scored:
        if tag in _CELLS and _first_inside(node, _TABLE_ID, "table") is not None:
            continue  # a layout cell: its text is its inner cells' (nested 20,000 deep: 5 s)
        text = node.text_lexbor()
        if len(text) < 20:
            continue
        size = len(text) - text.count(" ") - text.count("\n")
        if size >= 20:
            found.append((node, tag, text, size))
            seen.add(node.mem_id)
    # Paragraphs written as bare <div>s (no block inside), as many React sites do.
    for node in divs:
        leaf_divs.add(node.mem_id)
        text = node.text_lexbor()
        if len(text) < 42:
            continue
        size = len(text) - text.count(" ") - text.count("\n")
        if size >= 42 and node.mem_id not in seen and _link_density(node, size) < 0.5:
            found.append((node, "div", text, size))
            seen.add(node.mem_id)
    for br in breaks:
        parent = br.parent
        if parent is None:
            continue
        # Lines split by <br> (and by a <br> inside an inline tag): read whole, they would glue.
        broken.add(parent.mem_id)
        if parent.parent is not None:
            broken.add(parent.parent.mem_id)
        if parent.mem_id in seen:
            continue
        seen.add(parent.mem_id)
        tag = parent.tag
        if tag in ("p", "td", "pre", "li", "blockquote"):
            continue
        own = " ".join(c.text_content or "" for c in parent.iter(include_text=True)
                       if c.tag == "-text")
        size = _tlen(own)
        if size >= 20:
            found.append((parent, tag, own, size))
    return found


#: A chain of ancestors as linked cells: (id, node, the cell of its parent or None at <body>).
Chain = tuple[int, LexborNode, "Chain | None"]


def _chain(node: LexborNode, chains: dict[int, Chain], linked: dict[int, bool]
           ) -> Chain | None:
    """The chain from ``node`` up to <body>, memoised: sibling paragraphs share ancestors,
    and each step up the tree costs a Python object. A cell shares its parent's cell, so a
    page nested n deep costs n cells (a list per ancestor cost n²/2 entries: 1 GB at 16,000
    levels). ``linked`` gets, for each cell made, whether its node is a link or inside one
    (from its parent's cell: each cell is looked at once per page, however deep the page)."""
    path: list[tuple[int, LexborNode]] = []
    current: LexborNode | None = node
    tail: Chain | None = None
    while current is not None:
        key = current.mem_id
        cached = chains.get(key)
        if cached is not None:
            tail = cached
            break
        if current.tag in ("html", "-undef", "-document", None):
            break
        path.append((key, current))
        current = current.parent
    inside = tail is not None and linked[tail[0]]
    for key, ancestor in reversed(path):
        inside = inside or ancestor.tag_id == _A_ID
        linked[key] = inside
        tail = chains[key] = (key, ancestor, tail)
    return tail


def _links(chain: Chain | None) -> Iterator[tuple[int, LexborNode]]:
    """(id, node) of each ancestor in a chain, nearest first."""
    while chain is not None:
        key, node, chain = chain
        yield key, node


def _is_linked_title(node: LexborNode) -> bool:
    """A short title that is one link to another page (not an anchor within this one): a
    link, a heading holding one, or a block that opens with one."""
    tag_id = node.tag_id
    if tag_id == _A_ID:
        link: LexborNode | None = node
    elif tag_id in _HEADING_IDS:
        link = _first_inside(node, _A_ID, "a")
    elif tag_id in _TITLE_BLOCK_IDS:
        link = node.child  # (a block's first node: a query would walk a whole wrapper)
        while link is not None and link.tag_id == _TEXT_ID and not (
                link.text_content or "").strip():
            link = link.next
        if link is None or link.tag_id != _A_ID:
            return False
    else:
        return False
    if link is None or (link.attrs.get("href") or "#").startswith("#"):
        return False
    size = _tlen(node.text_lexbor())
    return 0 < size <= 200 and _tlen(link.text_lexbor()) == size


def _card_summaries(parent: LexborNode) -> tuple[set[int], int]:
    """The children of ``parent`` that are teaser cards' summaries (a block right after a
    title that is one link to another page, ending its card or followed by the next card's
    title; a story paragraph after an inline link to a related story is followed by more
    story), and how many children it has. Read once per parent: a story's paragraphs
    share one."""
    children = list(parent.iter())
    count = len(children)
    found: set[int] = set()
    titles = _TITLE_IDS
    # (Tag tests before the calls: most blocks follow a paragraph.)
    for i in range(1, count):
        if children[i].tag_id in _SUMMARY_IDS and children[i - 1].tag_id in titles and (
                _is_linked_title(children[i - 1])) and (
                i == count - 1 or (children[i + 1].tag_id in titles
                                   and _is_linked_title(children[i + 1]))):
            found.add(children[i].mem_id)
    return found, count


def _under_linked_title(node: LexborNode, cards: dict[int, tuple[set[int], int]]) -> bool:
    """A teaser card's summary (_card_summaries), or the only block in one ('<div
    class="title"><a>…</a></div><div class="body"><p>…</p></div>'). A column of such cards
    with long summaries out-scored short stories. ``cards`` memoises _card_summaries per
    parent."""
    current = node
    for _ in range(2):
        parent = current.parent
        if parent is None:
            return False
        key = parent.mem_id
        found = cards.get(key)
        if found is None:
            found = cards[key] = _card_summaries(parent)
        if current.mem_id in found[0]:
            return True
        if found[1] != 1:
            return False  # not alone in its parent: no card of its own
        current = parent
    return False


def _best_container(root: LexborNode, leaf_divs: set[int], sizes: dict[int, int],
                    broken: set[int], h1s: list[LexborNode], title: str | None
                    ) -> tuple[list[LexborNode], bool]:
    """The highest-scoring container and its siblings that score alike, in page order,
    and whether they are the story that ``title`` (the page's title) names among whole
    stories printed alike, under a headline of its own: the page's <h1> (``h1s`` are the
    <h1> elements under ``root``) then heads the list, not the story."""
    scores: dict[int, list] = {}
    chains: dict[int, Chain] = {}
    # Story text per parent, credited up the parent's chain once at the end: a story's
    # paragraphs mostly share one parent.
    by_parent: dict[int, list] = {}
    # Ancestors that are or sit inside a link: a teaser card's text (<a><h3/><p/></a>) is
    # link text, however long, and scores for no container.
    linked: dict[int, bool] = {}
    # Teaser cards' summaries per parent (_card_summaries).
    cards: dict[int, tuple[set[int], int]] = {}
    # The score entries of each parent's five nearest ancestors (made in the order the
    # parent's first paragraph credits them), with their divisors: a story's paragraphs
    # mostly share one parent.
    levels: dict[int, list[tuple[list, int]]] = {}
    for node, tag, text, size in _paragraph_nodes(root, leaf_divs, broken):
        parent = node.parent
        if parent is None or node.tag_id == _A_ID:
            continue
        # (The five nearest get a score; a chain may be shorter.)
        chain = _chain(parent, chains, linked)
        if chain is not None and linked[chain[0]]:
            continue
        # Readability-style score for the nearest five ancestors...
        score = (1 + text.count(",") + text.count("،") + text.count("，") + text.count("、")
                 + min(size // 85, 3))
        if tag in ("li", "td", "h2", "h3"):
            score *= 0.5  # list items and cells are story text only in bulk
        # ...and, for story-like paragraphs, their length credited to every ancestor.
        density = _link_density(node, size) if size >= 68 and tag in _MASS_TAGS else 1.0
        story = density <= 0.25
        # A teaser card's summary that links on to its story ('… Click here to see the
        # ranking') scores for no container. (Only linking ones are tested: testing every
        # story paragraph cost 1% of a page for +0.0001 / +0.0004 on the shared sets.)
        if story and density > 0 and tag in ("p", "div") and _under_linked_title(node, cards):
            continue
        if parent.tag_id == _LI_ID:
            score *= 0.5  # a teaser's summary in a list of links
        parent_key = parent.mem_id
        credited = levels.get(parent_key)
        if credited is None:
            credited = levels[parent_key] = []
            for (key, ancestor), divisor in zip(_links(chain), _LEVEL_DIVISORS, strict=False):
                entry = scores.get(key)
                if entry is None:
                    entry = scores[key] = [ancestor, 0.0]
                credited.append((entry, divisor))
        for entry, divisor in credited:
            entry[1] += score / divisor
        if story:
            credit = by_parent.get(parent_key)
            if credit is None:
                by_parent[parent_key] = [chain, size]
            else:
                credit[1] += size
    if not scores:
        return [], False
    # Each story parent's text, summed up its chain: a cell comes after its parent's in
    # ``chains``, so walking it backwards passes every child's sum on before its parent's
    # own (one step per ancestor, not one per ancestor and paragraph: that was minutes on
    # a page of story blocks nested 8,000 deep).
    mass = {chain[0]: size for chain, size in by_parent.values() if chain is not None}
    for key, cell in reversed(chains.items()):
        total, parent = mass.get(key), cell[2]
        if total and parent is not None:
            mass[parent[0]] = mass.get(parent[0], 0) + total
    # Class hints scale a score by at most 1.3 / 0.6, so only the leaders can change places.
    leaders = sorted(scores.values(), key=lambda e: e[1], reverse=True)[:40]
    unweighted = {id(entry) for entry in leaders}
    weighted: list[list] = []
    for entry in leaders:
        if len(weighted) >= 6 and entry[1] * 1.3 <= weighted[5][1]:
            break  # even the best class hint cannot lift it into the six
        entry[1] *= _class_weight(entry[0])
        unweighted.discard(id(entry))
        weighted.append(entry)
        weighted.sort(key=lambda e: e[1], reverse=True)
    ranked = weighted[:6]
    best, best_score = None, 0.0
    finals: list[tuple[LexborNode, float]] = []
    for node, score in ranked:
        if score < 0.75 * best_score:
            continue  # can neither win nor count as the winner's peer
        text_len = _text_size(node, sizes)
        final = score * (1 - _link_density(node, text_len))
        if node.tag != "body" and (_hints(_attr_text(node))[1] or _in_strong_negative(node)
                                   or _in_form(node)):
            final *= 0.3
        if node.tag in ("ul", "ol"):
            final *= 0.5  # teaser lists; a story told in one list is rare
        if text_len < _CONTACT_BLOCK_MAX and _is_contact_block(node):
            final *= 0.3
        finals.append((node, final))
        if final > best_score:
            best, best_score = node, final
    if best is None:
        return [], False
    apart = _rival_apart(best, [node for node, final in finals if final >= 0.5 * best_score])
    item, titled = None, False
    if apart:
        def story_mass(node: LexborNode) -> int:
            return mass.get(node.mem_id, 0)

        item = _own_story_item(best, h1s, story_mass)
        if item is None:
            item = _titled_story_item(best, story_mass, title)
            titled = item is not None
    under = _under_the_headline(best, weighted, h1s) if len(h1s) >= 2 and item is None else None
    if item is not None:
        # The page repeats its article template for the next stories (endless scroll):
        # the copy under the page's headline bounds the story.
        if not _inside(best, item):
            best, best_score = next(((n, f) for n, f in finals if _inside(n, item)),
                                    (item, best_score))
        best = _common_ancestor_of_peers(best, best_score,
                                         [(n, f) for n, f in finals if _inside(n, item)])
        best = _climb(best, mass, sizes, bound=item)
        if best.mem_id == item.mem_id:
            return [best], titled
    elif under is not None:
        # Its peers and wider wrappers hold the other stories too: the story's own
        # <article> bounds it.
        best, best_score = under
        best = _climb(best, mass, sizes, story_bound=True)
    else:
        best = _common_ancestor_of_peers(best, best_score, finals)
        best = _climb(best, mass, sizes)
    parent = best.parent
    if parent is None or best.tag == "body":
        return [best], titled
    threshold = max(10.0, best_score * 0.2)
    group = []
    before = True
    for sibling in parent.iter():
        if sibling.mem_id == best.mem_id:
            group.append(sibling)
            before = False
            continue
        if before and group == [] and _is_lead_block(sibling):
            group.append(sibling)
            continue
        entry = scores.get(sibling.mem_id)
        if entry is not None and id(entry) in unweighted:
            entry[1] *= _class_weight(entry[0])
            unweighted.discard(id(entry))
        if sibling.tag == "article" and sibling.css_first("h1") is not None:
            continue  # another story, under its own headline
        if entry is not None and entry[1] >= threshold and not _hints(_attr_text(sibling))[1]:
            text_len = _text_size(sibling, sizes)
            if _link_density(sibling, text_len) < 0.25:
                group.append(sibling)
        elif sibling.tag == "p":
            text = _norm(sibling.text_lexbor())
            if len(text) > 80 and _link_density(sibling, len(text)) < 0.25:
                group.append(sibling)
    return group, titled


#: What a publisher's imprint or address block states besides an e-mail address and a
#: copyright notice: a phone or fax number, a company or tax registration.
_PHONE = re.compile(r"\+\d{1,3}[\s(]*\d[\d\s()/.-]{6,}|\b(?:tel|phone|telephone|telefon|fon|"
                    r"fax|telefax|téléphone|teléfono|telefono)\b\.?\s*:?\s*\+?\(?\d")
_REGISTRATION = re.compile(
    r"\b(?:company (?:number|no|registration)|registered (?:in|office|number)|"
    r"vat (?:number|no|reg)|hr[ab]\s*\d|ust-?id|amtsgericht|handelsregister|registergericht|"
    r"siret|siren|rcs|p\.?\s?iva|partita iva|kvk|abn|cnpj|iban)\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}")
_RIGHTS_MARKS = ("©", "copyright", "all rights reserved", "alle rechte vorbehalten",
                 "tous droits réservés", "todos los derechos reservados")
#: Characters above which a block is no imprint: a story may quote a phone number or end
#: with its rights notice.
_CONTACT_BLOCK_MAX = 2000


def _is_contact_block(node: LexborNode) -> bool:
    """A publisher's address and imprint block (company and registration number, street,
    phone, copyright): its comma-separated lines out-score a short story of a few plain
    paragraphs, but it states three kinds of contact data (phone, e-mail, registration,
    copyright), which no short story does. (The two substring tests first: most blocks
    fail both, and then three kinds cannot be reached.)"""
    # (Lower-cased once: case-blind regexes over a block cost fifty times the substring
    # tests.)
    text = node.text_lexbor().lower()
    kinds = ("@" in text and _EMAIL.search(text) is not None) + any(
        mark in text for mark in _RIGHTS_MARKS)
    if kinds == 0:
        return False
    kinds += _PHONE.search(text) is not None
    return kinds + (_REGISTRATION.search(text) is not None) >= 3


def _story_headline(node: LexborNode) -> LexborNode | None:
    """The <h1> over a block when an <article> holds both: the first one in the nearest
    ancestor (or the block itself) holding an <h1>, if that ancestor is an <article>."""
    current: LexborNode | None = node
    for _ in range(16):
        if current is None or current.tag in ("html", "-undef", None):
            return None
        found = current.css_first("h1")
        if found is not None:
            return found if current.tag == "article" else None
        current = current.parent
    return None


def _under_the_headline(best: LexborNode, ranked: list[list], h1s: list[LexborNode]
                        ) -> tuple[LexborNode, float] | None:
    """Endless-scroll pages print the next stories, each under its own <h1>, below the
    first: a winner under another story's headline than the page's gives way to the best
    candidate under the page's own (None when the winner is under it, or nothing is)."""
    page = next((h for h in h1s if _is_headline(h)), None)
    own = _story_headline(best)
    if page is None or own is None or own.mem_id == page.mem_id:
        return None
    for node, score in ranked:
        if node.tag in ("body", "html"):
            continue
        found = _story_headline(node)
        if found is not None and found.mem_id == page.mem_id and not _inside(own, node):
            return node, score
    return None


#: What opens a story in an article template besides its headline: a date or a byline.
_STORY_MARK = "time, [class*=byline], [class*=date], [class*=author]"
#: Siblings looked at for copies of the story's template (a river of teasers may hold
#: hundreds).
_MAX_TEMPLATE_SIBLINGS = 60


def _own_story_item(best: LexborNode, h1s: list[LexborNode],
                    weight: Callable[[LexborNode], int]) -> LexborNode | None:
    """The copy of a repeated article template that holds the page's headline, when the
    winner is in one of the copies: endless-scroll pages print the next stories below the
    first in the same template, and the copies score alike. None on other pages.
    ``weight`` is a block's story text."""
    page = next((h for h in h1s if _is_headline(h)), None)
    if page is None:
        return None
    headed = set(_ancestors(page))
    node = best
    tried = 0
    for _ in range(12):
        parent = node.parent
        if parent is None or parent.tag in ("body", "html", "-undef", None):
            return None
        # (Below the nearest block holding both, no copy holds both; the copies are that
        # block's children or a few levels above, never far up the page.)
        if parent.mem_id in headed:
            own = next((c for c in _story_copies(node, parent, weight)
                        if c.mem_id in headed), None)
            if own is not None:
                return own
            tried += 1
            if tried == 3:
                return None
        node = parent
    return None


#: Shortest headline matched against the page's title: shorter ones ('News', 'Sport') name
#: sections as often as stories.
_MIN_TITLE_MATCH = 15


def _titled_story_item(best: LexborNode, weight: Callable[[LexborNode], int],
                       title: str | None) -> LexborNode | None:
    """The copy of a repeated article template around ``best`` whose headline is the page's
    ``title`` (either may carry more words: a kicker, the site's name), when ``best`` is in
    one of the copies: a page whose <h1> heads no copy (a section's name over a list of
    whole stories, _own_story_item finds none) names its own story so."""
    if len(_norm(title or "")) < _MIN_TITLE_MATCH:
        return None
    node = best
    for _ in range(8):
        parent = node.parent
        if parent is None or parent.tag in ("body", "html", "-undef", None):
            return None
        copies = _story_copies(node, parent, weight)
        if copies:
            for copy in copies:
                heading = copy.css_first("h1, h2")
                if heading is not None and _names_title(heading.text_lexbor(), title):
                    return copy
            return None
        node = parent
    return None


def _names_title(headline: str, title: str | None) -> bool:
    """Whether ``headline`` is the page's ``title``, either with more words (a kicker, the
    site's name)."""
    text, key = _norm(headline).casefold(), _norm(title or "").casefold()
    return (len(text) >= _MIN_TITLE_MATCH and len(key) >= _MIN_TITLE_MATCH
            and (text in key or key in text))


def _rival_apart(best: LexborNode, rivals: list[LexborNode]) -> bool:
    """Whether a rival block is neither inside ``best`` nor holding it (each rival's walk
    up stops where it meets ``best`` or one of its ancestors)."""
    above = set(_ancestors(best))
    key = best.mem_id
    for rival in rivals:
        if rival.mem_id == key or rival.mem_id in above:
            continue
        current = rival.parent
        while current is not None and current.mem_id != key and current.mem_id not in above:
            current = current.parent
        if current is not None and current.mem_id != key:
            return True
    return False


def _story_copies(node: LexborNode, parent: LexborNode, weight: Callable[[LexborNode], int]
                  ) -> list[LexborNode]:
    """``node`` and its siblings of the same tag and class that each hold a story: story
    text (a fifth of the largest one's at least), an <h1>/<h2> headline before it, and a
    date or a byline. Empty unless there are two. (Rows of a page builder share a class too, but the
    row holding the headline holds no story text.)"""
    tag_id, cls = node.tag_id, node.attrs.get("class")
    same = [child for child in islice(parent.iter(), _MAX_TEMPLATE_SIBLINGS)
            if child.tag_id == tag_id and child.attrs.get("class") == cls]
    if len(same) < 2:
        return []
    most = max(weight(c) for c in same)
    copies = [c for c in same if most and weight(c) >= 0.2 * most and _headed(c)
              and c.css_first(_STORY_MARK) is not None]
    return copies if len(copies) >= 2 else []


def _headed(node: LexborNode) -> bool:
    """An <h1>/<h2> opens the block's text, before any paragraph: a story's headline, not
    a subheading inside a story (or a section) that opens with a paragraph."""
    first = node.css_first("h1, h2, p")
    return first is not None and first.tag != "p"


def _in_template_copy(node: LexborNode, wider: LexborNode, sizes: dict[int, int]) -> bool:
    """Whether ``node``, or an ancestor of it below ``wider``, is one copy of a repeated
    article template (_story_copies): a wider element holding it holds the next stories
    too, however short this one is."""
    current: LexborNode | None = node
    for _ in range(10):
        if current is None or current.mem_id == wider.mem_id or current.parent is None:
            return False
        copies = _story_copies(current, current.parent, lambda n: _text_size(n, sizes))
        if any(c.mem_id == current.mem_id for c in copies):
            return True
        current = current.parent
    return False


def _is_lead_block(node: LexborNode) -> bool:
    """The standfirst printed just before the story's block, as its sibling: a short block
    named as the lead ('teaser-text', 'article-intro') with little link text."""
    if node.tag not in ("div", "p", "section", "header"):
        return False
    if LEAD_CLASS.search(_attr_text(node).lower()) is None:
        return False
    text = _norm(node.text_lexbor())
    return 40 <= len(text) <= 1000 and text.count(" ") >= 6 and _link_density(
        node, len(text)) < 0.2


def _in_form(node: LexborNode) -> bool:
    """The block is, or is inside, a form that is not the page's wrapper (ASP.NET wraps the
    whole page in one): a comment, sign-up or search form, whose notices can out-text a
    short story once its fields are gone."""
    current: LexborNode | None = node
    while current is not None and current.tag not in ("body", "html", "-undef", None):
        if current.tag == "form":
            return current.css_first("h1") is None
        current = current.parent
    return False


def _in_strong_negative(node: LexborNode) -> bool:
    """An ancestor is named as comments, sharing or promotion and not also as the story: a
    block inside a comment thread or a share dialog is not the story, however long."""
    current = node.parent
    while current is not None and current.tag not in ("body", "html", "-undef", None):
        _, strong, positive = _hints(_attr_text(current))
        if strong and not positive:
            return True
        current = current.parent
    return False


def _climb(best: LexborNode, mass: dict[int, int], sizes: dict[int, int],
           story_bound: bool = False, bound: LexborNode | None = None) -> LexborNode:
    """Widen the winner while an ancestor adds story-like text without diluting it: bodies
    split into blocks by ads, pull quotes or per-paragraph wrappers. Wrappers that add
    nothing are passed through without being taken. <main> ends the climb, and with
    ``story_bound`` any <article> does (the page holds other stories beside this one)."""
    own = mass.get(best.mem_id, 0)
    if own == 0:
        return best
    density = own / max(1, _text_size(best, sizes))
    page_mass = max(mass.values())
    node, probe = best, best
    for _ in range(12):  # page builders nest a dozen wrappers between story blocks
        if probe.tag == "article" and (story_bound
                                       or mass.get(probe.mem_id, 0) >= 0.5 * page_mass):
            # The page marked the story's bounds; beyond are teasers and promos. (An
            # <article> with a small share of the page's story text is a card or a quote.)
            break
        if probe.tag == "main":
            break  # the page's own bound of its content: beyond are its menus and sidebars
        if bound is not None and probe.mem_id == bound.mem_id:
            break
        probe = probe.parent
        if probe is None or probe.tag in ("body", "html", "-undef", None):
            break
        if _hints(_attr_text(probe))[1]:
            break
        gained = mass.get(probe.mem_id, 0)
        if gained == own:
            continue
        if gained < 1.15 * own:
            break
        if gained / max(1, _text_size(probe, sizes)) < min(0.6 * density, _CLIMB_DENSITY):
            break
        node, own = probe, gained
    return node


def _ancestors(node: LexborNode) -> list[int]:
    out = []
    parent = node.parent
    while parent is not None and parent.tag not in ("html", "-undef", None):
        out.append(parent.mem_id)
        parent = parent.parent
    return out


def _common_ancestor_of_peers(best: LexborNode, best_score: float,
                              finals: list[tuple[LexborNode, float]]) -> LexborNode:
    """When the story is split over sibling blocks (one wrapper per paragraph, or text
    interrupted by ads), several near-equal candidates share an ancestor: climb to it.
    A wrapper of the winner that scores near it (the winner's paragraphs count half or
    less in a wrapper's score) holds more of the story beside it: the winner is one part
    (a tab pane, one section of a page whose lines are too short to count as story text)."""
    peers = [n for n, f in finals if n.mem_id != best.mem_id and f >= 0.75 * best_score]
    if len(peers) >= 2:
        peer_chains = [set(_ancestors(p)) | {p.mem_id} for p in peers]
        node = best.parent
        while node is not None and node.tag not in ("html", "body", "-undef", None):
            if sum(node.mem_id in chain for chain in peer_chains) >= 2:
                return node
            node = node.parent
    return next((p for p in peers if p.tag != "body" and _inside(best, p)), best)


def _substantive(node: LexborNode, text_len: int) -> bool:
    """Story text under a misleading class name: page builders call every block a
    'widget'. Two real paragraphs, or one when links are a small part of the block."""
    needed = 1 if _link_density(node, text_len) < 0.15 else 2
    count = 0
    for p in node.css("p"):
        text = _norm(p.text_lexbor())
        if len(text) >= 100 and _link_density(p, len(text)) < 0.3:
            count += 1
            if count >= needed:
                return True
    return False


def _is_boilerplate_node(node: LexborNode, container_len: int) -> bool:
    negative, strong, positive = _hints(_attr_text(node))
    # A strong fragment inside a longer word ('MtnCommentText', 'wp-block-query') marks a
    # container too; on a heading it is usually a slug of the heading's own words.
    if not (negative or (strong and node.tag in _CONTAINERS)) or (positive and not strong):
        return False
    # A negative word on a wrapper holding most of the story is a misleading class name.
    text_len = _tlen(node.text_lexbor())
    if text_len >= 0.6 * container_len:
        return False
    return strong or not _substantive(node, text_len)


class _Collector:
    """Accumulates inline text into paragraphs while walking a container (the walk appends
    the text to ``parts`` and counts ``link_chars`` itself)."""

    def __init__(self) -> None:
        self.paragraphs: list[tuple[str, float, str]] = []  # text, link density, tag
        self.parts: list[str] = []
        self.link_chars = 0

    def flush(self, tag: str = "div") -> None:
        if not self.parts:
            return  # most closing tags end nothing: their blocks were read whole
        text = _norm("".join(self.parts))
        if text:
            self.paragraphs.append((text, self.link_chars / len(text), tag))
        self.parts.clear()  # in place: the walk holds the list
        self.link_chars = 0


def _lines_text(node: LexborNode) -> str:
    """A block's text with a space for each <br>: its lines stay apart ('Click here' and
    'Pages 1-76' do not become 'Click herePages 1-76')."""
    return "".join(" " if child.tag_id == _BR_ID else (child.text_content or "")
                   for child in node.traverse(include_text=True)
                   if child.tag_id in (_TEXT_ID, _BR_ID))


def _outermost(nodes: list[LexborNode]) -> list[LexborNode]:
    """The nodes not inside another one of them, each once."""
    ids = {n.mem_id for n in nodes}
    taken: set[int] = set()
    out = []
    for node in nodes:
        if node.mem_id in taken:
            continue  # listed twice
        parent = node.parent
        while parent is not None and parent.mem_id not in ids:
            parent = parent.parent
        if parent is None:
            out.append(node)
            taken.add(node.mem_id)
    return out


def _link_chars(containers: list[LexborNode]) -> dict[int, int]:
    """Characters of link text (whitespace not counted) under every node of the containers
    that has a link: one query per container instead of one per paragraph (each query
    parses its selector anew)."""
    chars: dict[int, int] = {}
    # Each link's size goes to its parent, and each parent's up its path to the container
    # once, summed: a nav list's links share their ancestors (one step per ancestor, not
    # one per ancestor and link). ``above`` gets a node's parent key after the parent's own.
    above: dict[int, int] = {}
    for container in _outermost(containers):
        top = container.mem_id
        for a in container.css("a"):
            if a.mem_id == top:
                continue
            size = _tlen(a.text_lexbor())
            node = a.parent if size else None
            if node is None:
                continue
            key = node.mem_id
            chars[key] = chars.get(key, 0) + size
            path = []
            while key != top and key not in above:
                node = node.parent
                path.append((key, node.mem_id))
                key = node.mem_id
            above.update(reversed(path))
    for key, parent in reversed(above.items()):
        total = chars.get(key)
        if total:
            chars[parent] = chars.get(parent, 0) + total
    return chars


def _walk(containers: list[LexborNode], leaf_divs: set[int], sizes: dict[int, int],
          broken: set[int] = frozenset()) -> list[tuple[str, float, str]]:
    total = sum(_text_size(c, sizes) for c in containers)
    links = _link_chars(containers)
    # Queried when the walk meets its first list item or definition: many stories have none.
    nesting: set[int] | None = None
    out = _Collector()
    # The collector's hot paths inline (adding text, flushing nothing): most nodes are
    # text and most flushes end nothing.
    parts = out.parts
    # Stack entries: (node, in_link, closing_tag); closing entries flush the paragraph.
    stack: list[tuple[LexborNode | None, bool, str | None]] = [
        (c, False, None) for c in reversed(containers)]
    while stack:
        node, in_link, closing = stack.pop()
        if node is None:
            if parts:
                out.flush(closing or "div")
            continue
        # Tag numbers, not names: a name is a new string per node, and most nodes are text
        # and inline elements that only need telling apart.
        tag_id = node.tag_id
        if tag_id == _TEXT_ID:
            text = node.text_content or ""
            # Whitespace opening a paragraph adds nothing to it: left out, the indentation
            # between blocks leaves no flush to do (about 20 a page).
            if parts or (text and not text.isspace()):
                parts.append(text)
                if in_link:
                    out.link_chars += len(text.strip())
            continue
        if tag_id in _SKIPPED_IDS:
            continue  # comments; the title, reported separately
        if tag_id == _BR_ID:
            out.flush("p")
            continue
        if tag_id == _TABLE_ID and _is_data_table(node):
            if not _is_boilerplate_node(node, total):
                out.flush()
                out.paragraphs.extend(_table_rows(node, links))
            continue
        if tag_id in _BLOCK_IDS:
            if _is_boilerplate_node(node, total):
                continue
            if parts:
                out.flush()
            tag = node.tag or "div"
            key = node.mem_id
            # A blockquote is always walked into: it holds paragraphs or a single quote.
            if nesting is None and tag_id in _ITEM_IDS:
                nesting = {n.mem_id for c in containers for n in c.css(_NESTING_ITEMS)}
            leaf = (tag in _LEAF_BLOCKS and tag != "blockquote"
                    and (nesting is None or key not in nesting)) or key in leaf_divs
            if leaf:
                text = _norm(_lines_text(node) if key in broken else node.text_lexbor())
                if text:
                    # A block inside a link (a teaser card: <a><h3>…</h3><p>…</p></a>)
                    # is link text whole, though no link is inside it.
                    share = 1.0 if in_link else links.get(key, 0) / len(text)
                    if len(text) <= 80 and share < 0.5 and is_teaser_heading(text):
                        # (A linked one, 'Read more: <a>title</a>', is one inline teaser.)
                        _skip_siblings(stack, node)
                        _skip_after_heading_wrapper(stack, node)
                        continue
                    out.paragraphs.append((text, share, tag))
                continue
            stack.append((None, in_link, tag))
        link = in_link or tag_id == _A_ID
        stack.extend([(child, link, None) for child in node.iter(include_text=True)][::-1])
    out.flush()
    return out.paragraphs


#: Blocks inside a cell that make a table a page layout rather than data (one paragraph a
#: cell is how AsciiDoc and some editors write data cells).
_LAYOUT_IN_TABLE = "p + p, div, ul, ol, h2, h3, h4, h5, h6, blockquote, pre, tr table"


def _is_data_table(table: LexborNode) -> bool:
    """Cells of plain text (a ranking, a schedule, a price list), not a layout grid."""
    return table.css_first(_LAYOUT_IN_TABLE) is None


def _table_rows(table: LexborNode, links: dict[int, int]) -> list[tuple[str, float, str]]:
    """A data table read row by row, cells joined by ' | ': read cell by cell, its short
    cells ('1', 'N/A', '3.6') would be dropped as repeats and lose their row."""
    rows: list[tuple[str, float, str]] = []
    for row in table.css("caption, tr"):
        if row.tag == "caption":
            text = _norm(row.text_lexbor())
        else:
            text = " | ".join(cell for cell in (_norm(c.text_lexbor()) for c in row.iter()
                                               if c.tag in ("td", "th")) if cell)
        if text:
            rows.append((text, links.get(row.mem_id, 0) / len(text), "tr"))
    return rows


def _skip_siblings(stack: list[tuple[LexborNode | None, bool, str | None]],
                   node: LexborNode) -> None:
    """Drop the walk's pending siblings of ``node``: the rest of its block."""
    parent = node.parent
    if parent is None:
        return
    key = parent.mem_id
    while stack:
        pending = stack[-1][0]
        if pending is None or pending.parent is None or pending.parent.mem_id != key:
            return
        stack.pop()


def _skip_after_heading_wrapper(stack: list[tuple[LexborNode | None, bool, str | None]],
                                node: LexborNode) -> None:
    """A teaser heading alone in its wrapper ('<div class="section-head"><h2>More
    stories</h2></div>', '<header><h2>Read next</h2></header>') heads the blocks after the
    wrapper: drop the walk's pending siblings of that wrapper too (up to two wrappers)."""
    wrapper = node
    for _ in range(2):
        parent = wrapper.parent
        # (Alone: nothing beside it but blank text. Comparing the parent's text instead
        # serialised the whole story when a heading sat in the story's own block.)
        if (parent is None or parent.tag_id in _STOP_IDS or _beside(wrapper, before=True)
                or _beside(wrapper, before=False)):
            return
        # The wrapper's closing entry is next on the stack (its other children are gone).
        if not stack or stack[-1][0] is not None:
            return
        stack.pop()
        wrapper = parent
        _skip_siblings(stack, wrapper)


def _beside(node: LexborNode, before: bool) -> bool:
    """Whether an element or printed text lies before (or after) ``node`` in its parent."""
    sibling = node.prev if before else node.next
    while sibling is not None:
        if sibling.tag_id != _COMMENT_ID and (sibling.tag_id != _TEXT_ID
                                              or (sibling.text_content or "").strip()):
            return True
        sibling = sibling.prev if before else sibling.next
    return False


#: Real streaming pages have tens of parts; a hostile one gets no more than this many moved.
_MAX_STREAMED_PARTS = 500


def streamed_placeholders(tree: LexborHTMLParser) -> dict[str | None, LexborNode]:
    """The page's placeholders for streamed parts (``<template id="B:…">``), by id. (Read
    from the document's <template>s: a tag lookup walks the tree at a third of the cost of
    the query ``template[id^="B:"]``.)"""
    return {node.id: node for node in tree.tags("template")
            if (node.id or "").startswith("B:")}


def place_streamed_parts(root: LexborNode, holders: dict[str | None, LexborNode]) -> None:
    """Put the parts a React server streamed late back where they belong. Streaming pages
    (Next.js app router) print a placeholder (``<template id="B:1f">`` and a "Loading…"
    fallback up to the ``<!--/$-->`` comment) and, at the end of the body, the rendered part
    in ``<div hidden id="S:1f">``, which a script moves into place: without it, the story is
    a row of hidden blocks in arrival order. (A placeholder inside a part not yet placed is
    filled all the same: the part carries it along when its turn comes.) Nothing is removed
    until every part has moved: a fallback may hold the placeholder of a later part.
    ``holders`` are the page's placeholders (``streamed_placeholders``)."""
    emptied: list[LexborNode] = []
    for part in root.css('div[hidden][id^="S:"]')[:_MAX_STREAMED_PARTS]:
        holder = holders.get("B:" + (part.attributes.get("id") or "")[2:])
        if holder is None or _inside(holder, part):
            continue  # no place for it, or a place inside itself (a loop, not a page)
        emptied.extend(_fallback(holder))
        for child in list(part.iter(include_text=True)):
            holder.insert_before(child, move=True)
        emptied.append(part)
    remove_nodes(emptied)


def _inside(node: LexborNode, ancestor: LexborNode, depth: int = 256) -> bool:
    """Whether ``ancestor`` holds ``node`` (assumed so beyond ``depth`` levels)."""
    key = ancestor.mem_id
    current = node.parent
    for _ in range(depth):
        if current is None:
            return False
        if current.mem_id == key:
            return True
        current = current.parent
    return True


def _fallback(holder: LexborNode) -> list[LexborNode]:
    """What a placeholder shows until its part arrives: its siblings up to the boundary's
    closing ``<!--/$-->`` (nothing when the boundary is never closed)."""
    nodes: list[LexborNode] = []
    sibling = holder.next
    while sibling is not None:
        if sibling.tag == "-comment" and sibling.comment_content == "/$":
            return nodes
        nodes.append(sibling)
        sibling = sibling.next
    return []


def remove_nodes(nodes: Iterable[LexborNode]) -> None:
    """Take nodes out of the tree, in any order. selectolax unlinks a removed subtree node by
    node without freeing it (nodes live as long as their document), so a node inside one
    already removed is merely removed again, a no-op: no containment test is needed."""
    for node in nodes:
        node.decompose()


_INTRO_SELECTOR = "h1, p, " + _LEAF_DIV_SELECTOR


def _is_headline(node: LexborNode) -> bool:
    if not node.text_lexbor().strip():
        return False
    ancestor = node.parent
    for _ in range(4):
        if ancestor is None:
            break
        if ancestor.tag in ("li", "nav"):
            return False
        ancestor = ancestor.parent
    return True


def first_h1(root: LexborNode, page_h1: LexborNode | None,
             accept: Callable[[LexborNode], bool]) -> LexborNode | None:
    """The first <h1> that ``accept`` takes, given the page's first one (``page_h1``, looked
    up once per page: each lookup walks the tree up to it). The first one usually is it;
    all of them cost a whole-tree query."""
    if page_h1 is None or accept(page_h1):
        return page_h1
    return next((node for node in root.css("h1")[1:] if accept(node)), None)


def headline(root: LexborNode, page_h1: LexborNode | None) -> LexborNode | None:
    """The story's <h1>: the first one with text that is not a logo, a menu entry or a
    breadcrumb (pages put their name or the path to the story in an <h1> too)."""
    return first_h1(root, page_h1, _is_headline)


def _intro_blocks(containers: list[LexborNode], h1s: list[LexborNode]
                  ) -> list[tuple[str, float, str]]:
    """Text printed between the headline and the story's container (intro, teaser): part
    of the story as read, though the page keeps it in the header block. ``h1s`` are the
    page's <h1> elements."""
    first = containers[0]
    if not h1s or first.tag == "body":
        return []
    h1 = h1s[0]
    headed = _holding(h1s)
    if any(c.mem_id in headed for c in containers):
        return []  # the headline is inside: the walk sees everything after it
    # The nearest of the container's ancestors (up to four levels) that holds the page's
    # first <h1>; its first <h1> is that one. (The <h1>'s ancestors are walked once; a
    # query per level would walk each level's subtree.)
    holders = set(_ancestors(h1))
    ancestor = first.parent
    for _ in range(4):
        if ancestor is None or ancestor.tag in ("html", None):
            return []
        if ancestor.mem_id in holders:
            break
        ancestor = ancestor.parent
    else:
        return []
    # The intro ends where the containers' first block is (they are siblings in page order).
    story = next((found for c in containers
                  if (found := c.css_first(_INTRO_SELECTOR)) is not None), None)
    story_start = story.mem_id if story is not None else None
    out: list[tuple[str, float, str]] = []
    after_headline = False
    for node in ancestor.css(_INTRO_SELECTOR):
        if node.mem_id == h1.mem_id:
            after_headline = True
            continue
        if node.mem_id == story_start:
            break
        if not after_headline:
            continue
        text = _norm(node.text_lexbor())
        if len(text) >= 60 and text.count(" ") >= 8 and not _hints(_attr_text(node))[0]:
            links = sum(len(a.text_lexbor().strip()) for a in node.css("a"))
            out.append((text, links / len(text), node.tag or "p"))
            if len(out) == 3:
                break
    return out


#: Picture captions and credits printed outside <figcaption> ('span.caption'); whole class
#: words only, as 'caption-s3' names a type style.
_CAPTION_SELECTOR = '[class~="caption"], [class~="credit"], [class~="credits"]'
_OVERLAY_OR_HIDDEN = OVERLAY_SELECTOR + ", " + HIDDEN_SELECTOR + ", " + _CAPTION_SELECTOR


_PROBE = LexborHTMLParser("<p><!--c-->t</p>")


def _tag_id(name: str) -> int:
    """Lexbor's number for a tag name (comparing numbers spares a string per node)."""
    return _PROBE.create_node(name).tag_id


def _tag_ids(names: Iterable[str]) -> frozenset[int]:
    return frozenset(_tag_id(name) for name in names)


#: Elements walked in Python before a query takes over: a query parses its selector anew,
#: which costs about as much as walking fifteen elements, and most figures, cells and
#: headings hold a few.
_WALK_LIMIT = 12


def _first_inside(node: LexborNode, tag_id: int, name: str) -> LexborNode | None:
    """``node.css_first(name)`` for a tag name ``name`` numbered ``tag_id``: the first
    element with that tag in page order, ``node`` itself included."""
    for count, element in enumerate(node.traverse()):
        if element.tag_id == tag_id:
            return element
        if count == _WALK_LIMIT:
            return node.css_first(name)
    return None


#: Text and comment nodes have numbers of their own.
_NODE_IDS = {n.tag: n.tag_id for n in _PROBE.root.traverse(include_text=True)}
_TEXT_ID, _COMMENT_ID = _NODE_IDS["-text"], _NODE_IDS["-comment"]
_DROP_IDS = _tag_ids([*DROP_TAGS, "rt"])
_BLOCK_IDS = _tag_ids(_LEAF_BLOCKS | _CONTAINERS)
_BR_ID, _TABLE_ID, _A_ID, _LI_ID = (_tag_id("br"), _tag_id("table"), _tag_id("a"),
                                    _tag_id("li"))
_H1_ID = _tag_id("h1")
_ITEM_IDS = _tag_ids(["li", "dd"])
#: Elements a teaser card prints its linked title in.
_HEADING_IDS = _tag_ids(["h2", "h3", "h4", "h5", "h6"])
_TITLE_BLOCK_IDS = _tag_ids(["div", "span", "strong", "b"])
_TITLE_IDS = _HEADING_IDS | _TITLE_BLOCK_IDS | {_A_ID}
_SUMMARY_IDS = _tag_ids(["p", "div"])
#: Tags a wrapper of a teaser heading never is: its section ends with them.
_STOP_IDS = _tag_ids(["body", "html", "main", "article"])
_SKIPPED_IDS = frozenset({_COMMENT_ID, _H1_ID})
_FIGURE_ID, _BODY_ID, _RT_ID = _tag_id("figure"), _tag_id("body"), _tag_id("rt")
_WRAPPER_IDS = _tag_ids(["noscript", *_FURNITURE_TAGS])
_STORY_IDS = _tag_ids(["main", "article", "h1"])
_FORM_ID = _tag_id("form")
#: What _by_tag does with an element, by its tag number: one lookup per element, which
#: most elements fail (three set tests cost it 1% of a page).
_DROP, _FIGURE, _RUBY_TEXT, _WRAPPER, _BODY, _STORY, _FORM = range(7)
_TAG_KIND = {**dict.fromkeys(_DROP_IDS, _DROP), _FIGURE_ID: _FIGURE, _RT_ID: _RUBY_TEXT,
             **dict.fromkeys(_WRAPPER_IDS, _WRAPPER), _BODY_ID: _BODY,
             **dict.fromkeys(_STORY_IDS, _STORY), _FORM_ID: _FORM}


def _by_tag(root: LexborNode) -> tuple[list[LexborNode], list[LexborNode], list[LexborNode],
                                       list[LexborNode]]:
    """(elements dropped with their content, <noscript> and furniture in the body,
    <main>, <article> and <h1> elements, <form> elements), in page order, from one walk: a
    query listing 25 tags tests every element against each of them, about twice the time.
    Figures are images, embeds and pull quotes, except the ones block editors wrap around a
    data table (WordPress: 'figure.wp-block-table'). Ruby readings without parentheses are
    dropped too."""
    dropped: list[LexborNode] = []
    wrappers: list[LexborNode] = []
    story: list[LexborNode] = []
    forms: list[LexborNode] = []
    in_body = False
    kinds = _TAG_KIND
    # The few elements of these kinds first, in one comprehension: a loop body run for
    # every element cost a fifth more.
    for node in [node for node in root.traverse() if node.tag_id in kinds]:
        kind = kinds[node.tag_id]
        if kind == _DROP:
            dropped.append(node)
        elif kind == _FIGURE:
            if _first_inside(node, _TABLE_ID, "table") is None:
                dropped.append(node)
        elif kind == _RUBY_TEXT:
            # A ruby reading: printed above the text it glosses, so inlined it garbles
            # the sentence ('子こども'); with <rp> parentheses it reads as a gloss.
            if node.parent is None or node.parent.css_first("rp") is None:
                dropped.append(node)
        elif kind == _WRAPPER:
            if in_body:
                wrappers.append(node)
        elif kind == _STORY:
            story.append(node)
        elif kind == _FORM:
            forms.append(node)
        else:
            in_body = True
    return dropped, wrappers, story, forms


def _holding(nodes: list[LexborNode]) -> set[int]:
    """The elements that are or hold one of ``nodes`` still in the tree. (selectolax
    unlinks every node of a removed subtree: a removed node has no parent.)"""
    held: set[int] = set()
    for node in nodes:
        if node.parent is None:
            continue
        current: LexborNode | None = node
        while current is not None and (key := current.mem_id) not in held:
            held.add(key)
            current = current.parent
    return held


def _holds_story(node: LexborNode, holding: set[int]) -> bool:
    """Whether the block is or holds a <main>, an <article>, an <h1> or the articleBody,
    given ``holding`` from _holding over those elements. (A four-selector query over each
    furniture block and overlay cost about 1% of a page.)"""
    return node.mem_id in holding


def _is_hidden(node: LexborNode) -> bool:
    words = (node.attributes.get("class") or "").split()
    return "hidden" in words or "is-hidden" in words


def _removable_hidden(node: LexborNode) -> bool:
    """Hidden blocks are sign-in walls and promotions, unless they hold paragraphs: then
    they are collapsed story parts (accordions, gallery slides) that scripts reveal. (The
    same test keeps a live region or an alert that wraps the story.)"""
    return not any(_tlen(p.text_lexbor()) >= 100 for p in node.css("p"))


def _form_messages(forms: list[LexborNode]) -> list[LexborNode]:
    """The alerts, status lines, validation and response messages inside ``forms`` or beside
    them (is_form_message)."""
    messages: list[LexborNode] = []
    for form in forms:
        if form.parent is None:
            continue  # inside a block already removed
        messages += [n for n in form.css(FORM_MESSAGE_SELECTOR) if _is_form_message(n)]
        # Webflow and others print the form's answers beside it, in the form's wrapper.
        wrapper = form.parent
        if wrapper.tag not in ("body", "html", "main", "article"):
            messages += [n for n in wrapper.iter() if n.is_element_node
                         and n.mem_id != form.mem_id and _is_form_message(n)]
    return messages


def _is_form_message(node: LexborNode) -> bool:
    attrs = node.attrs
    return is_form_message(attrs.get("role"), attrs.get("aria-live"), attrs.get("class"))


def extract_paragraphs(tree: LexborHTMLParser, selectors: list[str] | None = None,
                       title: str | None = None) -> list[str]:
    """The story's paragraphs, each once, boilerplate removed. Mutates ``tree``. ``title``,
    the page's title as its metadata states it, picks the page's own story where the page
    prints several whole stories alike."""
    root = tree.body or tree.root
    if root is None:
        return []
    # The body only: nothing after this reads the head (walking and pruning its scripts,
    # styles and metas cost 0.05 ms a page on fundus's news pages).
    dropped, wrappers, story, forms = _by_tag(root)
    remove_nodes(dropped)
    marks = story + root.css(_ARTICLE_BODY)
    holding = _holding(marks)
    # <noscript> is usually a tracking pixel or a "turn on JavaScript" notice, but some
    # sites print the whole story in it for readers without scripts. (A block inside a
    # dropped figure is already out of the tree, with no text and nothing inside.)
    notices = [n for n in wrappers if n.tag == "noscript"
               if _tlen(n.text_lexbor()) < 500 or n.css_first("p") is None]
    remove_nodes(notices + [n for n in wrappers if n.tag != "noscript"
                            if not _holds_story(n, holding)])
    if any(n.mem_id in holding for n in notices):
        holding = _holding(marks)  # a headline printed for readers without scripts is gone
    # Overlays and hidden blocks: one query for their classes (each query walks the whole
    # tree), then the ids.
    overlays = root.css(_OVERLAY_OR_HIDDEN)
    overlays += [n for n in root.css("[id]") if is_overlay_id(n.id or "")]
    remove_nodes([n for n in overlays
                      if n.tag not in ("body", "html", "main", "article")
                      and (_removable_hidden(n) if _is_hidden(n)
                           else not _holds_story(n, holding))])
    # Messages shown in answer to a form: never story, unless a live region holds it.
    remove_nodes([n for n in _form_messages(forms)
                  if n.tag not in ("body", "html", "main", "article")
                  and not _holds_story(n, holding) and _removable_hidden(n)])
    # The <h1>s left, in page order (a removed node has no parent): a query for them costs
    # more than the check.
    h1s = [n for n in story if n.tag_id == _H1_ID and n.parent is not None]
    containers: list[LexborNode] = []
    for selector in selectors or ():
        containers.extend(root.css(selector))
    # Divs with no block inside are paragraphs: the walk reads them whole.
    leaf_divs: set[int] = set()
    sizes: dict[int, int] = {}
    broken: set[int] = set()
    headed_elsewhere = False
    if containers:
        leaf_divs.update(n.mem_id for c in containers for n in c.css(_LEAF_DIV_SELECTOR))
    else:
        containers, headed_elsewhere = _best_container(root, leaf_divs, sizes, broken, h1s,
                                                       title)
    if not containers:
        return []
    # (Between the <h1> over a list of stories and the one the title names, the text is
    # the stories before it, not an intro.)
    intro = [] if headed_elsewhere else _intro_blocks(containers, h1s)
    paragraphs = _kept(intro + _walk(containers, leaf_divs, sizes, broken))
    if headed_elsewhere and paragraphs and _names_title(paragraphs[0], title):
        # the copy's own headline, as the page's <h1> is elsewhere: not story
        del paragraphs[0]
    shown = sum(len(p) for p in paragraphs)
    if not selectors and shown < _SHORT_BODY:
        # Recipes, product pages and forms give the scorer no paragraphs to find: what
        # won is a snippet. The page's own story element, if clearly longer, reads better.
        wider = _marked_story(root)
        if wider is not None and all(wider.mem_id != c.mem_id for c in containers):
            alternative = _kept(_walk([wider], leaf_divs, sizes, broken))
            if sum(len(p) for p in alternative) >= 2 * shown and not _in_template_copy(
                    containers[0], wider, sizes):
                return _without_tail(alternative)
    return _without_tail(paragraphs)


#: Length under which a line that ends no sentence is a label, not story: 'Über den Autor',
#: 'Photograph by …', 'Reporting by …; Editing by …', 'Leave a Comment' (80 and 160 were
#: also tried: see TUNABLES in bench/extraction.py).
_TAIL_LINE = 120
#: A paragraph ending in one of these ends a sentence (closing quotes and brackets too).
_SENTENCE_END = (".", "!", "?", "…", '"', "”", "“", "»", "«", ")", "。", "！", "？", "」")


def _without_tail(paragraphs: list[str]) -> list[str]:
    """The story up to its last sentence, when all that follows it is short lines ending
    no sentence: the labels, credits and prompts printed under a story inside its
    container. A tail opened by a colon ('Sources:', 'Die Karte finden Sie hier:')
    introduces what follows, and a tail holding a longer line is story: both stay."""
    for i in range(len(paragraphs) - 1, -1, -1):
        text = paragraphs[i]
        if len(text) >= 100 and text.endswith(_SENTENCE_END):
            break
        if len(text) >= _TAIL_LINE or text.endswith(_SENTENCE_END):
            return paragraphs
    else:
        return paragraphs
    if i + 1 < len(paragraphs) and paragraphs[i + 1].endswith((":", "：")):
        return paragraphs
    return paragraphs[:i + 1]


#: A JSON string literal of some length in a script, escapes intact: page state (Next.js,
#: React Query, Fusion) from which some sites render the story in the browser.
_JSON_STRING = re.compile(r'"((?:[^"\\]|\\.){400,})"')
#: A paragraph's opening tag, JSON-escaped or as written.
_PARAGRAPH_OPENINGS = ("\\u003cp", "\\u003Cp", "<p>", "<p ")
#: Script text searched for page state at most (hostile pages carry megabytes of it).
_MAX_STATE_CHARS = 4_000_000


def paragraphs_in_page_state(page: bytes) -> list[str]:
    """The story in the longest JSON string of paragraph HTML in the page's scripts, for a
    page whose markup holds none: its site renders the story from page state."""
    tree = LexborHTMLParser(page)
    best, budget = "", _MAX_STATE_CHARS
    for script in tree.css("script"):
        text = script.text_lexbor()[:budget]
        budget -= len(text)
        if any(opening in text for opening in _PARAGRAPH_OPENINGS):
            for m in _JSON_STRING.finditer(text):
                literal = m.group(1)
                if len(literal) > len(best) and any(o in literal for o in _PARAGRAPH_OPENINGS):
                    best = literal
        if budget <= 0:
            break
    if not best:
        return []
    try:
        html = orjson.loads(f'"{best}"')
    except orjson.JSONDecodeError:
        return []
    if not isinstance(html, str) or nesting_problem(html):  # "<" escaped as \u003c in JSON
        return []
    return extract_paragraphs(LexborHTMLParser(html))


#: Characters of story below which the winner is suspect (a caption, a form, one teaser).
_SHORT_BODY = 600  # 800 took a whole <main> over a short Japanese story


def _marked_story(root: LexborNode) -> LexborNode | None:
    """The element the page marks as its story: articleBody, a single <article>, <main>."""
    node = root.css_first('[itemprop="articleBody"]')
    if node is not None:
        return node
    articles = root.css("article")
    if len(articles) == 1:
        return articles[0]
    return root.css_first("main")


def _kept(blocks: list[tuple[str, float, str]]) -> list[str]:
    """Block texts that are story: not link lists, not boilerplate, each once."""
    paragraphs: list[str] = []
    seen: set[str] = set()
    for text, link_density, tag in blocks:
        if link_density > 0.5 or (tag == "li" and link_density > 0.3):
            continue
        if is_boilerplate_text(text):
            continue
        key = text.casefold()
        if key in seen:
            continue  # pages that print the body twice
        seen.add(key)
        paragraphs.append(text)
    return paragraphs
