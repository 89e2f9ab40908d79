"""Registry and bad-input errors (no simulator needed)."""

import gymnasium as gym
import pytest

import envs
from policies import POLICIES, make_policy


def test_every_suite_task_has_a_gymnasium_id():
    for name, spec in envs.SUITES.items():
        for t in range(spec.num_tasks):
            assert envs.env_id(name, t) in gym.registry
    assert envs.env_id("libero_spatial", 3) == "vlabench/libero_spatial-3-v0"
    assert gym.spec("vlabench/libero_10-9-v0").max_episode_steps == 520


def test_unknown_suite_lists_choices():
    with pytest.raises(ValueError, match="Unknown suite 'libero_nope'.*libero_object"):
        envs.make_env("libero_nope", 0)


@pytest.mark.parametrize("task_id", [-1, 10, "3"])
def test_task_id_out_of_range(task_id):
    with pytest.raises(ValueError, match="out of range"):
        envs.make_env("libero_spatial", task_id)


def test_unknown_policy_lists_choices():
    assert "expert" in POLICIES
    with pytest.raises(ValueError, match="Unknown policy 'nope'.*expert"):
        make_policy("nope", env=None)
