"""Content fingerprints of an article body: an exact hash, a MinHash signature, LSH band keys.

Everything here is pure and cheap: it runs once per article in the dedupe stage, and its
output is stored (JSON) in ``Article.fingerprints`` so downstream consumers and later index
look-ups never re-read the body.

* ``content_hash`` — BLAKE2b-128 of the normalised body (Unicode NFKC, case-folded, every
  run of punctuation or whitespace turned into one space), so the same text typed with
  other quotes, dashes, non-breaking spaces or line breaks is still an exact copy.
* ``minhash`` — a MinHash signature over the word ``SHINGLE``-grams of the same normalised
  text, with datasketch's ``affine32`` permutations; base64 of little-endian uint32, so it is
  compact in JSON and in memory.
* ``bands`` — LSH band keys (xxh3): the signature's first ``BANDS`` x ``ROWS`` values cut
  into ``BANDS`` bands of ``ROWS`` rows; two bodies share at least one key with probability
  1 - (1 - J^ROWS)^BANDS for Jaccard J.

Speed (the stage must do >= 2,000 fingerprints + look-ups per second on one core) decides
the shape of the code: any per-word Python step costs ~0.1 ms per 850-word article, so
the text is normalised by one byte translation (ASCII) or per-character tables in numpy
(NFKC only around the few characters that need their neighbours; whole-text NFKC, lower()
and a regex pass cost ~0.25 ms per long article), and the gram hashes are computed for all
grams at once in numpy (a polynomial hash over the UTF-8 bytes, avalanched by the
MurmurHash3 finaliser) instead of one xxhash call per gram. bench/dedupe.py measures it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import string
import unicodedata
from typing import Any

import numpy as np
import xxhash
from datasketch import MinHash

from worker.models import Article

#: Bumped when normalisation, shingling or hashing changes: signatures of different schemes
#: are never compared (``estimate_similarity`` returns 0 for a mismatch).
SCHEME = 1
SHINGLE = 3
NUM_PERM = 64
SEED = 1
#: LSH on the first BANDS x ROWS signature values. 10 x 3 makes a pair with Jaccard 0.7 a
#: candidate with probability 0.985 (0.91 at 0.6) with ten index entries per article; 16 x 4
#: needs 16 entries for 0.988 (0.64 at 0.5). Verification uses all NUM_PERM values.
BANDS = 10
ROWS = 3



@functools.cache
def _non_ascii_pattern() -> tuple[re.Pattern[str], frozenset[str]]:
    """One character class for every non-ASCII character ``normalise`` must rewrite.

    Separators (any character that is not a letter or digit: curly quotes, dashes, NBSP,
    ellipses, CJK punctuation, emoji …) and the letters that casefold() still changes after
    NFKC and lower() (ß, ς, Cherokee, Greek with iota subscript …). One class, compiled to
    a bitmap, scans twice as fast as an alternation of two classes; casefold() on the whole
    text would be four times slower than lower(). Built once, on first use (~0.1 s).
    """
    points, fold = [], set()
    for code in range(0x80, 0x10000):
        char = chr(code)
        lower = char.lower()
        if lower.casefold() != lower:
            fold.add(char)
        elif char.isalnum():
            continue
        points.append(code)
    ranges: list[list[int]] = []
    for code in points:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    members = "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in ranges
    )
    # Astral planes: the emoji and pictograph blocks; astral letters (CJK extensions,
    # mathematical alphanumerics, which NFKC maps to ASCII) stay word characters.
    return re.compile(f"[{members}\U0001F000-\U0001FAFF]"), frozenset(fold)


def _non_ascii_replacement(match: re.Match[str]) -> str:
    char = match.group()
    if char in _non_ascii_pattern()[1]:
        return char.casefold()
    # Invisible format characters (soft hyphen, zero-width space / joiners, BOM) sit inside
    # words, and one copy of a text has them where another does not: drop, do not split.
    return "" if unicodedata.category(char) == "Cf" else " "


# ASCII is handled by a byte translation table: everything but [a-z0-9] separates words.
_ASCII_WORD = (string.ascii_lowercase + string.digits).encode()
_ASCII_SEPARATORS = bytes(c for c in range(128) if c not in _ASCII_WORD)
_TO_SPACE = bytes.maketrans(_ASCII_SEPARATORS, b" " * len(_ASCII_SEPARATORS))
_ASCII_TO_SPACE = str.maketrans(dict.fromkeys(_ASCII_SEPARATORS, " "))
# For text that is all ASCII (NFKC leaves it alone): lower() and separators in one table.
_ASCII_FOLD = bytes(
    c + 32 if chr(c) in string.ascii_uppercase else c if c in _ASCII_WORD else 32
    for c in range(256)
)
_SPACE = np.uint8(32)
_SPACE_UNIT = np.uint16(32)

# datasketch's affine32 permutation parameters (a odd, b), drawn from its seed once.
_PERMS = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32").permutations
_A = _PERMS[0].astype(np.uint32)[:, np.newaxis]
_B = _PERMS[1].astype(np.uint32)[:, np.newaxis]
_EMPTY = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
_scratch = np.empty(NUM_PERM * 4096, dtype=np.uint32)

# Polynomial gram hash: sum(byte[t] * P^t) mod 2^64 over a gram's bytes, from prefix sums.
# P is odd, so it has an inverse mod 2^64 and a gram's hash does not depend on where it sits.
_P = 0x100000001B3  # the FNV-1 64-bit prime
_P_INV = pow(_P, -1, 1 << 64)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_S32 = np.uint64(32)
_powers = np.ones(1, dtype=np.uint64)
_inverse_powers = np.ones(1, dtype=np.uint64)


def _power_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P^i and P^-i mod 2^64 for i < n; grown on demand and kept (pure: values are fixed)."""
    global _powers, _inverse_powers
    if _powers.size < n:
        size = max(n, 2 * _powers.size, 1 << 15)
        one = np.ones(1, dtype=np.uint64)
        _powers = np.concatenate((one, np.cumprod(np.full(size - 1, _P, dtype=np.uint64))))
        _inverse_powers = np.concatenate(
            (one, np.cumprod(np.full(size - 1, _P_INV, dtype=np.uint64)))
        )
    return _powers, _inverse_powers


