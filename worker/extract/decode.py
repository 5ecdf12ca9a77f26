"""Bytes → text: charset from BOM, HTTP header or <meta>, with binary and size checks."""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Mapping
from typing import NamedTuple

from worker.charsets import codec_name, detected_charset
from worker.extract.errors import ExtractionError
from worker.settings import MAX_BODY_BYTES

_MAGIC = (
    b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"BZh",
    b"\x00\x00\x01\x00", b"RIFF", b"OggS", b"ID3", b"\x7fELF", b"MZ", b"wOFF", b"wOF2",
)
_CONTROL_BYTES = bytes([*range(9), *range(14, 32)])
#: The share of control bytes (NUL among them) above which a page's opening is not text. A
#: stray NUL or two in an HTML page is no reason to refuse it: browsers render it (the
#: parser drops NUL from text). UTF-16 without a BOM (every other byte NUL in Latin text,
#: and in the markup of any page) and binary formats are far above it.
_BINARY_SHARE = 0.05
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([a-zA-Z0-9_.:-]+)", re.I)


def looks_binary(head: bytes) -> bool:
    """True for known binary signatures, or for more control bytes (NUL among them) in the
    first 4 KiB than a text page holds (_BINARY_SHARE)."""
    if head.startswith(_MAGIC):
        return True
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 BOM: text, decoded below
        return False
    sample = head[:4096]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return bool(sample) and controls / len(sample) > _BINARY_SHARE


def _too_many_nuls(opening: str) -> bool:
    """Whether more of ``opening``'s characters are NUL than a text page holds: text decoded
    from UTF-16 without a BOM as if it were ASCII (the fetcher's fallback for such bytes)."""
    return opening.count("\x00") > len(opening) * _BINARY_SHARE


#: How much of the page, as text, the quick checks before parsing read.
HEAD_CHARS = 65536
_TAG = re.compile(r"<[a-zA-Z!/?]")
_TAG_BYTES = re.compile(rb"<[a-zA-Z!/?]")


class Decoded(NamedTuple):
    """The page's opening as text, and the whole page as the UTF-8 bytes the parser reads.

    A page passed on as UTF-8 has no opening as text (``head`` is None): the checks read its
    first HEAD_CHARS bytes, where ASCII reads as it would in their decoding (which cost 11 µs
    a page)."""

    head: str | None
    utf8: bytes

    def has_markup(self) -> bool:
        """Whether the opening holds a tag."""
        if self.head is None:
            return _TAG_BYTES.search(self.utf8, 0, HEAD_CHARS) is not None
        return _TAG.search(self.head) is not None

    def head_contains(self, ascii_text: str) -> bool:
        """Whether the opening holds ``ascii_text`` (ASCII only)."""
        if self.head is None:
            return self.utf8.find(ascii_text.encode("ascii"), 0, HEAD_CHARS) != -1
        return ascii_text in self.head


def decode_html(data: bytes | str, headers: Mapping[str, str] | None = None,
                url: str | None = None, max_bytes: int = MAX_BODY_BYTES) -> Decoded:
    """Decode a page the way a browser would, never raising on bad bytes.

    The parser reads UTF-8 bytes (lexbor builds the tree markedly faster from bytes than from
    text: 0.7 against 1.1 ms a page on the shared data), so a page declared as UTF-8, or
    valid UTF-8, is passed on as it came, without building the text: lexbor itself replaces
    invalid sequences, as the decoder would. At most the first HEAD_CHARS characters are
    returned as text.
    Raises ExtractionError ``too_large`` (over ``max_bytes``, the fetch.max_body_bytes
    setting: larger pages are never articles and cost seconds of parsing), ``empty`` or
    ``binary``.
    """
    check_size(len(data), max_bytes, url)
    text: str | None
    utf8: bytes | None = None
    if isinstance(data, str):
        text = data
    else:
        if looks_binary(data[:8192]):
            raise ExtractionError("binary", "content is not text (binary signature)", url)
        text, utf8 = _decode_bytes(data, headers)
    head: str | None
    if text is None:
        assert isinstance(data, bytes) and utf8 is not None
        head = None
        blank = not data or data.isspace()
        # The first 4096 characters lie in the first 16384 bytes, and only a NUL byte
        # decodes as NUL: those bytes are decoded only when they hold one.
        nul = data.find(b"\x00", 0, 4 * 4096) != -1 and _too_many_nuls(data[:4 * 4096].decode(
            "utf-8", "replace")[:4096])
    else:
        head = text[:HEAD_CHARS]
        blank = not text or text.isspace()
        nul = _too_many_nuls(head[:4096])
    if blank:
        raise ExtractionError("empty", "no content", url)
    if nul:
        raise ExtractionError("binary", "content is not text (NUL characters)", url)
    if utf8 is None:
        assert text is not None
        utf8 = text.encode("utf-8", "ignore")  # what the parser itself would do with text
    return Decoded(head, utf8)


