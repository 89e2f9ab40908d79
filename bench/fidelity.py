"""Fidelity and speed of simplified meshes: full-mesh vs simplified renders of the same states.

Usage:
    python -m bench.fidelity --budgets 400 800 1500 3000 --workers 2    # -> results/fidelity/
    python -m bench.fidelity --suites robosuite --budgets 1500 --out /tmp/fid

For the first official init state of every task of the four LIBERO suites and the three robosuite
tasks, both cameras are rendered at ``--image-size`` from the physics model (full meshes) and from
each budget's render model, in the same pose; SSIM and PSNR come from scikit-image, render times are
medians of ``--repeats`` renders, interleaved. Writes ``fidelity.csv`` (one row per scene, budget and
camera, appended as each scene finishes; a rerun skips scenes already measured with the same
settings), ``summary.csv``, ``summary.md``, ``curve.png`` (render time against SSIM) and
``scenes.png`` (full next to simplified for a few scenes).
"""

from __future__ import annotations

import argparse
import copy
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

import envs
from bench.interrupt import RunInterrupted, exit_interrupted, graceful_stop
from bench.tables import to_markdown
from bench.workers import parallel_map
from envs.base import CAMERAS

SUITES = ("libero_spatial", "libero_object", "libero_goal", "libero_10", "robosuite")
PICTURED = (("libero_spatial", 0), ("libero_object", 3), ("libero_goal", 0), ("robosuite", 0))


@dataclass
class FidelityConfig:
    suites: list[str] = field(default_factory=lambda: list(SUITES))
    budgets: list[int] = field(default_factory=lambda: [400, 800, 1500, 3000])
    image_size: int = 128
    repeats: int = 7
    workers: int = 2
    out: str = "results/fidelity"

    def __post_init__(self) -> None:
        for s in self.suites:
            envs.get_suite(s)
        if not self.budgets or min(self.budgets) < 1:
            raise ValueError("budgets must be a non-empty list of positive face counts")
        if self.repeats < 1 or self.workers < 1:
            raise ValueError("repeats and workers must be >= 1")