def _reference_normalise(text: str) -> bytes:
    """``normalise`` spelt out as whole-text passes; the definition the fast path matches.

    Used as is for text with characters beyond the BMP (emoji, astral scripts), which the
    per-character tables do not cover.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    if not text.isascii():
        text = _non_ascii_pattern()[0].sub(_non_ascii_replacement, text)
    data = np.frombuffer(text.encode("utf-8").translate(_TO_SPACE), dtype=np.uint8)
    return _collapse_spaces(data, _SPACE).tobytes()


def _collapse_spaces(data: np.ndarray, space: np.integer) -> np.ndarray:
    """Runs of ``space`` cut to one, none at either end."""
    word = data != space
    keep = word.copy()
    keep[1:] |= word[:-1]
    out = data[keep]
    return out[:-1] if out.size and out[-1] == space else out


# Flags above the 16-bit code unit in ``_bmp_tables``' per-unit table.
_UNSTABLE = 1 << 16  # not a boundary: NFKC must see it with the character before
_MULTI = 1 << 17  # maps to two or three characters (ß -> ss): the first is in the low bits
_DROP = 1 << 18  # maps to nothing (invisible format characters)
_FALLBACK = 1 << 19  # surrogate (astral text) or long expansion: take the reference path


def _per_character(text: str) -> str:
    """What the reference does to NFKC text, applied to a short string of it alone."""
    out = _non_ascii_pattern()[0].sub(_non_ascii_replacement, text.lower())
    return "".join(c.translate(_ASCII_TO_SPACE) if c.isascii() else c for c in out)


@functools.cache
def _bmp_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per-UTF-16-unit tables for ``normalise``: (mapping with flags, multi-character maps).

    After NFKC, the reference's steps (lower(), the character-class substitution, the ASCII
    translation) act on each character alone — the one contextual rule of lower(), final
    sigma, is undone by the case fold (ς and σ both end as σ). NFKC is contextual only
    around characters that are not "boundaries": a boundary is a starter (combining class
    0) whose decomposition starts with a starter that never composes with a character
    before it, so NFKC of a text is NFKC of its pieces cut before every boundary (Unicode's
    "boundary before", UAX #15), and a boundary followed by a boundary is a piece of one
    character. So ``mapping[c]`` holds what the reference makes of NFKC(c) (its first
    character, ``multi[c]`` lists up to three, 0-padded) and flags; the characters that
    are not boundaries (combining marks, Hangul vowel jamo …) are flagged unstable, and a
    text holding any is first NFKC'd piece by piece around them. Doubtful characters count
    as unstable, which only costs time. Built once, on first use (~0.5 s).
    """
    # Second halves of canonical compositions, and the Hangul vowel and final jamo that
    # compose algorithmically: the characters that can join the one before them.
    joins_back = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    for code in range(0x110000):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            joins_back.add(int(parts[1], 16))
    mapping = np.zeros(0x10000, dtype=np.uint32)
    multi = np.zeros((0x10000, 3), dtype=np.uint16)
    for code in range(0x10000):
        char = chr(code)
        out = _per_character(unicodedata.normalize("NFKC", char))
        # Surrogates, and the rare ligatures and squared words that expand to more
        # than three characters (ﷺ, ㍿), take the reference path.
        if 0xD800 <= code < 0xE000 or len(out) > 3 or any(ord(c) > 0xFFFF for c in out):
            mapping[code] = _FALLBACK
            continue
        head = unicodedata.normalize("NFKD", char)[0]
        boundary = (
            unicodedata.combining(char) == 0
            and unicodedata.combining(head) == 0
            and ord(head) not in joins_back
        )
        # An unstable character still maps: NFKC leaves the ones that remain unchanged.
        flags = 0 if boundary else _UNSTABLE
        if not out:
            flags |= _DROP
        elif len(out) > 1:
            flags |= _MULTI
            multi[code, : len(out)] = [ord(c) for c in out]
        mapping[code] = flags | (ord(out[0]) if out else 0)
    return mapping, multi


