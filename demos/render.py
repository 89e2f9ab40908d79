"""Render the camera images of recorded demonstrations from their stored simulator states.

Usage:
    python -m demos.render --demos data/demos_states --out data/demos_fb3000 --image-size 96 --frame-stride 2
    python -m demos.render --demos data/demos_states --out data/demos_fb1500 --face-budget 1500 --workers 2
    python -m demos.render --demos data/demos_states --out data/demos_e2 --demos-per-task 25  # a subset first

Reads demos written by ``demos.record`` (``states``, ``scene/*`` and ``model_file``; with or without
images) and writes the same layout under ``--out`` with ``obs/agentview_rgb`` and
``obs/eye_in_hand_rgb`` rendered every ``--frame-stride`` steps: nothing is simulated again. Each demo
is posed from its state (``qpos``) and its scene fields and rendered through a render model compiled
from its own MJCF (``envs.render.SimplifiedRenderer``). Only the simplified path is re-rendered: the
live full path draws the poses ``mj_step`` leaves (a sub-step behind ``qpos``), so a full-mesh
re-render would not equal it; a large ``--face-budget`` gives nearly full meshes under their own label.
One job per demo on N processes (the parent writes), one progress bar; a demo is written under a
temporary name and renamed when complete, so a killed run resumes where it stopped. An output file
made with other settings is refused.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from bench.interrupt import RunInterrupted, exit_interrupted, graceful_stop
from bench.workers import parallel_map
from demos.files import write_images
from envs.meshes import ALGORITHM
from envs.render import RenderSettings
from policies.cameras import CAMERAS

COPIED = ("actions", "executed_actions", "obs/state", "rewards", "dones", "states")


@dataclass
class RenderConfig:
    demos: str = "data/demos_states"
    out: str = "data/demos_rendered"
    image_size: int = 96
    frame_stride: int = 1
    face_budget: int = 3000
    workers: int = 2
    demos_per_task: int | None = None  # render only each task file's first N demos (None: all)

    def __post_init__(self) -> None:
        if self.image_size < 8 or self.frame_stride < 1 or self.workers < 1:
            raise ValueError("image_size must be >= 8, frame_stride and workers >= 1")
        if self.demos_per_task is not None and self.demos_per_task < 1:
            raise ValueError("--demos-per-task must be >= 1")
        RenderSettings("simplified", self.face_budget)  # validates the budget
        if Path(self.demos).resolve() == Path(self.out).resolve():
            raise ValueError("--out must differ from --demos")

    @property
    def render(self) -> RenderSettings:
        return RenderSettings("simplified", self.face_budget)

    def settings(self) -> dict[str, Any]:
        return {
            "image_size": self.image_size,
            "frame_stride": self.frame_stride,
            "face_budget": self.face_budget,
            "mesh_algorithm": ALGORITHM,
        }


class Renderers:
    """The renderer of each distinct MJCF met in this process (a task's demos mostly share one)."""

    def __init__(self, cfg: RenderConfig) -> None:
        self.cfg, self._by_xml = cfg, {}

    def get(self, xml: str) -> Any:
        import mujoco

        from envs.render import SimplifiedRenderer

        if xml not in self._by_xml:
            if len(self._by_xml) >= 4:  # every new layout of a LIBERO task can carry its own MJCF
                self._by_xml.pop(next(iter(self._by_xml))).close()
            physics = mujoco.MjModel.from_xml_string(xml)
            size = self.cfg.image_size
            self._by_xml[xml] = SimplifiedRenderer(physics, xml, self.cfg.face_budget, size, size)
        return self._by_xml[xml]


def render_demo(g: h5py.Group, renderers: Renderers, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(agentview, wrist, steps) of one demo group, from its states."""
    if "states" not in g or "model_file" not in g.attrs:
        raise ValueError(f"{g.file.filename}:{g.name} has no stored states (recorded before demos.record kept them)")
    r = renderers.get(str(g.attrs["model_file"]))
    if r.model.nmocap:
        raise ValueError(f"{g.name}: scenes with mocap bodies are not re-rendered (their poses are not stored)")
    states, scene = g["states"][()], {k: g["scene"][k][()] for k in g.get("scene", {})}
    per_step = {k: g["scene_steps"][k][()] for k in g.get("scene_steps", {})}
    nq = r.model.nq
    steps = np.arange(0, len(states), stride)
    frames: dict[str, list] = {k: [] for k in CAMERAS}
    for t in steps:
        r.pose(states[t, 1 : 1 + nq], {**scene, **{k: v[t] for k, v in per_step.items()}})
        for key, cam in CAMERAS.items():
            frames[key].append(r.render(cam))
    return np.asarray(frames["agentview"]), np.asarray(frames["wrist"]), steps


def _demo_names(path: Path) -> list[str]:
    with h5py.File(path, "r") as f:
        return sorted((k for k in f.get("data", {}) if k.startswith("demo_")), key=lambda k: int(k.split("_")[1]))


def _prepare(src: Path, dst: Path, cfg: RenderConfig) -> list[str]:
    """Creates or checks the output file's header; returns the demos still to render."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(src, "r") as fin, h5py.File(dst, "a") as fout:
        data = fout.require_group("data")
        if "render_settings" not in data.attrs and any(k.startswith("demo_") for k in data):
            raise ValueError(f"{dst} holds demos recorded live, not rendered by this command: pass another --out")
        if "render_settings" in data.attrs and json.loads(data.attrs["render_settings"]) != cfg.settings():
            raise ValueError(
                f"{dst} was rendered with {data.attrs['render_settings']}, asked {json.dumps(cfg.settings())}: "
                "pass another --out"
            )
        for k, v in fin["data"].attrs.items():
            data.attrs[k] = v
        env_args = json.loads(fin["data"].attrs.get("env_args", "{}"))
        env_args.update(image_size=cfg.image_size, render_images=True, fast_render=True, **cfg.render.describe())
        config = json.loads(fin["data"].attrs.get("config", "{}"))
        config.update(
            image_size=cfg.image_size, frame_stride=cfg.frame_stride, images=True, face_budget=cfg.face_budget
        )
        data.attrs.update(
            env_args=json.dumps(env_args),
            config=json.dumps(config),
            render_settings=json.dumps(cfg.settings()),
            rendered_from=str(src),
        )
        done = {k for k in data if k.startswith("demo_")}
    return [k for k in _demo_names(src)[: cfg.demos_per_task] if k not in done]


_RENDERERS: dict[str, Renderers] = {}  # per worker process, by settings


def _worker(job: tuple[Path, str, RenderConfig]) -> dict[str, Any]:
    """Renders one demo in a worker; the parent writes it (one writer per HDF5 file)."""
    src, name, cfg = job
    key = json.dumps(cfg.settings())
    renderers = _RENDERERS.setdefault(key, Renderers(cfg))
    with h5py.File(src, "r") as fin:
        agentview, wrist, steps = render_demo(fin["data"][name], renderers, cfg.frame_stride)
    return {"src": src, "name": name, "agentview": agentview, "wrist": wrist, "steps": steps}


def _write(dst: Path, res: dict[str, Any]) -> None:
    """Writes a rendered demo: the source demo's arrays and attributes plus the images, then renames it."""
    name = res["name"]
    with h5py.File(res["src"], "r") as fin, h5py.File(dst, "a") as fout:
        g, data = fin["data"][name], fout["data"]
        tmp = f"_partial_{name}"
        if tmp in data:
            del data[tmp]
        out = data.create_group(tmp)
        for key in COPIED:
            if key in g:
                out.create_dataset(key, data=g[key][()], compression="lzf" if key == "states" else None)
        for group in ("scene", "scene_steps"):
            for k in g.get(group, {}):
                out.create_dataset(f"{group}/{k}", data=g[group][k][()])
        write_images(out, res["agentview"], res["wrist"])
        out.create_dataset("obs_steps", data=res["steps"].astype(np.int32))
        out.attrs.update(dict(g.attrs))
        data.move(tmp, name)


def run(cfg: RenderConfig) -> int:
    """Renders every demo missing under ``cfg.out``; returns how many were rendered."""
    src_root, dst_root = Path(cfg.demos), Path(cfg.out)
    files = sorted(src_root.glob("*/task_*.hdf5"))
    if not files:
        raise FileNotFoundError(f"no demonstration files under {src_root} (expected <suite>/task_<id>.hdf5)")
    jobs, dst_of = [], {}
    for src in files:
        dst_of[src] = dst_root / src.relative_to(src_root)
        jobs += [(src, name, cfg) for name in _prepare(src, dst_of[src], cfg)]
    total, done = len(jobs), 0
    with tqdm(total=total, desc="render", unit="demo") as bar, graceful_stop() as stop:
        for res in parallel_map(_worker, jobs, cfg.workers, stop):
            _write(dst_of[res["src"]], res)
            done += 1
            bar.update()
    if stop():
        raise RunInterrupted(f"stopped after {done} of {total} demos; rerun to resume")
    return done


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = RenderConfig()
    p.add_argument("--demos", default=d.demos, help="demos with stored states (demos.record)")
    p.add_argument("--out", default=d.out)
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--frame-stride", type=int, default=d.frame_stride)
    p.add_argument("--face-budget", type=int, default=d.face_budget, help="meshes above this many faces are decimated")
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument(
        "--demos-per-task",
        type=int,
        default=None,
        help="render only the first N demos of each task file (default: all)",
    )
    a = p.parse_args(argv)
    try:
        cfg = RenderConfig(a.demos, a.out, a.image_size, a.frame_stride, a.face_budget, a.workers, a.demos_per_task)
    except ValueError as e:
        p.error(str(e))
    t0 = time.time()
    try:
        n = run(cfg)
    except RunInterrupted as e:
        exit_interrupted(e)
    except (FileNotFoundError, ValueError) as e:
        p.error(str(e))
    print(f"rendered {n} demos in {time.time() - t0:.0f} s ({json.dumps(asdict(cfg))})")


if __name__ == "__main__":
    main()
