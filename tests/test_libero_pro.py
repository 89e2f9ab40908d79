"""LIBERO-PRO suites in the registry and language probes (no simulator)."""

import ast
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import envs
from bench.run import RunConfig, records_path
from envs import libero_pro
from envs.libero_pro import SuiteUnavailableError, classify, discover, suite_status, task_instruction
from envs.probes import UNRELATED_INSTRUCTION, InstructionProbe, apply_probe, probe_instruction


def test_every_package_suite_is_registered():
    from libero.libero import benchmark

    assert set(benchmark.get_benchmark_dict()) <= set(envs.SUITES)  # none dropped, missing files or not
    spec = envs.get_suite("libero_spatial_with_mug")
    assert (spec.base_suite, spec.perturbation, spec.num_tasks) == ("libero_spatial", "new_object", 10)
    assert gym.spec("vlabench/libero_spatial_swap-0-v0").max_episode_steps == 280  # the base suite's limit
    assert gym.spec("vlabench/libero_10_lan-0-v0").max_episode_steps == 520


def test_libero_pro_imports_no_other_envs_module():
    """``envs.libero`` imports ``envs.libero_pro``, never the other way (the episode limits live there)."""
    tree = ast.parse(Path(libero_pro.__file__).read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m == "envs" or m.startswith("envs.")]
    assert libero_pro.LIBERO_MAX_STEPS["libero_goal"] == 300


@pytest.mark.parametrize(
    "name, kind, base",
    [
        ("libero_object", "clean", None),
        ("libero_goal_lan", "language", "libero_goal"),
        ("libero_10_swap", "swap", "libero_10"),
        ("libero_object_object", "object", "libero_object"),
        ("libero_spatial_object_ood", "object_ood", "libero_spatial"),
        ("libero_spatial_task", "task", "libero_spatial"),
        ("libero_object_env", "environment", "libero_object"),
        ("libero_object_with_trigger", "trigger", "libero_object"),
        ("libero_study_table", "other", None),
    ],
)
def test_kind_and_base_from_the_name(name, kind, base):
    p, b, _ = classify(name)
    assert (p.kind, b) == (kind, base)


def test_unavailable_suites_keep_their_reason():
    assert suite_status("libero_spatial_with_mug").label == "ok"
    assert "missing bddl" in suite_status("libero_spatial_env").label
    assert "asset red_sticker" in suite_status("libero_spatial_with_red_stick").label
    assert suite_status("libero_10_with_milk").label.startswith("partial (8/10)")
    with pytest.raises(SuiteUnavailableError, match="libero_spatial_env task 0 cannot run here: missing bddl"):
        envs.make_env("libero_spatial_env", 0)
    with pytest.raises(ValueError, match="cannot run here"):
        RunConfig(policy="expert", suites=["libero_goal_env"])


def test_instruction_as_the_suite_defines_it():
    base = [task_instruction("libero_spatial", t) for t in range(10)]
    assert [task_instruction("libero_spatial_lan", t) for t in range(10)] != base  # paraphrases (the BDDL's)
    assert all(task_instruction("libero_spatial_task", t) != base[t] for t in range(10))  # another goal
    assert [task_instruction("libero_spatial_swap", t) for t in range(10)] == base  # same words, other layout
    assert [task_instruction("libero_spatial_with_mug", t) for t in range(10)] == base
    assert discover()["libero_spatial_with_mug"].max_steps == 280


class _Toy(gym.Env):
    observation_space = spaces.Dict({"instruction": spaces.Text(512), "state": spaces.Box(-1, 1, (2,))})
    action_space = spaces.Box(-1, 1, (2,))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return {"instruction": "pick up the bowl", "state": np.zeros(2, np.float32)}, {"instruction": "x"}

    def step(self, action):
        obs = {"instruction": "pick up the bowl", "state": np.zeros(2, np.float32)}
        return obs, 1.0, True, False, {"instruction": "pick up the bowl", "is_success": True}


@pytest.mark.parametrize("probe", ["empty", "unrelated"])
def test_probe_wrapper_changes_only_the_instruction(probe):
    env = apply_probe(_Toy(), probe, "libero_spatial", 0)
    obs, info = env.reset(seed=0)
    want = "" if probe == "empty" else UNRELATED_INSTRUCTION
    assert obs["instruction"] == info["instruction"] == want and env.observation_space.contains(obs)
    obs, reward, terminated, _, info = env.step(env.action_space.sample())
    assert (obs["instruction"], reward, terminated, info["is_success"]) == (want, 1.0, True, True)
    assert info["true_instruction"] == "pick up the bowl" and info["instruction_probe"] == probe
    assert apply_probe(_Toy(), None, "libero_spatial", 0).unwrapped is not None  # None: unwrapped as it is


def test_swap_probe_is_the_next_task_and_labels_differ():
    assert probe_instruction("swap", "libero_object", 3) == task_instruction("libero_object", 4)
    assert probe_instruction("swap", "libero_object", 9) == task_instruction("libero_object", 0)
    assert probe_instruction("swap", "robosuite", 2) == envs.get_suite("robosuite").instruction(0)
    assert isinstance(InstructionProbe(_Toy(), "swap", "lift"), gym.Wrapper)
    with pytest.raises(ValueError, match="Unknown instruction probe"):
        RunConfig(policy="expert", instruction="nope")
    cfgs = [RunConfig(policy="expert", instruction=p) for p in (None, "swap", "empty", "unrelated")]
    assert [c.label for c in cfgs] == ["expert", "expert_instr-swap", "expert_instr-empty", "expert_instr-unrelated"]
    assert len({records_path(c, "libero_spatial") for c in cfgs}) == 4  # probes never share a records file


@pytest.mark.sim
def test_swap_probe_records_whether_the_instructed_goal_held():
    """``LiberoEnv.goal_met`` reads another task's BDDL goal in this scene; the swap probe records it."""
    from bench.rollout import rollout
    from policies import make_policy

    env = envs.make_env("libero_goal", 1, image_size=32, render_images=False)  # put the bowl on the stove
    try:
        rec = rollout(env, make_policy("expert", env), seed=0, init_state=0)
        assert rec["success"] and "instructed_success" not in rec  # no probe: no field
        assert env.unwrapped.goal_met(1) is True and env.unwrapped.goal_met(8) is False  # not on the plate
    finally:
        env.close()
    # task 0 (open the middle drawer), told task 1's instruction: the expert opens the drawer, the bowl stays
    env = apply_probe(envs.make_env("libero_goal", 0, image_size=32, render_images=False), "swap", "libero_goal", 0)
    try:
        rec = rollout(env, make_policy("expert", env), seed=0, init_state=0)
        assert rec["success"] and rec["instructed_success"] is False
    finally:
        env.close()
    env = envs.make_env("libero_spatial", 0, image_size=32, render_images=False)
    try:
        env.reset(seed=0, options={"init_state": 0})
        assert env.unwrapped.goal_met(1) is None  # two black bowls: which is bowl_1 depends on the layout
    finally:
        env.close()
