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
    ("libero_goal", 0, 1),  # open a drawer (fixture primitive)
    ("libero_goal", 7, 1),  # turn a knob
    ("libero_goal", 5, 0),  # push a plate (too wide to grasp) from inside its rim
    ("libero_10", 0, 0),
    ("libero_10", 0, 1),  # two cans into one basket: side by side (both at its centre, the second fell out)
    ("libero_10", 1, 4),  # over a milk carton standing beside the cream cheese (the diagonal toppled it onto it)
    ("libero_10", 8, 0),  # two moka pots by their lids' knobs, side by side on one region
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
    [("libero_10", 9, "hinged")],
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
    env = envs.make_env("libero_10", 9, image_size=32, render_images=False)  # the microwave's hinged door
    try:
        expert = make_policy("expert", env)
        assert not expert.supported
        assert "hinged" in expert.unsupported_reason
        rec = rollout(env, expert, seed=0, init_state=0)
        assert rec["success"] is False and "UnsupportedTask" in rec["error"]
    finally:
        env.close()


def test_resumed_expert_reads_its_phase_from_the_state():
    """A DAgger takeover: a fresh expert mid-episode carries a held cube on, or backs off and picks."""
    from policies.expert import ScriptedExpert

    env = envs.make_env("robosuite", 0, image_size=32, render_images=False)
    try:
        obs, _ = env.reset(seed=0, options={"init_state": 1})
        expert = make_policy("expert", env)
        expert.reset()
        for _ in range(200):  # until the cube is held (both pads on it), before it is lifted high
            obs, _, terminated, _, _ = env.step(expert.select_action(obs))
            held = ScriptedExpert(env, resume=True)
            held.reset()
            if held._expert.holding(held._expert.steps[0].body):
                break
        else:
            pytest.fail("the expert never held the cube")
        assert not terminated
        first = held.select_action(obs)
        assert first[6] > 0  # keeps the fingers closed: no back-off, no regrasp
        for _ in range(100):
            obs, _, terminated, _, info = env.step(held.select_action(obs))
            if terminated:
                break
        assert info["is_success"]
        obs, _ = env.reset(seed=0, options={"init_state": 2})
        for _ in range(20):  # a policy that wanders off with the fingers closed
            obs, *_ = env.step([0.3, 0.2, -0.2, 0, 0, 0, 1.0])
        fresh = ScriptedExpert(env, resume=True)
        fresh.reset()
        assert fresh.select_action(obs)[6] < 0  # opens first
        for _ in range(200):
            obs, _, terminated, _, info = env.step(fresh.select_action(obs))
            if terminated:
                break
        assert info["is_success"]
    finally:
        env.close()


@pytest.mark.parametrize(("suite", "task_id"), [("robosuite", 0), ("libero_object", 0)])
def test_resumed_expert_labels_a_hand_above_the_grasp_with_motion_not_a_wait(suite, task_id):
    """DAgger's labels of a stalled policy's state (hand open, on its way down to the object) go on to the
    grasp. They used to be 8 still, open actions and a 6 cm retreat: the stall itself, taught back."""
    import numpy as np

    from policies.expert import ScriptedExpert

    env = envs.make_env(suite, task_id, image_size=32, render_images=False)
    try:
        obs, _ = env.reset(seed=0, options={"init_state": 0})
        expert = make_policy("expert", env)
        expert.reset()
        actions = []
        for _ in range(200):  # the expert's own run up to its first close: the end of its descent
            a = expert.select_action(obs)
            if a[6] > 0:
                break
            actions.append(a)
            obs, *_ = env.step(a)
        else:
            pytest.fail("the expert never closed its fingers")
        # replay to 6 steps before the close, near the end of the descent: a stalled policy's typical state
        obs, _ = env.reset(seed=0, options={"init_state": 0})
        for a in actions[:-6]:
            obs, *_ = env.step(a)
        fresh = ScriptedExpert(env, resume=True)
        fresh.reset()
        labels = [fresh.select_action(obs)]
        obs, *_ = env.step(labels[0])
        for _ in range(5):
            labels.append(fresh.select_action(obs))
            obs, *_ = env.step(labels[-1])
        labels = np.array(labels)
        assert labels[0, 2] < -0.01 or labels[0, 6] > 0, labels[0]  # down, or closing: not a wait
        assert not (labels[:, 2] > 0.01).any(), labels[:, 2]  # no retreat upwards
        terminated = False
        for _ in range(400):
            obs, _, terminated, truncated, info = env.step(fresh.select_action(obs))
            if terminated or truncated:
                break
        assert info["is_success"]
    finally:
        env.close()


