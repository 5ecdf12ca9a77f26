"""Charsets for fetch (worker.fetch.charset) and extract (worker.extract.decode): the one
reading of a declared label, and the one detector for bodies that declare none and are not
UTF-8."""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

#: how much of the body the detector looks at; enough to decide, cheap on big pages
DETECT_SAMPLE = 64 * 1024


def detected_charset(body: bytes) -> str | None:
    """The charset label charset-normalizer finds for a sample of ``body``, or None when
    it cannot tell."""
    best = from_bytes(body[:DETECT_SAMPLE]).best()
    return best.encoding if best is not None else None


#: Codecs browsers read as a superset (WHATWG Encoding), by Python codec name.
_BROWSER_CODECS = {"iso8859-1": "cp1252", "ascii": "cp1252", "gb2312": "gb18030",
                   "gbk": "gb18030"}
#: Labels browsers know and Python's codec registry does not.
_EXTRA_LABELS = {"x-sjis": "shift_jis"}
#: Python text codecs that are no page charset: a page declaring one would fail to decode
#: (idna, punycode and undefined raise even with errors="replace") or be read as escapes.
_NOT_CHARSETS = frozenset({"undefined", "idna", "punycode", "unicode-escape",
                           "raw-unicode-escape", "utf-7"})


def codec_name(label: str | bytes | None) -> str | None:
    """The Python codec name for a declared charset label (a header's or a <meta>'s, as
    written), read as a browser reads it; None when the label names no known charset."""
    if not label:
        return None
    text = label.decode("ascii", "ignore") if isinstance(label, bytes) else label
    text = text.strip().strip("'\"").strip().lower()
    try:
        name = codecs.lookup(_EXTRA_LABELS.get(text, text)).name
        "".encode(name)  # LookupError for codecs that are not text encodings (base64, zlib)
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return None
    if name in _NOT_CHARSETS:
        return None
    return _BROWSER_CODECS.get(name, name)
