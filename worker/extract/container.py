"""Which block holds the story: a readability-style scorer over the page's paragraphs
(comma and length statistics, link density, class/id hints), then the winner bounded: widened
to the wrapper that keeps the story's share, cut to one copy where the page repeats its
article template, checked against contact blocks and teaser columns."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import islice

from selectolax.lexbor import LexborNode

from worker.extract.boilerplate import LEAD_CLASS
from worker.extract.nodes import (
    _A_ID,
    _LI_ID,
    _TABLE_ID,
    _TEXT_ID,
    _ancestors,
    _attr_text,
    _class_weight,
    _first_inside,
    _hints,
    _inside,
    _link_density,
    _norm,
    _tag_ids,
    _text_size,
    _tlen,
)

_SCORED_SELECTOR = "p, pre, td, blockquote, h2, h3, li:not(:has(p, div, li))"
#: Blocks whose length counts as story text when widening the winner; list items too, for
#: guides and recipes told in lists (link-heavy teaser items stay out by link density).
_MASS_TAGS = frozenset({"p", "pre", "blockquote", "div", "section", "article", "span", "font",
                        "li"})
_LEAF_DIV_SELECTOR = ("div:not(:has(div, p, ul, ol, table, section, article, li, h1, h2, h3, "
                      "h4, blockquote, pre, header, form))")


#: A paragraph's score reaches its parent whole, its grandparent halved, then a third of
#: that per further level, up to five levels.
_LEVEL_DIVISORS = (1, 2, 6, 9, 12)
#: Story text share an ancestor must keep to be taken as the container (0.3 gained on wcxb
#: but lost on fundus; 0.4 gains on all three sets). Relative to the
#: winner's own share, but a winner that is one pure paragraph block (share near 1) would
#: otherwise refuse every wrapper that also holds the story's headings and lists.
_CLIMB_DENSITY = 0.4


#: The three kinds of text block in one selector: each whole-document query costs about a
#: tenth of a millisecond however little it matches (one query: 0.22 ms, three: 0.48 ms).
_BLOCKS_SELECTOR = f"{_SCORED_SELECTOR}, {_LEAF_DIV_SELECTOR}, br"

_CELLS = frozenset({"td", "th"})
#: Elements a teaser card prints its linked title in.
_HEADING_IDS = _tag_ids(["h2", "h3", "h4", "h5", "h6"])
_TITLE_BLOCK_IDS = _tag_ids(["div", "span", "strong", "b"])
_TITLE_IDS = _HEADING_IDS | _TITLE_BLOCK_IDS | {_A_ID}
_SUMMARY_IDS = _tag_ids(["p", "div"])


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


def _names_title(heading: str, title: str | None) -> bool:
    """Whether ``heading`` is the page's ``title``, either with more words (a kicker, the
    site's name)."""
    text, key = _norm(heading).casefold(), _norm(title or "").casefold()
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

