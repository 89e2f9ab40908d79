"""Shared fixtures-by-function for the VLA and distillation tests: tiny models and synthetic features."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

TINY = dict(hidden_size=32, num_layers=4, num_heads=2, intermediate_size=64, image_size=64, chunk=4, exec_steps=4)


def write_features(
    root: Path, suite: str = "libero_spatial", tasks: int = 2, demos: int = 4, channels: int = 1280, hw: int = 2,
    blocks: int = 0,
) -> None:  # fmt: skip
    """Feature files in the layout of ``demos.features`` (2x2 maps of the head's 1280 channels by
    default, random values; ``blocks``: the files say they were taken after that many encoder blocks)."""
    rng = np.random.default_rng(0)
    for t in range(tasks):
        path = Path(root) / suite / f"task_{t}.hdf5"
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as f:
            f.attrs.update(suite=suite, task_id=t, instruction=f"task {t}")
            if blocks:
                f.attrs["feature_blocks"] = blocks
            f.create_dataset("lang", data=rng.normal(size=384).astype(np.float32))
            for d in range(demos):
                g = f.create_group(f"demo_{d}")
                g.create_dataset("image_feats", data=rng.normal(size=(10, 2, channels, hw, hw)).astype(np.float16))
                g.create_dataset("obs_steps", data=np.arange(0, 20, 2, dtype=np.int32))
                g.create_dataset("state", data=rng.normal(size=(20, 18)).astype(np.float32))
                g.create_dataset("actions", data=rng.uniform(-1, 1, (20, 7)).astype(np.float32))


def obs(size: int = 64) -> dict:
    rng = np.random.default_rng(0)
    return {
        "agentview": rng.integers(0, 255, (size, size, 3), dtype=np.uint8),
        "wrist": rng.integers(0, 255, (size, size, 3), dtype=np.uint8),
        "state": np.zeros(18, np.float32),
        "instruction": "pick up the black bowl",
    }
