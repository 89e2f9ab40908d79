"""Record a success floor for the regression tests (``tests/regression_floors.json``).

Usage:
    python -m bench.floors --name student --policy student --budget 0.5

Runs the teacher entry's fixed episode set (init state 0 of every LIBERO-Spatial and -Object task,
Lift seeds 0-4) with the given policy and writes an entry: the measured success count, the floor
(episodes x the lower end of the 95% Wilson interval of the measured rate, rounded down), the FLOPs
per call (on one probe call) and, for routed students, bounds on the realised layer fraction and on
the trunk FLOPs of the mean call over these episodes relative to the teacher's (the larger of target
and measured, plus 0.02).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

from bench import evaluate, measure
from bench.cost import mean_call_gflops
from bench.metrics import wilson

FLOORS = Path(__file__).resolve().parents[1] / "tests" / "regression_floors.json"


def record(name: str, policy: str, budget: float | None, path: Path = FLOORS, workers: int = 2) -> dict:
    floors = json.loads(path.read_text()) if path.exists() else {}
    runs = floors["teacher"]["runs"] if "teacher" in floors else []
    if not runs:
        raise SystemExit(f"error: {path} has no teacher entry to take the episode set from")
    successes, episodes, fractions = 0, 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for part in runs:
            cfg = evaluate.RunConfig(
                policy=policy, budget=budget, suites=[part["suite"]], tasks=part["tasks"],
                episodes_per_task=part["episodes_per_task"], workers=workers, out=tmp, cost=False,
            )  # fmt: skip
            records = evaluate.run(cfg)
            successes += sum(r["success"] for r in records)
            episodes += len(records)
            fractions += [r["layer_fraction"] for r in records if r.get("layer_fraction") is not None]
        cost = measure.measure_cost(
            evaluate.RunConfig(policy=policy, budget=budget, suites=["libero_spatial"], out=tmp), latency=False
        )
    entry = {
        "policy": policy,
        "runs": runs,
        "episodes": episodes,
        "measured": successes,
        "floor": math.floor(episodes * wilson(successes, episodes)[0]),
        "gflops_call": cost["gflops_call"],
        "gflops_trunk": cost["gflops_trunk"],
        "layers": cost["layers_run"],
    }
    if budget is not None:
        entry["budget"] = budget
    if fractions:
        frac = sum(fractions) / len(fractions)
        trunk = mean_call_gflops(cost, frac, floors["teacher"]["layers"])[0]
        ratio = trunk / floors["teacher"]["gflops_trunk"]
        entry["measured_layer_fraction"] = round(frac, 4)
        entry["layer_fraction_max"] = round(max(budget or 0.0, frac) + 0.02, 3)
        entry["measured_trunk_flops_ratio"] = round(ratio, 4)
        entry["trunk_flops_ratio_max"] = round(max((budget or 0.0) + 0.02, ratio) + 0.02, 3)
    floors[name] = entry
    path.write_text(json.dumps(floors, indent=2) + "\n")
    return entry


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="entry name; VLABENCH_<NAME>_CHECKPOINT overrides its checkpoint")
    p.add_argument("--policy", required=True)
    p.add_argument("--budget", type=float, default=None)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args(argv)
    if not a.name.isidentifier():
        p.error("--name must be a valid identifier (it becomes part of an environment variable)")
    e = record(a.name, a.policy, a.budget, workers=a.workers)
    print(json.dumps(e, indent=2))


if __name__ == "__main__":
    main()
