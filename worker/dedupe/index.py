"""The duplicate index: pure decisions over plain ``MutableMapping`` tables.

In production the mappings are Faust tables (state in changelog topics, so every worker sees
earlier articles and the index survives restarts); in tests and benchmarks they are dicts.
Nothing here imports Faust. Values are JSON-serialisable and every change is a reassignment
(``table[key] = new``), never an in-place mutation, because Faust only writes a changelog
record on ``__setitem__`` / ``__delitem__``.

Four tables (how agents wire them: ``worker/dedupe/WIRING.md``):

``urls``      article id → ``{"h": content hash, "v": version, "u": owner URL, "f": URL first
              fetched at, "t": last seen, "p": partition, "r": [[fetched_at, version], …]
              of the last emitted fetches}``; stage 1, on a stream keyed by article id.
``contents``  content hash → ``{"id", "u", "o": order, "t": first seen, "p"}``; stage 2, on a
              stream keyed by content hash, so one partition owns each hash and exact
              copies never race.
``sigs``      article id → ``{"m": minhash, "n": shingles, "s": scheme, "u", "o", "t",
              "d": original id once retired}``; the near-duplicate candidates' signatures.
``bands``     LSH band key → space-separated article ids (one string: a fraction of the
              memory of a list of strings). ``sigs`` is global (every worker reads all of
              it); in a worker, ``bands`` is a ``BandIndex`` each worker derives from
              ``sigs`` itself, so it is never written to the broker.

Decisions follow one deterministic rule so that the outcome does not depend on which worker
saw which copy first: among copies, the original is the one with the smallest
``order_key`` — earliest publication time (UTC), then smallest id. When an arriving article
beats an indexed original, the article is emitted and a correction (the old original is a
duplicate of the new one) is returned with the decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker.dedupe.fingerprints import band_keys, decode_signature, estimate_similarity
from worker.models import Article, DuplicateEvent
from worker.urls import article_id, canonical_url

#: Measured by bench/dedupe_eval.py: P 1.0 / R 0.995 at 0.7, the widest gap between the
#: hardest negatives (<= 0.65) and the edited copies.
DEFAULT_THRESHOLD = 0.7
DEFAULT_RETENTION = 14 * 86_400.0
#: Bodies with fewer normalised words are never content duplicates: short texts (paywall
#: stubs, "page not found", photo captions) repeat across a site's template pages.
MIN_WORDS = 25
#: A band bucket keeps at most this many ids (the most recent): a band shared by hundreds of
#: articles is template text, and an unbounded bucket would make every look-up slow.
MAX_BUCKET = 64
#: Retired originals are followed to their own original at most this many hops.
MAX_CHAIN = 8
#: How long after an original was indexed its ``audit`` runs: comfortably longer than the
#: replication lag of the global tables between workers (milliseconds on a healthy broker).
SETTLE_SECONDS = 10.0

Table = MutableMapping[str, Any]


@dataclass(frozen=True, slots=True)
class Correction:
    """An indexed original that turned out to be a copy of an earlier article."""

    duplicate_id: str
    duplicate_url: str
    original_id: str
    original_url: str
    similarity: float
    kind: str  # exact | near


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with an article.

    ``kind``: ``new`` (emit, version 1), ``version`` (emit: same id, changed content),
    ``unchanged`` (same id, same content: emit nothing), ``duplicate`` (emit a
    DuplicateEvent; the article itself only with ``dedupe.emit_duplicates``).
    ``corrections``: earlier originals this article displaces; emit one DuplicateEvent
    with ``correction=True`` for each.
    """

    kind: str
    version: int = 1
    original_id: str | None = None
    original_url: str | None = None
    similarity: float = 0.0
    dup_kind: str | None = None  # url | exact | near
    corrections: tuple[Correction, ...] = ()

    @property
    def emit(self) -> bool:
        return self.kind in ("new", "version")


