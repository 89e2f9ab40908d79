"""Record scripted-expert demonstrations to HDF5 (robomimic/LIBERO layout), resumably, on N processes.

Usage:
    python -m demos.record --suite libero_spatial libero_object --episodes-per-task 50 --workers 2
    python -m demos.record --suite robosuite --episodes-per-task 50 --noise-frac 0.3
    python -m demos.record --suite libero_spatial --no-images --out data/demos_states   # physics only, then
    python -m demos.render --demos data/demos_states --out data/demos_fb3000 --image-size 96 --frame-stride 2

Layout: ``<out>/<suite>/task_<id>.hdf5`` with group ``data`` (attrs: suite, task_id, instruction,
env settings) and one group ``demo_<k>`` per successful episode: ``actions`` (the expert's clean
actions, the training labels), ``executed_actions`` (what was sent to the env: clean plus DART noise
on noisy episodes), ``obs/agentview_rgb``, ``obs/eye_in_hand_rgb`` (every ``frame_stride``-th step, listed in
``obs_steps``), ``obs/state`` (every step), ``rewards``,
``dones``, ``states`` (the flattened MuJoCo state before each step: time, qpos, qvel) and
``scene/<field>`` (the model fields robosuite and LIBERO set after compiling, ``envs.render.SYNCED_FIELDS``;
those that change during the episode, such as the stove's flame, per step in ``scene_steps/<field>``);
attrs ``seed``, ``noisy``, ``attempts``, ``success``, ``num_samples``, ``model_file`` (the MJCF).
``--no-images`` records physics only (no ``obs/*_rgb``); ``demos.render`` renders the images
afterwards from the stored states, at any size, stride or render path. Layouts come from
LIBERO's own sampler seeded per episode, never from the official init states (those are for
evaluation). A demo is written under a temporary name and renamed when complete, so an interrupted
run resumes where it stopped and never keeps half an episode. An episode the expert failed
``max_attempts`` layouts in a row is listed in the task's ``failed_episodes`` attribute (episode,
seed, noisy, content settings) and not retried by a rerun that would replay exactly it (recording is
deterministic, so the retry would fail again); any other settings retry it, and so does
``--retry-failed`` (after a change to the expert).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

import envs
from bench.interrupt import RunInterrupted, exit_interrupted, graceful_stop
from bench.workers import EnvCache, parallel_map
from demos.files import (
    CONTENT_FIELDS,
    DemoConfig,
    Job,
    SettingsMismatch,
    check_settings,
    existing_demos,
    sim_state,
    task_file,
    write_demo,
)

_ENV = EnvCache()  # per worker process: the env of the task it is recording


def _env(suite: str, task_id: int, cfg: DemoConfig) -> Any:
    kw = dict(image_size=cfg.image_size, face_budget=cfg.face_budget, render_images=cfg.images)
    return _ENV.get((suite, task_id, tuple(kw.items())), lambda: envs.make_env(suite, task_id, **kw))


def record_episode(job: Job, cfg: DemoConfig) -> dict[str, Any]:
    """Runs the expert (retrying new layouts up to ``max_attempts``) and returns the episode's arrays."""
    from envs.render import SceneTrack
    from policies.expert import ScriptedExpert

    env = _env(job.suite, job.task_id, cfg)
    expert = ScriptedExpert(env)
    rng = np.random.default_rng(job.seed)
    sigma = np.array([cfg.noise_pos] * 3 + [cfg.noise_rot] * 3 + [0.0])
    for attempt in range(cfg.max_attempts):
        seed = job.seed + attempt * 1_000_003
        env.unwrapped.render_images = cfg.images
        obs, _ = env.reset(seed=seed)
        expert.reset()
        xml, scene = env.unwrapped.scene_xml(), SceneTrack()
        keys = ("agentview", "wrist", "state", "actions", "executed", "steps", "states")
        frames: dict[str, list] = {k: [] for k in keys}
        success, t0 = False, time.time()
        for t in range(env.unwrapped.max_episode_steps):
            action = expert.select_action(obs)
            executed = action + rng.normal(0.0, 1.0, 7) * sigma if job.noisy else action
            executed = np.clip(executed, -1.0, 1.0)
            if t % cfg.frame_stride == 0:
                if cfg.images:
                    for key in ("agentview", "wrist"):
                        frames[key].append(obs[key])
                frames["steps"].append(t)
            frames["state"].append(obs["state"])
            frames["states"].append(sim_state(env))
            scene.record(env.unwrapped.model)
            frames["actions"].append(action)
            frames["executed"].append(executed)
            env.unwrapped.render_images = cfg.images and (t + 1) % cfg.frame_stride == 0  # the next obs: step t + 1
            obs, _, terminated, truncated, info = env.step(executed)
            if terminated or truncated:
                success = bool(info["is_success"])
                break
        if success:
            return {
                "job": job,
                "success": True,
                "seed": seed,
                "attempts": attempt + 1,
                "seconds": time.time() - t0,
                "xml": xml,
                "scene": scene,
                **{k: np.asarray(v) for k, v in frames.items()},
            }
    return {"job": job, "success": False, "attempts": cfg.max_attempts}


def _worker(args: tuple[Job, DemoConfig]) -> dict[str, Any]:
    return record_episode(*args)


def _failure_key(job: Job, cfg: DemoConfig) -> str:
    content = {k: asdict(cfg)[k] for k in CONTENT_FIELDS}
    return json.dumps(
        {"episode": job.episode, "seed": job.seed, "noisy": job.noisy, "settings": content}, sort_keys=True
    )


