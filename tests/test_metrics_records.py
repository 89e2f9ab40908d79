import json

import pytest

from bench.metrics import format_rate, wilson
from bench.records import append_record, read_records


def test_wilson_matches_reference_values():
    lo, hi = wilson(45, 50)  # statsmodels proportion_confint(45, 50, method="wilson")
    assert lo == pytest.approx(0.7864, abs=1e-4)
    assert hi == pytest.approx(0.9565, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)
    assert format_rate(45, 50).startswith("45/50 = 90.0% [78.6, 95.7]")


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
