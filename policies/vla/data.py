"""In-memory training set built from cached features (``python -m demos.features``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch


@dataclass
class FrameSet:
    """Every frame that has images: features, proprio, instruction index and its action chunk."""

    image_feats: torch.Tensor  # (N, cams, C, h, w) float16
    state: torch.Tensor  # (N, 18)
    chunk: torch.Tensor  # (N, K, 7) raw actions a_t .. a_{t+K-1} (past the end: the last action repeated)
    task: torch.Tensor  # (N,) index into ``lang``
    lang: torch.Tensor  # (tasks, 384)
    instructions: list[str]
    task_keys: list[tuple[str, int]]

    def __len__(self) -> int:
        return len(self.state)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.image_feats[idx].float(), self.lang[self.task[idx]], self.state[idx], self.chunk[idx]


def chunk_targets(actions: np.ndarray, steps: np.ndarray, k: int) -> np.ndarray:
    """(len(steps), k, 7): the k actions from each step on, padded with the episode's last action."""
    idx = np.minimum(steps[:, None] + np.arange(k)[None, :], len(actions) - 1)
    return actions[idx]


ROUND_STRIDE = 100_000  # a DAgger round's demos are demo_<ROUND_STRIDE * round + k>; the base demos are round 0


def demo_round(demo: str) -> int:
    """The DAgger round a demo group belongs to (0: the recorded base demos)."""
    return int(demo.split("_")[1]) // ROUND_STRIDE


def is_validation(demo: str, every: int) -> bool:
    """Deterministic split: every ``every``-th demo of each task is held out for validation."""
    return every > 0 and int(demo.split("_")[1]) % every == every - 1


def feature_face_budget(root: str | Path, suites: list[str]) -> int | None:
    """The face budget of the render path that made the cached features (None: full meshes).

    Raises ``ValueError`` when the files were rendered on different paths: one policy, one render path."""
    paths = set()
    for f in (f for s in suites for f in sorted(Path(root, s).glob("task_*.hdf5"))):
        with h5py.File(f, "r") as h:
            paths.add(str(h.attrs.get("render_path", "full")))
    if len(paths) > 1:
        raise ValueError(f"features under {root} come from several render paths {sorted(paths)}: render them alike")
    from envs.render import RenderSettings

    render = RenderSettings.from_label(paths.pop() if paths else "full")
    if render.path == "robosuite":
        raise ValueError(f"features under {root} were rendered on robosuite's path; train on full or simplified")
    return render.face_budget


def feature_blocks_of(root: str | Path, suites: list[str]) -> int | None:
    """How many EfficientNet blocks made the cached features (None: the whole encoder with its head).

    Raises ``ValueError`` when the files disagree: one policy, one feature depth."""
    depths = set()
    for f in (f for s in suites for f in sorted(Path(root, s).glob("task_*.hdf5"))):
        with h5py.File(f, "r") as h:
            depths.add(int(h.attrs.get("feature_blocks", 0)))  # 0 (and files from before the field): the head
    if len(depths) > 1:
        raise ValueError(f"features under {root} come from several encoder depths {sorted(depths)}: encode them alike")
    depth = depths.pop() if depths else 0
    return depth or None


def load_frames(
    root: str | Path,
    suites: list[str],
    chunk: int,
    split: str,
    val_every: int = 10,
    tasks: list[int] | None = None,
    max_round: int | None = None,
) -> FrameSet:
    """Loads the ``split`` ("train" or "val") frames of the given suites into memory.

    ``max_round``: only demos of DAgger rounds up to it (0: the base demos alone; None: every round)."""
    files = [f for s in suites for f in sorted(Path(root, s).glob("task_*.hdf5"))]
    files = [f for f in files if tasks is None or int(f.stem.split("_")[1]) in tasks]
    if not files:
        raise FileNotFoundError(f"no cached features for {suites} under {root}; run python -m demos.features")
    feats, states, chunks, task_idx, langs, instr, keys = [], [], [], [], [], [], []
    for ti, path in enumerate(files):
        with h5py.File(path, "r") as f:
            langs.append(f["lang"][()])
            instr.append(str(f.attrs["instruction"]))
            keys.append((str(f.attrs["suite"]), int(f.attrs["task_id"])))
            for name in f:
                if not name.startswith("demo_") or is_validation(name, val_every) != (split == "val"):
                    continue
                if max_round is not None and demo_round(name) > max_round:
                    continue
                g = f[name]
                steps = g["obs_steps"][()]
                feats.append(g["image_feats"][()])
                states.append(g["state"][()][steps])
                chunks.append(chunk_targets(g["actions"][()], steps, chunk))
                task_idx.append(np.full(len(steps), ti))
    if not feats:
        raise ValueError(f"split {split!r} is empty for {suites} under {root}")
    return FrameSet(
        image_feats=torch.from_numpy(np.concatenate(feats)),
        state=torch.from_numpy(np.concatenate(states)).float(),
        chunk=torch.from_numpy(np.concatenate(chunks)).float(),
        task=torch.from_numpy(np.concatenate(task_idx)).long(),
        lang=torch.from_numpy(np.stack(langs)).float(),
        instructions=instr,
        task_keys=keys,
    )
