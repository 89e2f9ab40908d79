"""Simulation environments: LIBERO suites and robosuite tasks as Gymnasium envs.

Importing this package registers ``vlabench/<suite>-<task_id>-v0`` ids with Gymnasium.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering on the CPU through Mesa

from envs.registry import NAMESPACE, SUITES, env_id, get_suite, make_env, register_suite

__all__ = ["NAMESPACE", "SUITES", "env_id", "get_suite", "make_env", "register_suite"]
