"""Fingerprints: normalisation, the exact hash, MinHash (pinned to datasketch), LSH bands."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import orjson
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.dedupe.fingerprints import (
    BANDS,
    NUM_PERM,
    SEED,
    _reference_normalise,
    estimate_similarity,
    fingerprint_text,
    fingerprints,
    minhash_signature,
    normalise,
    normalise_words,
    shingle_hashes,
)
from worker.models import Article


def story(seed: int, paragraphs: int = 6, words: int = 60) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"w{rng.randrange(5000)}" for _ in range(3000)]
    return [
        " ".join(rng.choice(vocab) for _ in range(words)).capitalize() + "."
        for _ in range(paragraphs)
    ]


def test_normalisation_ignores_case_punctuation_whitespace_and_unicode_forms():
    a = "Die Straße — „Berlin“ sagte: ‘OK’…\u00a0Ｆｕｌｌ  width!"
    b = 'die STRASSE - "berlin" sagte: \'ok\'...\nFull width'
    assert normalise(a) == normalise(b) == b"die strasse berlin sagte ok full width"
    assert fingerprint_text(a)["content_hash"] == fingerprint_text(b)["content_hash"]


# Characters where a per-character shortcut could go wrong: ones NFKC composes (e + U+0301,
# Hangul jamo, nukta), rewrites (NBSP, ligatures, full width, ellipsis, ½), case folds to
# several characters (ß, İ, ΐ, ŉ) or by context (Σ), invisible ones, a lone surrogate, emoji.
TRICKY = (
    "aeEZz09 .,'-\n\t\x00\x7fΣσςßẞİıΐŉǰﬁﬀ½²\u00a0\u2009\u200b\u00ad\ufeff\u2026\u201c\u2014"
    "\u0301\u0327\u0308\u0345\u0338\u1100\u1161\u11a8\uac00\u0915\u093c\u0928\u0b47\u0b56"
    "\ufdfa\u0f73\u0f71\u0f72\u2153ＡＺａ０\u3000\u30ab\u3099\uff76\uff9e\u212b\u2126\u1e9b\u0130\ud800\U0001f600\U0001d400"
)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(TRICKY), max_size=40))
def test_normalise_matches_the_whole_text_reference_on_tricky_characters(text):
    assert normalise(text) == _reference_normalise(text)


def test_normalise_matches_the_reference_for_every_bmp_character_in_context():
    for code in range(0x10000):
        for text in (f"Ab{chr(code)}\u0301 c", f"\u1100{chr(code)}\u1161 ΑΣ"):
            if normalise(text) != _reference_normalise(text):
                raise AssertionError(f"U+{code:04X} in {text!r}")


DATA = Path(__file__).resolve().parents[1] / ".data"


@pytest.mark.skipif(not (DATA / "fundus" / "truth").is_dir(), reason="no evaluation data")
def test_normalise_matches_the_reference_on_real_article_bodies():
    paths = sorted((DATA / "fundus" / "truth").glob("*.json"))
    paths += sorted((DATA / "wcxb" / "truth").glob("*.json"))[::4]
    bodies = [json.loads(p.read_text(encoding="utf-8")).get("body") or "" for p in paths]
    assert bodies
    for path, body in zip(paths, bodies, strict=True):
        assert normalise(body) == _reference_normalise(body), path.name


def test_normalise_words_keeps_non_latin_letters_and_digits():
    words = normalise_words("Ερώτηση ΣΑΣ; 2023 — 東京、大阪")
    assert words == ["ερώτηση", "σασ", "2023", "東京", "大阪"]


def test_content_hash_changes_with_a_single_word():
    body = "\n\n".join(story(1))
    changed = body.replace(body.split()[10], "different", 1)
    assert fingerprint_text(body)["content_hash"] != fingerprint_text(changed)["content_hash"]


def test_signature_is_datasketch_affine32_minhash_of_the_same_hashes():
    hashes, _ = shingle_hashes(normalise("\n\n".join(story(2))))
    reference = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32", hashfunc=int)
    reference.update_batch(hashes.tolist())
    assert np.array_equal(reference.hashvalues, minhash_signature(hashes))


def test_signature_of_a_long_text_is_datasketch_affine32_minhash_too():
    # More grams than the scratch buffer first holds: the grown buffer gives the same values.
    hashes = np.unique(np.random.default_rng(3).integers(0, 2**32, 9000, dtype=np.uint64))
    hashes = hashes.astype(np.uint32)
    reference = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32", hashfunc=int)
    reference.update_batch(hashes.tolist())
    assert np.array_equal(reference.hashvalues, minhash_signature(hashes))
    assert np.array_equal(reference.hashvalues, minhash_signature(hashes))


def gram_hash_by_definition(gram: bytes) -> int:
    """The stored scheme spelt out: polynomial hash of the gram's bytes (P = FNV-1 64 prime)
    mod 2^64, MurmurHash3 fmix64, top 32 bits."""
    mask = (1 << 64) - 1
    h = sum(byte * pow(0x100000001B3, i, 1 << 64) for i, byte in enumerate(gram)) & mask
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & mask
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & mask
    h ^= h >> 33
    return h >> 32


def test_gram_hashes_are_the_stored_scheme():
    text = normalise("Über 3 Straßen — die Jüngste, die Älteste; die Jüngste kam zuerst.")
    words = text.split()
    grams = {b" ".join(words[i : i + 3]) for i in range(len(words) - 2)}
    hashes, count = shingle_hashes(text)
    assert count == len(words)
    assert hashes.tolist() == sorted({gram_hash_by_definition(g) for g in grams})
    assert shingle_hashes(b"two words")[0].tolist() == [gram_hash_by_definition(b"two words")]


def test_gram_hashes_do_not_depend_on_position():
    alone, _ = shingle_hashes(b"alpha beta gamma")
    inside, words = shingle_hashes(b"x y alpha beta gamma z alpha beta gamma")
    assert words == 9
    assert alone.size == 1 and alone[0] in inside
    # alpha beta gamma occurs twice but is one distinct gram
    assert inside.size == 6


def test_text_shorter_than_a_shingle_is_one_gram():
    hashes, words = shingle_hashes(b"breaking news")
    assert (hashes.size, words) == (1, 2)


def test_fingerprints_are_json_serialisable_and_use_paragraphs_without_body():
    paragraphs = story(3)
    by_body = fingerprints(Article(id="a", url="https://x.test/a", body="\n\n".join(paragraphs)))
    by_paragraphs = fingerprints(Article(id="a", url="https://x.test/a", paragraphs=paragraphs))
    assert by_body == by_paragraphs
    assert orjson.loads(orjson.dumps(by_body)) == by_body
    assert len(by_body["bands"]) == BANDS
    assert by_body["words"] == 360


def test_empty_body_has_no_bands():
    fps = fingerprint_text("")
    assert (fps["words"], fps["shingles"], fps["bands"]) == (0, 0, [])


def test_similarity_is_high_for_edited_copies_and_low_for_other_stories():
    paragraphs = story(4, paragraphs=10)
    original = fingerprint_text("\n\n".join(paragraphs))
    trimmed = fingerprint_text("\n\n".join(paragraphs[1:]))
    padded = fingerprint_text("\n\n".join([*paragraphs, "Baca juga: lorem ipsum dolor sit"]))
    other = fingerprint_text("\n\n".join(story(5, paragraphs=10)))
    assert estimate_similarity(original, original) == 1.0
    assert estimate_similarity(original, trimmed) >= 0.85
    assert estimate_similarity(original, padded) >= 0.85
    assert estimate_similarity(original, other) < 0.2


def test_short_text_quoted_in_a_long_one_is_not_similar_by_containment():
    paragraphs = story(6, paragraphs=12)
    brief = fingerprint_text("\n\n".join(paragraphs[:3]))
    long_story = fingerprint_text("\n\n".join(paragraphs[:3] + story(7, paragraphs=9)))
    assert estimate_similarity(brief, long_story) < 0.5


def test_signatures_of_another_scheme_are_never_similar():
    fps = fingerprint_text("\n\n".join(story(8)))
    assert estimate_similarity(fps, {**fps, "scheme": 0}) == 0.0
