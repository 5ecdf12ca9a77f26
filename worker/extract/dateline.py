"""Datelines opening a story: "YEREVAN - ", "JAKARTA, KOMPAS.com -", "LONDON (Reuters) -"."""

from __future__ import annotations

import re

_UPPER = r"A-ZÀ-ÖØ-ÞĀ-Ž"
_DATELINE = re.compile(
    rf"^(?P<line>(?P<place>[{_UPPER}][{_UPPER}'’.\- ]{{1,40}}?)"
    r"(?P<rest>,\s*[^-–—()\n]{1,30}?)?\s*(?P<agency>\([^()\n]{1,30}\))?)"
    r"\s*(?:[-–—]{1,2}|:)\s+(?=\S)")
_TITLE_CASE = re.compile(
    rf"^(?P<line>(?P<place>[{_UPPER}][a-zà-ÿ]+(?: [{_UPPER}][a-zà-ÿ]+)?),\s*"
    rf"(?P<rest>[{_UPPER}][\w.]*(?: [{_UPPER}][\w.]*){{0,2}}))\s*(?:--|[-–—])\s+(?=\S)")


def split_dateline(paragraph: str) -> tuple[str | None, str]:
    """(dateline, paragraph without it); (None, paragraph) when it opens with none."""
    m = _DATELINE.match(paragraph)
    if m and sum(ch.isalpha() for ch in m.group("place")) >= 3 and (
            m.group("agency") or m.group("rest") or not m.group(0).rstrip().endswith(":")):
        line = " ".join(m.group("line").split()).strip(" ,")
        return line, paragraph[m.end():]
    m = _TITLE_CASE.match(paragraph)
    if m:
        return " ".join(m.group("line").split()), paragraph[m.end():]
    return None, paragraph
