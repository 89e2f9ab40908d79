"""Faults inside episodes are recorded, not fatal; killed runs resume without loss or double counting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import envs
from bench import run as bench_run
from bench.failures import STALL_STEPS
from bench.records import read_records
from bench.rollout import rollout
from envs.render import FastRenderer
from policies import Policy, make_policy

pytestmark = pytest.mark.sim


class Scripted(Policy):
    """Returns ``bad`` at step ``at`` and zeros otherwise; ``hook(env)`` runs at that step."""

    def __init__(self, env, bad=None, at: int = 2, hook=None) -> None:
        self.env, self.bad, self.at, self.hook, self.t = env, bad, at, hook, 0

    def reset(self) -> None:
        self.t = 0

    def select_action(self, obs):
        self.t += 1
        if self.t == self.at:
            if self.hook:
                self.hook(self.env)
            if self.bad is not None:
                return self.bad
        return np.zeros(7)


@pytest.fixture(scope="module")
def lift():
    env = envs.make_env("robosuite", 0, image_size=32)
    yield env
    env.close()


@pytest.mark.parametrize(
    "bad,reason",
    [(np.full(7, np.nan), "NaN"), (np.full(7, 3.0), "outside"), (np.zeros(6), "shape")],
)
def test_bad_policy_actions_fail_the_episode_with_a_reason(lift, bad, reason) -> None:
    rec = rollout(lift, Scripted(lift, bad), seed=0, init_state=0)
    assert not rec["success"] and rec["error_kind"] == "policy" and reason in rec["error"] and rec["steps"] == 1


def test_simulator_instability_is_detected(lift) -> None:
    def explode(env):
        env.unwrapped.data.qvel[:] = 1e12

    rec = rollout(lift, Scripted(lift, hook=explode), seed=0, init_state=0)
    assert rec["error_kind"] == "simulator" and "instability" in rec["error"]


def test_renderer_failure_is_recorded(lift, monkeypatch) -> None:
    calls = {"n": 0}
    original = FastRenderer.render

    def flaky(self, data, camera):
        calls["n"] += 1
        if calls["n"] > 4:  # reset renders fine, a later step fails
            raise RuntimeError("EGL context lost")
        return original(self, data, camera)

    monkeypatch.setattr(FastRenderer, "render", flaky)
    rec = rollout(lift, Scripted(lift), seed=0, init_state=0)
    assert rec["error_kind"] == "renderer" and "EGL context lost" in rec["error"]
    monkeypatch.undo()
    rec = rollout(lift, Scripted(lift), seed=0, init_state=0)
    assert rec["error"] is None  # the env recovers
    assert rec["still_steps_at_end"] == rec["steps"] > 0  # zero actions: the arm never moved 1 cm


def test_a_successful_expert_episode_does_not_end_stalled(lift) -> None:
    rec = rollout(lift, make_policy("expert", lift), seed=0, init_state=0)
    assert rec["success"] and 0 <= rec["still_steps_at_end"] < STALL_STEPS


def test_same_seed_same_actions_in_one_process(lift) -> None:
    p = make_policy("expert", lift)
    a, b = (rollout(lift, p, seed=3, init_state=1) for _ in range(2))
    assert a["actions_sha1"] == b["actions_sha1"] and a["steps"] == b["steps"] and a["success"] == b["success"]


def _run_cmd(out, module: str = "bench.run") -> list[str]:
    return [
        sys.executable,
        "-m",
        module,
        "--policy" if module == "bench.run" else "--policies",
        "expert",
        "--suite",
        "robosuite",
        "--tasks",
        "0",
        "--episodes-per-task",
        "20",
        "--out",
        str(out),
    ]


@pytest.mark.parametrize(
    "module, sig", [("bench.run", signal.SIGKILL), ("bench.run", signal.SIGINT), ("bench.sweep", signal.SIGKILL)]
)
def test_killed_run_resumes_without_loss(tmp_path, module, sig) -> None:
    path = tmp_path / "episodes" / "expert" / "robosuite.jsonl"
    # a shell running CI in the background ignores SIGINT, and children inherit that: restore the default
    proc = subprocess.Popen(
        _run_cmd(tmp_path, module),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 240
    while time.time() < deadline and len(read_records(path)) < 2 if path.exists() else time.time() < deadline:
        time.sleep(0.2)
    os.kill(proc.pid, sig)
    rc = proc.wait(60)
    before = read_records(path)
    assert 2 <= len(before) < 20, "the run must be killed mid-way"
    assert rc == (130 if sig == signal.SIGINT else -sig)  # Ctrl-C: in-flight episode kept, clean exit
    with open(path, "ab") as f:  # as if killed while writing a line
        f.write(b'{"policy": "expert", "suite": "robo')
    assert subprocess.run(_run_cmd(tmp_path, module), capture_output=True).returncode == 0
    after = read_records(path)
    keys = [(r["task_id"], r["init_state"]) for r in after]
    assert sorted(keys) == [(0, k) for k in range(20)]  # none lost, none twice, the half line dropped
    assert after[: len(before)] == before  # finished episodes kept as they were
    # a rerun of an episode in a fresh process reproduces the recorded actions
    again = bench_run.run(
        bench_run.RunConfig(
            policy="expert", suites=["robosuite"], tasks=[0], episodes_per_task=20, out=str(tmp_path / "again")
        )
    )
    assert [r["actions_sha1"] for r in again] == [
        r["actions_sha1"] for r in sorted(after, key=lambda r: r["init_state"])
    ]
