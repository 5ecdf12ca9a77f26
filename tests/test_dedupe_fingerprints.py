"""Fingerprints: normalisation, the exact hash, MinHash (pinned to datasketch), LSH bands."""

from __future__ import annotations

import random

import numpy as np
import orjson
from datasketch import MinHash

from worker.dedupe.fingerprints import (
    BANDS,
    NUM_PERM,
    SEED,
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