#: NFKC piece by piece pays ~1 µs a piece in Python; past this many, one whole-text call.
_MAX_NFKC_PIECES = 64


def _nfkc(text: str, unstable: np.ndarray) -> str:
    """NFKC of ``text`` given which of its characters are not boundaries (see _bmp_tables):
    only the pieces around those are normalised."""
    where = np.flatnonzero(unstable)
    breaks = np.flatnonzero(np.diff(where) > 1)
    if breaks.size >= _MAX_NFKC_PIECES:
        return unicodedata.normalize("NFKC", text)
    starts = where[np.concatenate(([0], breaks + 1))].tolist()
    ends = (where[np.concatenate((breaks, [where.size - 1]))] + 1).tolist()
    pieces, done = [], 0
    for start, end in zip(starts, ends, strict=True):
        # The boundary before a run may compose with it (e + U+0301 -> é).
        start = max(start - 1, 0)
        pieces.append(text[done:start])
        pieces.append(unicodedata.normalize("NFKC", text[start:end]))
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _mapped(text: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The text's UTF-16 units, their ``_bmp_tables`` entries, and the union of the flags."""
    units = np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)
    mapped = _bmp_tables()[0].take(units)
    return units, mapped, int(np.bitwise_or.reduce(mapped)) if mapped.size else 0


def normalise(text: str) -> bytes:
    """The body as comparison text: UTF-8 words separated by single spaces.

    NFKC, case-folded, every character that is neither a letter nor a digit (Unicode-aware)
    treated as a separator, so punctuation and whitespace differences vanish.

    Byte-for-byte ``_reference_normalise`` (tests pin it), without its whole-text passes:
    ASCII text is one byte translation; other text is NFKC'd only around the characters
    that need it, then mapped through a per-character table in numpy.
    """
    if text.isascii():
        data = np.frombuffer(text.encode("ascii").translate(_ASCII_FOLD), dtype=np.uint8)
        return _collapse_spaces(data, _SPACE).tobytes()
    units, mapped, flags = _mapped(text)
    if flags & _UNSTABLE and not flags & _FALLBACK:
        units, mapped, flags = _mapped(_nfkc(text, (mapped & np.uint32(_UNSTABLE)) != 0))
    if flags & _FALLBACK:
        return _reference_normalise(text)
    out = mapped.astype(np.uint16)
    if flags & _MULTI:
        # flatnonzero of a bool mask: five times faster than of the uint32 values.
        at = np.flatnonzero((mapped & np.uint32(_MULTI)) != 0)
        tails = _bmp_tables()[1][units[at], 1:].ravel()
        extra = tails != 0
        out = np.insert(out, np.repeat(at + 1, 2)[extra], tails[extra])
    if flags & _DROP:
        out = out[out != 0]
    out = _collapse_spaces(out, _SPACE_UNIT)
    return out.tobytes().decode("utf-16-le").encode("utf-8")


def normalise_words(text: str) -> list[str]:
    """The normalised words of a text (for callers that want words, not bytes)."""
    return normalise(text).decode("utf-8").split()


def content_hash(normalised: bytes) -> str:
    """Hex digest (32 chars) of a normalised text."""
    return hashlib.blake2b(normalised, digest_size=16).hexdigest()


