"""The demo files (layout: `demos.record`): recording settings, paths, atomic writes, scene and image datasets.

Shared by the recorders (``demos.record``, ``demos.dagger``) and the renderer (``demos.render``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

import envs
from policies.cameras import DEMO_IMAGE_KEYS
from policies.expert import EXPERT_VERSION


@dataclass
class DemoConfig:
    suites: list[str] = field(default_factory=lambda: ["libero_spatial"])
    tasks: list[int] | None = None  # None: every task the expert supports
    episodes_per_task: int = 50
    noise_frac: float = 0.3  # fraction of episodes executed with DART noise
    noise_pos: float = 0.15  # 0.3 made half the noisy LIBERO-Spatial episodes fail 3 layouts in a row
    noise_rot: float = 0.08
    max_attempts: int = 3  # layouts tried per episode before giving up on it
    image_size: int = 128
    frame_stride: int = 1  # render and store images every k-th step only (actions are kept for every step)
    images: bool = True  # False: physics only; demos.render renders images from the stored states
    face_budget: int | None = None  # render path of the images (envs.render): None = full meshes
    seed: int = 0
    workers: int = 2
    out: str = "data/demos"
    retry_failed: bool = False  # retry episodes the expert failed before with the same settings
    expert: int = EXPERT_VERSION  # the labelling expert's version (policies.expert.EXPERT_VERSION)

    def __post_init__(self) -> None:
        for suite in self.suites:
            envs.get_suite(suite)
        if self.episodes_per_task < 1:
            raise ValueError("episodes_per_task must be >= 1")
        if not 0.0 <= self.noise_frac <= 1.0:
            raise ValueError("noise_frac must be in [0, 1]")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if self.frame_stride < 1:
            raise ValueError("frame_stride must be >= 1")


# settings that shape what a demo contains: a file's demos must all share them
CONTENT_FIELDS = (
    "image_size",
    "frame_stride",
    "noise_frac",
    "noise_pos",
    "noise_rot",
    "max_attempts",
    "seed",
    "images",
    "face_budget",
    "expert",
)


class SettingsMismatch(ValueError):
    """An existing task file was recorded with other content settings than this run's."""


def check_settings(path: Path, recorded: dict[str, Any], cfg: DemoConfig) -> None:
    """Refuses to add demos made with other settings to ``path``; warns when only the count changed.

    The noisy episodes of a task are its last ``round(noise_frac * episodes_per_task)``, so extending
    a file to more episodes per task gives another noisy set than one run with the larger count.
    """
    now = asdict(cfg)
    # fields added later: a file from before them was recorded with their defaults (images, full meshes)
    before = {"images": True, "face_budget": None, "expert": 1}
    diff = {
        k: (recorded.get(k, before.get(k)), now[k])
        for k in CONTENT_FIELDS
        if (k in recorded or k in before) and recorded.get(k, before.get(k)) != now[k]
    }
    if diff:
        said = ", ".join(f"{k}={a} (asked {b})" for k, (a, b) in diff.items())
        raise SettingsMismatch(
            f"{path} was recorded with {said}; rerun with those settings to resume, or record elsewhere with --out"
        )
    if cfg.noise_frac > 0 and recorded.get("episodes_per_task", cfg.episodes_per_task) != cfg.episodes_per_task:
        n_noisy = round(cfg.noise_frac * cfg.episodes_per_task)
        tqdm.write(
            f"note: {path} was recorded with {recorded['episodes_per_task']} episodes per task; the noisy "
            f"ones of the {cfg.episodes_per_task} asked are the last {n_noisy} "
            "indices, so the file's noisy set differs from a single run of this size (each demo's 'noisy' "
            "attribute says which it is)"
        )


@dataclass(frozen=True)
class Job:
    """One episode to record: its task, its index in the task file, its seed, and whether it is DART-noisy."""

    suite: str
    task_id: int
    episode: int
    seed: int
    noisy: bool


def sim_state(env: Any) -> np.ndarray:
    """The flattened MuJoCo state (time, qpos, qvel), as robomimic and LIBERO store it."""
    data = env.unwrapped.data
    return np.concatenate([[data.time], data.qpos, data.qvel])


def task_file(out: str | Path, suite: str, task_id: int) -> Path:
    """``<out>/<suite>/task_<id>.hdf5``: the file that holds a task's demos."""
    return Path(out) / suite / f"task_{task_id}.hdf5"


def write_demo(out: str | Path, ep: dict[str, Any]) -> None:
    """Appends episode ``ep`` (``record_episode``'s dict) to its task file under ``out`` as ``demo_<episode>``.

    Written under a temporary name and renamed when complete, so an interrupted write leaves no half demo.
    """
    job: Job = ep["job"]
    path = task_file(out, job.suite, job.task_id)
    with h5py.File(path, "a") as f:
        data = f.require_group("data")
        name = f"demo_{job.episode}"
        tmp = f"_partial_{name}"
        if tmp in data:
            del data[tmp]
        g = data.create_group(tmp)
        n = len(ep["actions"])
        g.create_dataset("actions", data=ep["actions"].astype(np.float32))
        g.create_dataset("executed_actions", data=ep["executed"].astype(np.float32))
        if len(ep["agentview"]):
            write_images(g, ep["agentview"], ep["wrist"])
        g.create_dataset("obs/state", data=ep["state"].astype(np.float32))
        g.create_dataset("states", data=ep["states"].astype(np.float64), compression="lzf")
        write_scene(g, ep["scene"])
        g.create_dataset("obs_steps", data=ep["steps"].astype(np.int32))  # the steps that have images
        rewards = np.zeros(n, np.float32)
        rewards[-1] = 1.0
        g.create_dataset("rewards", data=rewards)
        g.create_dataset("dones", data=rewards.astype(np.uint8))
        g.attrs.update(
            seed=ep["seed"],
            noisy=job.noisy,
            attempts=ep["attempts"],
            success=True,
            num_samples=n,
            record_seconds=ep["seconds"],
            model_file=ep["xml"],
        )
        data.move(tmp, name)
        f.flush()


def write_scene(g: h5py.Group, scene: Any) -> None:
    """``scene/<field>`` for the synced fields that stayed put, ``scene_steps/<field>`` (a row per step) for others."""
    static, per_step = scene.arrays()
    for k, v in static.items():
        g.create_dataset(f"scene/{k}", data=v)
    for k, v in per_step.items():
        g.create_dataset(f"scene_steps/{k}", data=v, compression="lzf")


def write_images(g: h5py.Group, agentview: np.ndarray, wrist: np.ndarray) -> None:
    """The two camera streams of a demo group (``obs/agentview_rgb``, ``obs/eye_in_hand_rgb``), one chunk per frame."""
    for key, frames in zip(DEMO_IMAGE_KEYS.values(), (agentview, wrist), strict=True):
        g.create_dataset(f"obs/{key}", data=frames, compression="lzf", chunks=(1, *frames.shape[1:]))


def existing_demos(path: Path) -> set[int]:
    """The episode indices of the demos already in a task file."""
    if not path.exists():
        return set()
    with h5py.File(path, "r") as f:
        return {int(k.split("_")[1]) for k in f.get("data", {}) if k.startswith("demo_")}
