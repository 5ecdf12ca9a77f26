"""The chosen container read as paragraphs: a single iterative walk (no recursion, so any
nesting depth is safe) that skips boilerplate subtrees, reads data tables row by row and
teaser headings as the end of their section, then keeps each story block once."""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from worker.extract.boilerplate import (
    is_boilerplate_text,
    is_teaser_heading,
)
from worker.extract.nodes import (
    _A_ID,
    _BR_ID,
    _COMMENT_ID,
    _H1_ID,
    _TABLE_ID,
    _TEXT_ID,
    _attr_text,
    _hints,
    _link_density,
    _norm,
    _tag_ids,
    _text_size,
    _tlen,
)

_LEAF_BLOCKS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "pre", "dt", "dd", "li",
                          "blockquote", "address", "summary"})
_CONTAINERS = frozenset({"div", "section", "article", "main", "header", "ul", "ol", "dl",
                         "table", "tbody", "thead", "tfoot", "tr", "td", "th", "center",
                         "details", "hgroup", "body", "form", "fieldset", "caption", "h1"})
_NESTED_BLOCK_SELECTOR = "p, div, ul, ol, table, section, article, blockquote, h2, h3, h4"
#: List items and definitions holding blocks: walked into, not read whole.
_NESTING_ITEMS = f"li:has({_NESTED_BLOCK_SELECTOR}), dd:has({_NESTED_BLOCK_SELECTOR})"
_BLOCK_IDS = _tag_ids(_LEAF_BLOCKS | _CONTAINERS)
_ITEM_IDS = _tag_ids(["li", "dd"])
#: Tags a wrapper of a teaser heading never is: its section ends with them.
_STOP_IDS = _tag_ids(["body", "html", "main", "article"])
#: Comments, and the page's <h1>: the title, reported separately.
_SKIPPED_IDS = frozenset({_COMMENT_ID, _H1_ID})


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


def _kept(blocks: list[tuple[str, float, str]]) -> list[str]:
    """Block texts that are story: not link lists, not boilerplate, each once."""
    paragraphs: list[str] = []
    seen: set[str] = set()
    for text, link_density, tag in blocks:
        if link_density > 0.5 or (tag == "li" and link_density > 0.3):
            continue
        if is_boilerplate_text(text):
            continue
        key = text.lower()  # (casefold costs half as much again, for no copy it would catch)
        if key in seen:
            continue  # pages that print the body twice
        seen.add(key)
        paragraphs.append(text)
    return paragraphs
