"""The policy registry: ``make_policy(name, env)`` builds a registered policy for one env."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from policies.base import Policy

if TYPE_CHECKING:
    from policies.vla.config import VLAConfig

PolicyFactory = Callable[..., Policy]
POLICIES: dict[str, PolicyFactory] = {}


def register_policy(name: str) -> Callable[[PolicyFactory], PolicyFactory]:
    """Decorator registering a factory ``(env, **kwargs) -> Policy`` under ``name``."""

    def deco(factory: PolicyFactory) -> PolicyFactory:
        if name in POLICIES:
            raise ValueError(f"Policy {name!r} is already registered")
        POLICIES[name] = factory
        return factory

    return deco


def make_policy(name: str, env: gym.Env, **kwargs: Any) -> Policy:
    if name not in POLICIES:
        raise ValueError(f"Unknown policy {name!r}; choose from {sorted(POLICIES)}")
    return POLICIES[name](env, **kwargs)


@register_policy("expert")
def _expert(env: gym.Env, **kwargs: Any) -> Policy:
    from policies.expert import ScriptedExpert

    return ScriptedExpert(env, **kwargs)


_expert.needs_images = False  # privileged state only: evaluation skips rendering


@register_policy("teacher")
def _teacher(env: gym.Env, checkpoint: str | None = None, **kwargs: Any) -> Policy:
    from policies.vla.policy import load_teacher

    return load_teacher(checkpoint, **kwargs)


def _teacher_env_kwargs(checkpoint: str | None = None, **_: Any) -> dict[str, Any]:
    from policies.vla.checkpoint import load_vla
    from policies.vla.policy import DEFAULT_TEACHER

    # loading validates the checkpoint up front (missing, truncated, config mismatch: CheckpointError)
    return env_settings(load_vla(checkpoint or DEFAULT_TEACHER).cfg)


def _teacher_weights(checkpoint: str | None = None, **_: Any) -> list[Path]:
    from policies.vla.policy import DEFAULT_TEACHER

    return [Path(checkpoint or DEFAULT_TEACHER)]


_teacher.env_kwargs = _teacher_env_kwargs  # the env must render at the size the model was trained on
_teacher.weights = _teacher_weights  # folders whose files make the policy (episode records fingerprint them)


def _teacher_variant(folder: str) -> PolicyFactory:
    """A retrained teacher under ``checkpoints/<folder>`` (an experiment: its weights are not committed,
    its results are; ``python -m policies.train ... --export checkpoints/<folder>`` regenerates it)."""

    def default(checkpoint: str | None) -> str:
        from policies.vla.policy import DEFAULT_TEACHER

        return checkpoint or str(DEFAULT_TEACHER.parent / folder)

    def factory(env: gym.Env, checkpoint: str | None = None, **kwargs: Any) -> Policy:
        return _teacher(env, default(checkpoint), **kwargs)

    factory.env_kwargs = lambda checkpoint=None, **_: _teacher_env_kwargs(default(checkpoint))
    factory.weights = lambda checkpoint=None, **_: _teacher_weights(default(checkpoint))
    return factory


# teacher_obj50: the teacher's recipe on 50 LIBERO-Object demos per task (the 30 of `teacher` + 20 noisy)
register_policy("teacher_obj50")(_teacher_variant("teacher_obj50"))
# teacher_big: the teacher fine-tuned on more demos where it falls short (80-120 per task; README "larger")
register_policy("teacher_big")(_teacher_variant("teacher_big"))
# teacher_nogrip: the teacher fine-tuned without the finger joints in its proprio (README "copycat")
register_policy("teacher_nogrip")(_teacher_variant("teacher_nogrip"))


def _routed(method: str) -> PolicyFactory:
    """A routed student (ActDistill: ``student``; baselines under their method name) at one budget."""

    def factory(env: gym.Env, budget: float = 0.5, checkpoint: str | None = None, **kwargs: Any) -> Policy:
        from distill.checkpoint import load_student
        from distill.policy import StudentPolicy, student_dir

        return StudentPolicy(load_student(checkpoint or student_dir(method, budget)), **kwargs)

    def env_kwargs(budget: float = 0.5, checkpoint: str | None = None, **_: Any) -> dict[str, Any]:
        from distill.checkpoint import load_student
        from distill.policy import available_budgets, student_dir

        if not 0.0 < budget <= 1.0:
            raise ValueError(f"budget must be in (0, 1], got {budget}")
        folder = checkpoint or student_dir(method, budget)
        if checkpoint is None and budget not in available_budgets(method):
            raise ValueError(
                f"no {method} student for budget {budget}; trained budgets: {available_budgets(method) or 'none'} "
                f"(train: python -m distill.run --method {method} --budgets {budget})"
            )
        return env_settings(load_student(folder).vla.cfg)

    def weights(budget: float = 0.5, checkpoint: str | None = None, **_: Any) -> list[Path]:
        from distill.checkpoint import student_teacher_dir
        from distill.policy import student_dir

        folder = Path(checkpoint or student_dir(method, budget))
        return [folder, student_teacher_dir(folder)]  # stored as a difference: the teacher is part of it

    factory.env_kwargs = env_kwargs
    factory.weights = weights
    factory.routed = True
    return factory


for _method, _name in [
    ("actdistill", "student"),
    ("actdistill_authors", "student_authors"),  # token graph + input-embedding router + batch relation
    ("actdistill_nodistill", "student_nodistill"),  # ablation: --w-distill 0 (graph terms kept)
    ("actdistill_graphoff", "student_graphoff"),  # ablation: --w-node 0 --w-rel 0 --w-prior 0 (distillation kept)
    ("actdistill_noise", "student_noise"),  # variant: --state-noise 0.1 (the teacher's proprio augmentation)
    ("actdistill_long", "student_long"),  # variant: --steps 2400 (twice the published students' fine-tuning)
    ("actdistill_anneal", "student_anneal"),  # variant: --guidance anneal (teacher terms decay to 0)
    ("actdistill_late", "student_late"),  # variant: --guidance late (teacher terms rise from 0)
    ("actdistill_agree", "student_agree"),  # variant: --guidance agree (distil less where the teacher is wrong)
    ("nograph", "nograph"),
    ("truncate", "truncate"),
    ("uniform", "uniform"),
    ("random", "random"),
    ("early_exit", "early_exit"),
]:
    register_policy(_name)(_routed(_method))


@register_policy("dense")
def _dense(env: gym.Env, budget: float = 0.5, checkpoint: str | None = None, **kwargs: Any) -> Policy:
    """A dense VLA with ceil(b N) layers trained from scratch (the matching-FLOPs baseline)."""
    from distill.policy import student_dir
    from policies.vla.policy import DEFAULT_TEACHER, load_teacher

    policy = load_teacher(checkpoint or student_dir("dense", budget), **kwargs)
    policy.teacher_dir = DEFAULT_TEACHER  # cost measurements compare it with the teacher, interleaved
    return policy


def _dense_env_kwargs(budget: float = 0.5, checkpoint: str | None = None, **_: Any) -> dict[str, Any]:
    from distill.policy import student_dir
    from policies.vla.checkpoint import load_vla

    if not 0.0 < budget <= 1.0:
        raise ValueError(f"budget must be in (0, 1], got {budget}")
    return env_settings(load_vla(checkpoint or student_dir("dense", budget)).cfg)


def _dense_weights(budget: float = 0.5, checkpoint: str | None = None, **_: Any) -> list[Path]:
    from distill.policy import student_dir

    return [Path(checkpoint or student_dir("dense", budget))]


_dense.env_kwargs = _dense_env_kwargs
_dense.weights = _dense_weights
_dense.routed = True  # takes --budget


def env_settings(cfg: VLAConfig) -> dict[str, Any]:
    """The env settings a VLA was trained with: image size and render path."""
    return {"image_size": cfg.image_size, "face_budget": cfg.face_budget}


def policy_env_kwargs(name: str, **kwargs: Any) -> dict[str, Any]:
    """Env settings a registered policy requires (e.g. the image size it was trained on)."""
    fn = getattr(POLICIES[name], "env_kwargs", None)
    return fn(**kwargs) if fn else {}


def policy_config(name: str, **kwargs: Any) -> VLAConfig | None:
    """The ``config.json`` of a registered VLA policy's weights (the teacher's for a student stored as a
    difference); None for policies without weights."""
    from policies.vla.config import VLAConfig

    fn = getattr(POLICIES[name], "weights", None)
    configs = [Path(f) / "config.json" for f in (fn(**kwargs) if fn else [])]
    return next((VLAConfig.load(c) for c in configs if c.exists()), None)


def weights_sha1(name: str, **kwargs: Any) -> str | None:
    """SHA-1 over the weight and config files a registered policy loads; None for policies without weights
    (the scripted expert). Episode records carry it so results of retrained weights are never mixed."""
    fn = getattr(POLICIES[name], "weights", None)
    if fn is None:
        return None
    from policies.vla.checkpoint import digest_folder

    h = hashlib.sha1()
    for folder in fn(**kwargs):
        digest_folder(h, folder)
    return h.hexdigest()
