"""Enrichment cost next to extraction's, per article, in the same run.

For every saved page of the shared evaluation sets: ``extract_article`` (HTML → Article),
then ``enrich`` on that Article, each timed on its own with the process's CPU clock (the
machine is shared; wall time would charge other people's jobs to us). Pages the extractor
refuses are skipped for both. The gazetteers and the language model are loaded before the
clock starts (``worker.enrich.warm``, timed separately): a worker pays that once.

    python bench/enrich.py [--sets fundus,wcxb,trafilatura] [--limit N]

Prints ms/article (median, p99) for both stages per set and overall, and the ratio; the
issue's goal is enrichment <= extraction.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO / ".data")
    ap.add_argument("--sets", default="fundus,wcxb,trafilatura")
    ap.add_argument("--limit", type=int, default=None, help="pages per set")
    args = ap.parse_args()
    sets = [s for s in args.sets.split(",") if s]
    from bench.extraction import ensure_data
    from worker.enrich import enrich, warm

    ensure_data(args.data, sets)
    from worker.extract import ExtractionError, extract_article

    started = time.perf_counter()
    warm()
    print(
        f"warm-up (gazetteers + language model, once per process): "
        f"{time.perf_counter() - started:.2f} s\n"
    )

    clock = time.process_time
    rows: dict[str, tuple[list[float], list[float]]] = {}
    crashes: list[str] = []
    for name in sets:
        extract_ms: list[float] = []
        enrich_ms: list[float] = []
        for path in sorted((args.data / name / "html").glob("*.html"))[: args.limit]:
            html = path.read_bytes()
            t0 = clock()
            try:
                article = extract_article(html)
            except ExtractionError:
                continue
            except Exception as exc:  # the extractor is another stage; count, don't stop
                crashes.append(f"{name}/{path.stem}: {type(exc).__name__}: {exc}")
                continue
            t1 = clock()
            enrich(article)
            t2 = clock()
            extract_ms.append((t1 - t0) * 1000)
            enrich_ms.append((t2 - t1) * 1000)
        rows[name] = (extract_ms, enrich_ms)
    everything = (
        [x for e, _ in rows.values() for x in e],
        [x for _, n in rows.values() for x in n],
    )
    rows["all"] = everything

    print(
        f"{'set':12} {'pages':>6} {'extract ms median':>18} {'p99':>7} "
        f"{'enrich ms median':>17} {'p99':>7} {'enrich/extract':>15}"
    )
    for name, (ex, en) in rows.items():
        if not ex:
            print(f"{name:12} {0:6d}  (no page extracted)")
            continue
        ratio = statistics.median(en) / statistics.median(ex)
        print(
            f"{name:12} {len(ex):6d} {statistics.median(ex):18.2f} {percentile(ex, 0.99):7.2f} "
            f"{statistics.median(en):17.2f} {percentile(en, 0.99):7.2f} {ratio:15.2f}"
        )


if __name__ == "__main__":
    main()
