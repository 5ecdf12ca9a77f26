"""Keywords in the manner of YAKE (Campos et al., 2020): unsupervised, one document at a time.

Each word gets YAKE's statistics — how often it is capitalised, how early it first comes,
how frequent it is, how many different words surround it, in how many sentences it stands —
and a candidate phrase of one to three words (no stop word at either end, no punctuation
inside) scores the product of its words' scores divided by its own frequency. Lower is
better, as in YAKE. Stop words come from stopwords-iso for the article's language. This is a
compact re-implementation rather than the ``yake`` package, which needs networkx, numpy
and jellyfish and takes tens of milliseconds per article.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from itertools import pairwise

from worker.enrich import gazetteer as gz
from worker.enrich.tokens import SENTENCE, SPACE, Token, tokenize

MAX_WORDS = 3
#: Keywords are scored on the headline and the first paragraphs only: news puts what a
#: story is about first, YAKE favours early words anyway, and the cost grows with length.
SAMPLE_CHARS = 800


def extract_keywords(text: str, lang: str = "und", top: int = 10) -> list[str]:
    """The ``top`` keyphrases of ``text``, best first, in the case they were written."""
    return keywords_from_tokens([tokenize(p) for p in text[:SAMPLE_CHARS].split("\n")], lang, top)


def keywords_from_tokens(
    segments: Sequence[Sequence[Token]], lang: str = "und", top: int = 10
) -> list[str]:
    """Keywords of already tokenised text (the title's and paragraphs' tokens, in order);
    punctuation splits candidate phrases and sentence ends count sentences."""
    stop = gz.stop_words(lang) if lang != "und" else gz.any_stop_words()
    # A plain dict with .get rather than Counter: Counter's __missing__ is a Python call per
    # new word, and this loop runs once per word of the sample.
    tf_upper: dict[str, int] = {}
    # The sentence of each occurrence; a word's frequency is the length of its list.
    positions: dict[str, list[int]] = defaultdict(list)
    # Distinct (left, right) neighbours, gathered per chunk in C and counted once at the end.
    pairs: set[tuple[str, str]] = set()
    candidates: dict[tuple[str, ...], int] = {}
    surface: dict[tuple[str, ...], str] = {}
    s_index = -1
    budget = SAMPLE_CHARS
    # A headline capitalises for style ("Kalah Lawan Azerbaijan"): its case says nothing.
    has_headline = len(segments) > 1
    for segment, chunk, new_sentence in _chunks(segments):
        if budget <= 0:
            break
        budget -= chunk[-1].end - chunk[0].start
        s_index += new_sentence
        in_headline = has_headline and segment == 0
        words = [t.text for t in chunk]
        keys = [t.key for t in chunk]
        # A phrase may start or end only on a content word.
        content = [not (k in stop or len(k) < 2 or k.isdigit()) for k in keys]
        last = len(keys) - 1
        pairs.update(pairwise(keys))
        for i, key in enumerate(keys):
            word = words[i]
            positions[key].append(s_index)
            if (
                not in_headline
                and word[0].isupper()
                and (i > 0 or chunk[0].gap != SENTENCE or word.isupper())
            ):
                tf_upper[key] = tf_upper.get(key, 0) + 1
            if not content[i]:
                continue
            # Phrases start and end on a content word; stop words may sit inside.
            for end in range(i, min(i + MAX_WORDS, last + 1)):
                tail = keys[end]
                if len(tail) < 2 or tail.isdigit():
                    break
                if not content[end]:
                    continue
                gram = tuple(keys[i : end + 1])
                seen = candidates.get(gram)
                if seen is None:
                    surface[gram] = " ".join(words[i : end + 1])
                    candidates[gram] = 1
                else:
                    candidates[gram] = seen + 1
    sentences = s_index + 1
    if not candidates:
        return []

    content = [len(p) for k, p in positions.items() if k not in stop]
    mean_tf = sum(content) / len(content) if content else 1.0
    std_tf = _std(content, mean_tf) if content else 0.0
    max_tf = max(content) if content else 1.0
    n_sent = max(sentences, 1)
    neighbours: dict[str, int] = {}
    for left, right in pairs:
        neighbours[left] = neighbours.get(left, 0) + 1
        neighbours[right] = neighbours.get(right, 0) + 1
    word_score: dict[str, float] = {}
    for key, sentence_of in positions.items():
        if key in stop:
            continue
        freq = len(sentence_of)
        t_case = tf_upper.get(key, 0) / (1.0 + math.log(freq))
        t_pos = math.log(math.log(3.0 + _median(sentence_of)))
        t_freq = freq / (mean_tf + std_tf or 1.0)
        # YAKE's relatedness: distinct neighbours per occurrence, scaled by TF / max TF.
        t_rel = 1.0 + neighbours.get(key, 0) / max_tf
        t_sent = len(set(sentence_of)) / n_sent
        word_score[key] = (t_pos * t_rel) / (t_case + t_freq / t_rel + t_sent / t_rel)

    scored: list[tuple[float, tuple[str, ...]]] = []
    for gram, freq in candidates.items():
        inner = [word_score.get(k, 1.0) for k in gram if k not in stop]
        prod = math.prod(inner)
        scored.append((prod / (freq * (1.0 + sum(inner))), gram))
    scored.sort()
    chosen: list[tuple[str, ...]] = []
    used: set[str] = set()
    for _score, gram in scored:
        # Skip a phrase sharing a word with one already chosen: ten different topics tell a
        # desk more than ten spans around the same name.
        if used.intersection(gram):
            continue
        used.update(k for k in gram if k not in stop)
        chosen.append(gram)
        if len(chosen) == top:
            break
    return [surface[g] for g in chosen]


def _chunks(
    segments: Sequence[Sequence[Token]],
) -> Iterator[tuple[int, list[Token], int]]:
    """Runs of words with no punctuation between them, each with its segment's index and
    1 when a new sentence starts with it (a new paragraph starts one too)."""
    for segment, tokens in enumerate(segments):
        chunk: list[Token] = []
        new_sentence = 1
        for tok in tokens:
            if chunk and tok.gap != SPACE:
                yield segment, chunk, new_sentence
                chunk, new_sentence = [], int(tok.gap == SENTENCE)
            chunk.append(tok)
        if chunk:
            yield segment, chunk, new_sentence


def _median(ordered: list[int]) -> float:
    """Median of a list already in order (sentence indices are appended as they grow)."""
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _std(values: list[int], mean: float) -> float:
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
