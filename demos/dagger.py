"""DAgger data: the policy drives, the privileged expert takes over and labels the states it reached.

Usage:
    python -m demos.dagger --policy teacher --suite libero_object --episodes-per-task 20 --round 1 --out data/dagger
    python -m demos.render --demos data/dagger --out data/demos_fb3000 --face-budget 3000 --frame-stride 2

Each episode starts from a layout drawn by the task's own sampler (seeded; never an official init
state: those are for evaluation). The policy acts until a takeover step drawn uniformly from
``[--min-takeover, --max-takeover]``, or earlier when the arm has stood still for ``--stall-steps`` steps,
fingers included (the copycat stall; a hand waiting while its fingers close is not one); then a resumed
expert (``ScriptedExpert(resume=True)``, which reads from the state whether the object is already
held) finishes the episode physics-only, with a whole episode's step limit of its own. The expert's
part, from the takeover state on, is written in the layout of ``demos.record`` (states, scene fields
and MJCF: images come from ``demos.render``), as ``demo_<100000 * round + k>`` so rounds and the base demos share task
files without clashing; attrs say ``takeover_step``, ``takeover`` (``random`` or ``stall``) and the
policy. Episodes the policy finished before the takeover, or the expert could not finish, are listed
in the task file's ``dagger_log`` attribute. Resumable: written demos and logged episodes are skipped.
This is DAgger (Ross et al., 2011) with the expert's labels taken on its own continuation from each
policy-visited state, as in HG-DAgger (Kelly et al., 2019) with an automatic gate.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

import distill  # noqa: F401  (registers the students and baselines: --policy may name one)
import envs
from bench.interrupt import RunInterrupted, exit_interrupted, graceful_stop
from bench.workers import EnvCache, parallel_map
from demos.files import DemoConfig, Job, sim_state, task_file, write_demo
from envs.base import STATE_LAYOUT
from policies.vla.data import ROUND_STRIDE

_CACHE = EnvCache()  # per worker: (env, policy) of the task in hand


@dataclass
class DaggerConfig:
    policy: str = "teacher"
    suites: list[str] = field(default_factory=lambda: ["libero_object"])
    tasks: list[int] | None = None
    episodes_per_task: int = 20
    round: int = 1
    min_takeover: int = 10
    max_takeover: int = 150
    stall_steps: int = 15  # takeover once the end effector stayed within 1 cm this many steps ...
    stall_finger_m: float = 0.002  # ... and the fingers within this: a hand closing on an object is not stalled
    seed: int = 0
    workers: int = 2
    out: str = "data/dagger"
    checkpoint: str | None = None

    def __post_init__(self) -> None:
        from policies import POLICIES

        if self.policy not in POLICIES:
            raise ValueError(f"Unknown policy {self.policy!r}; choose from {sorted(POLICIES)}")
        for s in self.suites:
            envs.get_suite(s)
        if self.round < 1 or self.episodes_per_task < 1 or self.workers < 1:
            raise ValueError("round, episodes_per_task and workers must be >= 1")
        if not 0 <= self.min_takeover <= self.max_takeover:
            raise ValueError("need 0 <= min_takeover <= max_takeover")
        if self.episodes_per_task > ROUND_STRIDE:
            raise ValueError(f"episodes_per_task must be <= {ROUND_STRIDE}")

    def seed_of(self, task_id: int, k: int) -> int:
        """Layout seed of an episode: its own range per round, apart from demos.record's (seed * 1e7 + ...)."""
        return 7_000_000_000 + self.seed * 10_000_000 + self.round * 1_000_000 + task_id * 10_000 + k


def stalled(states: list[np.ndarray], cfg: DaggerConfig) -> bool:
    """Whether the arm stood still for the last ``stall_steps`` proprio states: the end effector within 1 cm
    and the fingers within ``stall_finger_m``. Without the finger test every grasp (the arm waits while the
    fingers close) read as a stall, and stall takeovers piled up at the first grasp of each task."""
    if len(states) < cfg.stall_steps:
        return False
    w = np.asarray(states[-cfg.stall_steps :])
    eef, fingers = w[:, STATE_LAYOUT["eef_pos"]], w[:, STATE_LAYOUT["gripper_qpos"]]
    return bool(np.ptp(eef, axis=0).max() < 0.01 and np.ptp(fingers, axis=0).max() < cfg.stall_finger_m)


