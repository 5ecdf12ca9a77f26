"""Extraction benchmark: Kabar vs trafilatura vs a bare selectolax parse, side by side.

    .venv/bin/python bench/extraction.py [--sets fundus,trafilatura,wcxb] [--limit N]
                                         [--data DIR] [--passes N] [--worst N] [--no-loso]

One process, one run, pinned to one core. For every set it extracts each page with every
extractor, taking turns every 25 pages (so a busy machine slows all of them alike), writes
predictions under ``.cache/bench/<extractor>/<set>/``, scores them with the shared scorers
(shingle F1 for fundus and wcxb, the ``segments`` rule for trafilatura's set; date-day
accuracy), and prints title exact-match, ms/page two ways (the issue's "median over
passes": each pass's time over its pages, the median pass; and the median page: each page's
median over passes, the median over pages, which a few very large pages cannot sway),
the 95th percentile page, pages/s (median pass), the slowest page, and peak RSS (Kabar's
after a pass of Kabar alone, the others' at the end), then Kabar's speed ratio to
trafilatura three ways. trafilatura runs ``bare_extraction(with_metadata=True)`` with its
default settings so that it, like Kabar, also returns a title and a date.

Leave-one-set-out (LOSO): the extractor's tunable thresholds (TUNABLES) are set, for each
held-out set, to the grid values with the best mean F1 on the two other sets, and Kabar is
scored on the held-out set with them; a threshold whose choice flips between folds is
fitted to pages, not to the web. Dates: day accuracy next to its ceiling, the share of
dated pages whose true day the HTML states anywhere (bench/date_ceiling.py), and the
accuracy on those pages alone.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
TOOLS = SHARED / "tools"
METRIC = {"fundus": "shingle", "wcxb": "shingle", "trafilatura": "segments"}

sys.path.insert(0, str(REPO))


def ensure_data(data: Path, sets: list[str]) -> None:
    """Unpack ../shared/data/<set>.tgz into ``data`` for every set not there yet."""
    for name in sets:
        if (data / name / "html").is_dir():
            continue
        archive = SHARED / "data" / f"{name}.tgz"
        if not archive.is_file():
            sys.exit(f"bench: set {name!r} is neither in {data} nor at {archive}")
        data.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(data, filter="data")
        if not (data / name / "html").is_dir():
            sys.exit(f"bench: {archive} did not unpack to {data / name}/html")


def load_set(data: Path, name: str, limit: int | None) -> list[tuple[str, bytes, dict]]:
    pages = []
    for path in sorted((data / name / "html").glob("*.html"))[:limit]:
        truth_path = data / name / "truth" / f"{path.stem}.json"
        truth = json.loads(truth_path.read_text(encoding="utf-8")) if truth_path.is_file() else {}
        pages.append((path.stem, path.read_bytes(), truth))
    return pages


def kabar(html: bytes, url: str | None) -> dict:
    from worker.extract import ExtractionError, extract_article

    try:
        article = extract_article(html, url)
    except ExtractionError as exc:
        return {"body": "", "date": None, "title": None, "error": exc.reason}
    return {"body": article.body, "date": article.published_at, "title": article.title,
            "modified": article.modified_at}


def trafilatura_default(html: bytes, url: str | None) -> dict:
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    if doc is None:
        return {"body": "", "date": None, "title": None}
    return {"body": doc.text or "", "date": doc.date, "title": doc.title}


def selectolax_parse(html: bytes, url: str | None) -> dict:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    return {"body": "", "date": None, "title": None, "nodes": tree.root is not None}


EXTRACTORS: dict[str, Callable[[bytes, str | None], dict]] = {
    "kabar": kabar, "trafilatura": trafilatura_default, "selectolax": selectolax_parse}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: Pages per turn in run_interleaved: small enough that machine load (other processes come
#: and go within seconds) hits every extractor alike, large enough that each extractor runs
#: with warm caches, as it would in a worker, rather than after the other evicted them.
CHUNK = 25


def forget_kabar_caches() -> None:
    """Empty Kabar's memos of page content (class strings, paragraph verdicts). A pass that
    starts with them empty visits each page for the first time, with what the pages before
    it left, as a worker does; a page seen before finds every paragraph's verdict cached and
    costs 9-14% less. Caches of configuration (profiles, compiled matchers) stay, as they do
    in a worker."""
    from worker.extract import boilerplate, nodes

    for memo in (nodes._hints, boilerplate.is_boilerplate_text, boilerplate.is_lead_class):
        memo.cache_clear()


def forget_trafilatura_caches() -> None:
    """Empty trafilatura's memos as forget_kabar_caches empties Kabar's, so that both are
    timed on first visits: its own ``reset_caches`` (line and text memos, htmldate's and
    courlan's; it also drops justext's stoplists, read again once a pass, and collects
    garbage, outside the timing)."""
    from trafilatura.meta import reset_caches

    reset_caches()


def run_interleaved(names: list[str], pages: list, passes: int
                    ) -> dict[str, tuple[dict, dict]]:
    """Predictions and timing per extractor, taking turns every CHUNK pages within each
    pass. Every extractor is timed on every pass: a page's time is its median over passes for
    each of them alike, so a moment of load from elsewhere sways neither more than the other.

    Timing: per-page median over passes and per-pass totals, in CPU time. Each pass starts
    with Kabar's and trafilatura's memos empty (forget_kabar_caches,
    forget_trafilatura_caches), so every timed visit is a first one.
    Peak RSS: Kabar's after an untimed first pass of Kabar alone; the others' is the
    process's at the end."""
    rss: dict[str, float] = {}
    if "kabar" in names:
        for _pid, html, truth in pages:
            EXTRACTORS["kabar"](html, truth.get("url"))
        rss["kabar"] = peak_rss_mb()
    per_page = {name: {pid: [] for pid, _, _ in pages} for name in names}
    totals = {name: [0.0] * passes for name in names}
    preds: dict[str, dict] = {name: {} for name in names}
    for n in range(passes):
        forget_kabar_caches()
        if "trafilatura" in names:
            forget_trafilatura_caches()
        for first in range(0, len(pages), CHUNK):
            chunk = pages[first:first + CHUNK]
            for name in names:
                extract = EXTRACTORS[name]
                for pid, html, truth in chunk:
                    start = time.process_time()
                    preds[name][pid] = extract(html, truth.get("url"))
                    elapsed = time.process_time() - start
                    per_page[name][pid].append(elapsed)
                    totals[name][n] += elapsed
    out = {}
    for name in names:
        medians = {pid: statistics.median(t) for pid, t in per_page[name].items()}
        worst = max(medians, key=medians.get)
        done = [t for t in totals[name] if t > 0]
        ordered = sorted(medians.values())
        out[name] = (preds[name], {
            "ms_page": 1000 * statistics.median(ordered),
            "ms_p95": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
            "ms_pass": 1000 * statistics.median(done) / len(pages),
            "pages_s": len(pages) / statistics.median(done),
            "worst_ms": 1000 * medians[worst], "worst_page": worst,
            "peak_rss_mb": rss.get(name, peak_rss_mb())})
    return out


