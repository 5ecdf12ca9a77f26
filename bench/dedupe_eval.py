"""Labelled evaluation of the duplicate decision, generated from the evaluation pages.

    .venv/bin/python bench/dedupe_eval.py [--data DIR] [--seed N] [--json FILE]

The set is generated, not stored: this script plus its fixed seed (``SEED``) is the set.
Article bodies are the ground-truth bodies of the fundus and wcxb sets (stable, unlike
extractor output; bodies under ``MIN_BODY_WORDS`` words are left out). They are split at
random into *indexed* originals and *held-out* stories, and queries are made from them:

Positives (a copy of one indexed original, published 1-48 h later, another URL), each with
one to three realistic edits, plus a normalisation change in a third of them:
  headline   a (rewritten) headline line added at the top
  drop_first / drop_last   the first / last paragraph trimmed
  add_para   a paragraph added at the start or the end (an editor's note, a quote)
  related    a related-links block ("Baca Juga: …", "Read more: …") inserted inside
  footer     footer boilerplate (share, newsletter, copyright, "tulis komentar anda", "(sya)")
  byline     a byline / date line, or a dateline prefix ("JAKARTA - ")
  side_order the original carries a side block; the copy has it reordered and moved
  unicode    whitespace / Unicode differences: NBSP, soft hyphens, zero-width spaces, NFD,
             curly quotes, dashes, line breaks

Negatives (must not be reported as a copy of anything indexed):
  other      a held-out story as published (same site or topic as some indexed story: the
             report shows the hardest ones by similarity)
  follow_up  a held-out story that quotes one background paragraph of the indexed story
             nearest to it (at most a quarter of its words)
  live_blog  an indexed story's intro paragraph followed by different updates
  same_event another article on the same event: paragraphs holding 20-45 % of an indexed
             story's words (shared quotes and background), the rest from a different story
  recurring  a recurring template story (daily prices, results, weather): an indexed
             story with every number and 15 % of the other words replaced
  template   two different stories of one site, both carrying the same large site template
             block (the first is indexed, the second queried)

Every query is checked against the same index (queries are not recorded), with the real
decision functions. Reported: precision / recall / F1 at the default threshold, recall per
edit and false positives per negative kind, LSH candidate recall, and the P/R curve.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.dedupe.fingerprints import fingerprints, normalise, shingle_hashes  # noqa: E402
from worker.dedupe.index import (  # noqa: E402
    DEFAULT_THRESHOLD,
    Decision,
    _rank,
    check_content,
    decide,
    near_matches,
)
from worker.models import Article  # noqa: E402

SEED = 20251125
MIN_BODY_WORDS = 50
INDEXED_SHARE = 0.6
THRESHOLDS = [round(0.05 * i, 2) for i in range(6, 20)] + [0.97, 0.99]
EDITS = [
    "headline", "drop_first", "drop_last", "add_para", "related", "footer", "byline",
    "side_order",
]
NAMES = ["Andi Saputra", "Maria Keller", "John Smith", "Siti Rahma", "Li Wei", "Ana Costa"]
RELATED = ["Baca Juga: {}", "Read more: {}", "Related: {}", "Lesen Sie auch: {}", "ALSO READ: {}"]
FOOTER = [
    "Share this article", "Advertisement", "tulis komentar anda", "(sya)",
    "Sign up for our newsletter to get the latest news in your inbox.",
    "Copyright © 2024 {site}. All rights reserved.", "Follow us on Facebook, X and Instagram.",
    "Editor: {name}",
]
NOW = datetime(2024, 6, 1, tzinfo=UTC).timestamp()


@dataclass(slots=True)
class Story:
    key: str
    site: str
    title: str
    paragraphs: list[str]
    published: datetime
    side_block: list[str] = field(default_factory=list)

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)


@dataclass(slots=True)
class Query:
    article: Article
    label: bool  # True: a copy of ``source``
    kind: str  # edit names joined by "+", or the negative kind
    source: str | None  # article id of the indexed original


def load_stories(data: Path) -> list[Story]:
    """Truth bodies, one per story: a page whose URL (without query) or title was already
    seen, or that shares half of its word 3-grams (exact sets, not MinHash) with an earlier
    page, is the same story again (fundus holds some pages twice, parsed by two parser
    versions; wcxb has re-posts), and would make a mislabelled negative."""
    stories = []
    seen: set[str] = set()
    posting: dict[int, list[int]] = {}
    sizes: list[int] = []
    for name in ("fundus", "wcxb"):
        for path in sorted((data / name / "truth").glob("*.json")):
            truth = json.loads(path.read_text(encoding="utf-8"))
            body = truth.get("body") or ""
            paragraphs = [p.strip() for p in body.split("\n") if p.strip()]
            if sum(len(p.split()) for p in paragraphs) < MIN_BODY_WORDS:
                continue
            parts = urlsplit(truth["url"])
            same = {f"{parts.hostname}{parts.path}", f"title:{truth.get('title')}"}
            if same & seen:
                continue
            grams = shingle_hashes(normalise(body))[0].tolist()
            shared: dict[int, int] = {}
            for gram in grams:
                for other in posting.get(gram, ()):
                    shared[other] = shared.get(other, 0) + 1
            if any(n >= 0.5 * min(len(grams), sizes[o]) for o, n in shared.items()):
                continue
            for gram in grams:
                posting.setdefault(gram, []).append(len(sizes))
            sizes.append(len(grams))
            seen |= same
            stories.append(
                Story(
                    key=f"{name}/{truth['id']}",
                    site=urlsplit(truth["url"]).hostname or name,
                    title=truth.get("title") or paragraphs[0][:80],
                    paragraphs=paragraphs,
                    published=datetime(2024, 5, 1, tzinfo=UTC),
                )
            )
    return stories


def to_article(story: Story, url: str, paragraphs: list[str], published: datetime) -> Article:
    from worker.urls import article_id

    return Article(
        id=article_id(url), url=url, canonical_url=url, title=story.title,
        body="\n\n".join(paragraphs), paragraphs=paragraphs,
        published_at_utc=published.isoformat(),
    )


def words_of(paragraphs: list[str]) -> set[str]:
    return {w.lower() for p in paragraphs for w in p.split()}


# --- edits ----------------------------------------------------------------------------------


def rewrite_headline(rng: random.Random, title: str, other_title: str) -> str:
    words, others = title.split(), other_title.split() or ["News"]
    for i in range(len(words)):
        if rng.random() < 0.35:
            words[i] = rng.choice(others)
    if rng.random() < 0.5:
        words = [rng.choice(["BREAKING:", "UPDATE:", "Exclusive:", "VIDEO:"]), *words]
    return " ".join(words)


def unicode_variant(rng: random.Random, paragraphs: list[str]) -> list[str]:
    out = []
    for p in paragraphs:
        choice = rng.randrange(5)
        if choice == 0:
            p = p.replace(" ", "\u00a0", rng.randrange(1, 6))
            long_words = [w for w in p.split() if len(w) > 9]
            for word in rng.sample(long_words, min(2, len(long_words))):
                p = p.replace(word, word[:5] + rng.choice("\u00ad\u200b") + word[5:], 1)
        elif choice == 1:
            p = unicodedata.normalize("NFD", p)
        elif choice == 2:
            p = p.replace('"', "\u201c").replace("'", "\u2019").replace(" - ", " \u2014 ")
        elif choice == 3:
            cut = p.find(". ")
            p = p if cut < 0 else p[: cut + 1] + "\n" + p[cut + 2 :]
        else:
            p = "  ".join(p.split(" "))
        out.append(p)
    return out


def apply_edit(
    rng: random.Random, edit: str, story: Story, paragraphs: list[str], donor: Story
) -> list[str]:
    paragraphs = list(paragraphs)
    if edit == "headline":
        return [rewrite_headline(rng, story.title, donor.title), *paragraphs]
    if edit == "drop_first" and len(paragraphs) > 2:
        return paragraphs[1:]
    if edit == "drop_last" and len(paragraphs) > 2:
        return paragraphs[:-1]
    if edit == "add_para":
        extra = rng.choice(
            [
                f"Editor's note: this story was updated with a statement from {rng.choice(NAMES)}.",
                " ".join(rng.choice(donor.paragraphs).split()[:40]),
                f'"{" ".join(rng.choice(donor.paragraphs).split()[:25])}," a spokesperson said.',
            ]
        )
        return [extra, *paragraphs] if rng.random() < 0.5 else [*paragraphs, extra]
    if edit == "related":
        block = [rng.choice(RELATED).format(rng.choice([donor.title, story.title[::-1]]))]
        block += [rng.choice(RELATED).format(donor.title) for _ in range(rng.randrange(3))]
        at = rng.randrange(1, len(paragraphs)) if len(paragraphs) > 1 else 1
        return paragraphs[:at] + block + paragraphs[at:]
    if edit == "footer":
        lines = rng.sample(FOOTER, rng.randrange(1, 4))
        return paragraphs + [x.format(site=story.site, name=rng.choice(NAMES)) for x in lines]
    if edit == "byline":
        when = (story.published + timedelta(hours=rng.randrange(1, 30))).strftime("%d %B %Y %H:%M")
        if rng.random() < 0.5:
            return [f"By {rng.choice(NAMES)} | Updated {when} WIB", *paragraphs]
        city = rng.choice(["JAKARTA", "YEREVAN", "BERLIN", "NEW YORK"])
        return [f"{city} - {paragraphs[0]}", *paragraphs[1:]]
    if edit == "side_order" and story.side_block:
        block = rng.sample(story.side_block, len(story.side_block))
        body = [p for p in paragraphs if p not in story.side_block]
        at = rng.randrange(0, len(body) + 1)
        return body[:at] + block + body[at:]
    return paragraphs


# --- the set --------------------------------------------------------------------------------


def nearest(story: Story, pool: list[Story], vocab: dict[str, set[str]]) -> Story:
    mine = vocab[story.key]
    return max(
        (s for s in pool if s.key != story.key),
        key=lambda s: len(mine & vocab[s.key]) / (len(mine | vocab[s.key]) or 1),
    )


def build(stories: list[Story], seed: int) -> tuple[list[Article], list[Query]]:
    rng = random.Random(seed)
    stories = list(stories)
    rng.shuffle(stories)
    for i, story in enumerate(stories):
        story.published = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(minutes=37 * i)
    cut = int(len(stories) * INDEXED_SHARE)
    indexed, held = stories[:cut], stories[cut:]
    vocab = {s.key: words_of(s.paragraphs) for s in stories}
    # A third of the originals carry a side block (a related-links list as extracted).
    for story in indexed:
        if rng.random() < 0.33 and len(story.paragraphs) > 2:
            donors = rng.sample(indexed, 3)
            story.side_block = [f"Related: {d.title}" for d in donors]
            at = rng.randrange(1, len(story.paragraphs))
            story.paragraphs = story.paragraphs[:at] + story.side_block + story.paragraphs[at:]
    originals = [
        to_article(s, f"https://{s.site}/story/{i}", s.paragraphs, s.published)
        for i, s in enumerate(indexed)
    ]
    queries: list[Query] = []
    for i, (story, original) in enumerate(zip(indexed, originals, strict=True)):
        donor = rng.choice(stories)
        edits = rng.sample(EDITS, rng.choice([1, 1, 2, 2, 3]))
        if "side_order" in edits and not story.side_block:
            edits.remove("side_order")
        paragraphs = story.paragraphs
        for edit in edits:
            paragraphs = apply_edit(rng, edit, story, paragraphs, donor)
        if rng.random() < 0.33 or not edits:
            paragraphs = unicode_variant(rng, paragraphs)
            edits.append("unicode")
        published = story.published + timedelta(hours=rng.randrange(1, 49))
        host = rng.choice(["syndicate.example", "m.example", "aggregator.example"])
        copy = to_article(story, f"https://{host}/{i}/copy", paragraphs, published)
        queries.append(Query(copy, True, "+".join(edits), original.id))
    later = timedelta(days=2)
    plain, template_pool = held[: len(held) * 3 // 4], held[len(held) * 3 // 4 :]
    for i, story in enumerate(plain):
        art = to_article(story, f"https://{story.site}/held/{i}", story.paragraphs,
                         story.published + later)
        queries.append(Query(art, False, "other", None))
        near = nearest(story, indexed, vocab)
        background = [p for p in near.paragraphs if p not in near.side_block]
        quote = rng.choice(background)
        if len(quote.split()) <= story.words / 3:
            paragraphs = [*story.paragraphs, quote]
            art = to_article(story, f"https://{story.site}/follow/{i}", paragraphs,
                             story.published + later)
            queries.append(Query(art, False, "follow_up", None))
        if i % 3 == 0:
            intro = near.paragraphs[0]
            updates = story.paragraphs if len(intro.split()) <= story.words / 3 else None
            if updates:
                art = to_article(near, f"https://{near.site}/live/{i}", [intro, *updates],
                                 near.published + later)
                queries.append(Query(art, False, "live_blog", None))
    for i, story in enumerate(indexed):
        other = rng.choice(plain)  # never a template-pool story: those get indexed
        if i % 2 == 0 and len(story.paragraphs) >= 4:
            body = [p for p in story.paragraphs if p not in story.side_block]
            total = sum(len(p.split()) for p in body)
            share = rng.randrange(30, 46) / 100
            kept, kept_words = [], 0
            for p in rng.sample(body, len(body)):
                if kept_words + len(p.split()) <= share * total:
                    kept.append(p)
                    kept_words += len(p.split())
            fresh, words = [], 0
            for p in other.paragraphs:
                if words >= 1.5 * kept_words:
                    break
                fresh.append(p)
                words += len(p.split())
            if kept_words >= 0.2 * total and words >= 1.5 * kept_words:
                mixed = kept + fresh
                rng.shuffle(mixed)
                art = to_article(other, f"https://{other.site}/event/{i}", mixed,
                                 story.published + later)
                queries.append(Query(art, False, "same_event", None))
        if i % 2 == 1:
            vocab_other = [w for p in other.paragraphs for w in p.split()]
            changed = [
                " ".join(
                    str(rng.randrange(1, 10_000)) if any(c.isdigit() for c in w)
                    else rng.choice(vocab_other) if rng.random() < 0.15 else w
                    for w in p.split()
                )
                for p in story.paragraphs
            ]
            art = to_article(story, f"https://{story.site}/daily/{i}", changed,
                             story.published + later)
            queries.append(Query(art, False, "recurring", None))
    for i in range(0, len(template_pool) - 1, 2):
        first, second = template_pool[i], template_pool[i + 1]
        template = [
            f"Home News Politics Business Sport {first.site}",
            "Subscribe to our newsletter for the day's most important stories, every morning.",
            *(rng.choice(RELATED).format(s.title) for s in rng.sample(stories, 4)),
            f"Copyright © 2024 {first.site}. All rights reserved. Terms of use Privacy policy",
        ]
        originals.append(to_article(first, f"https://{first.site}/tpl/{i}",
                                    [*first.paragraphs, *template], first.published))
        art = to_article(second, f"https://{first.site}/tpl/{i + 1}",
                         [*second.paragraphs, *template], second.published + later)
        queries.append(Query(art, False, "template", None))
    return originals, queries


# --- evaluation -----------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    query: Query
    matches: list[tuple[str, float, Any]]  # (id, similarity, rank) of every LSH candidate
    exact: str | None
    decision: Decision


def evaluate(
    originals: list[Article], queries: list[Query], threshold: float = DEFAULT_THRESHOLD
) -> list[Outcome]:
    urls: dict[str, Any] = {}
    contents: dict[str, Any] = {}
    sigs: dict[str, Any] = {}
    bands: dict[str, Any] = {}
    for art in originals:
        decide(art, fingerprints(art), urls=urls, contents=contents, sigs=sigs, bands=bands,
               now=NOW)
    outcomes = []
    for query in queries:
        fps = fingerprints(query.article)
        found = near_matches(query.article.id, fps, sigs=sigs, bands=bands, now=NOW,
                             threshold=0.0, retention=float("inf"))
        matches = [(i, sim, _rank(rec["o"], i)) for i, rec, sim in found]
        record = contents.get(fps["content_hash"])
        decision = check_content(
            query.article, fps, Decision("new"), contents=contents, sigs=sigs, bands=bands,
            now=NOW, threshold=threshold,
        )
        outcomes.append(Outcome(query, matches, record["id"] if record else None, decision))
    return outcomes


def predicted(outcome: Outcome, threshold: float) -> str | None:
    """The indexed original the decision pairs the query with at ``threshold`` (the earliest
    matching one; when the query itself ranks earlier, the pair is reported as a correction)."""
    if outcome.exact is not None:
        return outcome.exact
    hits = [m for m in outcome.matches if m[1] >= threshold]
    if not hits:
        return None
    return min(hits, key=lambda m: m[2])[0]


def scores(outcomes: list[Outcome], threshold: float) -> dict[str, float]:
    tp = fp = positives = 0
    for o in outcomes:
        guess = predicted(o, threshold)
        positives += o.query.label
        if guess is None:
            continue
        if o.query.label and guess == o.query.source:
            tp += 1
        else:
            fp += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": threshold, "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(f1, 4), "tp": tp, "fp": fp,
            "positives": positives}


def report(outcomes: list[Outcome], threshold: float) -> dict[str, Any]:
    # The curve's rule must be the decision's rule: check it at the default threshold.
    for o in outcomes:
        said = o.decision.original_id if o.decision.kind == "duplicate" else None
        if o.decision.corrections:  # the query ranks first: the pair is reported reversed
            ranks = {m[0]: m[2] for m in o.matches}
            said = min((c.duplicate_id for c in o.decision.corrections), key=ranks.__getitem__)
        assert said == predicted(o, threshold), (o.query.kind, said, predicted(o, threshold))
    by_edit: dict[str, list[bool]] = {}
    by_negative: dict[str, list[bool]] = {}
    for o in outcomes:
        guess = predicted(o, threshold)
        if o.query.label:
            for edit in o.query.kind.split("+"):
                by_edit.setdefault(edit, []).append(guess == o.query.source)
            by_edit.setdefault(f"{len(o.query.kind.split('+'))} edits", []).append(
                guess == o.query.source
            )
        else:
            by_negative.setdefault(o.query.kind, []).append(guess is not None)
    positives = [o for o in outcomes if o.query.label]
    candidate_recall = sum(
        o.exact == o.query.source or any(m[0] == o.query.source for m in o.matches)
        for o in positives
    ) / len(positives)
    exact_share = sum(o.exact == o.query.source for o in positives) / len(positives)
    negatives = [o for o in outcomes if not o.query.label]
    hardest = sorted(
        (max((m[1] for m in o.matches), default=0.0), o.query.kind) for o in negatives
    )[-5:]
    missed = sorted(
        (max((m[1] for m in o.matches if m[0] == o.query.source), default=0.0), o.query.kind)
        for o in positives
        if predicted(o, threshold) != o.query.source
    )
    return {
        "queries": len(outcomes),
        "positives": len(positives),
        "negatives": len(negatives),
        "at_default": scores(outcomes, threshold),
        "curve": [scores(outcomes, t) for t in THRESHOLDS],
        "recall_by_edit": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_edit.items())},
        "positives_by_edit": {k: len(v) for k, v in sorted(by_edit.items())},
        "false_positive_rate_by_negative": {
            k: round(sum(v) / len(v), 4) for k, v in sorted(by_negative.items())
        },
        "negatives_by_kind": {k: len(v) for k, v in sorted(by_negative.items())},
        "lsh_candidate_recall": round(candidate_recall, 4),
        "caught_by_exact_hash": round(exact_share, 4),
        "hardest_negative_similarities": [(round(x, 3), k) for x, k in hardest],
        "missed_positive_similarities": [(round(s, 3), k) for s, k in missed[:15]],
        "median_body_words": statistics.median(o.query.article.body.count(" ") + 1
                                               for o in outcomes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".data")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    stories = load_stories(args.data)
    if not stories:
        parser.error(f"no truth bodies under {args.data}/{{fundus,wcxb}}/truth")
    originals, queries = build(stories, args.seed)
    result = report(evaluate(originals, queries, args.threshold), args.threshold)
    result = {"seed": args.seed, "indexed": len(originals), **result}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    d = result["at_default"]
    print(f"seed {args.seed}: {result['indexed']} indexed originals, {result['positives']} "
          f"positives, {result['negatives']} negatives, median body "
          f"{result['median_body_words']} words")
    print(f"threshold {d['threshold']}: precision {d['precision']} recall {d['recall']} "
          f"F1 {d['f1']} (tp {d['tp']}, fp {d['fp']})")
    print(f"LSH candidate recall {result['lsh_candidate_recall']}, caught by exact hash "
          f"{result['caught_by_exact_hash']}")
    print("recall by edit:", result["recall_by_edit"])
    print("false-positive rate by negative kind:", result["false_positive_rate_by_negative"],
          result["negatives_by_kind"])
    print("hardest negatives (similarity):", result["hardest_negative_similarities"])
    print("missed positives (similarity to source, edits):",
          result["missed_positive_similarities"])
    print("threshold precision recall f1")
    for row in result["curve"]:
        print(f"  {row['threshold']:.2f}  {row['precision']:.4f}  {row['recall']:.4f}  "
              f"{row['f1']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
