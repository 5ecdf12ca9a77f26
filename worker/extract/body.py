"""Main-text extraction over a selectolax tree (extract_paragraphs): page furniture,
overlays, hidden blocks and form messages are pruned; a scorer chooses the container that
holds the story (container.py); a walk of it, and of sibling containers that score alike,
turns its blocks into paragraphs (walk.py); the intro printed between the headline and the
container is read too.

An element's text is read with ``text_lexbor()`` (lexbor's textContent): the same text as
``text(deep=True)``, in two thirds of the time, which serves the metadata readers too. (On
the document node it is empty, and on a comment it is the comment.)
"""

from __future__ import annotations

from collections.abc import Callable

from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.extract.boilerplate import (
    FORM_MESSAGE_SELECTOR,
    HIDDEN_SELECTOR,
    OVERLAY_SELECTOR,
    is_form_message,
    is_overlay_id,
)
from worker.extract.container import (
    _LEAF_DIV_SELECTOR,
    _best_container,
    _in_template_copy,
    _is_headline,
    _names_title,
)
from worker.extract.nodes import (
    _H1_ID,
    _TABLE_ID,
    _ancestors,
    _attr_text,
    _first_inside,
    _hints,
    _norm,
    _tag_id,
    _tag_ids,
    _tlen,
    remove_nodes,
)
from worker.extract.walk import _kept, _walk, _without_tail

#: Removed with their content before scoring: never story text.
DROP_TAGS = ["script", "style", "template", "svg", "iframe", "object", "embed",
             "button", "select", "textarea", "input", "figcaption", "figure", "picture",
             "video", "audio", "canvas", "map", "dialog", "label"]
#: Page furniture, removed unless broken markup made it wrap the story itself.
_FURNITURE_TAGS = ("nav", "footer", "aside", "menu")
#: What marks the story (with <main>, <article> and <h1>, which _by_tag finds by tag number).
_ARTICLE_BODY = '[itemprop="articleBody"]'


_INTRO_SELECTOR = "h1, p, " + _LEAF_DIV_SELECTOR


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


_DROP_IDS = _tag_ids([*DROP_TAGS, "rt"])


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
