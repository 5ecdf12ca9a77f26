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
the text is normalised with C-level string operations and the gram hashes are computed for
all grams at once in numpy (a polynomial hash over the UTF-8 bytes, avalanched by the
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
_ASCII_SEPARATORS = bytes(
    c for c in range(128) if chr(c) not in string.ascii_lowercase + string.digits
)
_TO_SPACE = bytes.maketrans(_ASCII_SEPARATORS, b" " * len(_ASCII_SEPARATORS))
_SPACE = np.uint8(32)

# datasketch's affine32 permutation parameters (a odd, b), drawn from its seed once.
_PERMS = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32").permutations
_A = _PERMS[0].astype(np.uint32)[:, np.newaxis]
_B = _PERMS[1].astype(np.uint32)[:, np.newaxis]
_EMPTY = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
_scratch = np.empty((NUM_PERM, 4096), dtype=np.uint32)

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


def normalise(text: str) -> bytes:
    """The body as comparison text: UTF-8 words separated by single spaces.

    NFKC, case-folded, every character that is neither a letter nor a digit (Unicode-aware)
    treated as a separator, so punctuation and whitespace differences vanish.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    if not text.isascii():
        text = _non_ascii_pattern()[0].sub(_non_ascii_replacement, text)
    data = np.frombuffer(text.encode("utf-8").translate(_TO_SPACE), dtype=np.uint8)
    # Collapse runs of spaces: keep a space only right after a non-space.
    word = data != _SPACE
    keep = word.copy()
    keep[1:] |= word[:-1]
    out = data[keep].tobytes()
    return out[:-1] if out.endswith(b" ") else out


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
    prefix = np.zeros(size + 1, dtype=np.uint64)
    np.cumsum(data.astype(np.uint64) * powers[:size], out=prefix[1:])
    # normalise() leaves exactly one space between words and none at either end.
    spaces = np.flatnonzero(data == _SPACE)
    starts = np.concatenate(([0], spaces + 1))
    ends = np.concatenate((spaces, [size]))
    words = starts.size
    k = min(k, words)
    first = starts[: words - k + 1]
    h = (prefix[ends[k - 1 :]] - prefix[first]) * inverse[first]
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
    global _scratch
    if _scratch.shape[1] < hv.shape[1]:
        _scratch = np.empty((NUM_PERM, max(hv.shape[1], 2 * _scratch.shape[1])), np.uint32)
    work = _scratch[:, : hv.shape[1]]
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
