"""The one reading of a declared charset label, shared by fetch and extract."""

from __future__ import annotations

import pytest

from worker.charsets import codec_name


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
