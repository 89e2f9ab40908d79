"""Each runnable LIBERO-PRO perturbation kind reaches the env as its suite defines it (one env build per test)."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.libero_pro import task_instruction

pytestmark = pytest.mark.sim


def _build(suite, task_id=0):
    env = envs.make_env(suite, task_id, image_size=32)
    obs, info = env.reset(seed=0, options={"init_state": 0})
    return env, obs


def _pos(env, obj):
    u = env.unwrapped
    return np.array(u.data.xpos[u._rs.obj_body_id[obj]])


@pytest.mark.parametrize("suite", ["libero_spatial_lan", "libero_spatial_task"])
def test_language_and_task_instruction_reach_the_policy(suite):
    env, obs = _build(suite)
    try:
        assert obs["instruction"] == task_instruction(suite, 0) != task_instruction("libero_spatial", 0)
        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


def test_new_object_is_in_the_scene():
    env, obs = _build("libero_spatial_with_mug")
    try:
        assert "libero_mug_yellow_1" in env.unwrapped._rs.obj_body_id  # the added mug, not in libero_spatial
        assert obs["instruction"] == task_instruction("libero_spatial", 0)
        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


def test_swap_moves_the_swapped_objects():
    env, _ = _build("libero_spatial_swap")  # BDDL: plate_1 and cookies_1 exchange regions
    try:
        swapped = {o: _pos(env, o) for o in ("plate_1", "cookies_1")}
        base = np.asarray(envs.libero.libero_suite("libero_spatial").get_task_init_states(0))
        env.unwrapped._control.set_init_state(base[0])  # same objects: the base layout in this model
        original = {o: _pos(env, o) for o in ("plate_1", "cookies_1")}
        assert np.linalg.norm(swapped["plate_1"][:2] - original["cookies_1"][:2]) < 0.1
        assert np.linalg.norm(swapped["plate_1"][:2] - original["plate_1"][:2]) > 0.1
        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


def test_object_replacement_changes_the_objects():
    env, obs = _build("libero_spatial_object")  # akita bowls -> black bowls, plate -> yellow plate
    try:
        names = set(env.unwrapped._rs.obj_body_id)
        assert "yellow_plate_1" in names and "plate_1" not in names
        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()
