"""Simulation environments: LIBERO suites and robosuite tasks as Gymnasium envs.

Importing this package registers ``vlabench/<suite>-<task_id>-v0`` ids with Gymnasium.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering on the CPU through Mesa

from envs.errors import GL_FIX, GLBackendError

try:
    import mujoco  # noqa: F401  (fails at import for an invalid MUJOCO_GL)
except Exception as _e:  # RuntimeError for bad values, AttributeError/ImportError for missing libraries
    raise GLBackendError(f"MUJOCO_GL={os.environ['MUJOCO_GL']!r} does not work ({_e}); {GL_FIX}") from None

from envs.registry import NAMESPACE, SUITES, env_id, get_suite, make_env, register_suite  # noqa: E402
from envs.render import check_gl  # noqa: E402

__all__ = ["NAMESPACE", "SUITES", "check_gl", "env_id", "get_suite", "make_env", "register_suite"]
