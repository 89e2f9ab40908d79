"""Where the workspace keeps weights and results: every path under ``checkpoints/`` and ``results/``.

Lowest layer of the packages that use it (policies, distill, bench), so none imports upwards for a path.
Weights live in the repository (``checkpoints/``); results under a root given on the command line
(``--out``/``--results``, default ``results`` in the working directory).
"""

from __future__ import annotations

from pathlib import Path

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
TEACHER = CHECKPOINTS / "teacher"  # the committed teacher; retrained ones sit beside it
STUDENTS = CHECKPOINTS / "students"  # <method>_b<budget>/ per trained student
RESULTS = "results"


def episodes_dir(out: str | Path, label: str) -> Path:
    return Path(out) / "episodes" / label


def episodes_path(out: str | Path, label: str, suite: str) -> Path:
    """One JSON line per episode of ``label`` on ``suite`` (``bench.run``)."""
    return episodes_dir(out, label) / f"{suite}.jsonl"


def summary_dir(out: str | Path, label: str) -> Path:
    """Per-task success of ``label``, one csv per suite."""
    return Path(out) / "summary" / label


def cost_path(out: str | Path, label: str) -> Path:
    """FLOPs and latency of ``label`` (``bench.measure``)."""
    return Path(out) / "cost" / f"{label}.json"


def scaling_path(out: str | Path, label: str) -> Path:
    """Episodes per minute against worker count (``bench.scaling``)."""
    return Path(out) / "scaling" / f"{label}.json"


def gates_path(out: str | Path, label: str) -> Path:
    """Numpy against torch gates of a routed student (``bench.gates``)."""
    return Path(out) / "gates" / f"{label}.json"


def video_path(out: str | Path, label: str, episode: str) -> Path:
    return Path(out) / "videos" / label / f"{episode}.mp4"


def trace_path(out: str | Path, label: str, suite: str, task_id: int, init_state: int) -> Path:
    """Where ``bench.run --trace`` saves an episode's per-step actions and proprio (npz)."""
    return Path(out) / "traces" / label / f"{suite}_task{task_id}_init{init_state}.npz"


def training_path(results: str | Path, name: str) -> Path:
    """A training run's metadata (``policies.train``, ``distill.run``), read by the report."""
    return Path(results) / "training" / f"{name}.json"


def profile_path(results: str | Path, tag: str) -> Path:
    """The teacher's per-layer action-change profile of a distillation run (``distill.train`` stage 1)."""
    return Path(results) / "profiles" / f"action_change_{tag}.json"