def score(set_name: str, data: Path, pred_dir: Path) -> dict:
    """Run the shared scorers exactly as documented and read back their JSON."""
    out: dict = {}
    body_json, date_json = pred_dir / "_body.json", pred_dir / "_date.json"
    ids = pred_dir / "_ids.txt"  # the pages extracted (fewer with --limit)
    ids.write_text("\n".join(p.stem for p in pred_dir.glob("*.json") if p.stem[0] != "_"))
    subprocess.run([sys.executable, str(TOOLS / "score_body.py"), "--truth",
                    str(data / set_name / "truth"), "--pred", str(pred_dir), "--metric",
                    METRIC[set_name], "--n-bootstrap", "1", "--ids", str(ids),
                    "--json", str(body_json)], check=True, capture_output=True)
    out["body"] = json.loads(body_json.read_text())["all"]
    subprocess.run([sys.executable, str(TOOLS / "score_date.py"), "--truth",
                    str(data / set_name / "truth"), "--pred", str(pred_dir), "--ids", str(ids),
                    "--json", str(date_json)], check=True, capture_output=True)
    out["date"] = json.loads(date_json.read_text())["all"]
    return out


def title_match(preds: dict, pages: list) -> float | None:
    scored = [(" ".join((preds[pid].get("title") or "").split()), " ".join(t["title"].split()))
              for pid, _, t in pages if isinstance(t.get("title"), str) and t["title"].strip()]
    return sum(p == t for p, t in scored) / len(scored) if scored else None


