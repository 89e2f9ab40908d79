"""Benchmark of the routed students' gate arithmetic: numpy gates (the inference path) against the same
gates through torch modules, interleaved with the teacher in one process (ratios of medians, batch 1).

Usage:
    python -m bench.gates --budgets 0.5 0.25        # -> results/gates/<policy>_b<budget>.json

Only for students with the hidden-state router (a gate before every layer of every call).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from bench.machine import cpu_name
from policies.paths import RESULTS, gates_path


def compare_gates(
    policy: str, budget: float, suite: str, task: int, rounds: int, calls: int, episodes: int = 4
) -> dict[str, Any]:
    """Trunk and whole-call speedups over the teacher with numpy gates and with torch gates, per round."""
    from bench import cost
    from bench.evaluate import make_env_and_policy
    from bench.measure import call_observations, realised_fraction
    from bench.records import policy_label
    from policies import make_policy
    from policies.registry import POLICIES
    from policies.vla.policy import load_teacher

    if policy not in POLICIES or not POLICIES[policy].routed:
        raise ValueError(f"{policy!r} is not a routed student (e.g. student, nograph)")
    env, fast = make_env_and_policy(policy, suite, task, budget=budget)
    try:
        slow = make_policy(policy, env, budget=budget)
        if not hasattr(getattr(fast.student, "router", None), "use_numpy"):
            raise ValueError(f"{policy} at budget {budget} has no hidden-state router to compare")
        slow.student.router.use_numpy = False
        obs = call_observations(env, fast, 0, range(episodes))  # where the student calls its model
    finally:
        env.close()
    teacher = load_teacher(fast.teacher_dir)
    out: dict[str, Any] = {"policy": policy_label(policy, budget), "suite": suite, "task_id": task, "calls": calls}
    out["cpu"] = cpu_name()
    out["timed_calls_fraction"] = f = realised_fraction(fast, obs)
    rows = []
    for _ in range(rounds):
        lat = cost.latency({"teacher": teacher, "numpy": fast, "torch": slow}, obs, calls=calls, warmup=10)
        t = lat["teacher"]
        row = {"teacher_trunk_time_share": t["trunk_time_share"], "other_cpu_share": t["other_cpu_share"]}
        row["amdahl_bound"] = cost.amdahl_bound(t["trunk_time_share"], f)
        for k in ("numpy", "torch"):
            row[f"speedup_trunk_{k}"] = t["trunk_ms"] / lat[k]["trunk_ms"]
            row[f"speedup_call_{k}"] = t["call_ms"] / lat[k]["call_ms"]
        rows.append(row)
    out["rounds"] = rows
    out["median"] = {k: float(np.median([r[k] for r in rows])) for k in rows[0] if rows[0][k] is not None}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", default="student")
    p.add_argument("--budgets", type=float, nargs="+", default=[0.5, 0.25])
    p.add_argument("--suite", default="libero_spatial")
    p.add_argument("--task", type=int, default=0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--calls", type=int, default=60)
    p.add_argument("--episodes", type=int, default=4, help="short rollouts whose model calls are timed")
    p.add_argument("--out", default=RESULTS)
    a = p.parse_args(argv)
    from bench import cost

    for b in a.budgets:
        try:
            r = compare_gates(a.policy, b, a.suite, a.task, a.rounds, a.calls, a.episodes)
        except ValueError as e:
            p.error(str(e))
        path = gates_path(a.out, r["policy"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(r, indent=2) + "\n")
        if warn := cost.contention_warning(max((x["other_cpu_share"] or 0.0) for x in r["rounds"])):
            print(warn)
        m = r["median"]
        print(
            f"{r['policy']}: trunk speedup {m['speedup_trunk_numpy']:.2f}x with numpy gates, "
            f"{m['speedup_trunk_torch']:.2f}x with torch gates; whole call {m['speedup_call_numpy']:.2f}x vs "
            f"{m['speedup_call_torch']:.2f}x, Amdahl bound {m['amdahl_bound']:.2f}x at fraction "
            f"{r['timed_calls_fraction']:.3f} (teacher trunk share {m['teacher_trunk_time_share']:.3f}; "
            f"median of {a.rounds} rounds of {a.calls} interleaved calls) -> {path}"
        )


if __name__ == "__main__":
    main()