def _record_failure(cfg: DemoConfig, job: Job) -> None:
    with h5py.File(task_file(cfg.out, job.suite, job.task_id), "a") as f:
        data = f.require_group("data")
        failed = set(json.loads(data.attrs.get("failed_episodes", "[]")))
        data.attrs["failed_episodes"] = json.dumps(sorted(failed | {_failure_key(job, cfg)}))


def known_failures(path: Path) -> set[str]:
    """The failure keys recorded in a task file (see ``_failure_key``)."""
    if not path.exists():
        return set()
    with h5py.File(path, "r") as f:
        return set(json.loads(f["data"].attrs.get("failed_episodes", "[]"))) if "data" in f else set()


def _init_file(cfg: DemoConfig, suite: str, task_id: int) -> bool:
    """Creates the task file's header; False where the expert has no strategy for the task."""
    from policies.expert import ScriptedExpert

    env = _env(suite, task_id, cfg)
    expert = ScriptedExpert(env)
    if not expert.supported:
        tqdm.write(f"skip {suite} task {task_id}: expert unsupported ({expert.unsupported_reason})")
        return False
    path = task_file(cfg.out, suite, task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "a") as f:
        data = f.require_group("data")
        if "config" in data.attrs and any(k.startswith("demo_") for k in data):
            check_settings(path, json.loads(data.attrs["config"]), cfg)
        data.attrs.update(
            suite=suite,
            task_id=task_id,
            instruction=env.unwrapped.instruction,
            env_args=json.dumps(env.unwrapped.describe()),
            config=json.dumps(asdict(cfg)),
        )
    return True


def plan_jobs(cfg: DemoConfig, skipped: list[Job] | None = None) -> list[Job]:
    """The episodes still to record; those the expert failed before with the same settings go to ``skipped``."""
    jobs = []
    n_noisy = round(cfg.noise_frac * cfg.episodes_per_task)
    for suite in cfg.suites:
        spec = envs.get_suite(suite)
        for task_id in cfg.tasks if cfg.tasks is not None else range(spec.num_tasks):
            if not _init_file(cfg, suite, task_id):
                continue
            path = task_file(cfg.out, suite, task_id)
            done, failed = existing_demos(path), known_failures(path)
            for k in range(cfg.episodes_per_task):
                if k not in done:
                    seed = cfg.seed * 10_000_000 + task_id * 10_000 + k
                    job = Job(suite, task_id, k, seed, k >= cfg.episodes_per_task - n_noisy)
                    if not cfg.retry_failed and _failure_key(job, cfg) in failed:
                        tqdm.write(f"{suite} task {task_id} episode {k}: the expert failed it before; not retried")
                        if skipped is not None:
                            skipped.append(job)
                    else:
                        jobs.append(job)
    _ENV.close()
    return jobs


def run(cfg: DemoConfig) -> dict[tuple[str, int], list[int]]:
    """Records every missing demo; returns per task the failed episode indices (this run's and known ones).

    On Ctrl-C the demos in flight finish and are written, then ``RunInterrupted`` is raised.
    """
    skipped: list[Job] = []
    jobs = plan_jobs(cfg, skipped)
    failed: dict[tuple[str, int], list[int]] = {}
    for job in skipped:
        failed.setdefault((job.suite, job.task_id), []).append(job.episode)
    with tqdm(total=len(jobs), desc="demos", unit="ep") as bar, graceful_stop() as stop:
        for ep in parallel_map(_worker, [(j, cfg) for j in jobs], cfg.workers, stop):
            job = ep["job"]
            if ep["success"]:
                write_demo(cfg.out, ep)
            else:
                _record_failure(cfg, job)
                failed.setdefault((job.suite, job.task_id), []).append(job.episode)
                tqdm.write(f"{job.suite} task {job.task_id} episode {job.episode}: expert failed {ep['attempts']}x")
            bar.update()
    if stop():
        raise RunInterrupted(f"stopped after {bar.n} of {len(jobs)} demos")
    return failed


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = DemoConfig()
    p.add_argument("--suite", dest="suites", nargs="+", default=d.suites, help=f"suites: {sorted(envs.SUITES)}")
    p.add_argument("--tasks", type=int, nargs="+", default=None, help="task ids (default: all)")
    p.add_argument("--episodes-per-task", type=int, default=d.episodes_per_task)
    p.add_argument("--noise-frac", type=float, default=d.noise_frac)
    p.add_argument("--noise-pos", type=float, default=d.noise_pos, help="DART noise std on position actions")
    p.add_argument("--noise-rot", type=float, default=d.noise_rot, help="DART noise std on rotation actions")
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--frame-stride", type=int, default=d.frame_stride, help="store images every k-th step")
    p.add_argument("--no-images", dest="images", action="store_false", help="physics only (demos.render)")
    p.add_argument("--face-budget", type=int, default=None, help="simplified meshes for the images (envs.render)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--out", default=d.out)
    p.add_argument("--retry-failed", action="store_true", help="retry episodes the expert failed before")
    a = p.parse_args(argv)
    try:
        cfg = DemoConfig(
            suites=a.suites,
            tasks=a.tasks,
            episodes_per_task=a.episodes_per_task,
            noise_frac=a.noise_frac,
            noise_pos=a.noise_pos,
            noise_rot=a.noise_rot,
            image_size=a.image_size,
            frame_stride=a.frame_stride,
            images=a.images,
            face_budget=a.face_budget,
            seed=a.seed,
            workers=a.workers,
            out=a.out,
            retry_failed=a.retry_failed,
        )
    except ValueError as e:
        p.error(str(e))
    t0 = time.time()
    try:
        failed = run(cfg)
    except RunInterrupted as e:
        exit_interrupted(e)
    except SettingsMismatch as e:
        p.error(str(e))
    print(f"done in {time.time() - t0:.0f} s; failed episodes: {failed or 'none'}")


if __name__ == "__main__":
    main()
