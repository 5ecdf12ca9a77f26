"""Turning an HTML body into text: BOM, then the HTTP header, then <meta>, then detection.

Declared charsets lie often enough that a declaration is only trusted when the body
decodes under it without errors; otherwise the next clue is tried.
"""

from __future__ import annotations

import codecs
import re

from worker.charsets import codec_name, detected_charset

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# <meta charset="x"> and <meta http-equiv="Content-Type" content="text/html; charset=x">
_META = re.compile(
    rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE
)


def charset_from_content_type(content_type: str | None) -> str | None:
    """The ``charset=`` parameter of a Content-Type header, as written."""
    if not content_type:
        return None
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("'\"")
    return None


def _try(body: bytes, charset: str) -> str | None:
    try:
        return body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return None


def _is_utf8_not_ascii(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_html(body: bytes, declared: str | None = None) -> tuple[str, str]:
    """(text, charset used) for an HTML body; ``declared`` is the header's charset label.

    Order: BOM; the header's charset; a <meta> charset in the first 2 KiB; charset
    detection (charset-normalizer) on a sample; UTF-8 with replacement characters.
    A declared single-byte charset is not trusted over a body that is valid UTF-8 with
    non-ASCII bytes: that body was UTF-8 and the declaration is the lie."""
    for bom, charset in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(charset, errors="replace"), charset
    meta = _META.search(body[:2048])
    for label in (declared, meta.group(1).decode("ascii") if meta else None):
        charset = codec_name(label)
        if charset is None:
            continue
        if charset in ("utf-16", "utf-16-le", "utf-16-be", "utf-32") and b"\x00" not in body[:512]:
            # A page that says UTF-16 in ASCII-compatible bytes is lying (common in <meta>).
            continue
        if charset != "utf-8" and codecs.lookup(charset).name in ("cp1252", "iso8859-1") and (
            _is_utf8_not_ascii(body)
        ):
            return body.decode("utf-8"), "utf-8"
        text = _try(body, charset)
        if text is not None:
            return text, charset
    if body.isascii():
        return body.decode("ascii"), "ascii"
    text = _try(body, "utf-8")
    if text is not None:
        return text, "utf-8"
    detected = detected_charset(body)
    if detected is not None:
        charset = codec_name(detected) or "utf-8"
        return body.decode(charset, errors="replace"), charset
    return body.decode("utf-8", errors="replace"), "utf-8"