def _epoch(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo else None


def order_key(article: Article) -> float | None:
    """When the article was published (epoch seconds, UTC); None when unknown.

    Only facts carried by the article itself count (never the time a worker saw it), so
    every worker ranks copies identically. An article without a trustworthy date ranks after
    every dated copy; ties fall back to the id (see ``_rank``).
    """
    for value in (article.published_at_utc, article.published_at):
        epoch = _epoch(value)
        if epoch is not None:
            return epoch
    return None


def _rank(order: float | None, id_: str) -> tuple[bool, float, str]:
    """Sort key of the deterministic winner: dated before undated, earlier, smaller id."""
    return (order is None, order or 0.0, id_)


def _owner_url(article: Article) -> str:
    return article.canonical_url or _fetched_canonical(article)


def _fetched_canonical(article: Article) -> str:
    try:
        return canonical_url(article.url)
    except ValueError:
        return article.url


def _live(record: Mapping[str, Any] | None, now: float, retention: float) -> bool:
    return record is not None and record.get("t", 0.0) >= now - retention


# --- stage 1: the same article id again (stream keyed by article id) ----------------------


def check_version(
    article: Article,
    fps: Mapping[str, Any],
    *,
    urls: Table,
    now: float,
    retention: float = DEFAULT_RETENTION,
    partition: int | None = None,
) -> Decision:
    """Decide whether ``article`` is new, a new version, unchanged, or a URL variant.

    Records what it learnt in ``urls``. A refetch of the owner URL (the article's canonical
    URL) with changed content is a new version; the same content is unchanged. A page
    fetched at another URL that resolves to a known id (an AMP, mobile or print variant
    whose rel=canonical names the original) is a ``url`` duplicate, never a version, so a
    stale variant cannot flip the article back and forth.
    """
    record = urls.get(article.id)
    content = fps["content_hash"]
    fetched = _fetched_canonical(article)
    if not _live(record, now, retention):
        urls[article.id] = {"h": content, "v": 1, "u": _owner_url(article), "f": fetched,
                            "t": now, "p": partition, "r": _handled(None, article, 1)}
        return Decision("new", version=1)
    assert record is not None
    # Kafka delivers at least once: after a crash or a rebalance this message may come
    # again, after its first pass was recorded here but before what it sent downstream was
    # committed. The same fetch (same fetched_at) gets the same decision again, instead of
    # "unchanged", so that nothing is lost downstream (which is idempotent).
    if article.fetched_at is not None:
        for fetched_at, version in record.get("r", ()):
            if fetched_at == article.fetched_at and record["h"] == content:
                return Decision("new" if version == 1 else "version", version=version)
    # a refetch comes from the owner URL or from the URL the article was first fetched at
    # (a page whose rel=canonical names another host is never fetched at its owner URL)
    if fetched not in (record["u"], record.get("f")):
        return Decision(
            "duplicate",
            version=record["v"],
            original_id=article.id,
            original_url=record["u"],
            similarity=1.0 if record["h"] == content else 0.0,
            dup_kind="url",
        )
    if record["h"] == content:
        urls[article.id] = {**record, "t": now}
        return Decision("unchanged", version=record["v"])
    version = record["v"] + 1
    urls[article.id] = {**record, "h": content, "v": version, "t": now,
                        "r": _handled(record, article, version)}
    return Decision("version", version=version)


#: How many emitted fetches of an article ``check_version`` remembers to recognise their
#: redelivery (a redelivery follows within one consumer session, so the last few suffice).
_REMEMBERED_FETCHES = 3


def _handled(record: Mapping[str, Any] | None, article: Article, version: int) -> list[Any]:
    earlier = list(record.get("r", ())) if record else []
    if article.fetched_at is None:
        return earlier
    return [*earlier, [article.fetched_at, version]][-_REMEMBERED_FETCHES:]


# --- stage 2: the same content under another id (stream keyed by content hash) ------------


def _resolve(
    original: str, url: str, order: float | None, sigs: Mapping[str, Any]
) -> tuple[str, str, float | None]:
    """Follow retired originals to the live one: (id, url, order)."""
    for _ in range(MAX_CHAIN):
        record = sigs.get(original)
        if record is None:
            break
        url, order = record["u"], record["o"]
        if not record.get("d"):
            break
        original = record["d"]
    return original, url, order


def candidates(fps: Mapping[str, Any], bands: Mapping[str, str]) -> list[str]:
    """Ids sharing at least one LSH band with ``fps``, in first-seen order, no repeats."""
    seen: dict[str, None] = {}
    for key in fps.get("bands", ()):
        bucket = bands.get(key)
        if bucket:
            seen.update(dict.fromkeys(bucket.split()))
    return list(seen)


def near_matches(
    article_id_: str,
    fps: Mapping[str, Any],
    *,
    sigs: Mapping[str, Any],
    bands: Mapping[str, str],
    now: float,
    threshold: float,
    retention: float,
) -> list[tuple[str, Mapping[str, Any], float]]:
    """Live indexed originals whose similarity to ``fps`` is >= threshold.

    Originals already retired as copies of ``article_id_`` itself count too: when a message
    is delivered again (at-least-once), its corrections are reported again, not lost.
    """
    found = []
    for other in candidates(fps, bands):
        if other == article_id_:
            continue
        record = sigs.get(other)
        if not _live(record, now, retention) or record.get("d") not in (None, article_id_):
            continue
        similarity = estimate_similarity(
            fps, {"scheme": record["s"], "minhash": record["m"], "shingles": record["n"]}
        )
        if similarity >= threshold:
            found.append((other, record, similarity))
    return found


def check_content(
    article: Article,
    fps: Mapping[str, Any],
    prior: Decision,
    *,
    contents: Mapping[str, Any],
    sigs: Mapping[str, Any],
    bands: Mapping[str, str],
    now: float,
    threshold: float = DEFAULT_THRESHOLD,
    retention: float = DEFAULT_RETENTION,
) -> Decision:
    """Exact, then near duplicate check of an article stage 1 let through (reads only).

    Returns ``prior`` (possibly with corrections) when the article is an original, or a
    ``duplicate`` decision naming the original. Call ``record`` with the result.
    """
    if not prior.emit or fps.get("words", 0) < MIN_WORDS:
        return prior
    order = order_key(article)
    record = contents.get(fps["content_hash"])
    if _live(record, now, retention) and record["id"] != article.id:
        original, url, original_order = _resolve(record["id"], record["u"], record["o"], sigs)
        if original != article.id:
            if _rank(order, article.id) < _rank(original_order, original):
                fix = Correction(original, url, article.id, article.url, 1.0, "exact")
                return _with_corrections(prior, (fix,))
            return Decision(
                "duplicate",
                version=prior.version,
                original_id=original,
                original_url=url,
                similarity=1.0,
                dup_kind="exact",
            )
    matches = near_matches(
        article.id, fps, sigs=sigs, bands=bands, now=now, threshold=threshold,
        retention=retention,
    )
    if not matches:
        return prior
    best_id, best, similarity = min(matches, key=lambda m: _rank(m[1]["o"], m[0]))
    if _rank(best["o"], best_id) < _rank(order, article.id):
        return Decision(
            "duplicate",
            version=prior.version,
            original_id=best_id,
            original_url=best["u"],
            similarity=round(similarity, 4),
            dup_kind="near",
        )
    fixes = tuple(
        Correction(other, rec["u"], article.id, article.url, round(sim, 4), "near")
        for other, rec, sim in matches
    )
    return _with_corrections(prior, fixes)


def _with_corrections(prior: Decision, fixes: tuple[Correction, ...]) -> Decision:
    return Decision(prior.kind, version=prior.version, corrections=prior.corrections + fixes)


def record(
    article: Article,
    fps: Mapping[str, Any],
    decision: Decision,
    *,
    contents: Table,
    sigs: Table,
    bands: Table,
    now: float,
    partition: int | None = None,
) -> None:
    """Index an emitted original (new or version) and retire the originals it displaced.

    Duplicates are not indexed: every copy points at one original (a star, not a chain), so
    a later copy is compared with originals only.
    """
    for fix in decision.corrections:
        retire(fix.duplicate_id, fix.original_id, sigs=sigs)
    if not decision.emit or fps.get("words", 0) < MIN_WORDS:
        return
    order = order_key(article)
    contents[fps["content_hash"]] = {
        "id": article.id, "u": article.url, "o": order, "t": now, "p": partition,
    }
    sigs[article.id] = {
        "m": fps["minhash"], "n": fps["shingles"], "s": fps["scheme"],
        "u": article.url, "o": order, "t": now,
    }
    for key in fps.get("bands", ()):
        add_to_bucket(bands, key, article.id)


def add_to_bucket(bands: Table, key: str, member: str) -> None:
    """Add an id to a band bucket (idempotent), keeping the newest MAX_BUCKET ids."""
    bucket = bands.get(key)
    if not bucket:
        bands[key] = member
        return
    ids = bucket.split()
    if member in ids:
        return
    ids.append(member)
    bands[key] = " ".join(ids[-MAX_BUCKET:])


class BandIndex(dict[str, str]):
    """The ``bands`` table derived from the ``sigs`` table, in one process: a worker adds
    every signature it learns (its own, another worker's, a recovered one) instead of
    reading band records from the broker. ``record`` and ``audit`` write to it as to any
    ``bands`` mapping."""

    def __init__(self) -> None:
        super().__init__()
        #: article id → the minhash its buckets were last filled from
        self.indexed: dict[str, str] = {}

    def add(self, id_: str, sig: Mapping[str, Any]) -> None:
        """Put a signature's id in its band buckets (once per minhash: retiring an
        original rewrites its signature with the same minhash)."""
        if self.indexed.get(id_) == sig["m"]:
            return
        self.indexed[id_] = sig["m"]
        for key in band_keys(decode_signature(sig["m"])):
            add_to_bucket(self, key, id_)

    def sweep(self, sigs: Mapping[str, Any]) -> int:
        """Drop the ids whose signature expired; returns how many buckets changed."""
        self.indexed = {id_: m for id_, m in self.indexed.items() if id_ in sigs}
        return expire_bands(self, sigs=sigs)


def retire(duplicate: str, original: str, *, sigs: Table) -> None:
    """Mark an indexed original as a copy of ``original``: it stops matching new copies."""
    current = sigs.get(duplicate)
    if current is not None and current.get("d") != original:
        sigs[duplicate] = {**current, "d": original}


# --- the settle-time re-check that closes the cross-worker race ---------------------------


def audit(
    article_id_: str,
    *,
    sigs: Table,
    bands: Table,
    now: float,
    threshold: float = DEFAULT_THRESHOLD,
    retention: float = DEFAULT_RETENTION,
) -> tuple[Correction, ...]:
    """Re-check an indexed original once every worker's writes have had time to arrive.

    Two near copies processed at the same moment on two workers both see an index without
    the other, so both are emitted. Each original is therefore checked again after a settle
    delay (longer than the global tables' replication lag): it re-adds itself to its band
    buckets (a concurrent read-modify-write of a shared bucket may have lost it), and if it
    now matches another live original, the deterministic rule picks the winner and the
    loser is retired. Returns the corrections to emit; both workers compute the same
    winner, so the two audits of a racing pair report the same correction (idempotent for a
    consumer: the same copy → original pair).
    """
    own = sigs.get(article_id_)
    if not _live(own, now, retention) or own.get("d"):
        return ()
    fps = {"scheme": own["s"], "minhash": own["m"], "shingles": own["n"]}
    fps["bands"] = band_keys(decode_signature(own["m"]))
    for key in fps["bands"]:
        add_to_bucket(bands, key, article_id_)
    matches = near_matches(
        article_id_, fps, sigs=sigs, bands=bands, now=now, threshold=threshold,
        retention=retention,
    )
    if not matches:
        return ()
    mine = _rank(own["o"], article_id_)
    best_id, best, similarity = min(matches, key=lambda m: _rank(m[1]["o"], m[0]))
    if _rank(best["o"], best_id) < mine:
        fixes: tuple[Correction, ...] = (
            Correction(article_id_, own["u"], best_id, best["u"], round(similarity, 4), "near"),
        )
    else:
        fixes = tuple(
            Correction(other, rec["u"], article_id_, own["u"], round(sim, 4), "near")
            for other, rec, sim in matches
        )
    for fix in fixes:
        retire(fix.duplicate_id, fix.original_id, sigs=sigs)
    return fixes


# --- everything at once, for one process (tests, evaluation, benchmark) -------------------


def decide(
    article: Article,
    fps: Mapping[str, Any],
    *,
    urls: Table,
    contents: Table,
    sigs: Table,
    bands: Table,
    now: float,
    threshold: float = DEFAULT_THRESHOLD,
    retention: float = DEFAULT_RETENTION,
) -> Decision:
    """Stage 1, stage 2 and ``record`` in one call, over tables held by one process."""
    prior = check_version(article, fps, urls=urls, now=now, retention=retention)
    decision = check_content(
        article, fps, prior, contents=contents, sigs=sigs, bands=bands, now=now,
        threshold=threshold, retention=retention,
    )
    record(article, fps, decision, contents=contents, sigs=sigs, bands=bands, now=now)
    return decision


# --- retention ------------------------------------------------------------------------------


def expire(
    table: Table,
    *,
    now: float,
    retention: float = DEFAULT_RETENTION,
    partition: int | None = None,
) -> int:
    """Delete records last seen before ``now - retention``; returns how many.

    With ``partition``, only records written from that source partition (field ``p``) are
    touched: a Faust table must be changed from the partition that owns the key.
    """
    cutoff = now - retention
    stale = [
        key
        for key, value in table.items()
        if value.get("t", 0.0) < cutoff and (partition is None or value.get("p") == partition)
    ]
    for key in stale:
        del table[key]
    return len(stale)


def expire_bands(bands: Table, *, sigs: Mapping[str, Any]) -> int:
    """Drop band members whose signature is gone (expired); delete empty buckets."""
    changed = 0
    for key, bucket in list(bands.items()):
        ids = [member for member in bucket.split() if member in sigs]
        if len(ids) == len(bucket.split()):
            continue
        changed += 1
        if ids:
            bands[key] = " ".join(ids)
        else:
            del bands[key]
    return changed


# --- events ---------------------------------------------------------------------------------


def duplicate_event(article: Article, decision: Decision, detected_at: str) -> DuplicateEvent:
    """The DuplicateEvent for a ``duplicate`` decision.

    For a ``url`` duplicate the copy has the original's id (its rel=canonical names the
    original), so the copy is named by the id of the URL it was fetched at.
    """
    if decision.kind != "duplicate" or decision.original_id is None:
        raise ValueError(f"dedupe: {article.url}: no duplicate decision ({decision.kind})")
    copy_id = article.id
    if decision.dup_kind == "url":
        copy_id = article_id(_fetched_canonical(article))
    return DuplicateEvent(
        duplicate_id=copy_id,
        duplicate_url=article.url,
        original_id=decision.original_id,
        original_url=decision.original_url or "",
        kind=decision.dup_kind or "exact",
        similarity=decision.similarity,
        detected_at=detected_at,
    )


def correction_events(
    source: Decision | Iterable[Correction], detected_at: str
) -> list[DuplicateEvent]:
    """DuplicateEvents (correction=True) for the originals a decision (or an ``audit``)
    displaced."""
    fixes = source.corrections if isinstance(source, Decision) else source
    return [
        DuplicateEvent(
            duplicate_id=fix.duplicate_id,
            duplicate_url=fix.duplicate_url,
            original_id=fix.original_id,
            original_url=fix.original_url,
            kind=fix.kind,
            similarity=fix.similarity,
            detected_at=detected_at,
            correction=True,
        )
        for fix in fixes
    ]


def resolve_originals(events: Iterable[DuplicateEvent]) -> dict[str, str]:
    """Duplicate id → final original id, from a stream of events (corrections applied).

    What a consumer (or a test comparing one worker with two) derives from
    ``kabar.duplicates``: later events override earlier ones, chains are followed.
    """
    parent: dict[str, str] = {}
    for event in events:
        parent[event.duplicate_id] = event.original_id
    resolved = {}
    for dup in parent:
        root, hops = parent[dup], 0
        while root in parent and hops < MAX_CHAIN:
            root, hops = parent[root], hops + 1
        resolved[dup] = root
    return resolved
