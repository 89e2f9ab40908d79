"""Evaluate a registered policy on LIBERO / robosuite tasks from official init states.

Usage:
    python -m bench.run --policy expert --suite libero_spatial --episodes-per-task 10
    python -m bench.run --policy teacher --suite libero_spatial_lan libero_object_swap --episodes-per-task 10
    python -m bench.run --policy teacher --suite libero_object --instruction swap   # results under teacher_instr-swap
    python -m bench.run --policy expert --suite robosuite --tasks 0 --episodes-per-task 20 --workers 2

Episode k of a task starts from init state k (LIBERO's official init states; robosuite: layout seed k)
with env seed ``seed + 1000 * task_id + k``. One JSON line per episode is appended to
``<out>/episodes/<policy>/<suite>.jsonl`` as it finishes; a rerun skips recorded episodes, and refuses
records of other weights (``weights_sha1``: a retrained checkpoint under the same name).
``--instruction swap|empty|unrelated`` gives the policy another instruction (``envs.probes``) while the
task and its success stay the original's; the probe is part of the results label (``<policy>_instr-<probe>``).
Suites: ``python -m envs`` lists them all (LIBERO-PRO's perturbed ones too) with whether they can run here.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from bench.cli import exit_on_setup_error
from bench.interrupt import RunInterrupted, exit_interrupted, graceful_stop

with exit_on_setup_error():
    import envs
from bench.failures import stalled
from bench.metrics import format_rate, rate_rows
from bench.records import append_record, policy_label, read_records, trace_path
from bench.workers import EnvCache, run_map
from envs.errors import GLBackendError
from envs.libero_pro import SuiteUnavailableError, check_task
from envs.probes import PROBES, apply_probe, probe_instruction
from envs.render import RenderSettings
from policies import POLICIES
from policies.registry import get_policy

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
    out: str = "results"
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
        if self.policy not in POLICIES:
            raise ValueError(f"Unknown policy {self.policy!r}; choose from {sorted(POLICIES)}")
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
        from policies.registry import policy_config, policy_env_kwargs, weights_sha1

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
    return Path(cfg.out) / "episodes" / cfg.label / f"{suite}.jsonl"


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
    from policies.registry import policy_env_kwargs

    kw = {"image_size": cfg.image_size, **policy_env_kwargs(cfg.policy, **policy_kwargs(cfg))}
    if cfg.face_budget is not None:
        kw["face_budget"] = cfg.face_budget
    return kw


def render_settings(cfg: RunConfig) -> RenderSettings:
    return RenderSettings.of(True, env_kwargs(cfg).get("face_budget"))


def _episode(job: tuple[RunConfig, str, int, int]) -> dict[str, Any]:
    from bench.rollout import rollout
    from policies import make_policy

    cfg, suite, task_id, k = job

    def build() -> tuple[Any, Any]:
        import torch

        # one intra-op thread per episode worker whatever the worker count: no oversubscription with N
        # workers on N cores, and the same float reductions (so the same actions) with 1 worker or N
        torch.set_num_threads(1)
        images = get_policy(cfg.policy).needs_images or cfg.video
        kw = policy_kwargs(cfg)
        env_kw = env_kwargs(cfg)
        env = envs.make_env(suite, task_id, render_images=images, **env_kw)
        env = apply_probe(env, cfg.instruction, suite, task_id)  # None: the task's own instruction
        return env, make_policy(cfg.policy, env, **kw)

    key = (cfg.label, cfg.checkpoint, suite, task_id, cfg.image_size, cfg.face_budget, cfg.video)
    env, policy = _CACHE.get(key, build)
    frames: list | None = [] if cfg.video else None
    trace: dict | None = {} if cfg.trace else None
    rec = rollout(env, policy, seed=cfg.seed + 1000 * task_id + k, init_state=k, video=frames, trace=trace)
    name = f"{suite}_task{task_id}_init{k}"
    if frames:
        save_video(frames, Path(cfg.out) / "videos" / cfg.label / f"{name}.mp4")
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
    records = [r for r in read_records(path) if r["seed"] == cfg.seed + 1000 * r["task_id"] + r["init_state"]]
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
        episodes = run_map(_episode, jobs, cfg.workers, cfg.backend, stop)
        for rec in tqdm(episodes, total=len(jobs), desc=cfg.label, unit="ep"):
            store(rec, commit)
            have[rec["suite"]][(rec["task_id"], rec["init_state"])] = rec
    if stop():
        done = len(requested(cfg, have))
        raise RunInterrupted(f"stopped with {done} of {done + len(missing_jobs(cfg, have))} episodes recorded")
    return requested(cfg, have)


def summary_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per-task success counts with 95% Wilson intervals (one row per policy, suite and task)."""
    df = pd.DataFrame(records)
    frame = rate_rows(df, ["policy", "suite", "task_id"])
    first = df.groupby(["policy", "suite", "task_id"], sort=True)["instruction"].first().to_numpy()
    frame.insert(3, "instruction", first)
    if "still_steps_at_end" in df:  # bench.failures: failures whose arm stopped moving for good
        frame["stalled"] = stalled(df).groupby([df.policy, df.suite, df.task_id], sort=True).sum().to_numpy()
    return frame


