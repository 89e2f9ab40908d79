"""Counterfactual probe of the copycat shortcut: does a VLA close its hand because its fingers are closing?

Usage:
    python -m bench.diagnostics.copycat --policy teacher --suite libero_object --task 3 --init 0 --at 120

Runs the policy from an official init state (with the seed ``bench.run`` gives that episode) for
``--at`` steps, then calls the model on that same observation with the finger joints (proprio dims
9 and 10, ``envs.base.STATE_LAYOUT``) replaced by each opening in ``--fingers`` (0.04: open; the
fingers close towards 0), and prints the chunk's gripper commands (-1 open, +1 close) and first z
moves. The images are the same in every row: if the command flips from open to close as only the
proprio reads more closed, the policy has learned to close once it is closing, and stalls at a grasp
pose with open fingers (README, "Where the teacher fails").
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from bench.evaluate import episode_seed, make_env_and_policy
from envs.base import STATE_LAYOUT
from policies import POLICIES

FINGERS = STATE_LAYOUT["gripper_qpos"]


def probe(
    policy: str,
    suite: str,
    task: int,
    init: int,
    at: int,
    fingers: list[float],
    seed: int = 0,
    checkpoint: str | None = None,
) -> list[dict[str, Any]]:
    """The predicted chunk's gripper commands and z moves at step ``at``: first with the actual proprio,
    then one row per finger opening in ``fingers``."""
    kw = {"checkpoint": checkpoint} if checkpoint else {}
    env, pol = make_env_and_policy(policy, suite, task, **kw)
    try:
        if not hasattr(pol, "predict"):
            raise ValueError(f"{policy!r} is not a VLA policy (no model call to probe)")
        obs, _ = env.reset(seed=episode_seed(seed, task, init), options={"init_state": init})
        pol.reset()
        for t in range(at):
            obs, _, terminated, truncated, _ = env.step(np.asarray(pol.select_action(obs)))
            if terminated or truncated:
                raise ValueError(f"the episode ended at step {t + 1}, before step {at}")
        states = {f"actual {obs['state'][FINGERS][0]:.4f}": np.array(obs["state"], np.float32)}
        for q in fingers:
            states[f"{q:g}"] = np.array(obs["state"], np.float32)
            states[f"{q:g}"][FINGERS] = (q, -q)
        rows = []
        for name, state in states.items():
            chunk = pol.predict({**obs, "state": state})
            rows.append({"fingers": name, "gripper": chunk[:, 6].round(2), "z": chunk[:4, 2].round(2)})
            rows[-1]["eef_z"] = round(float(obs["state"][2]), 4)
        return rows
    finally:
        env.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", default="teacher", help=f"a VLA policy: one of {sorted(POLICIES)}")
    p.add_argument("--suite", default="libero_object")
    p.add_argument("--task", type=int, default=3)
    p.add_argument("--init", type=int, default=0, help="official init state (the episode bench.run runs as k)")
    p.add_argument("--at", type=int, default=120, help="steps to run before probing")
    p.add_argument("--fingers", type=float, nargs="+", default=[0.04, 0.037, 0.03, 0.018])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default=None)
    a = p.parse_args(argv)
    if a.policy not in POLICIES:
        p.error(f"unknown policy {a.policy!r}; choose from {sorted(POLICIES)}")
    try:
        rows = probe(a.policy, a.suite, a.task, a.init, a.at, a.fingers, a.seed, a.checkpoint)
    except ValueError as e:
        p.error(str(e))
    print(f"{a.policy} on {a.suite} task {a.task}, init {a.init}, at step {a.at} (eef z {rows[0]['eef_z']}):")
    for r in rows:
        grip, z = (" ".join(f"{x:+.2f}" for x in r[k]) for k in ("gripper", "z"))
        print(f"  fingers {r['fingers']!s:>14}: gripper {grip}  z {z}")


if __name__ == "__main__":
    main()
