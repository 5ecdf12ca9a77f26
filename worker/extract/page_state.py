"""Story text a page's scripts hold or move into place: parts a React server streams to the
end of the body, and a story shipped only as page state."""

from __future__ import annotations

import re

import orjson
from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.extract.body import extract_paragraphs
from worker.extract.nodes import _inside, remove_nodes
from worker.html_cost import nesting_problem

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
