"""Cache frozen-encoder features of recorded demonstrations (EfficientNet-Lite0 maps, MiniLM embedding).

Usage:
    python -m demos.features --demos data/demos --out data/features

For every ``<demos>/<suite>/task_<id>.hdf5`` writes ``<out>/<suite>/task_<id>.hdf5`` with the task's
instruction embedding (``lang``) and per demo: ``image_feats`` (frames with images, cameras, C, h, w;
float16; ``--feature-blocks N`` takes EfficientNet's map after N blocks instead of after its head),
``obs_steps``, ``state``, ``actions``, ``noisy``. Each task file is written under a temporary name and
renamed when complete (an HDF5 file killed mid-write is unreadable). A rerun skips the demos already
cached (equal actions, proprio, frame steps and image size: recording is deterministic) and encodes the
rest, so it resumes an interrupted task, re-encodes demos recorded again, and encodes only the new demos
of an extended dataset (copy the old features folder to the new ``--out`` first).
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import nullcontext
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm import tqdm

from envs.render import RenderSettings
from policies.cameras import DEMO_IMAGE_KEYS
from policies.vla.encoders import check_blocks, encode_images, text_encoder

IMAGE_KEYS = tuple(DEMO_IMAGE_KEYS.values())  # in the order of policies.cameras.CAMERAS


def _steps(g: h5py.Group) -> np.ndarray:
    return g["obs_steps"][()] if "obs_steps" in g else np.arange(len(g["actions"]))


def _same_demo(cached: h5py.Group, g: h5py.Group) -> bool:
    """Whether a cached demo holds the features of recorded demo ``g``: recording is deterministic, so
    equal actions, proprio, frame steps and image size mean equal frames (caches from before the image
    size was stored are checked by their feature grid, EfficientNet's ceil(size / 32))."""
    hw = tuple(g["obs"][IMAGE_KEYS[0]].shape[1:3])
    if "image_hw" in cached.attrs:
        same_size = tuple(cached.attrs["image_hw"]) == hw
    else:
        same_size = tuple(cached["image_feats"].shape[3:]) == tuple(-(-x // 32) for x in hw)
    return (
        same_size
        and np.array_equal(cached["actions"][()], g["actions"][()])
        and np.array_equal(cached["state"][()], g["obs"]["state"][()])
        and np.array_equal(cached["obs_steps"][()], _steps(g))
    )


def demo_render(data: h5py.Group) -> RenderSettings:
    """The render path a demo file's images were made with (files from before the field: full meshes)."""
    return RenderSettings.from_record(json.loads(data.attrs.get("env_args", "{}")))


def cache_task(src: Path, dst: Path, bar: tqdm, blocks: int | None = None) -> int:
    """Caches one task file (skipped when ``dst`` already holds the same demos); returns demos encoded."""
    previous = h5py.File(dst, "r") if dst.exists() else nullcontext()
    with h5py.File(src, "r") as fin, previous as old:
        data = fin["data"]
        names = sorted(k for k in data if k.startswith("demo_"))
        cached = [] if old is None else sorted(k for k in old if k.startswith("demo_"))
        render = demo_render(data)
        same_render = old is not None and old.attrs.get("render_path", "full") == render.label()
        same_render = same_render and int(old.attrs.get("feature_blocks", 0)) == (blocks or 0)
        reuse = {n for n in names if same_render and n in cached and _same_demo(old[n], data[n])}
        if cached == names and len(reuse) == len(names):
            bar.update(len(names))
            return 0
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(".partial")
        with h5py.File(tmp, "w") as fout:
            fout.attrs.update({k: data.attrs[k] for k in ("suite", "task_id", "instruction")})
            fout.attrs["render_path"] = render.label()  # a policy trained on these renders on the same path
            fout.attrs["feature_blocks"] = blocks or 0  # 0: after the encoder's head
            fout.create_dataset("lang", data=text_encoder()([str(data.attrs["instruction"])])[0].numpy())
            for name in names:
                g = data[name]
                if name in reuse:
                    old.copy(old[name], fout, name=name)
                    bar.update()
                    continue
                out = fout.create_group(name)
                feats = np.stack([encode_images(g["obs"][k][()], blocks=blocks) for k in IMAGE_KEYS], 1)
                out.create_dataset("image_feats", data=feats)
                out.create_dataset("obs_steps", data=_steps(g).astype(np.int32))
                out.create_dataset("state", data=g["obs"]["state"][()])
                out.create_dataset("actions", data=g["actions"][()])
                out.attrs["noisy"] = bool(g.attrs.get("noisy", False))
                out.attrs["image_hw"] = g["obs"][IMAGE_KEYS[0]].shape[1:3]
                bar.update()
    tmp.replace(dst)
    return len(names) - len(reuse)


def count_demos(path: Path) -> int:
    with h5py.File(path, "r") as f:
        return sum(k.startswith("demo_") for k in f["data"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--demos", default="data/demos")
    p.add_argument("--out", default="data/features")
    p.add_argument("--suite", nargs="+", default=None, help="suites to cache (default: all found)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--feature-blocks",
        type=int,
        default=None,
        help="EfficientNet-Lite0 MBConv blocks to run (1-16; default: all and the head conv, 1280 channels)",
    )
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        check_blocks(a.feature_blocks)
    except ValueError as e:
        p.error(str(e))
    files = sorted(Path(a.demos).glob("*/task_*.hdf5"))
    if a.suite:
        files = [f for f in files if f.parent.name in a.suite]
    if not files:
        raise SystemExit(f"error: no demonstration files under {a.demos}; record them with python -m demos.record")
    t0, added = time.time(), 0
    with tqdm(total=sum(count_demos(f) for f in files), desc="features", unit="demo") as bar:
        for src in files:
            added += cache_task(src, Path(a.out) / src.parent.name / src.name, bar, a.feature_blocks)
    print(f"encoded {added} new demos in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
