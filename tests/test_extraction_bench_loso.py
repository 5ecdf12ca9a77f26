"""The benchmark's leave-one-set-out choice of thresholds (bench/extraction.py)."""

import importlib.util
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "bench_extraction", Path(__file__).resolve().parent.parent / "bench" / "extraction.py")
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


def test_loso_takes_the_values_with_the_best_f1_on_the_other_sets():
    grid = {(0.3, 400): {"a": 0.90, "b": 0.80, "held": 0.1},
            (0.4, 400): {"a": 0.91, "b": 0.80, "held": 0.9}}
    assert bench.chosen_values(grid, ["a", "b"], shipped=(0.3, 400)) == (0.4, 400)


def test_a_threshold_that_changes_nothing_on_the_other_sets_keeps_its_shipped_value():
    # 400, 600 and 800 tie on the other sets: only 0.3 has evidence over the shipped 0.4.
    grid = {(t, s): {"a": 0.90 + (t == 0.3) * 0.01, "b": 0.80, "held": s / 1000}
            for t in (0.3, 0.4) for s in (400, 600, 800)}
    assert bench.chosen_values(grid, ["a", "b"], shipped=(0.4, 600)) == (0.3, 600)


def test_a_tie_with_the_shipped_values_goes_to_them():
    grid = {(0.3, 400): {"a": 0.9}, (0.4, 600): {"a": 0.9}}
    assert bench.chosen_values(grid, ["a"], shipped=(0.4, 600)) == (0.4, 600)


def test_every_extractor_is_timed_on_every_pass_each_pass_from_empty_memos(monkeypatch):
    calls: dict[str, int] = {"kabar": 0, "trafilatura": 0, "forgot_kabar": 0,
                             "forgot_trafilatura": 0}

    def extractor(name):
        def extract(html, url):
            calls[name] += 1
            return {"body": "", "date": None, "title": None}
        return extract

    monkeypatch.setattr(bench, "EXTRACTORS", {"kabar": extractor("kabar"),
                                              "trafilatura": extractor("trafilatura")})
    monkeypatch.setattr(bench, "forget_kabar_caches",
                        lambda: calls.__setitem__("forgot_kabar", calls["forgot_kabar"] + 1))
    monkeypatch.setattr(bench, "forget_trafilatura_caches", lambda: calls.__setitem__(
        "forgot_trafilatura", calls["forgot_trafilatura"] + 1))
    pages = [(f"p{n}", b"<p>x</p>", {}) for n in range(30)]
    out = bench.run_interleaved(["kabar", "trafilatura"], pages, passes=3)
    # kabar: one untimed pass for its peak memory, then the three timed ones
    assert calls == {"kabar": 4 * 30, "trafilatura": 3 * 30, "forgot_kabar": 3,
                     "forgot_trafilatura": 3}
    assert set(out) == {"kabar", "trafilatura"}
