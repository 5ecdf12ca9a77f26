"""What the body stage reads off a node, shared by its parts: tag numbers, text sizes,
class/id hints, link density, ancestry."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.extract.boilerplate import (
    POSITIVE_FRAGMENTS,
    STRONG_NEGATIVE_FRAGMENTS,
    has_fragment,
    has_negative_word,
)

_TAXONOMY_CLASSES = ("tag-", "category-", "categories-", "format-", "status-", "type-",
                     "post_tag-", "topic-", "section-")
_TAXONOMY = re.compile(r"(?:^|\s)(?:" + "|".join(_TAXONOMY_CLASSES) + ")")


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


def _ancestors(node: LexborNode) -> list[int]:
    out = []
    parent = node.parent
    while parent is not None and parent.tag not in ("html", "-undef", None):
        out.append(parent.mem_id)
        parent = parent.parent
    return out


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


def remove_nodes(nodes: Iterable[LexborNode]) -> None:
    """Take nodes out of the tree, in any order. selectolax unlinks a removed subtree node by
    node without freeing it (nodes live as long as their document), so a node inside one
    already removed is merely removed again, a no-op: no containment test is needed."""
    for node in nodes:
        node.decompose()


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


_BR_ID, _TABLE_ID, _A_ID, _LI_ID = (_tag_id("br"), _tag_id("table"), _tag_id("a"),
                                    _tag_id("li"))
_H1_ID = _tag_id("h1")
