"""One evaluation episode: env -> policy -> episode record."""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np

from policies.base import Policy


def rollout(env: gym.Env, policy: Policy, seed: int, init_state: int, video: list | None = None) -> dict[str, Any]:
    """Runs one episode from ``init_state`` and returns its record (no images).

    A policy or simulator exception ends the episode as a failure with its reason recorded.
    """
    t0 = time.perf_counter()
    u = env.unwrapped
    render = u.render_images  # what the env was built for; steps whose images nobody reads skip rendering
    obs, info = env.reset(seed=seed, options={"init_state": init_state})
    steps, success, error, latencies = 0, False, None, []
    try:
        policy.reset()
        while True:
            tc = time.perf_counter()
            action = policy.select_action(obs)
            latencies.append(time.perf_counter() - tc)
            u.render_images = render and (video is not None or policy.needs_images_next())
            obs, _, terminated, truncated, info = env.step(np.asarray(action))
            steps += 1
            if video is not None:
                video.append(np.concatenate([obs["agentview"], obs["wrist"]], axis=1))
            if terminated or truncated:
                success = bool(info["is_success"])
                break
    except Exception as e:  # recorded, not swallowed: the reason goes into the episode record
        error = f"{type(e).__name__}: {e}"
    finally:
        u.render_images = render
    return {
        "init_state": init_state,
        "seed": seed,
        "success": success,
        "steps": steps,
        "error": error,
        "episode_s": round(time.perf_counter() - t0, 3),
        "policy_ms_median": round(1e3 * float(np.median(latencies)), 3) if latencies else None,
        **policy.episode_stats(),
    }
