"""Success-rate regression tests of the committed checkpoints (floors in ``regression_floors.json``).

Each entry fixes a set of (suite, task, init state) episodes, the success count measured when the
checkpoint was committed, a floor and the FLOPs per call. Episodes are deterministic for a given
seed and init state (see test_reliability), so on this platform the measured count reproduces
exactly; the floor (the fewest successes that a one-sided Fisher exact test at 5% does not call worse
than the measured count, as LeRobot's ``lerobot-eval-compare``: ``bench.metrics.fisher_floor``) leaves
room for floating-point differences on other CPUs while a broken checkpoint fails, and so does the random
routing baseline at the student's budget; static truncation, as good as the student, passes (``python -m
bench.floors --check``, verdicts in ``results/regression_checks.csv``). Override a checkpoint with
``VLABENCH_<NAME>_CHECKPOINT`` to check another one (e.g. to show that a random-init checkpoint fails).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench import measure, run
from bench.cost import mean_call_gflops
from bench.floors import run_set

pytestmark = pytest.mark.sim
FLOORS = json.loads((Path(__file__).parent / "regression_floors.json").read_text())


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_success_floor_and_flops(name: str, tmp_path) -> None:
    spec = FLOORS[name]
    checkpoint = os.environ.get(f"VLABENCH_{name.upper()}_CHECKPOINT")
    records = run_set(spec["runs"], spec["policy"], spec.get("budget"), str(tmp_path), 2, checkpoint)
    successes, episodes = sum(r["success"] for r in records), len(records)
    fractions = [r["layer_fraction"] for r in records if r.get("layer_fraction") is not None]
    assert episodes == spec["episodes"]
    assert successes >= spec["floor"], f"{name}: {successes}/{episodes} below the floor {spec['floor']}"
    if "layer_fraction_max" in spec:  # routed students: realised fraction over these episodes
        assert fractions and sum(fractions) / len(fractions) <= spec["layer_fraction_max"]
    if checkpoint is None:
        cost = measure.measure_cost(
            run.RunConfig(
                policy=spec["policy"], budget=spec.get("budget"), suites=["libero_spatial"], out=str(tmp_path)
            ),
            latency=False,
        )
        assert cost["gflops_trunk"] == pytest.approx(spec["gflops_trunk"], rel=1e-6)
        assert cost["gflops_call"] == pytest.approx(spec["gflops_call"], rel=1e-6)
        if "trunk_flops_ratio_max" in spec:  # the mean call over these episodes vs the teacher's call
            frac = sum(fractions) / len(fractions)
            trunk = mean_call_gflops(cost, frac, FLOORS["teacher"]["layers"])[0]
            assert trunk / FLOORS["teacher"]["gflops_trunk"] <= spec["trunk_flops_ratio_max"]
