"""Env steps/s of the fast rendering path vs robosuite's default offscreen path, in one run.

Usage:
    python -m bench.throughput --suite libero_spatial --task 0 --steps 60 --rounds 3
    python -m bench.throughput --workers 2   # also: 1 vs 2 worker processes on the fast path

Both envs render the agent-view and wrist cameras at the same size every step. They are timed in
alternating rounds after a warm-up so that machine load affects both alike; the ratio is the result.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import envs
from envs.vector import make_vector_env


def _time_steps(env, steps: int, rng: np.random.Generator) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        env.step(rng.uniform(-0.3, 0.3, 7))
    return steps / (time.perf_counter() - t0)


def compare_render_paths(suite: str, task: int, steps: int, rounds: int, image_size: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    paths = {
        name: envs.make_env(suite, task, image_size=image_size, fast_render=fast).unwrapped
        for name, fast in (("fast", True), ("default", False))
    }
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for env in paths.values():
        env.reset(seed=0, options={"init_state": 0})
        _time_steps(env, 5, rng)  # warm-up: GL context, shader compilation
    for _ in range(rounds):
        for name, env in paths.items():
            env.reset(seed=0, options={"init_state": 0})
            rates[name].append(_time_steps(env, steps, rng))
    for env in paths.values():
        env.close()
    out = {f"{k}_steps_per_s": float(np.median(v)) for k, v in rates.items()}
    out["ratio"] = out["fast_steps_per_s"] / out["default_steps_per_s"]
    return out


def compare_workers(suite: str, task: int, steps: int, workers: int, image_size: int) -> dict[str, float]:
    """Total env steps/s with 1 and with ``workers`` processes (fast path)."""
    out = {}
    for n in (1, workers):
        venv = make_vector_env(suite, [task] * n, image_size=image_size)
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
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--workers", type=int, default=0, help="also compare 1 vs N worker processes")
    a = p.parse_args(argv)
    r = compare_render_paths(a.suite, a.task, a.steps, a.rounds, a.image_size)
    print(
        f"{a.suite} task {a.task}, two {a.image_size}px cameras per step, median of {a.rounds} rounds x {a.steps} steps"
    )
    print(f"  default robosuite offscreen path: {r['default_steps_per_s']:.2f} steps/s")
    print(f"  fast mujoco.Renderer path:        {r['fast_steps_per_s']:.2f} steps/s")
    print(f"  ratio fast/default:               {r['ratio']:.2f}x")
    if a.workers > 1:
        w = compare_workers(a.suite, a.task, a.steps, a.workers, a.image_size)
        print(
            f"  1 worker: {w['workers_1_steps_per_s']:.2f} steps/s; {a.workers} workers: "
            f"{w[f'workers_{a.workers}_steps_per_s']:.2f} steps/s; ratio {w['worker_ratio']:.2f}x"
        )


if __name__ == "__main__":
    main()
