"""What an HTML page will cost the parser, judged before parsing it (fetch and extract).

An HTML parser looks through the stack of open elements, up to the nearest scope boundary
(<html>, <table>, <td>, <button>, ...), at every start and end tag of a block such as <div>
or <section> (the HTML standard's "has a p element in button scope"). Nested deep, each such
tag costs the depth, so a page costs depth × block tags: lexbor took 2 s on 350 kB of
32,000 nested <div>, 80 s on 2 MB of 200,000, hours on the 16 MB a page may have, and it
cannot be interrupted. Such a page is refused instead, before it stalls its partition.
"""

from __future__ import annotations

import re

#: Steps (open elements looked through) a page may cost: lexbor does about 2-10 × 10^8 a
#: second; the largest page of the 2,040 in the shared sets is bounded by 4 × 10^7.
MAX_PARSE_STEPS = 200_000_000

_SCOPE_SEARCHING = frozenset(
    b"address article aside blockquote center details dialog dir div dl fieldset figcaption "
    b"figure footer header hgroup main menu nav ol search section summary ul".split()
)
_SCOPE_SEARCHING_TAG = re.compile(
    rb"</?(?:" + b"|".join(sorted(_SCOPE_SEARCHING)) + rb")[\s/>]", re.IGNORECASE
)
_TAG = re.compile(rb"<(/?)([a-zA-Z][a-zA-Z0-9-]*)")
#: Elements that never stay open around what follows them: void, or closed by a sibling.
_NEVER_OPEN = frozenset(
    b"area base br col embed hr img input link meta param source track wbr "
    b"p li dt dd option optgroup tr td th".split()
)


def nesting_problem(html: bytes | str) -> str | None:
    """Why parsing ``html`` would cost more than MAX_PARSE_STEPS, or None when it would not.

    Counting "<" bounds both the depth and the block tags, so almost every page is cleared
    by one count; a page with many tags has its block tags counted, and only a page still
    over the bound has its nesting followed tag by tag (an overestimate: end tags that are
    left out are taken as never closed)."""
    tags = html.count("<") if isinstance(html, str) else _count_lt(html)
    if tags * tags <= MAX_PARSE_STEPS:
        return None
    data = html.encode("utf-8", "replace") if isinstance(html, str) else html
    if len(_SCOPE_SEARCHING_TAG.findall(data)) * tags <= MAX_PARSE_STEPS:
        return None
    depth = deepest = steps = blocks = 0
    for match in _TAG.finditer(data):
        name = match.group(2).lower()
        if name in _NEVER_OPEN:
            continue
        closing = bool(match.group(1))
        if closing and depth:
            depth -= 1
        if name in _SCOPE_SEARCHING:
            blocks += 1
            steps += depth
            if steps > MAX_PARSE_STEPS:
                return (f"{blocks} block tags inside up to {max(deepest, depth)} open elements "
                        f"already cost the HTML parser over {MAX_PARSE_STEPS:.0e} steps")
        if not closing:
            depth += 1
            deepest = max(deepest, depth)
    return None


def _count_lt(html: bytes) -> int:
    """How many "<" bytes ``html`` holds. (``bytes.count`` tests a single byte in a plain
    loop, 70 µs on a 240 kB page, 4% of its extraction; ``replace`` finds them with memchr,
    in a third of the time, and its copy is freed before the parse. numpy was faster still,
    but importing it costs 13 MB in a process that has no other use for it.)"""
    return len(html) - len(html.replace(b"<", b""))