def _build(cfg: DaggerConfig, suite: str, task_id: int) -> tuple[Any, Any]:
    import torch

    from policies import make_policy
    from policies.registry import policy_env_kwargs

    torch.set_num_threads(1)
    kw = {"checkpoint": cfg.checkpoint} if cfg.checkpoint else {}
    env = envs.make_env(suite, task_id, **policy_env_kwargs(cfg.policy, **kw))
    return env, make_policy(cfg.policy, env, **kw)


def run_episode(job: tuple[DaggerConfig, str, int, int]) -> dict[str, Any]:
    """One episode: policy until the takeover, then the resumed expert; returns the expert's part."""
    from envs.render import SceneTrack
    from policies.expert import ScriptedExpert
    from policies.expert.tasks import UnsupportedTask

    cfg, suite, task_id, k = job
    env, policy = _CACHE.get((cfg.policy, cfg.checkpoint, suite, task_id), lambda: _build(cfg, suite, task_id))
    u = env.unwrapped
    seed = cfg.seed_of(task_id, k)
    takeover_at = int(np.random.default_rng(seed).integers(cfg.min_takeover, cfg.max_takeover + 1))
    u.render_images = True
    obs, _ = env.reset(seed=seed)
    xml, scene = u.scene_xml(), SceneTrack()
    policy.seed(seed)
    policy.reset()
    t0, seen, reason = time.time(), [], "random"
    base = {"suite": suite, "task_id": task_id, "episode": k, "seed": seed}
    for t in range(u.max_episode_steps):
        seen.append(obs["state"].copy())
        if t >= takeover_at:
            break
        if stalled(seen, cfg):
            reason = "stall"
            break
        u.render_images = policy.needs_images_next()
        obs, _, terminated, truncated, info = env.step(policy.select_action(obs))
        if terminated or truncated:
            return {**base, "written": False, "outcome": "policy succeeded" if info["is_success"] else "policy ran out"}
    takeover = t
    u.render_images = False
    expert = ScriptedExpert(env, resume=True)
    try:
        expert.reset()  # plans from the state the policy left: a knocked-over object may have no grasp
    except UnsupportedTask as e:
        return {**base, "written": False, "outcome": f"expert cannot plan: {e}", "takeover_step": takeover}
    frames: dict[str, list] = {k_: [] for k_ in ("state", "actions", "states")}
    success = False
    # the expert gets a whole episode's steps of its own (past the time limit: a label needs no limit, and a
    # late takeover left too few steps to back off, pick and place)
    for _ in range(u.max_episode_steps):
        action = expert.select_action(obs)
        frames["state"].append(obs["state"])
        frames["states"].append(sim_state(env))
        scene.record(u.model)
        frames["actions"].append(action)
        obs, _, terminated, _, info = u.step(action)
        if terminated:
            success = bool(info["is_success"])
            break
    if not success:
        return {**base, "written": False, "outcome": "expert failed after takeover", "takeover_step": takeover}
    n = len(frames["actions"])
    actions = np.asarray(frames["actions"])
    return {
        **base,
        "written": True,
        "outcome": f"takeover ({reason})",
        "takeover_step": takeover,
        "ep": {
            "job": Job(suite, task_id, ROUND_STRIDE * cfg.round + k, seed, False),
            "success": True,
            "seed": seed,
            "attempts": 1,
            "seconds": time.time() - t0,
            "xml": xml,
            "scene": scene,
            "agentview": np.zeros((0,)),
            "wrist": np.zeros((0,)),
            "steps": np.arange(n),
            "state": np.asarray(frames["state"]),
            "actions": actions,
            "executed": actions,
            "states": np.asarray(frames["states"]),
        },
        "attrs": {"takeover_step": takeover, "takeover": reason, "policy": cfg.policy, "dagger_round": cfg.round},
    }


