"""The policy contract shared by the expert, the teacher VLA and the students (LeRobot-style)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class Policy(ABC):
    """``reset()`` at every env reset; ``select_action(obs)`` returns one 7-d action.

    A policy that predicts action chunks owns the queue of the current chunk.
    """

    name: str = "policy"

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def select_action(self, obs: dict[str, Any]) -> np.ndarray: ...
