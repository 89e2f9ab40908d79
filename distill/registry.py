"""The routed students and the baselines as registered policies (``bench.run --policy student --budget 0.5``).

Imported by ``distill/__init__.py``: ``import distill`` registers them. Factories import torch lazily, so
registering costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym

from policies.base import Policy
from policies.registry import PolicySpec, register_policy, vla_env_settings


def _student(env: gym.Env, checkpoint: Path, **kwargs: Any) -> Policy:
    from distill.checkpoint import load_student
    from distill.policy import StudentPolicy

    return StudentPolicy(load_student(checkpoint), **kwargs)


def _student_env_settings(folder: Path) -> dict[str, Any]:
    from distill.checkpoint import load_student
    from policies.registry import env_settings

    return env_settings(load_student(folder).vla.cfg)


def _student_weights(folder: Path) -> list[Path]:
    from distill.checkpoint import student_teacher_dir

    return [folder, student_teacher_dir(folder)]  # stored as a difference: the teacher is part of it


def _checkpoint(method: str):
    def folder(budget: float | None) -> Path:
        from distill.policy import student_dir

        return student_dir(method, budget)

    return folder


def _trained(method: str):
    def budgets() -> list[float]:
        from distill.policy import available_budgets

        return available_budgets(method)

    return budgets


def register_student(name: str, method: str, display_name: str, marker: str = "o") -> PolicySpec:
    """A routed student (ActDistill, its variants, the routing baselines) trained by ``distill.run`` under
    ``--name method`` (default: the method), one folder per budget: ``checkpoints/students/<method>_b<B>``;
    ``marker`` is its marker in the plots."""
    return register_policy(
        PolicySpec(
            name=name,
            factory=_student,
            display_name=display_name,
            checkpoint=_checkpoint(method),
            weights=_student_weights,
            env_settings=_student_env_settings,
            routed=True,
            budget=0.5,
            trained_budgets=_trained(method),
            method=method,
            marker=marker,
        )
    )


for _name, _method, _display, _marker in [
    ("student", "actdistill", "ActDistill", "o"),
    # token graph + input-embedding router + batch relation
    ("student_authors", "actdistill_authors", "ActDistill, authors' variant (token graph, input router)", "*"),
    # ablation: --w-distill 0 (graph terms kept)
    ("student_nodistill", "actdistill_nodistill", "ActDistill, teacher distillation off (graph terms kept)", "h"),
    # ablation: --w-node 0 --w-rel 0 --w-prior 0 (distillation kept)
    ("student_graphoff", "actdistill_graphoff", "ActDistill, graph terms off (teacher distillation kept)", "p"),
    # variant: --state-noise 0.1 (the teacher's proprio augmentation)
    ("student_noise", "actdistill_noise", "ActDistill, trained with proprio noise (the teacher's recipe)", "<"),
    # variant: --steps 2400 (twice the published students' fine-tuning)
    ("student_long", "actdistill_long", "ActDistill, twice the fine-tuning steps (2400)", ">"),
    # variant: --guidance anneal (teacher terms decay to 0)
    ("student_anneal", "actdistill_anneal", "ActDistill, teacher terms annealed to 0 over training", "d"),
    # variant: --guidance late (teacher terms rise from 0)
    ("student_late", "actdistill_late", "ActDistill, teacher terms rising from 0 over training", "H"),
    # variant: --guidance agree (distil less where the teacher is wrong)
    ("student_agree", "actdistill_agree", "ActDistill, distillation weighted by teacher-demo agreement", "8"),
    # storage: --tune io (trunk matrices frozen) and --tune lora (rank-16 deltas on them): a student of a few MB
    ("student_io", "actdistill_io", "ActDistill, trunk matrices frozen (norms, projections, head tuned)", "+"),
    ("student_lora", "actdistill_lora", "ActDistill, rank-16 LoRA on the trunk matrices", "X"),
    ("nograph", "nograph", "Router, no graph (MoLe-VLA-like)", "s"),
    ("truncate", "truncate", "Static truncation", "v"),
    ("uniform", "uniform", "Static uniform skip", "^"),
    ("random", "random", "Random routing", "x"),
    ("early_exit", "early_exit", "Early exit (DeeR-VLA-like)", "D"),
]:
    register_student(_name, _method, _display, _marker)


def _dense(env: gym.Env, checkpoint: Path, **kwargs: Any) -> Policy:
    """A dense VLA with ceil(b N) layers trained from scratch (the matching-FLOPs baseline)."""
    from policies.vla.policy import DEFAULT_TEACHER, load_teacher

    policy = load_teacher(checkpoint, **kwargs)
    policy.teacher_dir = DEFAULT_TEACHER  # cost measurements compare it with the teacher, interleaved
    return policy


register_policy(
    PolicySpec(
        name="dense",
        factory=_dense,
        display_name="Dense, matching FLOPs, from scratch",
        checkpoint=_checkpoint("dense"),
        env_settings=vla_env_settings,
        routed=True,  # takes --budget
        budget=0.5,
        method="dense",
        marker="P",
    )
)
