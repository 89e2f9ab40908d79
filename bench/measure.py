"""Cost of a VLA policy measured after its episodes: FLOPs per call and batch-1 latency, interleaved with
its teacher for routed students (speedups as ratios of medians, Amdahl bound); ``<out>/cost/<label>.json``."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from bench.evaluate import RunConfig, env_kwargs, episode_seed, git_commit, make_env_and_policy, policy_kwargs
from bench.machine import cpu_name
from envs.probes import apply_probe
from policies.paths import cost_path


def measure_cost(cfg: RunConfig, fractions: list[float] | None = None, latency: bool = True) -> dict[str, Any] | None:
    """FLOPs of a probe call (first observation) and batch-1 latency on every model call of one episode of
    every evaluated task (``timing_observations``), each timed equally often (the warm-up cycles through them
    once, so the timed calls start at the first observation).

    Only for policies with a ``model`` (the VLAs); written to ``<out>/cost/<policy>.json``.
    """
    from bench import cost

    suite = cfg.suites[0]
    task = cfg.tasks[0] if cfg.tasks else 0
    env, policy = make_env_and_policy(cfg.policy, suite, task, env_kwargs(cfg), **policy_kwargs(cfg))
    try:
        if not hasattr(policy, "model"):
            return None
        probe = env.reset(seed=cfg.seed, options={"init_state": 0})[0]
    finally:
        env.close()
    obs = timing_observations(cfg, policy) if latency else []
    result = {"policy": cfg.label, "suite": suite, "task_id": task, **cost.flops(policy, probe)}
    if not latency:
        return result
    routed = getattr(policy, "teacher_dir", None) is not None  # a routed student: interleaved with its teacher
    timed = {cfg.label: policy}
    if routed:
        from policies.vla.policy import load_teacher

        teacher = load_teacher(policy.teacher_dir)
        timed = {"teacher": teacher, cfg.label: policy}
    lat = cost.latency(timed, obs, calls=timed_calls(len(obs)), warmup=len(obs), threads=2)
    result.update(lat[cfg.label])
    if routed:  # speedups as ratios of medians
        result.update(cost.compare(cost.flops(teacher, probe), lat["teacher"], result, fractions))
        frac = realised_fraction(policy, obs)  # None: an unrouted model (dense) runs all of its own layers
        result["timed_calls_fraction"] = result["layer_fraction"] if frac is None else frac
    result["threads"] = 2
    result["weights_sha1"] = cfg.weights_sha1
    result["code"] = git_commit()  # cost figures depend on the inference code, not only the weights
    result["cpu"] = cpu_name()  # ratios are measured within one process, on this CPU
    path = cost_path(cfg.out, cfg.label)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def timing_observations(
    cfg: RunConfig, policy, per_task: int | None = None, steps: int | None = None
) -> list[dict[str, Any]]:
    """The observations latency is timed on: every model call of one whole episode (or of its first
    ``steps`` steps) of every evaluated task (init state 0), or ``per_task`` of them spread evenly, so a
    routed policy is timed at the layer fraction it runs over the episodes' phases and tasks. (A student
    runs more layers on an episode's first calls: 0.79 of them on the first against 0.47 over all calls,
    so a few calls per task, the first among them, overstate its fraction.)"""
    import envs

    out = []
    for suite in cfg.suites:
        tasks = cfg.tasks if cfg.tasks is not None else range(envs.get_suite(suite).num_tasks)
        for t in tasks:
            env = envs.make_env(suite, t, **env_kwargs(cfg))
            try:
                env = apply_probe(env, cfg.instruction, suite, t)
                limit = steps or env.unwrapped.max_episode_steps
                calls = call_observations(env, policy, episode_seed(cfg.seed, t, 0), range(1), limit)
            finally:
                env.close()
            k = len(calls) if per_task is None else min(per_task, len(calls))
            pick = np.unique(np.linspace(0, len(calls) - 1, k).round().astype(int))
            out += [calls[i] for i in pick]
    return out


def timed_calls(n_obs: int, minimum: int = 60) -> int:
    """How many timed calls cover every timing observation equally often (at least ``minimum``)."""
    return n_obs * max(1, -(-minimum // n_obs))


def call_observations(env, policy, seed: int, init_states, steps: int = 96) -> list[dict[str, Any]]:
    """The observations at which ``policy`` calls its model in the first ``steps`` steps of a few
    episodes: latency is timed on these, so routed policies route as they do in the episodes."""
    out = []
    for k in init_states:
        obs = env.reset(seed=seed + k, options={"init_state": k})[0]
        policy.seed(seed + k)
        policy.reset()
        for _ in range(steps):
            if policy.needs_images_next():
                out.append(obs)
            obs, _, terminated, truncated, _ = env.step(policy.select_action(obs))
            if terminated or truncated:
                break
    policy.reset()
    return out


def realised_fraction(policy, obs: list[dict[str, Any]]) -> float | None:
    """Mean fraction of trunk layers the policy runs on these observations (None: not routed)."""
    import torch

    from bench.cost import call_parts

    with torch.inference_mode():
        keeps = [policy.trunk(call_parts(policy, o)["tokens"])[1] for o in obs]
    if any(k is None for k in keeps):
        return None
    return float(sum(sum(k) for k in keeps) / sum(len(k) for k in keeps))


def print_cost(cfg: RunConfig, records: list[dict[str, Any]]) -> None:
    """Measures and prints the cost of a VLA policy, with the realised layer fractions of ``records``."""
    c = measure_cost(cfg, [r["layer_fraction"] for r in records if r.get("layer_fraction") is not None])
    if c:
        print(format_cost(c))


def format_cost(c: dict[str, Any]) -> str:
    extra = ""
    if "speedup_call" in c:
        extra = (
            f"\nvs teacher: realised fraction {c['layer_fraction']:.3f}; mean call over the episodes "
            f"{c['gflops_call_mean']:.3f} GFLOP whole, {c['gflops_trunk_mean']:.3f} GFLOP trunk, "
            f"trunk FLOPs {100 * c['trunk_flops_ratio']:.1f}%, "
            f"trunk speedup {c['speedup_trunk']:.2f}x, whole-call speedup {c['speedup_call']:.2f}x "
            f"(Amdahl bound {c['amdahl_bound']:.2f}x: {100 * c['speedup_call'] / c['amdahl_bound']:.0f}% of it)"
        )
    from bench.cost import contention_warning

    if warn := contention_warning(c.get("other_cpu_share")):
        extra += f"\n{warn}"
    return (
        f"FLOPs per call: {c['gflops_call']:.3f} GFLOP whole, {c['gflops_trunk']:.3f} GFLOP trunk "
        f"({100 * c['trunk_flops_share']:.1f}%); instruction encoding {c['gflops_instruction']:.3f} GFLOP once per "
        f"episode\nlatency per call (batch 1, {c['threads']} threads, median of {c['calls']}): {c['call_ms']:.1f} ms "
        f"whole, {c['trunk_ms']:.1f} ms trunk: trunk share of time {100 * c['trunk_time_share']:.1f}%"
    ) + extra
