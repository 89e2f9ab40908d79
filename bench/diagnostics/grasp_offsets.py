"""Where the hand was when it first closed: replay traced robosuite Lift episodes and measure the
grip site's offset from the cube at the first close command.

Usage:
    python -m bench.run --policy teacher --suite robosuite --tasks 0 --episodes-per-task 50 --trace --out RUN
    python -m bench.diagnostics.grasp_offsets --run RUN --policy teacher

Episodes are deterministic for a given seed and init state (docs/reliability.md, determinism), so replaying the
recorded actions reproduces the end-effector path (checked: the replayed proprio must match the
trace's at every step up to the first close) and gives access to the simulator's object pose, which
the policy's observation does not hold.
Prints, for successes and failures, the median and largest offset along x and y (absolute) and z
(grip site above the cube's centre), in millimetres, and the median number of gripper command sign
changes per episode (a hand that misses reopens and closes again).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import envs
from bench.records import read_records
from policies.paths import trace_path

SUITE, TASK = "robosuite", 0  # Lift: the cube is the only object


def first_close_offset(env, record: dict, trace: dict) -> np.ndarray | None:
    """Grip site minus cube centre (m) at the first step whose gripper command closes; None if it never closes.
    Raises if the replay leaves the recorded path."""
    obs, _ = env.reset(seed=record["seed"], options={"init_state": record["init_state"]})
    rs = env.unwrapped._rs
    cube = rs.sim.model.body_name2id(rs.cube.root_body)
    for t, action in enumerate(trace["actions"]):
        if not np.allclose(obs["state"], trace["state"][t], atol=1e-6):
            raise RuntimeError(f"replay of init state {record['init_state']} left the trace at step {t}")
        if action[6] > 0:
            return obs["state"][:3] - rs.sim.data.body_xpos[cube]
        obs, *_ = env.step(action)
    return None


def offsets(run: Path, policy: str) -> list[dict]:
    """One row per traced Lift episode of ``run``: success and the first-close offset in mm."""
    path = run / "episodes" / policy / f"{SUITE}.jsonl"
    if not path.exists():
        raise SystemExit(f"error: no {SUITE} records at {path}; run bench.run with --trace first")
    records = [r for r in read_records(path) if r["task_id"] == TASK]
    env = envs.make_env(SUITE, TASK, render_images=False)
    rows = []
    try:
        for r in sorted(records, key=lambda r: r["init_state"]):
            npz = trace_path(run, policy, SUITE, TASK, r["init_state"])
            if not npz.exists():
                continue
            trace = dict(np.load(npz))
            off = first_close_offset(env, r, trace)
            if off is not None:
                flips = int((np.diff(np.sign(trace["actions"][:, 6])) != 0).sum())
                rows.append(
                    {"init_state": r["init_state"], "success": bool(r["success"]), "mm": 1000 * off, "flips": flips}
                )
    finally:
        env.close()
    return rows


def summary(rows: list[dict]) -> list[str]:
    lines = []
    for ok, name in ((True, "successes"), (False, "failures")):
        group = [r for r in rows if r["success"] == ok]
        if not group:
            continue
        mm = np.array([r["mm"] for r in group])
        ax, ay, z = np.abs(mm[:, 0]), np.abs(mm[:, 1]), mm[:, 2]
        flips = np.median([r["flips"] for r in group])
        lines.append(
            f"{name:9s} n={len(mm):3d}  |x| median {np.median(ax):3.0f} max {ax.max():3.0f}   "
            f"|y| median {np.median(ay):3.0f} max {ay.max():3.0f}   z median {np.median(z):+3.0f} mm   "
            f"gripper sign changes median {flips:g}"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a bench.run --out folder with --trace records")
    ap.add_argument("--policy", default="teacher", help="the run's policy label")
    args = ap.parse_args(argv)
    rows = offsets(args.run, args.policy)
    if not rows:
        raise SystemExit(f"error: no traced Lift episode that closes its gripper under {args.run}")
    print("\n".join(summary(rows)))


if __name__ == "__main__":
    main()