def _log(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    with h5py.File(path, "r") as f:
        return json.loads(f["data"].attrs.get("dagger_log", "{}")) if "data" in f else {}


def _demo_cfg(cfg: DaggerConfig) -> DemoConfig:
    return DemoConfig(suites=cfg.suites, out=cfg.out, images=False, workers=cfg.workers)


def _store(cfg: DaggerConfig, res: dict[str, Any]) -> None:
    path = task_file(cfg.out, res["suite"], res["task_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    if res["written"]:
        write_demo(cfg.out, res["ep"])
    with h5py.File(path, "a") as f:
        data = f.require_group("data")
        if res["written"]:
            data[f"demo_{res['ep']['job'].episode}"].attrs.update(res["attrs"])
        log = json.loads(data.attrs.get("dagger_log", "{}"))
        key = f"{cfg.round}:{res['episode']}"
        log[key] = {k: res[k] for k in ("seed", "outcome", "takeover_step") if k in res}
        data.attrs["dagger_log"] = json.dumps(log, sort_keys=True)


def _header(cfg: DaggerConfig, suite: str, task_id: int) -> None:
    env = envs.make_env(suite, task_id, render_images=False).unwrapped
    path = task_file(cfg.out, suite, task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "a") as f:
        data = f.require_group("data")
        data.attrs.update(
            suite=suite,
            task_id=task_id,
            instruction=env.instruction,
            env_args=json.dumps(env.describe()),
            config=json.dumps(asdict(_demo_cfg(cfg))),
        )
    env.close()


def run(cfg: DaggerConfig) -> dict[str, int]:
    """Runs every episode not yet logged; returns how many ended in each outcome (this run's)."""
    jobs = []
    for suite in cfg.suites:
        for task_id in cfg.tasks if cfg.tasks is not None else range(envs.get_suite(suite).num_tasks):
            path = task_file(cfg.out, suite, task_id)
            if not path.exists():
                _header(cfg, suite, task_id)
            done = _log(path)
            jobs += [(cfg, suite, task_id, k) for k in range(cfg.episodes_per_task) if f"{cfg.round}:{k}" not in done]
    outcomes: dict[str, int] = {}
    with tqdm(total=len(jobs), desc=f"dagger r{cfg.round}", unit="ep") as bar, graceful_stop() as stop:
        for res in parallel_map(run_episode, jobs, cfg.workers, stop):
            _store(cfg, res)
            outcomes[res["outcome"]] = outcomes.get(res["outcome"], 0) + 1
            bar.update()
    if stop():
        raise RunInterrupted(f"stopped after {bar.n} of {len(jobs)} episodes; rerun to resume")
    return outcomes


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = DaggerConfig()
    p.add_argument("--policy", default=d.policy)
    p.add_argument("--suite", dest="suites", nargs="+", default=d.suites)
    p.add_argument("--tasks", type=int, nargs="+", default=None)
    p.add_argument("--episodes-per-task", type=int, default=d.episodes_per_task)
    p.add_argument("--round", type=int, default=d.round)
    p.add_argument("--min-takeover", type=int, default=d.min_takeover)
    p.add_argument("--max-takeover", type=int, default=d.max_takeover)
    p.add_argument("--stall-steps", type=int, default=d.stall_steps)
    p.add_argument("--stall-finger-m", type=float, default=d.stall_finger_m)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--out", default=d.out)
    p.add_argument("--checkpoint", default=None)
    a = vars(p.parse_args(argv))
    try:
        cfg = DaggerConfig(**a)
    except ValueError as e:
        p.error(str(e))
    t0 = time.time()
    try:
        outcomes = run(cfg)
    except RunInterrupted as e:
        exit_interrupted(e)
    print(f"done in {time.time() - t0:.0f} s: {outcomes or 'nothing to do'}")


if __name__ == "__main__":
    main()
