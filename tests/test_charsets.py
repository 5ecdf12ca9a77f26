"""The one reading of a declared charset label, shared by fetch and extract."""

from __future__ import annotations

import pytest

from worker.charsets import codec_name
from worker.extract import extract_article
from worker.fetch.charset import decode_html as fetch_decode_html


@pytest.mark.parametrize(("label", "codec"), [
    ("utf-8", "utf-8"), ("UTF8", "utf-8"), (" 'utf-8' ", "utf-8"), (b"utf-8", "utf-8"),
    ("windows-1251", "cp1251"), ("Shift_JIS", "shift_jis"), ("x-sjis", "shift_jis"),
    # what browsers read as windows-1252, in every spelling Python knows
    ("iso-8859-1", "cp1252"), ("latin1", "cp1252"), ("ISO_8859-1", "cp1252"), ("l1", "cp1252"),
    ("us-ascii", "cp1252"), ("ascii", "cp1252"),
    # what browsers read as gb18030
    ("gb2312", "gb18030"), ("GBK", "gb18030"),
])
def test_a_label_names_the_codec_a_browser_would_use(label, codec):
    assert codec_name(label) == codec


@pytest.mark.parametrize("label", [None, "", b"", "x-no-such-charset", "   "])
def test_an_unknown_or_missing_label_names_no_codec(label):
    assert codec_name(label) is None


#: Labels Python's codec registry knows that name no page charset: binary-to-binary codecs,
#: codecs that raise even with errors="replace", escape decoders.
NOT_CHARSETS = ["base64", "zlib", "rot13", "hex", "undefined", "idna", "punycode",
                "unicode_escape", "utf-7"]


@pytest.mark.parametrize("label", NOT_CHARSETS)
def test_a_python_codec_that_is_no_page_charset_names_no_codec(label):
    assert codec_name(label) is None


def _page(label: str, text: str) -> bytes:
    paragraph = f"<p>{text} The council voted on Thursday to approve the new budget.</p>"
    return (f"<html><head><meta charset='{label}'><title>Budget</title></head><body><article>"
            f"{paragraph * 6}</article></body></html>").encode("cp1252")


@pytest.mark.parametrize("label", NOT_CHARSETS)
@pytest.mark.parametrize("text", ["Caf\u00e9 ol\u00e9.", "Plain."], ids=["cp1252", "ascii"])
def test_a_page_declaring_a_codec_that_is_no_charset_is_still_decoded(label, text):
    """Such a declaration is ignored like an unknown label: before, fetch raised on
    'undefined' and extract on every one but utf-7 and unicode_escape."""
    fetched, _ = fetch_decode_html(_page(label, text))
    assert text in fetched
    assert text in extract_article(_page(label, text), "https://example.org/news/1").body
