"""How episodes fail: a stalled arm (stopped until the time limit) or an active failure.

A rollout records ``still_steps_at_end``: the trailing steps in which the end effector stayed within
``STILL_RADIUS_M`` of where the episode ended. A failed episode whose arm stood still for at least
``STALL_STEPS`` of its last steps counts as stalled: the policy's actions no longer move the arm, because
they are near zero (parked) or because the hand presses on something it is misaligned with (the
teacher on LIBERO-Object task 3 keeps commanding a small descent while its open fingers rest on the
bottle). Other failures without an error kept moving (missed grasps, knocked-over or dropped objects,
a wrong object) or ran out of time on the way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STILL_RADIUS_M = 0.01
STALL_STEPS = 50  # about 6 chunks of 8 actions without moving 1 cm


def still_steps_at_end(positions: list | np.ndarray, radius: float = STILL_RADIUS_M) -> int:
    """Number of final steps that began and ended within ``radius`` (metres) of the last position.

    ``positions``: the end-effector position after reset and after every step (steps + 1 rows).
    """
    p = np.asarray(positions, dtype=np.float64).reshape(len(positions), -1)
    if len(p) < 2:
        return 0
    outside = np.flatnonzero(np.linalg.norm(p - p[-1], axis=1) > radius)
    return int(len(p) - 1 if outside.size == 0 else len(p) - 2 - outside[-1])


def stalled(df: pd.DataFrame) -> pd.Series:
    """Per record: a failure without an error whose arm stood still for at least ``STALL_STEPS`` last steps."""
    errored = df["error"].notna() if "error" in df else pd.Series(False, index=df.index)
    return ~df["success"].astype(bool) & ~errored & (df["still_steps_at_end"] >= STALL_STEPS)


def failure_table(df: pd.DataFrame, column_of) -> pd.DataFrame:
    """Per policy and table column (``column_of(df)`` -> Series), over the episodes recorded with
    ``still_steps_at_end``: episodes, failures, of which stalled / still moving / ended by an error,
    and the median still tail of the failures. Empty when no record has the field."""
    if "still_steps_at_end" not in df:
        return pd.DataFrame()
    d = df[df["still_steps_at_end"].notna()].copy()
    d["column"] = column_of(d)
    rows = []
    for (policy, column), g in d.groupby(["policy", "column"], sort=True):
        fail = g[~g["success"].astype(bool)]
        errors = int(fail["error"].notna().sum()) if "error" in fail else 0
        stalls = int(stalled(fail).sum())
        rows.append(
            {
                "policy": policy,
                "column": column,
                "episodes": len(g),
                "failures": len(fail),
                "stalled": stalls,
                "moving": len(fail) - stalls - errors,
                "errors": errors,
                "median still steps (failures)": int(fail["still_steps_at_end"].median()) if len(fail) else "",
            }
        )
    return pd.DataFrame(rows)
