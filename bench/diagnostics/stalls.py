"""Where a stalled policy's hand stands: at the grasp with the fingers open (the copycat stall) or at
the wrong place. Replays the stalled failures of an evaluation run and compares the hand's position when
it stopped with the expert's grasp on the same init state.

Usage:
    python -m bench.diagnostics.stalls --run runs/eval_fb3000 --checkpoint checkpoints/teacher_fb3000 \
        --suite libero_object --limit 10 --out docs/stalls_fb3000_object.csv

For each stalled failure (``bench.failures``: the arm still for its last ``STALL_STEPS`` steps) of the
run's ``teacher`` records, the policy is rolled out again with the record's seed and init state (the
replay's action digest must equal the record's, else the row says so), and the privileged expert runs
the same init state: its first close is where the grasp is. A row gives the stall onset step, the hand's
distance from that grasp in xy and z (mm) and the gripper command while stalled.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import envs
from bench.evaluate import RunConfig, env_kwargs, make_env_and_policy, policy_kwargs
from bench.failures import stalled
from bench.records import read_records
from bench.rollout import rollout
from envs.base import STATE_LAYOUT
from policies.registry import make_policy


def _expert_grasp(suite: str, task: int, record: dict) -> tuple[np.ndarray | None, int | None]:
    """The expert's hand position at its first close command on the record's init state (None: none)."""
    env = envs.make_env(suite, task, render_images=False)
    try:
        trace: dict = {}
        rollout(env, make_policy("expert", env), seed=record["seed"], init_state=record["init_state"], trace=trace)
    finally:
        env.close()
    closes = np.flatnonzero(trace["actions"][:, 6] > 0)
    if not len(closes):
        return None, None
    return trace["state"][closes[0], STATE_LAYOUT["eef_pos"]], int(closes[0])


def stall_rows(run: Path, checkpoint: str | None, suite: str, limit: int, policy: str = "teacher") -> list[dict]:
    """One row per replayed stalled failure of ``run`` on ``suite`` (at most ``limit``, spread over the tasks)."""
    path = run / "episodes" / policy / f"{suite}.jsonl"
    records = read_records(path)
    records = [r for r, stall in zip(records, stalled(pd.DataFrame(records)), strict=True) if stall] if records else []
    if not records:
        raise SystemExit(f"error: no stalled failure in {path}")
    torch.set_num_threads(1)  # as bench.run's episode workers: the same float reductions, the same actions
    cfg = RunConfig(policy=policy, checkpoint=checkpoint, suites=[suite])
    env_kw = {"render_images": True, **env_kwargs(cfg)}
    rows = []
    # round robin over the tasks: the first stall of each task, then the second...
    rank = {
        id(r): sum(q["task_id"] == r["task_id"] and q["init_state"] < r["init_state"] for q in records) for r in records
    }
    for r in sorted(records, key=lambda r: (rank[id(r)], r["task_id"]))[:limit]:
        env, agent = make_env_and_policy(policy, suite, r["task_id"], env_kw, **policy_kwargs(cfg))
        try:
            trace: dict = {}
            out = rollout(env, agent, seed=r["seed"], init_state=r["init_state"], trace=trace)
        finally:
            env.close()
        onset = out["steps"] - out["still_steps_at_end"]
        hand = trace["state"][onset, STATE_LAYOUT["eef_pos"]]
        grasp, close_step = _expert_grasp(suite, r["task_id"], r)
        off = (hand - grasp) if grasp is not None else np.full(3, np.nan)
        rows.append(
            {
                "task_id": r["task_id"],
                "init_state": r["init_state"],
                "replay_matches": out["actions_sha1"] == r["actions_sha1"],
                "stall_onset_step": onset,
                "expert_close_step": close_step,
                "xy_mm": round(1000 * float(np.linalg.norm(off[:2])), 1),
                "z_mm": round(1000 * float(off[2]), 1),
                "grip_cmd_stalled": round(float(np.median(trace["actions"][onset:, 6])), 2),
            }
        )
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a bench.run --out folder")
    ap.add_argument("--checkpoint", required=True, help="the weights the run evaluated")
    ap.add_argument("--suite", required=True)
    ap.add_argument("--limit", type=int, default=10, help="stalled failures to replay (about 40 s each)")
    ap.add_argument("--out", type=Path, help="CSV of the rows")
    args = ap.parse_args(argv)
    if args.suite not in envs.SUITES:
        ap.error(f"unknown suite {args.suite!r}; known: {', '.join(sorted(envs.SUITES))}")
    rows = stall_rows(args.run, args.checkpoint, args.suite, args.limit)
    near = [r for r in rows if r["xy_mm"] < 20 and abs(r["z_mm"]) < 20]
    print(f"{len(near)} of {len(rows)} stalled hands within 2 cm of the expert's grasp (the copycat stall)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