def write_summary(cfg: RunConfig, records: list[dict[str, Any]]) -> Path:
    """Writes ``<out>/summary/<policy>/<suite>.csv`` for each suite evaluated; returns the folder."""
    folder = Path(cfg.out) / "summary" / cfg.label
    folder.mkdir(parents=True, exist_ok=True)
    frame = summary_frame(records)
    for suite, g in frame.groupby("suite"):
        g.to_csv(folder / f"{suite}.csv", index=False, float_format="%.4f")
    return folder


def summary_table(records: list[dict[str, Any]]) -> str:
    """Per-task and overall success with 95% Wilson intervals (from ``summary_frame``)."""
    rows, frame = [], summary_frame(records)
    for suite in dict.fromkeys(r["suite"] for r in records):  # suites in the order they were asked for
        g = frame[frame.suite == suite]
        for r in g.itertuples():
            kinds = {k: getattr(r, f"errors_{k}") for k in ("policy", "simulator", "renderer")}
            detail = ", ".join(f"{k} {v}" for k, v in kinds.items() if v)
            errors = f"errors: {r.errors}" + (f" ({detail})" if detail else "") if r.errors else ""
            errors += f" stalled: {r.stalled}" if getattr(r, "stalled", 0) else ""
            rows.append(
                f"{suite:16s} {r.task_id:>4d}  {format_rate(r.successes, r.episodes):32s} {errors} {r.instruction[:70]}"
            )
        rows.append(f"{suite:16s}  all  {format_rate(int(g.successes.sum()), int(g.episodes.sum()))}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = RunConfig()
    p.add_argument("--policy", default=d.policy, help=f"one of {sorted(POLICIES)}")
    p.add_argument("--suite", dest="suites", nargs="+", default=d.suites, help="suites (python -m envs lists them)")
    p.add_argument(
        "--instruction",
        choices=PROBES,
        default=None,
        help="language probe: swap (task t gets task (t+1) mod n's instruction), empty, or unrelated (a fixed "
        "sentence); success stays the original task's; results under <policy>_instr-<probe>",
    )
    p.add_argument("--tasks", type=int, nargs="+", default=None, help="task ids (default: all)")
    p.add_argument("--episodes-per-task", type=int, default=d.episodes_per_task)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--backend", default=d.backend, help="process (local worker processes) or ray")
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--out", default=d.out)
    p.add_argument("--video", action="store_true", help="save an mp4 per episode under <out>/videos")
    p.add_argument(
        "--trace",
        action="store_true",
        help="save each episode's actions and proprio (npz) under <out>/traces (like --video: only for episodes "
        "run now, not those already recorded in <out>)",
    )
    p.add_argument("--budget", type=float, default=None, help="routed students: the trained budget to load")
    p.add_argument(
        "--face-budget",
        type=int,
        default=None,
        help="render with meshes simplified to this many faces (envs.render; default: the policy's training path)",
    )
    p.add_argument(
        "--exec-steps",
        type=int,
        default=None,
        help="VLA policies: actions executed per predicted chunk before "
        "predicting again (default: the checkpoint's, the whole chunk); results go under <policy>_x<N>",
    )
    p.add_argument("--no-cost", dest="cost", action="store_false", help="skip the FLOPs/latency measurement")
    p.add_argument("--checkpoint", default=None, help="weights folder for teacher/student (default: committed)")
    a = vars(p.parse_args(argv))
    try:
        cfg = RunConfig(**a)
    except (ValueError, GLBackendError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    t0 = time.time()
    try:
        records = run(cfg)
    except StaleRecordsError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except RunInterrupted as e:
        exit_interrupted(e)
    print(summary_table(records))
    if records:
        write_summary(cfg, records)
    where = Path(cfg.out) / "episodes" / cfg.label
    print(f"{len(records)} episodes; wall time {time.time() - t0:.0f} s; records in {where}")
    calls = [r["call_ms_median"] for r in records if r.get("call_ms_median") is not None]
    if calls:
        print(f"median model-call latency inside the episodes: {statistics.median(calls):.1f} ms")
    if cfg.cost:
        from bench.measure import print_cost  # imports this module

        print_cost(cfg, records)


if __name__ == "__main__":
    main()
