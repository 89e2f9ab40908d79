import json

import numpy as np
import pytest

from bench.metrics import fisher_floor, fisher_regressed, format_rate, paired_diff_ci, wilson
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


def test_fisher_floor_is_where_the_one_sided_test_stops_rejecting():
    assert fisher_floor(25, 25) == 21  # 20/25 against 25/25: p = 0.025; 21/25: p = 0.055
    for ref, n in [(25, 25), (22, 25), (40, 45), (9, 10)]:
        k = fisher_floor(ref, n)
        assert fisher_regressed(ref, n, k, n) >= 0.05
        assert k == 0 or fisher_regressed(ref, n, k - 1, n) < 0.05
        assert k <= ref
    assert fisher_regressed(10, 20, 20, 20) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        fisher_regressed(3, 2, 1, 2)


def test_floor_check_calls_a_run_below_the_floor_regressed(tmp_path, monkeypatch):
    from bench import floors

    path = tmp_path / "floors.json"
    runs = [{"suite": "libero_spatial", "tasks": None, "episodes_per_task": 1}]
    path.write_text(json.dumps({"student": {"runs": runs, "episodes": 10, "measured": 10, "floor": 7}}))
    outcomes = {"good": [True] * 8 + [False] * 2, "bad": [True] * 6 + [False] * 4}
    monkeypatch.setattr(
        floors, "run_set",
        lambda runs, policy, *a, **k: [{"success": s, "policy": policy, "error": None} for s in outcomes[policy]],
    )  # fmt: skip
    log = tmp_path / "checks.csv"
    assert floors.check("student", "good", 0.5, path=path, log=log)["verdict"] == "HELD"
    bad = floors.check("student", "bad", 0.5, path=path, log=log)
    assert bad["verdict"] == "REGRESSED" and bad["p_worse"] < 0.05
    assert len(log.read_text().splitlines()) == 3  # header and one row per check
    with pytest.raises(SystemExit):
        floors.check("nope", "good", 0.5, path=path, log=log)


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


def _eval_run(root, weights, outcomes, render_path="simplified", seed_offset=0):
    """A run folder with one libero_spatial record per (task, init state) -> success (None: an error)."""
    from bench.records import append_record

    for (task, init), ok in outcomes.items():
        rec = {"suite": "libero_spatial", "task_id": task, "init_state": init, "seed": 100 * task + init + seed_offset}
        rec |= {"success": bool(ok), "error": None if ok is not None else "boom", "weights_sha1": weights}
        rec["env"] = {"render_path": render_path, "face_budget": 3000 if render_path == "simplified" else None}
        append_record(root / "episodes" / "teacher" / "libero_spatial.jsonl", rec)
    return root


def test_compare_pairs_two_runs_on_the_episodes_both_ran(tmp_path, capsys):
    from bench import compare

    a = _eval_run(tmp_path / "a", "w1", {(0, 0): True, (0, 1): True, (1, 0): False, (1, 1): True, (2, 0): True})
    b = _eval_run(tmp_path / "b", "w0", {(0, 0): False, (0, 1): True, (1, 0): True, (1, 1): None})
    _eval_run(tmp_path / "b", "w0", {(2, 0): False}, seed_offset=1)  # another seed: not the same episode
    pairs = compare.paired(compare.load_run(a), compare.load_run(b))
    assert len(pairs) == 4  # (2, 0) ran with other seeds: not paired
    row = compare.table(pairs).iloc[0]
    assert row.n == 4 and row["A"].startswith("3/4") and row["B"].startswith("2/4") and row["+ / -"] == "+2 / -1"
    d, lo, hi = paired_diff_ci([True, True, False, True], [False, True, True, False])  # B's error: a failure
    assert row["A - B (points)"] == f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]" == "+25.0 [-46.1, +74.7]"
    per_task = compare.table(pairs, per_task=True)
    assert per_task.task_id.tolist() == [0, 1] and per_task["+ / -"].tolist() == ["+1 / -0", "+1 / -1"]
    other_budget = _eval_run(tmp_path / "c", "w2", {(0, 0): True})
    with open(other_budget / "episodes" / "teacher" / "libero_spatial.jsonl", "r+") as f:
        f.write(f.read().replace('"face_budget": 3000', '"face_budget": 1500'))
    with pytest.raises(ValueError, match="render paths"):
        compare.paired(compare.load_run(a), compare.load_run(other_budget))
    with pytest.raises(ValueError, match="same weights"):
        compare.paired(compare.load_run(a), compare.load_run(a))
    compare.main([str(a), str(b), "--per-task", "--out", str(tmp_path / "cmp.md")])
    assert "| libero_spatial | 4 | 3/4 = 75.0%" in (tmp_path / "cmp.md").read_text()
    with pytest.raises(SystemExit):
        compare.main([str(a), str(tmp_path / "missing")])
    assert "no episode records" in capsys.readouterr().err


def test_compare_across_render_paths_pairs_each_run_on_its_own_path(tmp_path, capsys):
    from bench import compare

    a = _eval_run(tmp_path / "a", "w1", {(0, 0): True, (0, 1): True})
    b = _eval_run(tmp_path / "b", "w0", {(0, 0): False, (0, 1): True}, render_path="full")
    with pytest.raises(ValueError, match="render paths"):
        compare.paired(compare.load_run(a), compare.load_run(b))
    pairs = compare.paired(compare.load_run(a), compare.load_run(b), across_render_paths=True)
    assert len(pairs) == 2 and compare.table(pairs).iloc[0]["+ / -"] == "+1 / -0"
    compare.main([str(a), str(b), "--across-render-paths"])
    out = capsys.readouterr().out
    assert "render paths: A simplified" in out and "B full" in out
    _eval_run(tmp_path / "a", "w1", {(1, 0): True}, render_path="full")  # a run on two paths: refused
    with pytest.raises(ValueError, match="several render paths"):
        compare.paired(compare.load_run(a), compare.load_run(b), across_render_paths=True)
