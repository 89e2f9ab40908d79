import json

import numpy as np
import pytest

from bench.metrics import format_rate, paired_diff_ci, wilson
from bench.records import append_record, read_records


def test_wilson_matches_reference_values():
    lo, hi = wilson(45, 50)  # statsmodels proportion_confint(45, 50, method="wilson")
    assert lo == pytest.approx(0.7864, abs=1e-4)
    assert hi == pytest.approx(0.9565, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)
    assert format_rate(45, 50).startswith("45/50 = 90.0% [78.6, 95.7]")


def test_paired_difference_interval():
    a = [True] * 30 + [False] * 10 + [True] * 4 + [False] * 6  # 34/50
    b = [True] * 30 + [True] * 10 + [False] * 4 + [False] * 6  # 40/50, 10 pairs only b, 4 only a
    d, lo, hi = paired_diff_ci(a, b)
    assert d == pytest.approx(-0.12) and lo < d < hi < 0.05
    d2, lo2, hi2 = paired_diff_ci(b, a)  # swapping the policies mirrors the interval
    assert (d2, lo2, hi2) == pytest.approx((-d, -hi, -lo))
    same = paired_diff_ci(a, a)
    assert same[0] == 0 and same[1] < 0 < same[2]
    with pytest.raises(ValueError, match="equally long"):
        paired_diff_ci([True], [])


def test_paired_interval_covers_the_true_difference_95_percent():
    """Coverage by simulation: correlated pairs (as with one init state for both policies), n = 60."""
    rng = np.random.default_rng(0)
    cells = np.array([0.45, 0.10, 0.20, 0.25])  # both, only a, only b, neither: true difference -0.10
    hits = 0
    for _ in range(1000):
        kind = rng.choice(4, size=60, p=cells)
        _, lo, hi = paired_diff_ci(list((kind == 0) | (kind == 1)), list((kind == 0) | (kind == 2)))
        hits += lo <= -0.10 <= hi
    assert 0.93 <= hits / 1000 <= 0.97


def test_half_written_line_is_dropped(tmp_path):
    path = tmp_path / "r.jsonl"
    append_record(path, {"a": 1})
    append_record(path, {"a": 2})
    with open(path, "a") as f:
        f.write('{"a": 3, "b"')  # killed mid-write
    assert read_records(path) == [{"a": 1}, {"a": 2}]
    assert path.read_text().count("\n") == 2  # file repaired: the next append starts on a clean line
    append_record(path, {"a": 4})
    assert [r["a"] for r in read_records(path)] == [1, 2, 4]
    assert all(json.loads(line) for line in path.read_text().splitlines())
