"""Success floors of the regression tests (``tests/regression_floors.json``), and the check against them.

Usage:
    python -m bench.floors --name student --policy student_lora --budget 0.5 --episodes-per-task 2
    python -m bench.floors --check student --policy random --budget 0.5 --out results   # REGRESSED or HELD

An entry fixes an episode set (by default the teacher entry's: init state 0 of every LIBERO-Spatial and
-Object task and Lift seeds 0-4; ``--episodes-per-task K`` takes init states 0..K-1 of every LIBERO task
instead), the success count the policy measured on it, the floor and the FLOPs per call (on one probe
call). The floor is the statistics of LeRobot's ``lerobot-eval-compare``: the fewest successes that a
one-sided Fisher exact test at 5% does not call worse than the measured count (``bench.metrics.
fisher_floor``). Routed students also get bounds on the realised layer fraction and on the trunk FLOPs of
the mean call over these episodes relative to the teacher's (the larger of target and measured, + 0.02).

``--check NAME`` runs another policy (a baseline, a degraded checkpoint) on entry NAME's episode set and
reports REGRESSED (below the floor) or HELD, with the Fisher p-value against the entry's measured count;
each check is appended to ``results/regression_checks.csv``. With ``--out results`` it takes the episodes
that the policy's evaluation already recorded there and runs only the missing ones.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

from bench import evaluate, measure
from bench.cost import mean_call_gflops
from bench.metrics import fisher_floor, fisher_regressed
from policies.paths import RESULTS

FLOORS = Path(__file__).resolve().parents[1] / "tests" / "regression_floors.json"
CHECKS = Path(RESULTS) / "regression_checks.csv"
LIBERO = ("libero_spatial", "libero_object")


def episode_set(floors: dict, episodes_per_task: int | None) -> list[dict]:
    """The teacher entry's episode set, with ``episodes_per_task`` init states per LIBERO task if given."""
    runs = floors["teacher"]["runs"] if "teacher" in floors else []
    if not runs:
        raise SystemExit(f"error: {FLOORS} has no teacher entry to take the episode set from")
    if episodes_per_task is None:
        return runs
    if episodes_per_task < 1:
        raise SystemExit("error: --episodes-per-task must be >= 1")
    return [{**r, "episodes_per_task": episodes_per_task} if r["suite"] in LIBERO else r for r in runs]


def run_set(runs: list[dict], policy: str, budget: float | None, out: str, workers: int, checkpoint=None) -> list:
    """The records of ``policy`` on an episode set (recorded ones under ``out`` are reused)."""
    records = []
    for part in runs:
        cfg = evaluate.RunConfig(
            policy=policy, budget=budget, suites=[part["suite"]], tasks=part["tasks"],
            episodes_per_task=part["episodes_per_task"], workers=workers, out=out, cost=False, checkpoint=checkpoint,
        )  # fmt: skip
        records += evaluate.run(cfg)
    errors = [r["error"] for r in records if r["error"]]
    if errors:
        raise SystemExit(f"error: {len(errors)} episodes failed to run, e.g. {errors[0]}")
    return records


