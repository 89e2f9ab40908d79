"""The skipped repeat of mj_forward leaves the physics bit-identical (envs/forward_memo.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = """
import sys, numpy as np, envs
from envs import forward_memo
from policies.expert import ScriptedExpert
env = envs.make_env(sys.argv[1], int(sys.argv[2]), image_size=32, render_images=False)
expert, rows = ScriptedExpert(env), []
for options in ({"init_state": 1}, None):
    obs, _ = env.reset(seed=3, options=options)
    expert.reset()
    for _ in range(25):
        obs, *_ = env.step(expert.select_action(obs))
        d = env.unwrapped.data
        rows.append(np.concatenate([d.qpos, d.qvel, d.qacc, d.sensordata, obs["state"]]))
np.save(sys.argv[3], np.array(rows))
print(forward_memo.stats["skipped"])
"""


def _run(suite: str, task: int, memo: bool, out: str) -> int:
    env = {**os.environ, "VLABENCH_FORWARD_MEMO": "1" if memo else "0", "MUJOCO_GL": "egl"}
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT, suite, str(task), out], env=env, capture_output=True, text=True, check=True
    )
    return int(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("suite", "task"), [("robosuite", 0), ("libero_spatial", 0)])
def test_episodes_bit_identical_with_and_without_the_memo(tmp_path, suite, task):
    on, off = str(tmp_path / "on.npy"), str(tmp_path / "off.npy")
    skipped = _run(suite, task, True, on)
    assert _run(suite, task, False, off) == 0
    assert skipped > 0  # the memo did skip forwards
    assert np.array_equal(np.load(on), np.load(off))


def test_memo_runs_forward_again_after_a_state_change():
    import mujoco

    from envs import forward_memo

    forward_memo.install()
    from robosuite.utils.binding_utils import MjSim

    xml = "<mujoco><worldbody><body><freejoint/><geom size='.1'/></body></worldbody></mujoco>"
    sim = MjSim(mujoco.MjModel.from_xml_string(xml))
    sim.forward()
    before = forward_memo.stats["skipped"]
    sim.forward()
    assert forward_memo.stats["skipped"] == before + 1
    sim.data.qpos[0] = 0.5  # a changed input: forward must run
    sim.forward()
    assert forward_memo.stats["skipped"] == before + 1
    assert sim.data.xpos[1][0] == 0.5
    sim.step()
    n = forward_memo.stats["forward"]
    sim.forward()
    assert forward_memo.stats["forward"] == n + 1
