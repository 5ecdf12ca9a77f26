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
