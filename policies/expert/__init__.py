"""Scripted experts that read privileged simulator state (object poses and geometry)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from policies.base import Policy
from policies.expert.pick_place import ExpertConfig, PickPlaceExpert
from policies.expert.scene import Scene
from policies.expert.tasks import UnsupportedTask, plan_steps

# bumped when the expert's labels change: demos of two versions never share a file (demos.files)
# 1: descents ended by a 10-step stall rule, 15-step close hold; 2: state-decided grasp (docs/expert.md);
# 3: the empty hand crosses over what stands on its way to a grasp, objects going into one container share it
EXPERT_VERSION = 3


class ScriptedExpert(Policy):
    """Privileged pick-and-place expert bound to one env; ``supported`` is False where it has no strategy."""

    def __init__(self, env: gym.Env, cfg: ExpertConfig | None = None, resume: bool = False) -> None:
        """``resume``: ``reset()`` may be called mid-episode (DAgger takeover); the expert reads its phase
        from the privileged state instead of assuming the episode's start."""
        self.env = env.unwrapped
        self.cfg = cfg or ExpertConfig()
        self.resume = resume
        self._expert: PickPlaceExpert | None = None
        self.unsupported_reason: str | None = None

    @property
    def supported(self) -> bool:
        try:
            plan_steps(self.env, Scene(self.env))
        except UnsupportedTask as e:
            self.unsupported_reason = str(e)
            return False
        return True

    def reset(self) -> None:
        scene = Scene(self.env)
        self._expert = PickPlaceExpert(scene, plan_steps(self.env, scene), self.cfg, resume=self.resume)

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        if self._expert is None:
            raise RuntimeError("call reset() after env.reset() before select_action()")
        return self._expert.next_action()


__all__ = ["EXPERT_VERSION", "ExpertConfig", "ScriptedExpert", "UnsupportedTask"]
