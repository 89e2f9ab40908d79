"""Embodied efficiency: what an episode costs the robot, beside what a policy call costs the CPU.

A policy that cuts FLOPs at equal success can still take longer paths, more steps and jerkier motion
("From Inference Efficiency to Embodied Efficiency", arXiv 2603.19131). Per episode, ``bench.rollout``
records ``eef_path_m`` (end-effector path length, metres) and ``action_jerk`` (mean norm of the third
difference of the arm's commanded 6-d action, per step); ``steps`` and ``episode_s`` were already there.
``embodied_table`` compares each policy with the teacher on the LIBERO episodes both ran and both
solved (same suite, task, init state and seed) on the same CPU (the record's ``cpu``, ``bench.machine``):
wall time depends on the machine, and the teacher's own actions differ bit for bit between CPUs. It gives
the teacher's mean and the policy's mean paired difference with its 95% t-interval.

The published teacher records predate these fields, so the teacher's reference episodes are rerun on
the machine that runs the students, into their own folder (the published records stay as they are):

    python -m bench.run --policy teacher --suite libero_spatial libero_object --episodes-per-task 10 \
        --no-cost --out results/embodied
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.metrics import mean_t_ci

ARM = slice(0, 6)  # position and axis-angle rotation deltas; the gripper command is left out
METRICS = {  # record field -> column name
    "steps": "steps to success",
    "episode_s": "wall s per success",
    "eef_path_m": "EE path m",
    "action_jerk": "action jerk",
}
KEY = ["suite", "task_id", "init_state", "seed", "cpu"]
REFERENCE = "embodied"  # results/embodied/episodes/<policy>/: the teacher rerun on the students' machine


def path_length(positions: np.ndarray) -> float:
    """Summed distance between consecutive end-effector positions (steps + 1 x 3), metres."""
    p = np.asarray(positions, np.float64).reshape(-1, 3)
    return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) if len(p) > 1 else 0.0


def action_jerk(actions: np.ndarray) -> float:
    """Mean L2 norm of the third finite difference of the arm's actions (steps x 7); 0 under 4 steps."""
    a = np.asarray(actions, np.float64).reshape(-1, 7)[:, ARM]
    return float(np.linalg.norm(np.diff(a, n=3, axis=0), axis=1).mean()) if len(a) >= 4 else 0.0


def embodied_table(df: pd.DataFrame, teacher: str = "teacher") -> pd.DataFrame:
    """One row per policy and CPU with embodied fields on LIBERO episodes it shares with the teacher, on that
    CPU, and both solved: n, and per metric the teacher's mean and the policy's mean paired difference
    [95% t-interval]. Records without ``cpu`` (older ones) are left out."""
    from bench.tables import display, policy_order

    need = {"policy", "suite", "success", *KEY, "eef_path_m", "action_jerk"}
    if not need <= set(df.columns):
        return pd.DataFrame()
    ok = df[df.suite.str.startswith("libero") & df.success.fillna(False).astype(bool)]
    ok = ok[ok["error"].isna()] if "error" in ok else ok
    ok = ok[ok.eef_path_m.notna() & ok.action_jerk.notna() & ok.cpu.notna()]
    ok = ok.drop_duplicates(["policy", *KEY], keep="last")
    ref = ok[ok.policy == teacher]
    rows = []
    for policy in policy_order(set(ok.policy) - {teacher}):
        for cpu, both in ok[ok.policy == policy].merge(ref, on=KEY, suffixes=("", "_t")).groupby("cpu"):
            rows.append(_row(display(policy), str(cpu), both))
    return pd.DataFrame(rows)


def _row(policy: str, cpu: str, both: pd.DataFrame) -> dict[str, str | int]:
    row: dict[str, str | int] = {"policy": policy, "CPU": cpu, "n (both solved)": len(both)}
    for field, col in METRICS.items():
        m, lo, hi = mean_t_ci((both[field] - both[f"{field}_t"]).to_numpy(np.float64))
        digits = 3 if field in ("eef_path_m", "action_jerk") else 1
        row[f"{col}: teacher"] = f"{both[f'{field}_t'].mean():.{digits}f}"
        row[f"{col}: difference"] = f"{m:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"
    return row
