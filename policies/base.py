"""The policy contract shared by the expert, the teacher VLA and the students (LeRobot-style)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class Policy(ABC):
    """``reset()`` at every env reset; ``select_action(obs)`` returns one 7-d action.

    A policy that predicts action chunks owns the queue of the current chunk.
    """

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def select_action(self, obs: dict[str, Any]) -> np.ndarray: ...

    def seed(self, seed: int) -> None:
        """Seeds the policy's own randomness for the coming episode (called before ``reset``): the same
        episode then gives the same outcome whatever ran before it in the process. Default: no randomness."""
        return None

    def needs_images_next(self) -> bool:
        """Whether the next ``select_action`` reads the camera images (False lets the env skip rendering)."""
        return True

    def episode_stats(self) -> dict[str, Any]:
        """Extra per-episode figures (model calls, latencies, routing) for the episode record."""
        return {}
