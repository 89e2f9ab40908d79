"""Episodes per minute with 1 vs N worker processes, measured in one run on the same episodes.

Usage:
    python -m bench.scaling --policy teacher --suite libero_spatial --tasks 0 1 --episodes-per-task 4 --workers 1 2

Each worker count runs the same (task, init state) episodes from scratch into its own folder under
``--scratch`` (workers spawn and load the policy inside the timed region, as in a real run); the
result, with the ratio to 1 worker and a check that every worker count produced identical episodes
(success, steps, actions hash), is written to ``<out>/scaling/<policy>.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.evaluate import RunConfig, run
from policies.paths import RESULTS, scaling_path


def measure(cfg: RunConfig, counts: list[int], scratch: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"policy": cfg.label, "suites": cfg.suites, "tasks": cfg.tasks, "runs": []}
    outcomes = {}
    for n in counts:
        folder = scratch / f"workers{n}"
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter()
        records = run(replace(cfg, workers=n, out=str(folder), cost=False))
        wall = time.perf_counter() - t0
        outcomes[n] = sorted(
            (r["suite"], r["task_id"], r["init_state"], r["success"], r["steps"], r["actions_sha1"]) for r in records
        )
        out["runs"].append(
            {
                "workers": n,
                "episodes": len(records),
                "wall_s": round(wall, 2),
                "episodes_per_min": round(60 * len(records) / wall, 3),
            }
        )
    base = out["runs"][0]["episodes_per_min"]
    for r in out["runs"]:
        r["ratio_to_first"] = round(r["episodes_per_min"] / base, 3)
    out["identical_episodes"] = all(o == outcomes[counts[0]] for o in outcomes.values())
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", default="teacher")
    p.add_argument("--budget", type=float, default=None)
    p.add_argument("--suite", dest="suites", nargs="+", default=["libero_spatial"])
    p.add_argument("--tasks", type=int, nargs="+", default=[0, 1])
    p.add_argument("--episodes-per-task", type=int, default=4)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts, first is the reference")
    p.add_argument("--out", default=RESULTS)
    p.add_argument("--scratch", default=None, help="folder for the throw-away records (default: a temp dir)")
    a = p.parse_args(argv)
    try:
        cfg = RunConfig(
            policy=a.policy, budget=a.budget, suites=a.suites, tasks=a.tasks, episodes_per_task=a.episodes_per_task
        )
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(cfg, a.workers, Path(a.scratch or tmp))
    path = scaling_path(a.out, cfg.label)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    for r in result["runs"]:
        rate = f"{r['episodes_per_min']:.2f} episodes/min ({r['ratio_to_first']:.2f}x)"
        print(f"{r['workers']} worker(s): {r['episodes']} episodes in {r['wall_s']:.0f} s = {rate}")
    print(f"identical episodes across worker counts: {result['identical_episodes']}; written to {path}")


if __name__ == "__main__":
    main()
