"""Several envs in worker processes (Gymnasium ``AsyncVectorEnv``), one per core.

Each worker builds its env itself (``spawn`` start method): an EGL context inherited across
``fork`` crashes, and the renderer is created lazily inside the worker anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from gymnasium.vector import AsyncVectorEnv

from envs.registry import env_id, make_env


def make_vector_env(suite: str, task_ids: Sequence[int], **kwargs: Any) -> AsyncVectorEnv:
    """One worker process per entry of ``task_ids`` (repeat an id for several copies of a task)."""
    for t in task_ids:
        env_id(suite, t)  # validate before starting processes
    fns = [functools.partial(make_env, suite, t, **kwargs) for t in task_ids]
    return AsyncVectorEnv(fns, context="spawn", shared_memory=False)
