"""How far date accuracy can go on a set: the pages whose true day the HTML never states.

    .venv/bin/python bench/date_ceiling.py [--sets trafilatura,wcxb,fundus] [--data DIR]
                                           [--pred DIR | --extract [--misses N] [--htmldate]]

Reads Kabar's predictions as bench/extraction.py wrote them (``.cache/bench/kabar/<set>/``,
so run that first) and the sets' truths. For every dated page Kabar gets wrong, it collects
every day the page states anywhere (text, attribute values, scripts) in a form Kabar's date
parsers read, ISO or printed, in any of their languages, read both day-first and month-first,
which overstates what a page states rather than understates it. A page whose true day is
not among them cannot be dated from its HTML by any extractor: the share of the others is
the set's ceiling, printed next to Kabar's accuracy.

``--extract`` is the loop for working on dates: it runs Kabar in process over the sets
(seconds, not the minutes of the whole bench), prints per set the accuracy where the day is
stated, the pages left without a date and the median and p95 milliseconds per page of
``extract_article`` (one pass: a rough check that a rule costs nothing, not the bench's
figure), then every page whose day changed since the last
``--extract`` run (kept in ``.cache/bench/dates-last.json``), and the first N misses with
the true day, Kabar's, and where the page states the true day (a meta tag by name,
<time datetime>, microdata, JSON-LD, scripts, the <title>, printed text and its element's
class), if anywhere. ``--htmldate`` then sets Kabar
beside htmldate (``find_date`` as trafilatura calls it: ``original_date``, extensive search)
on the dated pages whose true day is stated: pages both get right, only Kabar, only
htmldate, neither, and Kabar's undated pages that htmldate dates right, with the
htmldate-only pages listed (the generic signals Kabar misses). htmldate's answers are kept
in ``.cache/bench/htmldate-dates.json`` (a first run takes minutes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from selectolax.lexbor import LexborHTMLParser, LexborNode  # noqa: E402

from worker.extract.dates import (  # noqa: E402
    _ISO,
    _TEXT_PATTERNS,
    _TIME_FIRST,
    PageDate,
    _from_match,
    parse_iso,
)


def _day(date: PageDate) -> str:
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}"


def _days_in(chunk: str) -> set[str]:
    """The calendar days a text or attribute value states, read both day-first and
    month-first."""
    days: set[str] = set()
    for m in _ISO.finditer(chunk):
        if (found := parse_iso(m.group(0))) is not None:
            days.add(_day(found))
    text = " ".join(chunk.split())
    # (time-first patterns name their date groups with an "x" prefix)
    for pattern, prefix in [*((p, "") for p in _TEXT_PATTERNS),
                            *((p, "x") for p in _TIME_FIRST)]:
        for m in pattern.finditer(text):
            for day_first in (True, False):
                if (found := _from_match(m, prefix, dmy=day_first)) is not None:
                    days.add(_day(found))
    return days


def _chunks(html: bytes) -> Iterator[tuple[LexborNode, str | None, str]]:
    """(element, attribute name or None for its text, value) for every text and attribute
    value of the page."""
    tree = LexborHTMLParser(html)
    if tree.root is None:
        return
    for node in tree.root.traverse(include_text=True):
        if node.tag == "-text":
            if node.parent is not None and node.text_content:
                yield node.parent, None, node.text_content
        elif node.is_element_node:
            yield from ((node, name, value) for name, value in node.attributes.items()
                        if value)


def stated_days(html: bytes) -> set[str]:
    """Every calendar day the page states anywhere, read as generously as the parsers allow."""
    days: set[str] = set()
    for _node, _name, value in _chunks(html):
        days |= _days_in(value)
    return days


def where_stated(html: bytes, day: str) -> list[str]:
    """Where the page states ``day``, in page order, each kind once: a meta tag by its name,
    <time datetime>, microdata, JSON-LD, other scripts, the <title>, a file path, another
    attribute, or printed text with the class of its element."""
    kinds: list[str] = []
    for node, name, value in _chunks(html):
        if day not in _days_in(value[:3000]):
            continue
        attrs = node.attributes
        if name is None:
            if node.tag == "script":
                kind = "JSON-LD" if (attrs.get("type") or "").endswith("ld+json") else "script"
            elif node.tag == "title":
                kind = "<title>"
            else:
                classes = (attrs.get("class") or "").split()[:2]
                kind = "text in " + ".".join([node.tag, *classes])
        elif node.tag == "meta":
            kind = "meta " + (attrs.get("name") or attrs.get("property")
                              or attrs.get("itemprop") or "?").lower()
        elif node.tag == "time" and name == "datetime":
            kind = "<time datetime>"
        elif attrs.get("itemprop") and name == "content":
            kind = f"microdata {attrs['itemprop']}"
        elif "src" in name or name == "href":
            kind = "file path"
        else:
            kind = f"attribute {name} of <{node.tag}>"
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def ceiling(pages: list[tuple[bytes, dict, str | None]]) -> dict:
    """Day accuracy and its ceiling over (html, truth, predicted date) of one set's pages."""
    dated = missed = unstated = 0
    for html, truth, predicted in pages:
        day = truth.get("date")
        if truth.get("metadata_annotated") is False or not isinstance(day, str) \
                or len(day) < 10:
            continue
        dated += 1
        if str(predicted or "")[:10] == day[:10]:
            continue
        missed += 1
        if day[:10] not in stated_days(html):
            unstated += 1
    stated = dated - unstated
    return {"dated": dated, "missed": missed, "unstated": unstated,
            "accuracy": (dated - missed) / dated if dated else 0.0,
            "ceiling": stated / dated if dated else 0.0,
            "stated_accuracy": (dated - missed) / stated if stated else 0.0}