def check_size(size: int, max_bytes: int, url: str | None = None) -> None:
    """ExtractionError ``too_large`` for a page of ``size`` bytes over ``max_bytes``."""
    if size > max_bytes:
        raise ExtractionError("too_large", f"{size:,} bytes, over the limit of {max_bytes:,} "
                              "(setting fetch.max_body_bytes)", url)


GZIP_MAGIC = b"\x1f\x8b"


def gunzip(data: bytes, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The content of gzip-compressed ``data`` (a saved ``.html.gz``, or a page saved as the
    server sent it), inflated no further than ``max_bytes``: ExtractionError ``too_large``
    past that (a decompression bomb is never inflated whole), ``binary`` for corrupt data.
    A truncated file gives what it holds, as a truncated page does."""
    parts: list[bytes] = []
    size = 0
    while data.startswith(GZIP_MAGIC):  # one member after another, as gzip -d reads them
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            part = inflater.decompress(data, max_bytes - size + 1)
        except zlib.error as exc:
            raise ExtractionError("binary", f"gzip-compressed, but not valid gzip: {exc}"
                                  ) from None
        size += len(part)
        if size > max_bytes:
            raise ExtractionError("too_large", f"gzip-compressed, and inflates past the limit "
                                  f"of {max_bytes:,} bytes (setting fetch.max_body_bytes)")
        parts.append(part)
        data = inflater.unused_data
    return b"".join(parts)


def _detected(data: bytes) -> str:
    """The charset of bytes that declare none and are plainly not UTF-8: detected (a saved
    windows-1251 or Shift_JIS page read as cp1252 is mojibake, or no words at all), cp1252
    when the detector cannot tell. Pages from the fetcher arrive decoded; this is for
    saved files."""
    return codec_name(detected_charset(data)) or "cp1252"


#: Bytes tested for ASCII at a time by _is_utf8 (the fastest of 512 to 8192 on the shared
#: pages).
_ASCII_BLOCK = 4096


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8, decoding only the runs of blocks that hold a
    non-ASCII byte. Exact: an ASCII byte is a whole character, so valid UTF-8 splits into
    valid parts next to one, and valid parts join into valid UTF-8. (Decoding a median page
    that declares no charset in full took 70 µs, twice this.)"""
    view = memoryview(data)
    start = None  # where the current run of non-ASCII blocks began
    for at in range(0, len(data), _ASCII_BLOCK):
        if data[at:at + _ASCII_BLOCK].isascii():
            if start is not None:
                if not _decodes(view[start:at]):
                    return False
                start = None
        elif start is None:
            start = at
    return start is None or _decodes(view[start:])


def _decodes(part: memoryview) -> bool:
    try:
        codecs.utf_8_decode(part, "strict", True)
    except UnicodeDecodeError:
        return False
    return True


def _decode_bytes(data: bytes, headers: Mapping[str, str] | None
                  ) -> tuple[str | None, bytes | None]:
    """The text and the UTF-8 bytes for the parser, either one None when the other is
    enough: no text for a page declared as UTF-8 or valid UTF-8 (``data`` is passed on),
    no bytes when ``data`` is not already that text's UTF-8 encoding."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                      (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom):].decode(name, "replace"), None
    declared = None
    for key, value in (headers or {}).items():
        if key.lower() == "content-type":
            m = _HEADER_CHARSET.search(value)
            declared = codec_name(m.group(1)) if m else None
    if declared is None:
        m = _META_CHARSET.search(data[:4096])
        declared = codec_name(m.group(1)) if m else None
    if declared == "utf-8" or (declared is None and data.isascii()):
        return None, data
    if (declared is None or not data.isascii()) and _is_utf8(data):
        # Bytes that are valid UTF-8 are UTF-8, whatever the label says (pages re-saved or
        # re-served as UTF-8 keep their old charset <meta>); text in a legacy charset
        # practically never forms valid UTF-8 sequences.
        return None, data
    if declared is None:
        # Most of the web is UTF-8 whatever it declares; fall back to cp1252 only when the
        # bytes are plainly not UTF-8 (many decode errors), as browsers effectively do.
        text = data.decode("utf-8", "replace")
        if text.count("\ufffd") > max(8, len(text) // 500):
            return data.decode(_detected(data), "replace"), None
        return text, None
    return data.decode(declared, "replace"), None
