"""The evaluation engine behind ``bench.run``, ``bench.sweep``, ``bench.scaling`` and ``bench.floors``: the run
config, its episodes (jobs, seeds, env and policy construction), their records and resume.

Episode k of a task starts from init state k (LIBERO's official init states; robosuite: layout seed k) with
env seed ``episode_seed(seed, task_id, k)``. Records go to ``policies.paths.episodes_path`` as each episode
finishes; a rerun skips recorded episodes and refuses records of other weights or another render path.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

import envs
from bench.interrupt import RunInterrupted, graceful_stop
from bench.machine import cpu_name
from bench.records import append_record, policy_label, read_records
from bench.workers import EnvCache, run_map
from envs.libero_pro import SuiteUnavailableError, check_task
from envs.probes import PROBES, apply_probe, probe_instruction
from envs.render import RenderSettings
from policies import Policy, make_policy
from policies.paths import RESULTS, episodes_path, trace_path, video_path
from policies.registry import get_policy, policy_config, policy_env_kwargs, weights_sha1

_CACHE = EnvCache()  # per worker process: (env, policy) of the task it is evaluating


@dataclass
class RunConfig:
    policy: str = "expert"
    suites: list[str] = field(default_factory=lambda: ["libero_spatial"])
    tasks: list[int] | None = None
    episodes_per_task: int = 10
    seed: int = 0
    workers: int = 1
    backend: str = "process"  # process: N local worker processes; ray: a Ray cluster (RAY_ADDRESS) or local Ray
    image_size: int = 128
    out: str = RESULTS
    video: bool = False
    trace: bool = False  # save per-step actions and proprio of each episode (npz) under <out>/traces
    cost: bool = True  # VLA policies: FLOPs and batch-1 latency per call after the episodes
    checkpoint: str | None = None  # teacher/student weights folder (default: the committed one)
    budget: float | None = None  # routed students: which trained budget
    exec_steps: int | None = None  # VLA policies: actions executed per predicted chunk (default: the config's)
    face_budget: int | None = None  # render path override (envs.render); default: the one the policy was trained on
    instruction: str | None = None  # language probe (envs.probes.PROBES): swap, empty or unrelated; None: the task's
    weights_sha1: str | None = field(default=None, init=False)  # of the files the policy loads (set on init)

    def __post_init__(self) -> None:
        get_policy(self.policy)  # unknown names list the registered ones
        if self.episodes_per_task < 1:
            raise ValueError("episodes_per_task must be >= 1")
        if self.instruction is not None and self.instruction not in PROBES:
            raise ValueError(f"Unknown instruction probe {self.instruction!r}; choose from {list(PROBES)}")
        for suite in self.suites:
            spec = envs.get_suite(suite)
            for t in self.tasks or []:
                envs.env_id(suite, t)
            for t in self.tasks if self.tasks is not None else range(spec.num_tasks):
                if spec.entry_point == "envs.libero:LiberoEnv":
                    try:
                        check_task(suite, t)  # a suite lacking files here: its reason, before any episode
                    except SuiteUnavailableError as e:
                        raise ValueError(str(e)) from None
                if self.instruction is not None:
                    probe_instruction(self.instruction, suite, t)  # e.g. swap in a suite of one task
            if suite.startswith("libero") and self.episodes_per_task > 50:
                raise ValueError(f"{suite} has 50 official init states per task; episodes_per_task <= 50")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if self.backend not in ("process", "ray"):
            raise ValueError(f"backend must be 'process' or 'ray', got {self.backend!r}")
        spec = get_policy(self.policy)
        if self.budget is not None and not spec.routed:
            raise ValueError(f"--budget applies to routed students only, not to {self.policy!r}")
        if spec.routed and self.budget is None:
            self.budget = spec.budget
        policy_env_kwargs(self.policy, **policy_kwargs(self))  # checks the checkpoint before any episode
        if self.exec_steps is not None:
            config = policy_config(self.policy, **policy_kwargs(self))
            if config is None:
                raise ValueError(f"--exec-steps applies to the VLA policies (action chunks), not to {self.policy!r}")
            replace(config, exec_steps=self.exec_steps)  # the config's own check: 1 <= exec_steps <= chunk
        if self.face_budget is not None and self.face_budget < 1:
            raise ValueError("face_budget must be >= 1")
        self.weights_sha1 = weights_sha1(self.policy, **policy_kwargs(self))
        if spec.needs_images or self.video:
            envs.check_gl()

    @property
    def label(self) -> str:
        """The policy as named in results (``bench.records.policy_label``): ``student_b0.5``, ``teacher_x4``..."""
        return policy_label(self.policy, self.budget, self.exec_steps, self.face_budget, self.instruction)


def git_commit() -> str:
    """Commit of this checkout, ``+dirty`` with uncommitted Python changes; ``unknown`` outside git."""
    root = str(Path(__file__).resolve().parents[1])
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--", "*.py"], capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def records_path(cfg: RunConfig, suite: str) -> Path:
    return episodes_path(cfg.out, cfg.label, suite)


def episode_seed(seed: int, task_id: int, init_state: int) -> int:
    """The env seed of episode ``init_state`` of a task: ``seed + 1000 * task_id + init_state``."""
    return seed + 1000 * task_id + init_state


def policy_kwargs(cfg: RunConfig) -> dict[str, Any]:
    """Keyword arguments of the policy factory chosen on the command line."""
    kw: dict[str, Any] = {"checkpoint": cfg.checkpoint} if cfg.checkpoint else {}
    if cfg.budget is not None:
        kw["budget"] = cfg.budget
    if cfg.exec_steps is not None:
        kw["exec_steps"] = cfg.exec_steps
    return kw


def env_kwargs(cfg: RunConfig) -> dict[str, Any]:
    """Image size and render path of the run's envs: the policy's own, or ``--face-budget`` if given."""
    kw = {"image_size": cfg.image_size, **policy_env_kwargs(cfg.policy, **policy_kwargs(cfg))}
    if cfg.face_budget is not None:
        kw["face_budget"] = cfg.face_budget
    return kw


def render_settings(cfg: RunConfig) -> RenderSettings:
    return RenderSettings.of(True, env_kwargs(cfg).get("face_budget"))


def make_env_and_policy(
    policy: str,
    suite: str,
    task_id: int,
    env_kw: dict[str, Any] | None = None,
    instruction: str | None = None,
    **policy_kw: Any,
) -> tuple[gym.Env, Policy]:
    """One task's env and a registered policy for it. ``env_kw``: the env's settings (default: those the
    policy's weights need); ``instruction``: a language probe (``envs.probes``); ``policy_kw``: the factory's
    (``checkpoint``, ``budget``, ``exec_steps``). The env is closed if the policy fails to build."""
    env = envs.make_env(suite, task_id, **(policy_env_kwargs(policy, **policy_kw) if env_kw is None else env_kw))
    try:
        env = apply_probe(env, instruction, suite, task_id)  # None: the task's own instruction
        return env, make_policy(policy, env, **policy_kw)
    except BaseException:
        env.close()
        raise


def run_episode(job: tuple[RunConfig, str, int, int]) -> dict[str, Any]:
    """Runs episode ``k`` of a task (init state ``k``) and returns its record (``"_cfg"``: for ``store``)."""
    from bench.rollout import rollout

    cfg, suite, task_id, k = job

    def build() -> tuple[Any, Any]:
        import torch

        # one intra-op thread per episode worker whatever the worker count: no oversubscription with N
        # workers on N cores, and the same float reductions (so the same actions) with 1 worker or N
        torch.set_num_threads(1)
        images = get_policy(cfg.policy).needs_images or cfg.video
        env_kw = {"render_images": images, **env_kwargs(cfg)}
        return make_env_and_policy(cfg.policy, suite, task_id, env_kw, cfg.instruction, **policy_kwargs(cfg))

    key = (cfg.label, cfg.checkpoint, suite, task_id, cfg.image_size, cfg.face_budget, cfg.video)
    env, policy = _CACHE.get(key, build)
    frames: list | None = [] if cfg.video else None
    trace: dict | None = {} if cfg.trace else None
    seed = episode_seed(cfg.seed, task_id, k)
    rec = rollout(env, policy, seed=seed, init_state=k, video=frames, trace=trace)
    if frames:
        save_video(frames, video_path(cfg.out, cfg.label, f"{suite}_task{task_id}_init{k}"))
    if trace is not None:
        path = trace_path(cfg.out, cfg.label, suite, task_id, k)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **trace)
    u = env.unwrapped
    return {
        **rec,
        "_cfg": cfg,
        "policy": cfg.label,  # the label; what it is made of in fields of its own (bench.records.FIELDS)
        "policy_name": cfg.policy,
        "method": get_policy(cfg.policy).method,
        "budget": cfg.budget,
        "exec_steps": cfg.exec_steps,
        "face_budget": cfg.face_budget,
        "suite": suite,
        "task_id": task_id,
        "instruction": u.instruction,  # the task's own, whatever the policy was given
        "instruction_probe": cfg.instruction,
        "policy_instruction": u.instruction if cfg.instruction is None else env.instruction,  # envs.probes
        "max_steps": u.max_episode_steps,
        "env": u.describe(),
    }


def save_video(frames: list, path: Path, fps: int = 20) -> None:
    """Writes RGB frames (HxWx3 uint8) as an mp4."""
    import imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimsave(path, frames, fps=fps)


class StaleRecordsError(ValueError):
    """The records file holds episodes of other weights than the policy has now (e.g. retrained)."""


def recorded(cfg: RunConfig, suite: str) -> dict[tuple[int, int], dict[str, Any]]:
    """Episodes of ``suite`` already recorded for this policy and seed, keyed by (task, init state).

    Raises StaleRecordsError if some were rendered on another render path, or run with other weights
    (records carry ``weights_sha1``; those written before it existed carry none and are taken as they are)."""
    path = records_path(cfg, suite)
    records = [r for r in read_records(path) if r["seed"] == episode_seed(cfg.seed, r["task_id"], r["init_state"])]
    other = sorted({r["weights_sha1"] for r in records if r.get("weights_sha1", cfg.weights_sha1) != cfg.weights_sha1})
    render = render_settings(cfg)
    paths = sorted({RenderSettings.from_record(r["env"]).label() for r in records if "env" in r} - {render.label()})
    if paths:
        raise StaleRecordsError(
            f"{path} holds episodes rendered on another path ({', '.join(paths)}) than this run's "
            f"({render.label()}): results of two render paths are never mixed; move that file aside or pass --out"
        )
    if other:
        raise StaleRecordsError(
            f"{path} holds episodes of other weights (weights_sha1 {', '.join(o[:12] for o in other)}) than "
            f"{cfg.label} loads now ({(cfg.weights_sha1 or 'none')[:12]}): move that file aside or pass --out"
        )
    return {(r["task_id"], r["init_state"]): r for r in records}


def missing_jobs(cfg: RunConfig, have: dict[str, dict]) -> list[tuple[RunConfig, str, int, int]]:
    """The (cfg, suite, task, init state) episodes still to run."""
    jobs = []
    for suite in cfg.suites:
        tasks = cfg.tasks if cfg.tasks is not None else range(envs.get_suite(suite).num_tasks)
        jobs += [(cfg, suite, t, k) for t in tasks for k in range(cfg.episodes_per_task) if (t, k) not in have[suite]]
    return jobs


def store(rec: dict[str, Any], commit: str) -> None:
    """Appends a finished episode to its policy's file (``rec["_cfg"]``: the RunConfig it ran under)."""
    cfg = rec.pop("_cfg")
    rec.update(commit=commit, config=asdict(cfg), python=sys.version.split()[0], weights_sha1=cfg.weights_sha1)
    rec["cpu"] = cpu_name()  # bench.machine: actions and wall times differ between CPUs
    append_record(records_path(cfg, rec["suite"]), rec)


def requested(cfg: RunConfig, have: dict[str, dict]) -> list[dict[str, Any]]:
    return [
        r
        for suite in cfg.suites
        for key, r in sorted(have[suite].items())
        if key[1] < cfg.episodes_per_task and (cfg.tasks is None or key[0] in cfg.tasks)
    ]


def run(cfg: RunConfig) -> list[dict[str, Any]]:
    """Runs every missing episode and returns all records of the requested episodes.

    On Ctrl-C the episodes in flight finish and are recorded, then ``RunInterrupted`` is raised.
    """
    commit = git_commit()
    have = {suite: recorded(cfg, suite) for suite in cfg.suites}
    jobs = missing_jobs(cfg, have)
    with graceful_stop() as stop:
        episodes = run_map(run_episode, jobs, cfg.workers, cfg.backend, stop)
        for rec in tqdm(episodes, total=len(jobs), desc=cfg.label, unit="ep"):
            store(rec, commit)
            have[rec["suite"]][(rec["task_id"], rec["init_state"])] = rec
    if stop():
        done = len(requested(cfg, have))
        raise RunInterrupted(f"stopped with {done} of {done + len(missing_jobs(cfg, have))} episodes recorded")
    return requested(cfg, have)
