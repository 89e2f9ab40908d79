"""How the scripted expert's grasps end: within the tolerance, or by the stall rule after creeping still.

Usage:
    python -m bench.diagnostics.expert_grasps --suite libero_object --episodes-per-task 2
    python -m bench.diagnostics.expert_grasps --suite libero_spatial robosuite --tasks 0 4 --out grasps.csv

Runs the expert physics-only on seeded layouts (``env.reset(seed=...)``; never the official init states)
and prints, per grasp, how its descent ended (``tol``: within ``grasp_tol`` of the grasp point; ``stall``:
blocked by a contact, after ``descent_stall_steps`` still steps; ``steps``: out of steps), how many steps
the descent and the close took, and the episode's outcome. A memoryless clone can copy a close that the
state decides (``tol``); a close that follows a wait it cannot (docs/expert.md, "Version 2").
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from typing import Any

import envs
from policies.expert import ScriptedExpert


def run_task(suite: str, task: int, episodes: int, seed: int = 0) -> list[dict[str, Any]]:
    """One row per grasp of ``episodes`` expert episodes of a task (a failed episode without a grasp: one row)."""
    env = envs.make_env(suite, task, render_images=False)
    rows = []
    try:
        for k in range(episodes):
            layout = seed * 1000 + k
            obs, _ = env.reset(seed=layout)
            expert = ScriptedExpert(env)
            expert.reset()
            info, steps = {"is_success": False}, 0
            while steps < env.unwrapped.max_episode_steps:
                obs, _, terminated, truncated, info = env.step(expert.select_action(obs))
                steps += 1
                if terminated or truncated:
                    break
            base = {"suite": suite, "task": task, "layout_seed": layout, "success": bool(info["is_success"])}
            base["episode_steps"] = steps
            rows += [{**base, **g} for g in expert._expert.grasps] or [base]
    finally:
        env.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", dest="suites", nargs="+", default=["libero_object"])
    p.add_argument("--tasks", type=int, nargs="+", default=None, help="task ids (default: all; robosuite: Lift)")
    p.add_argument("--episodes-per-task", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the rows to this CSV")
    a = p.parse_args(argv)
    if a.episodes_per_task < 1:
        p.error("--episodes-per-task must be >= 1")
    rows = []
    for suite in a.suites:
        spec = envs.get_suite(suite)
        tasks = a.tasks if a.tasks is not None else ([0] if suite == "robosuite" else range(spec.num_tasks))
        for task in tasks:
            if not 0 <= task < spec.num_tasks:
                p.error(f"{suite} has tasks 0-{spec.num_tasks - 1}, not {task}")
            for r in run_task(suite, task, a.episodes_per_task, a.seed):
                rows.append(r)
                print(r, flush=True)
    for suite in a.suites:
        mine = [r for r in rows if r["suite"] == suite]
        ends = Counter(r.get("descent", "no grasp") for r in mine)
        print(f"{suite}: descents {dict(ends)}; episodes {len({(r['task'], r['layout_seed']) for r in mine})}")
    if a.out:
        keys = list(dict.fromkeys(k for r in rows for k in r))
        with open(a.out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
