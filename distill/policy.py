"""Routed students as registered policies (``bench.run --policy student --budget 0.5``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from distill.student import RoutedVLA
from policies.paths import STUDENTS
from policies.vla.policy import VLAPolicy


class StudentPolicy(VLAPolicy):
    """A ``VLAPolicy`` whose trunk runs only the layers its router chooses."""

    def __init__(self, student: RoutedVLA, threads: int | None = None, exec_steps: int | None = None) -> None:
        super().__init__(student.vla, threads, exec_steps)
        self.student = student.eval()
        self.teacher_dir = getattr(student, "teacher_dir", None)  # for interleaved cost comparisons

    def seed(self, seed: int) -> None:
        """Random routing draws its layers from the episode's seed, not from the worker's history."""
        self.student.rng.manual_seed(seed)

    def trunk(self, tokens: torch.Tensor) -> tuple[torch.Tensor, Sequence[bool] | None]:
        h, keep = self.student.route(tokens)
        return h, keep[0].tolist()


def student_dir(method: str, budget: float, root: str | Path = STUDENTS) -> Path:
    return Path(root) / f"{method}_b{budget:g}"


def available_budgets(method: str, root: str | Path = STUDENTS) -> list[float]:
    prefix = f"{method}_b"
    return sorted(float(p.name[len(prefix) :]) for p in Path(root).glob(f"{prefix}*") if (p / "student.json").exists())
