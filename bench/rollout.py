"""One evaluation episode: env -> policy -> episode record."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import gymnasium as gym
import numpy as np

from bench.embodied import action_jerk, path_length
from bench.failures import still_steps_at_end
from envs.base import STATE_LAYOUT
from envs.errors import RendererError, SimulationError
from policies.base import Policy


class PolicyActionError(ValueError):
    """The policy returned an action the env must not receive (wrong shape, NaN/inf, out of range)."""


def check_action(action: Any) -> np.ndarray:
    a = np.asarray(action, dtype=np.float64).reshape(-1)
    if a.shape != (7,):
        raise PolicyActionError(f"action has shape {np.shape(action)}, expected (7,)")
    if not np.all(np.isfinite(a)):
        raise PolicyActionError(f"action contains NaN or inf: {a.round(4).tolist()}")
    if np.any(np.abs(a) > 1.0 + 1e-6):
        raise PolicyActionError(f"action outside [-1, 1]: {a.round(4).tolist()}")
    return a


def error_kind(e: BaseException) -> str:
    """Failure category counted separately in summaries: policy, simulator, renderer or other."""
    if isinstance(e, RendererError):
        return "renderer"
    if isinstance(e, SimulationError):
        return "simulator"
    if isinstance(e, PolicyActionError) or getattr(e, "_from_policy", False):
        return "policy"
    return "other"


def rollout(
    env: gym.Env, policy: Policy, seed: int, init_state: int, video: list | None = None, trace: dict | None = None
) -> dict[str, Any]:
    """Runs one episode from ``init_state`` and returns its record (no images).

    ``video`` collects the frames; ``trace`` gets "actions" (steps x 7) and "state" (steps + 1 x 18, from
    the reset on). A policy or simulator exception ends the episode as a failure with its reason recorded.
    """
    t0 = time.perf_counter()
    u = env.unwrapped
    render = u.render_images  # what the env was built for; steps whose images nobody reads skip rendering
    obs, info = env.reset(seed=seed, options={"init_state": init_state})
    steps, success, error, kind, latencies = 0, False, None, None, []
    actions, states = [], [np.array(obs["state"], np.float32)]
    digest = hashlib.sha1()
    try:
        policy.seed(seed)
        policy.reset()
        while True:
            tc = time.perf_counter()
            try:
                action = check_action(policy.select_action(obs))
            except Exception as e:
                e._from_policy = True
                raise
            latencies.append(time.perf_counter() - tc)
            digest.update(action.astype(np.float32).tobytes())
            u.render_images = render and (video is not None or policy.needs_images_next())
            obs, _, terminated, truncated, info = env.step(action)
            steps += 1
            states.append(np.array(obs["state"], np.float32))
            actions.append(action.astype(np.float32))
            if video is not None:
                video.append(np.concatenate([obs["agentview"], obs["wrist"]], axis=1))
            if terminated or truncated:
                success = bool(info["is_success"])
                break
    except Exception as e:  # recorded, not swallowed: the reason goes into the episode record
        error, kind = f"{type(e).__name__}: {e}", error_kind(e)
    finally:
        u.render_images = render
        if trace is not None:
            trace["actions"] = np.asarray(actions, np.float32).reshape(-1, 7)
            trace["state"] = np.asarray(states, np.float32)
    eef = np.asarray(states)[:, STATE_LAYOUT["eef_pos"]]
    return {
        "init_state": init_state,
        "seed": seed,
        "success": success,
        "steps": steps,
        "still_steps_at_end": still_steps_at_end(eef),  # bench.failures: stalled vs moving failures
        "eef_path_m": round(path_length(eef), 5),  # bench.embodied
        "action_jerk": round(action_jerk(np.asarray(actions, np.float32)), 6),
        "error": error,
        "error_kind": kind,
        "actions_sha1": digest.hexdigest(),
        "episode_s": round(time.perf_counter() - t0, 3),
        "policy_ms_median": round(1e3 * float(np.median(latencies)), 3) if latencies else None,
        **policy.episode_stats(),
        # the swap probe: whether the instructed task's goal held at any step (envs.probes)
        **({"instructed_success": info["instructed_success"]} if "instructed_success" in info else {}),
    }
