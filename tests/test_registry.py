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


def test_weights_sha1_covers_weights_and_configs(tmp_path):
    import shutil

    from policies.registry import weights_sha1
    from policies.vla.checkpoint import fingerprint
    from policies.vla.policy import DEFAULT_TEACHER

    assert weights_sha1("expert") is None  # scripted: no weights
    copy = tmp_path / "teacher"
    shutil.copytree(DEFAULT_TEACHER, copy)
    sha = weights_sha1("teacher")
    assert weights_sha1("teacher", checkpoint=str(copy)) == sha == fingerprint(copy)
    (copy / "train.json").write_text("{}")  # training metadata: not part of the model
    assert weights_sha1("teacher", checkpoint=str(copy)) == sha
    with open(copy / "model.safetensors", "r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    assert weights_sha1("teacher", checkpoint=str(copy)) != sha
    student = weights_sha1("student", budget=0.5)  # its own difference and the teacher it applies to
    assert student not in (None, sha) and student != weights_sha1("student", budget=0.25)


def test_teacher_variant_loads_its_own_folder(tmp_path, monkeypatch):
    import shutil

    import policies.vla.policy as vla_policy
    from policies.registry import policy_env_kwargs, weights_sha1
    from policies.vla.checkpoint import CheckpointError

    teacher, sha = vla_policy.DEFAULT_TEACHER, weights_sha1("teacher")
    monkeypatch.setattr(vla_policy, "DEFAULT_TEACHER", tmp_path / "teacher")  # variants sit beside it
    with pytest.raises(CheckpointError, match="teacher_obj50.*missing"):  # untrained: an error, never the teacher
        policy_env_kwargs("teacher_obj50")
    shutil.copytree(teacher, tmp_path / "teacher_obj50")
    assert weights_sha1("teacher_obj50") == sha
    assert policy_env_kwargs("teacher_obj50") == {"image_size": 96, "face_budget": 3000}  # the copied weights' path
    assert weights_sha1("teacher_obj50", checkpoint=str(tmp_path / "teacher_obj50")) == sha