def _load(data: Path, set_name: str) -> list[tuple[str, bytes, dict]]:
    pages = []
    for truth_path in sorted((data / set_name / "truth").glob("*.json")):
        html = (data / set_name / "html" / f"{truth_path.stem}.html").read_bytes()
        pages.append((truth_path.stem, html, json.loads(truth_path.read_text())))
    return pages


def _dated(truth: dict) -> str | None:
    day = truth.get("date")
    if truth.get("metadata_annotated") is False or not isinstance(day, str) or len(day) < 10:
        return None
    return day[:10]


def extract_loop(data: Path, sets: list[str], misses: int, htmldate: bool = False) -> None:
    """Kabar's dates in process: per-set figures, the pages that changed, the misses (and,
    with ``htmldate``, the table beside htmldate)."""
    from worker.extract import ExtractionError, extract_article

    last_path = REPO / ".cache" / "bench" / "dates-last.json"
    last = json.loads(last_path.read_text()) if last_path.is_file() else {}
    now: dict[str, str | None] = {}
    for set_name in sets:
        rows = []
        costs = []
        for pid, html, truth in _load(data, set_name):
            started = time.perf_counter()
            try:
                found = extract_article(html, truth.get("url")).published_at
            except ExtractionError:
                found = None
            costs.append((time.perf_counter() - started) * 1000)
            now[f"{set_name}/{pid}"] = found
            if (day := _dated(truth)) is not None:
                rows.append((pid, html, truth, found))
        m = ceiling([(html, truth, found) for _pid, html, truth, found in rows])
        undated = sum(found is None for *_, found in rows)
        costs.sort()
        print(f"{set_name}: where stated {m['stated_accuracy']:.4f} ({m['dated'] - m['missed']}"
              f"/{m['dated'] - m['unstated']}), no date {undated}, wrong day "
              f"{m['missed'] - undated}, stated nowhere {m['unstated']}; ms/page median "
              f"{costs[len(costs) // 2]:.2f}, p95 {costs[int(len(costs) * 0.95)]:.2f}",
              flush=True)
        for pid, _html, truth, found in rows:
            key, day = f"{set_name}/{pid}", _dated(truth)
            before = last.get(key, found)
            if str(before or "")[:10] != str(found or "")[:10]:
                sign = "+" if str(found or "")[:10] == day else (
                    "-" if str(before or "")[:10] == day else "~")
                print(f"  {sign} {key}: truth {day}, was {before}, now {found}")
        shown = 0
        for pid, html, truth, found in rows:
            day = _dated(truth)
            if shown >= misses or str(found or "")[:10] == day:
                continue
            shown += 1
            where = where_stated(html, day)
            stated = f"stated in: {'; '.join(where[:6])}" if where else "stated nowhere"
            print(f"    miss {pid}: truth {day}, kabar {found} ({stated}) {truth.get('url')}")
    last_path.parent.mkdir(parents=True, exist_ok=True)
    last_path.write_text(json.dumps(now, indent=0))
    if htmldate:
        beside_htmldate(data, sets, now)


