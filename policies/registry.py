"""The policy registry: one ``PolicySpec`` per name; ``make_policy(name, env)`` builds one for an env.

Each package registers its own policies: this module the scripted expert and the teachers, ``distill``
the routed students and the baselines (``import distill`` registers them; ``bench`` does it on import).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from policies.base import Policy

if TYPE_CHECKING:
    from policies.vla.config import VLAConfig


def _own_folder(folder: Path) -> list[Path]:
    return [folder]


@dataclass(frozen=True)
class PolicySpec:
    """A registered policy. ``factory(env, checkpoint, **kwargs)`` builds it from a weights folder (None for
    a policy without weights); the folder defaults to ``checkpoint(budget)``."""

    name: str
    factory: Callable[..., Policy]
    display_name: str  # its name in tables and plots
    checkpoint: Callable[[float | None], Path] | None = None  # default weights folder (at a budget); None: none
    weights: Callable[[Path], list[Path]] = _own_folder  # folders whose files make it (records fingerprint them)
    env_settings: Callable[[Path], dict[str, Any]] | None = None  # env settings its weights need (image size...)
    routed: bool = False  # runs at a budget (``bench.run --budget``): the students and the matching-FLOPs baseline
    budget: float | None = None  # the budget a routed policy runs at by default
    trained_budgets: Callable[[], list[float]] | None = None  # budgets with weights (checked before a run)
    method: str | None = None  # the training run its weights come from (``distill.run --name``); None: scripted
    needs_images: bool = True  # False: privileged state only, evaluation skips rendering
    marker: str = "o"  # its matplotlib marker in the success-vs-cost plots (routed policies)

    def __post_init__(self) -> None:
        if self.routed != (self.budget is not None):
            raise ValueError(f"policy {self.name!r}: a routed policy has a default budget, an unrouted one none")

    def folder(self, checkpoint: str | Path | None = None, budget: float | None = None) -> Path | None:
        """The weights folder: ``checkpoint`` if given, else the default one (at ``budget``)."""
        if checkpoint:
            return Path(checkpoint)
        if self.checkpoint is None:
            return None
        return self.checkpoint(self.budget if budget is None else budget) if self.routed else self.checkpoint(None)


POLICIES: dict[str, PolicySpec] = {}


def register_policy(spec: PolicySpec) -> PolicySpec:
    """Adds a policy; a name is registered once."""
    if spec.name in POLICIES:
        raise ValueError(f"Policy {spec.name!r} is already registered")
    POLICIES[spec.name] = spec
    return spec


def get_policy(name: str) -> PolicySpec:
    if name not in POLICIES:
        raise ValueError(f"Unknown policy {name!r}; choose from {sorted(POLICIES)}")
    return POLICIES[name]


def make_policy(
    name: str, env: gym.Env, checkpoint: str | None = None, budget: float | None = None, **kwargs: Any
) -> Policy:
    """Builds a registered policy for ``env`` (``kwargs``: e.g. ``exec_steps``, ``threads``)."""
    spec = get_policy(name)
    if budget is not None and not spec.routed:
        raise TypeError(f"policy {name!r} takes no budget")
    return spec.factory(env, spec.folder(checkpoint, budget), **kwargs)


def env_settings(cfg: VLAConfig) -> dict[str, Any]:
    """The env settings a VLA was trained with: image size and render path."""
    return {"image_size": cfg.image_size, "face_budget": cfg.face_budget}


def policy_env_kwargs(
    name: str, checkpoint: str | None = None, budget: float | None = None, **_: Any
) -> dict[str, Any]:
    """Env settings a registered policy requires (e.g. the image size it was trained on); loading validates
    the weights up front (missing, truncated, config mismatch: ``CheckpointError``)."""
    spec = get_policy(name)
    if spec.routed:
        b = spec.budget if budget is None else budget
        if not 0.0 < b <= 1.0:
            raise ValueError(f"budget must be in (0, 1], got {b}")
        if checkpoint is None and spec.trained_budgets is not None and b not in (have := spec.trained_budgets()):
            raise ValueError(
                f"no {spec.method} student for budget {b}; trained budgets: {have or 'none'} "
                f"(train: python -m distill.run --method {spec.method} --budgets {b})"
            )
    folder = spec.folder(checkpoint, budget)
    return spec.env_settings(folder) if spec.env_settings and folder is not None else {}


def policy_config(name: str, checkpoint: str | None = None, budget: float | None = None, **_: Any) -> VLAConfig | None:
    """The ``config.json`` of a registered VLA policy's weights (the teacher's for a student stored as a
    difference); None for policies without weights."""
    from policies.vla.config import VLAConfig

    spec = get_policy(name)
    folder = spec.folder(checkpoint, budget)
    configs = [Path(f) / "config.json" for f in (spec.weights(folder) if folder is not None else [])]
    return next((VLAConfig.load(c) for c in configs if c.exists()), None)


def weights_sha1(name: str, checkpoint: str | None = None, budget: float | None = None, **_: Any) -> str | None:
    """SHA-1 over the weight and config files a registered policy loads; None for policies without weights
    (the scripted expert). Episode records carry it so results of retrained weights are never mixed."""
    spec = get_policy(name)
    folder = spec.folder(checkpoint, budget)
    if folder is None:
        return None
    from policies.vla.checkpoint import digest_folder

    h = hashlib.sha1()
    for f in spec.weights(folder):
        digest_folder(h, f)
    return h.hexdigest()


# ---- this package's policies: the scripted expert and the teachers


def _expert(env: gym.Env, checkpoint: Path | None = None, **kwargs: Any) -> Policy:
    from policies.expert import ScriptedExpert

    return ScriptedExpert(env, **kwargs)


def _teacher(env: gym.Env, checkpoint: Path | None = None, **kwargs: Any) -> Policy:
    from policies.vla.policy import load_teacher

    return load_teacher(checkpoint, **kwargs)


def vla_env_settings(folder: Path) -> dict[str, Any]:
    """The env settings of the VLA saved in ``folder`` (the env renders at the size it was trained on)."""
    from policies.vla.checkpoint import load_vla

    return env_settings(load_vla(folder).cfg)


def teacher_folder(name: str = "teacher") -> Path:
    """``checkpoints/<name>``, beside the committed teacher (read when asked: tests move it)."""
    from policies.vla.policy import DEFAULT_TEACHER

    return DEFAULT_TEACHER if name == "teacher" else DEFAULT_TEACHER.parent / name


def register_teacher(name: str, display_name: str) -> PolicySpec:
    """A teacher VLA whose weights are ``checkpoints/<name>``: the committed teacher, or one retrained with
    ``python -m policies.train ... --export checkpoints/<name>`` (experiments: their weights are not
    committed, their results are)."""
    return register_policy(
        PolicySpec(
            name=name,
            factory=_teacher,
            display_name=display_name,
            checkpoint=lambda _budget: teacher_folder(name),
            env_settings=vla_env_settings,
            method=name,
        )
    )


register_policy(
    PolicySpec(name="expert", factory=_expert, display_name="Scripted expert (privileged state)", needs_images=False)
)
register_teacher("teacher", "Teacher VLA")
# the teacher's recipe on 50 LIBERO-Object demos per task (the 30 of `teacher` + 20 noisy)
register_teacher("teacher_obj50", "Teacher VLA, 50 Object demos per task (30 + 20 noisy)")
# the teacher fine-tuned without the finger joints in its proprio (README "copycat")
register_teacher("teacher_nogrip", "Teacher VLA fine-tuned without finger joints in its proprio")
# LIBERO-Goal and LIBERO-10: the committed teacher fine-tuned on expert-v3 demos of those suites (issue 39)
register_teacher("teacher_gl", "Teacher VLA, LIBERO-Goal and LIBERO-10")
