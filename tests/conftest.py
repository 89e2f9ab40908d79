import os

os.environ.setdefault("MUJOCO_GL", "egl")

import distill  # noqa: E402, F401  (registers the students and baselines: tests reach them through policies)
