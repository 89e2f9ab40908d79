"""Short scripted-expert rollouts succeed on one task of each suite (official init states)."""

import pytest

import envs
from bench.rollout import rollout
from policies import make_policy

pytestmark = pytest.mark.sim

CASES = [
    ("libero_spatial", 0, 0),
    ("libero_object", 0, 0),
    ("libero_goal", 8, 0),
    ("libero_10", 0, 0),
    ("robosuite", 0, 0),
    ("robosuite", 1, 0),
    ("robosuite", 2, 0),
]


@pytest.mark.parametrize(("suite", "task_id", "init_state"), CASES)
def test_expert_succeeds(suite, task_id, init_state):
    env = envs.make_env(suite, task_id, image_size=32, render_images=False)
    try:
        rec = rollout(env, make_policy("expert", env), seed=0, init_state=init_state)
    finally:
        env.close()
    assert rec["error"] is None
    assert rec["success"], rec


@pytest.mark.parametrize(
    ("suite", "task_id", "reason"),
    [("libero_goal", 3, "articulated"), ("libero_goal", 5, "too wide"), ("libero_goal", 7, "turnon")],
)
def test_unsupported_reasons(suite, task_id, reason):
    env = envs.make_env(suite, task_id, image_size=32, render_images=False)
    try:
        env.reset(seed=0, options={"init_state": 0})
        expert = make_policy("expert", env)
        assert not expert.supported and reason in expert.unsupported_reason
    finally:
        env.close()


def test_unsupported_goal_is_reported():
    env = envs.make_env("libero_goal", 0, image_size=32, render_images=False)  # open the middle drawer
    try:
        expert = make_policy("expert", env)
        assert not expert.supported
        assert "open" in expert.unsupported_reason
        rec = rollout(env, expert, seed=0, init_state=0)
        assert rec["success"] is False and "UnsupportedTask" in rec["error"]
    finally:
        env.close()
