"""Env step cost of each render path against physics alone, measured interleaved in one process.

Usage:
    python -m bench.throughput --suite libero_spatial --task 0 --face-budget 1500
    python -m bench.throughput --suite libero_object --task 3 --rounds 5 --workers 2   # also 1 vs 2 processes

Paths (``envs.render``): ``physics`` (no images), ``full`` (today's fast path, full meshes),
``simplified`` (meshes decimated to ``--face-budget``), ``robosuite`` (robosuite's default offscreen
path). Each renders the agent-view and wrist cameras at ``--image-size``. Two modes: recording (images
at every step) and evaluation (images every ``--eval-stride`` steps, as a policy that executes an
8-action chunk open-loop needs them). The envs are stepped in alternating rounds after a warm-up, so
machine load affects all alike; medians of the rounds' mean step times, and their ratios, are the result.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import envs
from envs.vector import make_vector_env

PATHS = ("physics", "full", "simplified", "robosuite")


def _make(path: str, suite: str, task: int, image_size: int, face_budget: int):
    kw = {
        "physics": dict(render_images=False),
        "full": {},
        "simplified": dict(face_budget=face_budget),
        "robosuite": dict(fast_render=False),
    }[path]
    return envs.make_env(suite, task, image_size=image_size, **kw).unwrapped


def _time_steps(env, steps: int, stride: int, rng: np.random.Generator) -> float:
    """Mean seconds per step, rendering the observation of every ``stride``-th step only."""
    images = env.render_images
    t0 = time.perf_counter()
    for t in range(steps):
        env.render_images = images and (t + 1) % stride == 0
        env.step(rng.uniform(-0.3, 0.3, 7))
    env.render_images = images
    return (time.perf_counter() - t0) / steps


def compare_render_paths(
    suite: str,
    task: int,
    steps: int = 40,
    rounds: int = 3,
    image_size: int = 128,
    face_budget: int = 1500,
    eval_stride: int = 8,
    paths: tuple[str, ...] = PATHS,
) -> dict[str, float]:
    """Median ms per step of each path and mode, and the ratios against physics, full and robosuite."""
    rng = np.random.default_rng(0)
    built = {p: _make(p, suite, task, image_size, face_budget) for p in paths}
    modes = {"record": 1, "eval": eval_stride}
    times: dict[str, list[float]] = {f"{p}_{m}": [] for p in built for m in modes}
    for env in built.values():
        env.reset(seed=0, options={"init_state": 0})
        _time_steps(env, 5, 1, rng)  # warm-up: GL context, shader compilation, render model
    for _ in range(rounds):
        for mode, stride in modes.items():
            for name, env in built.items():
                env.reset(seed=0, options={"init_state": 0})
                times[f"{name}_{mode}"].append(_time_steps(env, steps, stride, rng))
    for env in built.values():
        env.close()
    out: dict[str, float] = {f"{k}_ms": 1e3 * float(np.median(v)) for k, v in times.items()}
    for mode in modes:
        for name in built:
            for ref in ("physics", "full", "robosuite"):
                if ref in built and ref != name:
                    out[f"{name}_{mode}_over_{ref}"] = out[f"{name}_{mode}_ms"] / out[f"{ref}_{mode}_ms"]
    return out


def compare_workers(suite: str, task: int, steps: int, workers: int, image_size: int, face_budget: int) -> dict:
    """Total env steps/s with 1 and with ``workers`` processes (simplified path)."""
    out = {}
    for n in (1, workers):
        venv = make_vector_env(suite, [task] * n, image_size=image_size, face_budget=face_budget)
        venv.reset(seed=0, options={"init_state": 0})
        actions = np.zeros((n, 7))
        for _ in range(5):
            venv.step(actions)
        t0 = time.perf_counter()
        for _ in range(steps):
            venv.step(actions)
        out[f"workers_{n}_steps_per_s"] = n * steps / (time.perf_counter() - t0)
        venv.close()
    out["worker_ratio"] = out[f"workers_{workers}_steps_per_s"] / out["workers_1_steps_per_s"]
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", default="libero_spatial")
    p.add_argument("--task", type=int, default=0)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--face-budget", type=int, default=1500)
    p.add_argument("--eval-stride", type=int, default=8, help="evaluation mode renders every k-th step")
    p.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    p.add_argument("--workers", type=int, default=0, help="also compare 1 vs N worker processes")
    a = p.parse_args(argv)
    if a.face_budget < 1 or a.eval_stride < 1:
        p.error("--face-budget and --eval-stride must be >= 1")
    r = compare_render_paths(
        a.suite, a.task, a.steps, a.rounds, a.image_size, a.face_budget, a.eval_stride, tuple(a.paths)
    )
    print(
        f"{a.suite} task {a.task}: two {a.image_size}px cameras, simplified = face budget {a.face_budget}; "
        f"median of {a.rounds} rounds x {a.steps} steps"
    )
    for mode, what in (("record", "images every step"), ("eval", f"images every {a.eval_stride} steps")):
        print(f"  {mode} ({what}):")
        for name in a.paths:
            ratios = ", ".join(
                f"{r[k]:.2f}x {k.rsplit('_over_', 1)[1]}" for k in r if k.startswith(f"{name}_{mode}_over_")
            )
            print(f"    {name:10s} {r[f'{name}_{mode}_ms']:7.1f} ms/step   {ratios}")
    if a.workers > 1:
        w = compare_workers(a.suite, a.task, a.steps, a.workers, a.image_size, a.face_budget)
        print(
            f"  1 worker: {w['workers_1_steps_per_s']:.2f} steps/s; {a.workers} workers: "
            f"{w[f'workers_{a.workers}_steps_per_s']:.2f} steps/s; ratio {w['worker_ratio']:.2f}x"
        )


if __name__ == "__main__":
    main()