def shingle_hashes(normalised: bytes, k: int = SHINGLE) -> tuple[np.ndarray, int]:
    """Distinct 32-bit hashes of the word k-grams of a normalised text, and its word count.

    A text shorter than k words is one gram. All grams are hashed at once: prefix sums of
    byte·P^i give any byte range's polynomial hash in O(1), and the MurmurHash3 fmix64
    finaliser spreads it before the top 32 bits are kept.
    """
    if not normalised:
        return np.zeros(0, dtype=np.uint32), 0
    data = np.frombuffer(normalised, dtype=np.uint8)
    size = data.size
    powers, inverse = _power_tables(size + 1)
    prefix = np.empty(size + 1, dtype=np.uint64)
    prefix[0] = 0
    np.multiply(data, powers[:size], out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    # normalise() leaves exactly one space between words and none at either end.
    spaces = np.flatnonzero(data == _SPACE)
    words = spaces.size + 1
    k = min(k, words)
    grams = words - k + 1
    first = np.empty(grams, dtype=np.intp)
    first[0] = 0
    np.add(spaces[: grams - 1], 1, out=first[1:])
    last = np.empty(grams, dtype=np.intp)
    last[:-1] = spaces[k - 1 :]
    last[-1] = size
    h = prefix.take(last)
    h -= prefix.take(first)
    h *= inverse.take(first)
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33
    grams = np.sort((h >> _S32).astype(np.uint32))
    # np.sort + a mask is ~10x faster than np.unique on arrays this small.
    distinct = np.empty(grams.size, dtype=bool)
    distinct[0] = True
    np.not_equal(grams[1:], grams[:-1], out=distinct[1:])
    return grams[distinct], words


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def minhash_signature(hashes: np.ndarray) -> np.ndarray:
    """MinHash values (uint32) of a set of 32-bit hashes: datasketch's ``affine32`` scheme.

    Bit-for-bit ``datasketch.MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32")``
    fed the same hash values (a test pins it), computed in one vectorised step: the
    per-object and per-item Python overhead of ``update_batch`` costs more than the hashing.
    """
    if hashes.size == 0:
        return _EMPTY.copy()
    hv = _fmix32(hashes.astype(np.uint32))[np.newaxis, :]
    # In place in one scratch buffer: allocating two fresh NUM_PERM x n arrays per article
    # costs more than the arithmetic (page faults). Stages run on one thread per process.
    # The view is contiguous: rows a fixed 16 KiB apart would share cache sets (~20% slower).
    global _scratch
    size = NUM_PERM * hv.shape[1]
    if _scratch.size < size:
        _scratch = np.empty(max(size, 2 * _scratch.size), np.uint32)
    work = _scratch[:size].reshape(NUM_PERM, hv.shape[1])
    np.multiply(_A, hv, out=work)
    np.add(work, _B, out=work)
    return work.min(axis=1)


def band_keys(signature: np.ndarray) -> list[str]:
    """One key per LSH band: xxh3-64 of the band's rows, seeded with the band number."""
    raw = signature.astype("<u4").tobytes()
    width = ROWS * 4
    return [
        xxhash.xxh3_64_hexdigest(raw[i * width : (i + 1) * width], seed=i)
        for i in range(BANDS)
    ]


def encode_signature(signature: np.ndarray) -> str:
    return base64.b64encode(signature.astype("<u4").tobytes()).decode("ascii")


def decode_signature(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u4")


def fingerprint_text(text: str) -> dict[str, Any]:
    """Fingerprints of one body text (see the module docstring); JSON-serialisable."""
    normalised = normalise(text)
    hashes, words = shingle_hashes(normalised)
    signature = minhash_signature(hashes)
    return {
        "scheme": SCHEME,
        "content_hash": content_hash(normalised),
        "words": words,
        "shingles": int(hashes.size),
        "minhash": encode_signature(signature),
        "bands": band_keys(signature) if words else [],
    }


def fingerprints(article: Article) -> dict[str, Any]:
    """Fingerprints of ``article.body`` for ``Article.fingerprints`` (pure, no I/O)."""
    return fingerprint_text(article.body or "\n\n".join(article.paragraphs))


#: See estimate_similarity: containment only counts when the smaller body has at least
#: this share of the larger one's shingles.
MIN_SIZE_RATIO = 0.7


def estimate_similarity(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Duplicate similarity of two fingerprint records in [0, 1].

    The MinHash estimate of the Jaccard index J, divided by the largest J the two sizes
    allow (small/large, reached when one text contains the other): a copy with a paragraph
    trimmed or a related-links block added scores ~1 although its plain J falls with the
    size difference, while texts of equal size keep plain J. Dividing (rather than
    estimating containment, 2J/(1+J) at equal sizes) does not inflate the J of equal-sized
    texts that differ throughout — recurring template stories with other names and numbers,
    the hardest negatives of bench/dedupe_eval.py. Below ``MIN_SIZE_RATIO`` the sizes are too
    far apart for a copy, and plain J is returned: a short story quoted inside a much longer
    one (a follow-up, a round-up) is not a copy of it.
    """
    if a.get("scheme") != b.get("scheme"):
        return 0.0
    sa, sb = decode_signature(a["minhash"]), decode_signature(b["minhash"])
    if sa.shape != sb.shape:
        return 0.0
    jaccard = float(np.count_nonzero(sa == sb)) / sa.size
    small, large = sorted((a["shingles"], b["shingles"]))
    if small == 0:
        return 0.0
    if small < MIN_SIZE_RATIO * large:
        return jaccard
    return min(1.0, jaccard * large / small)