def beside_htmldate(data: Path, sets: list[str], kabar: dict[str, str | None]) -> None:
    """Kabar against htmldate on the dated pages whose true day the HTML states."""
    import logging

    import htmldate

    logging.getLogger("htmldate").setLevel(logging.CRITICAL)
    cache_path = REPO / ".cache" / "bench" / "htmldate-dates.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    if cache.get("version") != htmldate.__version__:
        cache = {"version": htmldate.__version__}
    print("| set | pages | both right | Kabar only | htmldate only | neither "
          "| Kabar undated, htmldate right |\n|---|---|---|---|---|---|---|")
    only_htmldate: list[str] = []
    for set_name in sets:
        counts = dict.fromkeys(("pages", "both", "kabar", "htmldate", "neither", "rescue"), 0)
        for pid, html, truth in _load(data, set_name):
            key, day = f"{set_name}/{pid}", _dated(truth)
            if day is None or day not in stated_days(html):
                continue
            if key not in cache:
                cache[key] = htmldate.find_date(html.decode("utf-8", "replace"),
                                                url=truth.get("url"), original_date=True,
                                                extensive_search=True)
            ours, theirs = str(kabar.get(key) or "")[:10] == day, cache[key] == day
            counts["pages"] += 1
            counts["both" if ours and theirs else "kabar" if ours else
                   "htmldate" if theirs else "neither"] += 1
            counts["rescue"] += kabar.get(key) is None and theirs
            if theirs and not ours:
                only_htmldate.append(f"  {key}: truth {day}, kabar {kabar.get(key)}")
        print(f"| {set_name} | {' | '.join(str(n) for n in counts.values())} |", flush=True)
    print("htmldate right, Kabar not:", *only_htmldate, sep="\n")
    cache_path.write_text(json.dumps(cache, indent=0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="trafilatura,wcxb,fundus")
    ap.add_argument("--data", type=Path, default=REPO / ".data")
    ap.add_argument("--pred", type=Path, default=REPO / ".cache" / "bench" / "kabar")
    ap.add_argument("--extract", action="store_true",
                    help="run Kabar in process and diff its dates against the last such run")
    ap.add_argument("--misses", type=int, default=0, help="with --extract: list N misses a set")
    ap.add_argument("--htmldate", action="store_true",
                    help="with --extract: set Kabar beside htmldate (minutes on a first run)")
    args = ap.parse_args()
    if args.extract:
        extract_loop(args.data, [s for s in args.sets.split(",") if s], args.misses,
                     args.htmldate)
        return
    for set_name in [s for s in args.sets.split(",") if s]:
        pred_dir = args.pred / set_name
        if not pred_dir.is_dir():
            sys.exit(f"date_ceiling: no predictions in {pred_dir}; run bench/extraction.py first")
        pages = []
        for truth_path in sorted((args.data / set_name / "truth").glob("*.json")):
            pred_path = pred_dir / truth_path.name
            pred = json.loads(pred_path.read_text()) if pred_path.exists() else {}
            html = (args.data / set_name / "html" / f"{truth_path.stem}.html").read_bytes()
            pages.append((html, json.loads(truth_path.read_text()), pred.get("date")))
        m = ceiling(pages)
        print(f"{set_name}: {m['dated']} dated pages, Kabar misses {m['missed']} (accuracy "
              f"{m['accuracy']:.3f}); the true day is stated nowhere in the HTML of "
              f"{m['unstated']}: ceiling {m['ceiling']:.3f}; accuracy where it is stated "
              f"{m['stated_accuracy']:.3f}", flush=True)


if __name__ == "__main__":
    main()