@functools.lru_cache(maxsize=1)
def _score_module():
    spec = importlib.util.spec_from_file_location("score_body", TOOLS / "score_body.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def worst_pages(set_name: str, preds: dict, pages: list, n: int) -> list[tuple[str, float, str]]:
    """Kabar's n lowest-scoring pages with the scorer's per-page view of what went wrong."""
    sb = _score_module()
    rows = []
    for pid, _, truth in pages:
        body = preds[pid].get("body") or ""
        if METRIC[set_name] == "segments":
            if not truth.get("with"):
                continue
            tp, fp, fn, _tn = sb.segment_counts(truth, body)
            f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
            note = f"missing {fn}/{len(truth['with'])} wanted, kept {fp} unwanted"
        else:
            if not isinstance(truth.get("body"), str):
                continue
            tp, fp, fn = sb.shingle_tp_fp_fn(truth["body"], body)
            p, r = sb.precision_score(tp, fp, fn), sb.recall_score(tp, fp, fn)
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            words = f"{len(body.split())} vs {len(truth['body'].split())} words"
            note = f"P {p:.2f} R {r:.2f} ({words})"
        if preds[pid].get("error"):
            note += f"; error {preds[pid]['error']}"
        rows.append((pid, f1, note))
    return sorted(rows, key=lambda r: r[1])[:n]


#: The extractor's thresholds that LOSO chooses per fold: (module, name) -> grid, the
#: shipped value included. Each is read by its rule at call time.
TUNABLES: dict[tuple[str, str], tuple[float, ...]] = {
    ("worker.extract.container", "_CLIMB_DENSITY"): (0.3, 0.4, 0.5),
    ("worker.extract.body", "_SHORT_BODY"): (400, 600, 800),
    ("worker.extract.walk", "_TAIL_LINE"): (80, 120, 160),
}


def body_f1(set_name: str, preds: dict, pages: list) -> float:
    """The set's body F1 as the shared scorer computes it, in process."""
    sb = _score_module()
    if METRIC[set_name] == "segments":
        return sb.segment_metrics([sb.segment_counts(t, preds[pid].get("body") or "")
                                   for pid, _, t in pages if t.get("with")])["f1"]
    return sb.shingle_metrics([sb.shingle_tp_fp_fn(t["body"], preds[pid].get("body") or "")
                               for pid, _, t in pages if isinstance(t.get("body"), str)])["f1"]


def chosen_values(grid: dict[tuple, dict[str, float]], sets: list[str], shipped: tuple
                  ) -> tuple:
    """The grid's values with the best summed F1 on ``sets``. Among values that tie, the
    ones with the most thresholds at their shipped value: a threshold that changes no page
    of those sets has no evidence for any other value (before, a tie took whichever tied
    values came first in the grid, its lowest)."""
    return max(grid, key=lambda v: (sum(grid[v][s] for s in sets),
                                    sum(a == b for a, b in zip(v, shipped, strict=True))))


def loso(pages_by_set: dict[str, list]) -> list[dict]:
    """For each held-out set: the TUNABLES values with the best mean F1 on the other sets
    (ties go to the shipped values, threshold by threshold: chosen_values) and Kabar's F1
    on the held-out set with them."""
    knobs = list(TUNABLES)
    modules = {m: importlib.import_module(m) for m, _ in knobs}
    shipped = tuple(getattr(modules[m], n) for m, n in knobs)
    grid: dict[tuple, dict[str, float]] = {}
    try:
        for values in itertools.product(*TUNABLES.values()):
            for (m, n), v in zip(knobs, values, strict=True):
                setattr(modules[m], n, v)
            grid[values] = {
                set_name: body_f1(set_name, {pid: kabar(html, t.get("url"))
                                             for pid, html, t in pages}, pages)
                for set_name, pages in pages_by_set.items()}
    finally:
        for (m, n), v in zip(knobs, shipped, strict=True):
            setattr(modules[m], n, v)
    folds = []
    for held in pages_by_set:
        best = chosen_values(grid, [s for s in pages_by_set if s != held], shipped)
        folds.append({"set": held, "f1": grid[best][held], "shipped_f1": grid[shipped][held],
                      "chosen": ", ".join(f"{n}={v}" for (_, n), v in zip(knobs, best,
                                                                          strict=True))})
    return folds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="fundus,trafilatura,wcxb")
    ap.add_argument("--limit", type=int, help="only the first N pages of each set")
    ap.add_argument("--data", type=Path, default=REPO / ".data")
    ap.add_argument("--passes", type=int, default=3,
                    help="timed passes, for every extractor")
    ap.add_argument("--extractors", default="kabar,trafilatura,selectolax")
    ap.add_argument("--worst", type=int, default=10, help="list Kabar's N worst pages per set")
    ap.add_argument("--out", type=Path, default=REPO / ".cache" / "bench")
    ap.add_argument("--no-loso", action="store_true", help="skip the leave-one-set-out grid")
    args = ap.parse_args()
    sets = [s for s in args.sets.split(",") if s]
    unknown = [s for s in sets if s not in METRIC]
    if unknown:
        sys.exit(f"bench: unknown set(s) {unknown}; known: {sorted(METRIC)}")
    ensure_data(args.data, sets)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    names = [e for e in args.extractors.split(",") if e]
    # Import everything before timing so first-page import cost is not counted.
    import trafilatura  # noqa: F401

    import worker.extract  # noqa: F401
    from bench.date_ceiling import ceiling
    rows, worst, loaded, dates = [], {}, {}, {}
    for set_name in sets:
        pages = loaded[set_name] = load_set(args.data, set_name, args.limit)
        results = run_interleaved(names, pages, args.passes)
        for name in names:
            preds, timing = results[name]
            row = {"set": set_name, "extractor": name, "pages": len(pages), **timing}
            if name != "selectolax":
                pred_dir = args.out / name / set_name
                pred_dir.mkdir(parents=True, exist_ok=True)
                for stale in pred_dir.glob("*.*"):
                    stale.unlink()
                for pid, pred in preds.items():
                    (pred_dir / f"{pid}.json").write_text(json.dumps(pred, ensure_ascii=False))
                scores = score(set_name, args.data, pred_dir)
                row.update(f1=scores["body"]["f1"], p=scores["body"]["precision"],
                           r=scores["body"]["recall"], date=scores["date"]["accuracy"],
                           title=title_match(preds, pages))
                dates[set_name, name] = ceiling([(html, truth, preds[pid].get("date"))
                                                 for pid, html, truth in pages])
            if name == "kabar" and args.worst:
                worst[set_name] = worst_pages(set_name, preds, pages, args.worst)
            rows.append(row)
            print(f"done {set_name}/{name}", file=sys.stderr, flush=True)
    header = (f"| set | extractor | pages | F1 | P | R | date acc | title EM | ms/page (pass) "
              f"| ms/page (median page) | ms/page (p95) | pages/s | slowest ms | peak RSS MB |\n"
              f"|{'---|' * 14}")
    print(header)
    for r in rows:
        cells = [r["set"], r["extractor"], str(r["pages"])]
        cells += [f"{r[k]:.3f}" if isinstance(r.get(k), float) else "–"
                  for k in ("f1", "p", "r", "date", "title")]
        cells += [f"{r['ms_pass']:.2f}", f"{r['ms_page']:.2f}", f"{r['ms_p95']:.2f}",
                  f"{r['pages_s']:.0f}",
                  f"{r['worst_ms']:.1f}", f"{r['peak_rss_mb']:.0f}"]
        print("| " + " | ".join(cells) + " |")
    timing = {(r["set"], r["extractor"]): r for r in rows}
    print("\n| set | Kabar ms median | Kabar ms p95 | trafilatura ms median | trafilatura ms p95 "
          f"| ratio per pass | ratio median page | ratio p95 page |\n|{'---|' * 8}")
    for set_name in sets:
        ours, theirs = timing.get((set_name, "kabar")), timing.get((set_name, "trafilatura"))
        if ours and theirs:
            print(f"| {set_name} | {ours['ms_page']:.2f} | {ours['ms_p95']:.2f} | "
                  f"{theirs['ms_page']:.2f} | {theirs['ms_p95']:.2f} | "
                  f"{theirs['ms_pass'] / ours['ms_pass']:.1f}x | "
                  f"{theirs['ms_page'] / ours['ms_page']:.1f}x | "
                  f"{theirs['ms_p95'] / ours['ms_p95']:.1f}x |")
    print("(target: 10x at the median page and at p95)")
    if dates:
        print("\n| set | extractor | dated pages | day stated nowhere | ceiling | day accuracy "
              f"| accuracy where the day is stated |\n|{'---|' * 7}")
        for (set_name, name), m in dates.items():
            print(f"| {set_name} | {name} | {m['dated']} | {m['unstated']} | {m['ceiling']:.3f} "
                  f"| {m['accuracy']:.3f} | {m['stated_accuracy']:.3f} |")
        print("(target: 0.95 where the day is stated)")
    if not args.no_loso and "kabar" in names and len(sets) >= 2:
        print(f"\nLeave-one-set-out: thresholds {', '.join(n for _, n in TUNABLES)} chosen on the "
              "other sets from the grid " + "; ".join(f"{n} {v}" for (_, n), v in TUNABLES.items()))
        print("| held-out set | chosen on the others | Kabar F1 (LOSO) | Kabar F1 (shipped) "
              f"| trafilatura F1 | margin | target +0.01 |\n|{'---|' * 7}")
        for fold in loso(loaded):
            theirs = timing.get((fold["set"], "trafilatura"), {}).get("f1")
            margin = fold["f1"] - theirs if theirs is not None else None
            print(f"| {fold['set']} | {fold['chosen']} | {fold['f1']:.3f} | "
                  f"{fold['shipped_f1']:.3f} | " + (f"{theirs:.3f} | {margin:+.3f} | "
                  f"{'holds' if margin >= 0.01 else 'misses'} |" if margin is not None
                  else "– | – | – |"))
    for set_name, items in worst.items():
        print(f"\nKabar's {len(items)} worst pages on {set_name} ({METRIC[set_name]}):")
        for pid, f1, note in items:
            print(f"  {pid:<40} F1 {f1:.2f}  {note}")


if __name__ == "__main__":
    main()
