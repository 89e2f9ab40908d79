"""Skips robosuite's repeated ``mj_forward`` on an unchanged state (bit-identical physics, less time).

Each robosuite control step runs 25 physics substeps (LIBERO: 20 Hz control, 500 Hz physics), and each
substep calls ``mj_forward`` twice on the same state: once in ``MujocoEnv.step``'s loop and once more in
the arm controller's ``update`` (to read the end-effector pose, the Jacobians and the mass matrix)
before ``mj_step``. ``mj_forward`` is a pure function of the model and of mjData's inputs (time, qpos,
qvel, act, ctrl, the applied forces, mocap poses, the solver's warm start...), and it writes none of
them, so the second call recomputes exactly what the first one left. Profiled on an expert episode of
LIBERO-Spatial task 0 (cProfile), the two calls took 24% of the episode's time.

``install()`` (off with ``VLABENCH_FORWARD_MEMO=0``) makes ``MjSim.forward`` keep a copy of those
inputs after each call and return at once when they are bit-for-bit the same at the next call; ``step``
and ``reset`` drop the copy. A change to the *model* between two forwards on an unchanged state would
be missed: code that edits the model calls ``invalidate(sim)``. ``tests/test_forward_memo.py`` checks
that episodes are bit-identical with and without the memo.
"""

from __future__ import annotations

import os
from typing import Any

import mujoco
import numpy as np

# mjData fields that mj_forward reads and does not write (its inputs besides the model)
INPUTS = (
    "time",
    "qpos",
    "qvel",
    "act",
    "ctrl",
    "qacc_warmstart",
    "qfrc_applied",
    "xfrc_applied",
    "mocap_pos",
    "mocap_quat",
    "eq_active",
    "userdata",
    "plugin_state",
)
_installed = False
stats = {"forward": 0, "skipped": 0}  # per process, for measuring


def snapshot(data: mujoco.MjData) -> tuple[np.ndarray, ...]:
    return tuple(np.array(getattr(data, k), copy=True) for k in INPUTS)


def unchanged(data: mujoco.MjData, snap: tuple[np.ndarray, ...] | None) -> bool:
    return snap is not None and all(np.array_equal(getattr(data, k), v) for k, v in zip(INPUTS, snap, strict=True))


def invalidate(sim: Any) -> None:
    """Forces the next ``forward`` of ``sim`` to run (call it after editing ``sim.model``)."""
    sim._forward_inputs = None


def install() -> None:
    """Patches robosuite's ``MjSim`` (idempotent)."""
    global _installed
    if _installed or os.environ.get("VLABENCH_FORWARD_MEMO", "1") == "0":
        return
    from robosuite.utils.binding_utils import MjSim

    step, reset = MjSim.step, MjSim.reset

    def forward(self: Any) -> None:
        data = self.data._data
        if unchanged(data, getattr(self, "_forward_inputs", None)):
            stats["skipped"] += 1
            return
        mujoco.mj_forward(self.model._model, data)
        self._forward_inputs = snapshot(data)
        stats["forward"] += 1

    def step_(self: Any, *args: Any, **kwargs: Any) -> Any:
        self._forward_inputs = None
        return step(self, *args, **kwargs)

    def reset_(self: Any) -> Any:
        self._forward_inputs = None
        return reset(self)

    MjSim.forward, MjSim.step, MjSim.reset = forward, step_, reset_
    _installed = True