def record(
    name: str, policy: str, budget: float | None, path: Path = FLOORS, workers: int = 2, episodes_per_task=None
) -> dict:
    """Measures ``policy`` on the episode set and writes entry ``name`` of ``path``."""
    floors = json.loads(path.read_text()) if path.exists() else {}
    runs = episode_set(floors, episodes_per_task)
    with tempfile.TemporaryDirectory() as tmp:
        records = run_set(runs, policy, budget, tmp, workers)
        cost = measure.measure_cost(
            evaluate.RunConfig(policy=policy, budget=budget, suites=["libero_spatial"], out=tmp), latency=False
        )
    successes, episodes = sum(r["success"] for r in records), len(records)
    fractions = [r["layer_fraction"] for r in records if r.get("layer_fraction") is not None]
    entry = {
        "policy": policy,
        "runs": runs,
        "episodes": episodes,
        "measured": successes,
        "floor": fisher_floor(successes, episodes),
        "floor_rule": "one-sided Fisher exact test at 5% against the measured count",
        "weights_sha1": records[0].get("weights_sha1"),
        "gflops_call": cost["gflops_call"],
        "gflops_trunk": cost["gflops_trunk"],
        "layers": cost["layers_run"],
    }
    if budget is not None:
        entry["budget"] = budget
    if fractions:
        frac = sum(fractions) / len(fractions)
        teacher = floors.get("teacher", entry)
        trunk = mean_call_gflops(cost, frac, teacher["layers"])[0]
        ratio = trunk / teacher["gflops_trunk"]
        entry["measured_layer_fraction"] = round(frac, 4)
        entry["layer_fraction_max"] = round(max(budget or 0.0, frac) + 0.02, 3)
        entry["measured_trunk_flops_ratio"] = round(ratio, 4)
        entry["trunk_flops_ratio_max"] = round(max((budget or 0.0) + 0.02, ratio) + 0.02, 3)
    floors[name] = entry
    path.write_text(json.dumps(floors, indent=2) + "\n")
    return entry


def check(
    name: str, policy: str, budget: float | None, out: str | None = None, path: Path = FLOORS, workers: int = 2,
    checkpoint: str | None = None, log: Path | None = CHECKS,
) -> dict:  # fmt: skip
    """Runs ``policy`` on entry ``name``'s episode set: REGRESSED below its floor, else HELD."""
    floors = json.loads(path.read_text())
    if name not in floors:
        raise SystemExit(f"error: no entry {name!r} in {path}; entries: {', '.join(sorted(floors))}")
    spec = floors[name]
    with tempfile.TemporaryDirectory() as tmp:
        records = run_set(spec["runs"], policy, budget, out or tmp, workers, checkpoint)
    successes, n = sum(r["success"] for r in records), len(records)
    if n != spec["episodes"]:
        raise SystemExit(f"error: ran {n} episodes, entry {name!r} has {spec['episodes']}")
    result = {
        "entry": name,
        "policy": records[0]["policy"],
        "weights_sha1": records[0].get("weights_sha1"),
        "successes": successes,
        "episodes": n,
        "floor": spec["floor"],
        "entry_measured": spec["measured"],
        "p_worse": round(fisher_regressed(spec["measured"], spec["episodes"], successes, n), 6),
        "verdict": "REGRESSED" if successes < spec["floor"] else "HELD",
    }
    if log is not None:
        new = not log.exists()
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(result))
            if new:
                w.writeheader()
            w.writerow(result)
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--name", help="record entry NAME; VLABENCH_<NAME>_CHECKPOINT overrides its checkpoint")
    what.add_argument("--check", metavar="NAME", help="check --policy against entry NAME's floor")
    p.add_argument("--policy", required=True)
    p.add_argument("--budget", type=float, default=None)
    p.add_argument("--checkpoint", default=None, help="--check: weights folder (default: the registered one)")
    p.add_argument("--episodes-per-task", type=int, default=None, help="--name: init states per LIBERO task")
    p.add_argument("--out", default=None, help="--check: reuse (and extend) the records under OUT, e.g. results")
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args(argv)
    if a.check:
        r = check(a.check, a.policy, a.budget, a.out, workers=a.workers, checkpoint=a.checkpoint)
        print(
            f"{r['verdict']}: {r['policy']} {r['successes']}/{r['episodes']} against floor {r['floor']} "
            f"(entry {r['entry']}: {r['entry_measured']}/{r['episodes']}; one-sided Fisher p = {r['p_worse']:.4f})"
        )
        return
    if not a.name.isidentifier():
        p.error("--name must be a valid identifier (it becomes part of an environment variable)")
    e = record(a.name, a.policy, a.budget, workers=a.workers, episodes_per_task=a.episodes_per_task)
    print(json.dumps(e, indent=2))


if __name__ == "__main__":
    main()