def _median_ms(render, camera: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        render(camera)
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def measure_scene(job: tuple[str, int, FidelityConfig]) -> dict[str, Any]:
    """All budgets of one scene: rows (scene x budget x camera) and the images of the pictured scenes."""
    import mujoco
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from envs.render import FastRenderer, SimplifiedRenderer

    suite, task, cfg = job
    env = envs.make_env(suite, task, image_size=cfg.image_size, render_images=False).unwrapped
    try:
        env.reset(seed=0, options={"init_state": 0})
        model, data = env.model, copy.copy(env.data)
        mujoco.mj_kinematics(model, data)  # the pose the render models compute from qpos
        mujoco.mj_camlight(model, data)
        full = FastRenderer(model, cfg.image_size, cfg.image_size)
        xml = env.scene_xml()
        simplified = {}
        for b in cfg.budgets:
            simplified[b] = SimplifiedRenderer(model, xml, b, cfg.image_size, cfg.image_size)
            simplified[b].pose_from(model, data)
        rows, images = [], {}
        for key, cam in CAMERAS.items():
            ref = full.render(data, cam)
            for _ in range(2):  # warm-up
                for r in simplified.values():
                    r.render(cam)
            full_ms = [_median_ms(lambda c: full.render(data, c), cam, cfg.repeats)]
            for b, r in simplified.items():
                img = r.render(cam)
                full_ms.append(_median_ms(lambda c: full.render(data, c), cam, cfg.repeats))
                ms = _median_ms(r.render, cam, cfg.repeats)
                rows.append(
                    {
                        "suite": suite,
                        "task": task,
                        "camera": key,
                        "face_budget": b,
                        "ssim": float(structural_similarity(ref, img, channel_axis=2, data_range=255)),
                        "psnr": float(peak_signal_noise_ratio(ref, img, data_range=255))
                        if not np.array_equal(ref, img)
                        else float("inf"),
                        "faces_full": int(model.mesh_facenum.sum()),
                        "faces": int(r.model.mesh_facenum.sum()),
                        "simplified_ms": ms,
                        "image_size": cfg.image_size,
                    }
                )
                if (suite, task) in PICTURED:
                    images[(key, b)] = img
            for row in rows:
                if row["camera"] == key:
                    row["full_ms"] = float(np.median(full_ms))
            if (suite, task) in PICTURED:
                images[(key, None)] = ref
        for r in simplified.values():
            r.close()
        full.close()
    finally:
        env.close()
    return {"suite": suite, "task": task, "rows": rows, "images": images}


def _done(path: Path, cfg: FidelityConfig) -> set[tuple[str, int]]:
    if not path.exists():
        return set()
    df = pd.read_csv(path)
    df = df[df.image_size == cfg.image_size]
    have = df.groupby(["suite", "task"]).face_budget.apply(set)
    return {k for k, v in have.items() if set(cfg.budgets) <= v}


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Per face budget: mean and minimum SSIM, mean PSNR, faces, and the render-time ratio full/simplified."""
    df = df.assign(speedup=df.full_ms / df.simplified_ms)
    g = df.groupby("face_budget")
    out = pd.DataFrame(
        {
            "scenes": g.apply(lambda x: len(x[["suite", "task"]].drop_duplicates())),
            "mean_ssim": g.ssim.mean(),
            "min_ssim": g.ssim.min(),
            "mean_psnr": g.psnr.apply(lambda p: p[np.isfinite(p)].mean()),
            "mean_faces": g.faces.mean(),
            "mean_faces_full": g.faces_full.mean(),
            "median_full_ms": g.full_ms.median(),
            "median_simplified_ms": g.simplified_ms.median(),
            "median_speedup": g.speedup.median(),
        }
    ).reset_index()
    out = out.round(
        {
            "mean_ssim": 4,
            "min_ssim": 4,
            "mean_psnr": 2,
            "median_full_ms": 2,
            "median_simplified_ms": 2,
            "median_speedup": 2,
        }
    )
    return out.astype({"scenes": int, "mean_faces": int, "mean_faces_full": int})


def plot_curve(summary: pd.DataFrame, df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for cam, sub in df.groupby("camera"):
        s = sub.groupby("face_budget").agg(ssim=("ssim", "mean"), ms=("simplified_ms", "median"))
        ax.plot(s.ms, s.ssim, "o-", label=f"{cam} camera (mean over scenes)")
        for b, row in s.iterrows():
            ax.annotate(str(b), (row.ms, row.ssim), textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.axvline(float(df.full_ms.median()), color="grey", ls="--", label="full meshes (median)")
    ax.axhline(0.97, color="red", ls=":", label="SSIM 0.97")
    ax.set_xlabel("render time per camera, ms (median over scenes)")
    ax.set_ylabel("SSIM against full meshes")
    ax.set_title("Simplified visual meshes: render time vs fidelity (labels: face budget)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_scenes(images: dict[tuple[str, int], dict], budgets: list[int], path: Path) -> None:
    """One row per pictured scene and camera: full meshes, then each budget."""
    import imageio

    rows = []
    for _scene, imgs in sorted(images.items()):
        for key in CAMERAS:
            if (key, None) in imgs:
                rows.append(np.concatenate([imgs[(key, None)]] + [imgs[(key, b)] for b in budgets], axis=1))
    if rows:
        path.parent.mkdir(parents=True, exist_ok=True)
        imageio.imwrite(path, np.concatenate(rows, axis=0))


def run(cfg: FidelityConfig) -> pd.DataFrame:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "fidelity.csv"
    done = _done(csv, cfg)
    scenes = [(s, t) for s in cfg.suites for t in range(envs.get_suite(s).num_tasks)]
    todo = [(s, t, cfg) for s, t in scenes if (s, t) not in done or (s, t) in PICTURED]
    images: dict = {}
    with tqdm(total=len(todo), desc="scenes", unit="scene") as bar, graceful_stop() as stop:
        for res in parallel_map(measure_scene, todo, cfg.workers, stop):
            if (res["suite"], res["task"]) not in done:
                pd.DataFrame(res["rows"]).to_csv(csv, mode="a", header=not csv.exists(), index=False)
            if res["images"]:
                images[(res["suite"], res["task"])] = res["images"]
            bar.update()
    if stop():
        raise RunInterrupted(f"stopped after {bar.n} of {len(todo)} scenes; rerun to resume")
    df = pd.read_csv(csv)
    df = df[(df.image_size == cfg.image_size) & df.face_budget.isin(cfg.budgets)]
    df = df.drop_duplicates(["suite", "task", "camera", "face_budget"], keep="last")
    summary = summarise(df)
    summary.to_csv(out / "summary.csv", index=False)
    (out / "summary.md").write_text(to_markdown(summary.astype(object)))  # object: rows keep their ints
    plot_curve(summary, df, out / "curve.png")
    save_scenes(images, cfg.budgets, out / "scenes.png")
    (out / "config.json").write_text(pd.Series(asdict(cfg)).to_json(indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = FidelityConfig()
    p.add_argument("--suites", nargs="+", default=d.suites)
    p.add_argument("--budgets", type=int, nargs="+", default=d.budgets)
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--repeats", type=int, default=d.repeats)
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--out", default=d.out)
    a = p.parse_args(argv)
    try:
        cfg = FidelityConfig(a.suites, a.budgets, a.image_size, a.repeats, a.workers, a.out)
    except ValueError as e:
        p.error(str(e))
    try:
        summary = run(cfg)
    except RunInterrupted as e:
        exit_interrupted(e)
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