def test_dagger_writes_the_experts_continuation_and_resumes(tmp_path):
    import h5py

    from demos import dagger

    args = ["--policy", "expert", "--suite", "robosuite", "--tasks", "0", "--episodes-per-task", "2"]
    args += ["--min-takeover", "5", "--max-takeover", "8", "--workers", "1", "--out", str(tmp_path), "--round", "2"]
    dagger.main(args)
    path = tmp_path / "robosuite" / "task_0.hdf5"
    with h5py.File(path) as f:
        demos = sorted(k for k in f["data"] if k.startswith("demo_"))
        assert demos == ["demo_200000", "demo_200001"]
        g = f["data/demo_200000"]
        assert 5 <= g.attrs["takeover_step"] <= 8 and g.attrs["dagger_round"] == 2
        assert len(g["states"]) == len(g["actions"]) == len(g["obs/state"]) and "model_file" in g.attrs
        assert "agentview_rgb" not in g["obs"]  # physics only: demos.render makes the images
    mtime = path.stat().st_mtime_ns
    dagger.main(args)  # logged: nothing rerun
    assert path.stat().st_mtime_ns == mtime


def test_dagger_logs_a_takeover_state_the_expert_cannot_plan_from(tmp_path, monkeypatch):
    """A policy that knocked an object over can leave the expert no grasp: the episode is logged, not fatal."""
    import json

    import h5py

    from demos import dagger
    from policies.expert import ScriptedExpert
    from policies.expert.tasks import UnsupportedTask

    reset = ScriptedExpert.reset

    def refuse(self):  # the resumed expert only: the driving policy (the expert too, here) plans as usual
        if self.resume:
            raise UnsupportedTask("'cube' is too wide to grasp (would need pushing)")
        reset(self)

    monkeypatch.setattr(ScriptedExpert, "reset", refuse)
    args = ["--policy", "expert", "--suite", "robosuite", "--tasks", "0", "--episodes-per-task", "1"]
    dagger.main([*args, "--min-takeover", "3", "--max-takeover", "3", "--workers", "1", "--out", str(tmp_path)])
    with h5py.File(tmp_path / "robosuite" / "task_0.hdf5") as f:
        assert not [k for k in f["data"] if k.startswith("demo_")]
        log = json.loads(f["data"].attrs["dagger_log"])
    assert log["1:0"]["outcome"].startswith("expert cannot plan: 'cube' is too wide")


@pytest.mark.parametrize(("suite", "task_id"), [("libero_object", 0), ("robosuite", 0)])
def test_expert_grasp_is_decided_by_the_state_not_by_waiting(suite, task_id):
    """A memoryless clone can only copy a close (and a lift) that the state decides. The expert used to end
    every LIBERO-Object descent by a 10-step stall rule (the hand still, labelled 'creep, open', then 'close')
    and to hold the closed fingers still for 15 steps (labelled 'wait', then 'lift'): the clone's grasp stall."""
    import numpy as np

    env = envs.make_env(suite, task_id, image_size=32, render_images=False)
    try:
        obs, _ = env.reset(seed=0, options={"init_state": 0})
        expert = make_policy("expert", env)
        expert.reset()
        acts, eef, gap = [], [], []
        for _ in range(200):
            eef.append(np.asarray(obs["state"][:3], float))
            gap.append(float(obs["state"][9] - obs["state"][10]))
            acts.append(expert.select_action(obs))
            if len(acts) > 1 and acts[-2][6] > 0 and acts[-1][2] > 0.05:  # closed, now lifting
                break
            obs, *_ = env.step(acts[-1])
        else:
            pytest.fail("the expert never lifted after closing")
        acts, eef, gap = np.array(acts), np.array(eef), np.array(gap)
        close = int(np.argmax(acts[:, 6] > 0))
        moved = np.linalg.norm(eef[close] - eef[close - 3])
        assert moved > 0.003, f"the hand crept {moved * 1e3:.1f} mm in the 3 steps before the close"
        still = [
            t
            for t in range(close + 1, len(acts) - 1)
            if np.linalg.norm(eef[t] - eef[t - 1]) < 0.001 and abs(gap[t] - gap[t - 1]) < 0.0005
        ]
        assert len(still) <= 2, f"{len(still)} still, closed steps labelled 'wait' before the lift"
    finally:
        env.close()
