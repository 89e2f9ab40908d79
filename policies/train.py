"""Train the teacher VLA on cached demonstration features (multi-task over whole suites).

Usage:
    python -m demos.record --suite libero_spatial libero_object --episodes-per-task 40 --image-size 96 --frame-stride 2
    python -m demos.features
    python -m policies.train --suite libero_spatial libero_object robosuite --steps 6000 --out runs/teacher
    # exports checkpoints/teacher (float16 safetensors + config.json) when done; rerun to resume

Checkpoints (model, optimiser, schedule, RNG) go to ``<out>/last.pt`` every ``--ckpt-every`` steps and
an interrupted run resumes from there; the log of train/validation losses is ``<out>/log.jsonl``.
``--init checkpoints/teacher`` starts from a saved teacher's weights and normalisation instead of a
random initialisation (fine-tuning on more data; its fingerprint goes into the run's metadata).
``--init-partial`` with it is a warm start across visual features: the tensors whose shapes match
(trunk, language, proprio, queries, head) come from the saved teacher, the visual projection starts
random, and the normalisation is fitted to this data.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
from tqdm import tqdm

from policies.training import (  # noqa: F401  (use_bf16 re-exported for callers of policies.train)
    atomic_save,
    cli_command,
    effective_precision,
    perturb_state,
    pick_device,
    record_training,
    use_bf16,
)
from policies.vla.checkpoint import load_vla, save_vla
from policies.vla.config import VLAConfig
from policies.vla.data import FrameSet, feature_blocks_of, feature_face_budget, load_frames
from policies.vla.model import VLA


@dataclass
class TrainConfig:
    features: str = "data/features"
    suites: list[str] = field(default_factory=lambda: ["libero_spatial", "libero_object", "robosuite"])
    out: str = "runs/teacher"
    export: str = "checkpoints/teacher"
    results: str = "results"  # the run's metadata also goes to <results>/training/<export name>.json
    steps: int = 6000
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup: int = 200
    state_noise: float = 0.1  # Gaussian noise on the normalised proprio (robustness to drift)
    # each training frame hides the finger joints (9, 10) from the policy with this probability: it cannot
    # copy the closing it sees, yet still reads the fingers where they help (0: never; hidden_state hides always)
    finger_dropout: float = 0.0
    val_every: int = 10  # every 10th demo of each task is held out
    # train and validate on the demos of DAgger rounds up to this one (0: the base demos alone; -1: every round)
    max_round: int = -1
    eval_every: int = 500
    ckpt_every: int = 250
    seed: int = 0
    threads: int = 2
    device: str = "auto"  # auto: cuda when available, else cpu
    bf16: bool = True  # bf16 autocast where the hardware has native bf16 (see use_bf16), else fp32
    init: str = ""  # a saved teacher folder to start from (same architecture); "" = random initialisation
    # warm start: with ``init``, take only the tensors whose name and shape match (the trunk, language,
    # proprio, queries and head of a teacher with other visual features); the rest start random and the
    # normalisation is fitted to this data
    init_partial: bool = False
    max_minutes: float = 0.0  # stop this run after so many minutes with a checkpoint (0: no limit); rerun to go on
    # a resume point that survives a fresh machine: fp16 weights + step written beside every checkpoint, read
    # when <out>/last.pt is missing (the optimiser state is not kept: its moments restart over ``rewarmup`` steps)
    wip: str = ""
    rewarmup: int = 100
    model: VLAConfig = field(default_factory=VLAConfig)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if self.init_partial and not self.init:
            raise ValueError("init_partial needs init: the teacher folder to warm-start from")
        if self.max_round < -1:
            raise ValueError(f"max_round must be -1 (every round) or >= 0, got {self.max_round}")
        if not 0.0 <= self.finger_dropout <= 1.0:
            raise ValueError(f"finger_dropout must be in [0, 1], got {self.finger_dropout}")


def fit_normalisation(model: VLA, train: FrameSet) -> None:
    """Per-dimension mean/std of proprio and of the arm actions; the gripper command stays in [-1, 1]."""
    model.state_mean.copy_(train.state.mean(0))
    model.state_std.copy_(train.state.std(0).clamp(min=1e-3))
    acts = train.chunk[:, 0]
    model.action_mean[:6] = acts[:, :6].mean(0)
    model.action_std[:6] = acts[:, :6].std(0).clamp(min=1e-3)


def check_init(cfg: TrainConfig) -> None:
    """Raises ``ValueError`` unless ``cfg.init`` is a teacher folder with ``cfg.model``'s architecture."""
    path = Path(cfg.init) / "config.json"
    if not path.is_file():
        raise ValueError(f"--init {cfg.init}: no teacher checkpoint there (no config.json)")
    saved = VLAConfig.load(path)
    # hiding inputs and another render path keep the weights' shapes; a partial start may change the visual features
    same = dict(hidden_state=cfg.model.hidden_state, face_budget=cfg.model.face_budget)
    if cfg.init_partial:
        visual = ("image_size", "feature_blocks", "token_merge", "image_feature_dim")
        same.update({k: getattr(cfg.model, k) for k in visual})
    if replace(saved, **same) != cfg.model:
        diff = {k: (v, getattr(cfg.model, k)) for k, v in asdict(saved).items() if getattr(cfg.model, k) != v}
        said = ", ".join(f"{k}={a} (asked {b})" for k, (a, b) in diff.items())
        raise ValueError(f"--init {cfg.init} has another architecture: {said}")


def init_from(model: VLA, folder: str) -> str:
    """Loads a saved teacher's weights and normalisation into ``model``; returns its fingerprint."""
    from policies.vla.checkpoint import fingerprint

    model.load_state_dict(load_vla(folder).state_dict())
    return fingerprint(folder)


def init_partial_from(model: VLA, folder: str) -> tuple[str, list[str]]:
    """Copies the modules of a saved teacher whose tensors all match ``model``'s in name and shape, except
    the normalisation buffers; returns its fingerprint and the tensors left at their initialisation."""
    from policies.vla.checkpoint import fingerprint

    saved = load_vla(folder).state_dict()
    own = model.state_dict()
    norm = ("state_mean", "state_std", "action_mean", "action_std")

    def module(key: str) -> str:
        return key.rpartition(".")[0] or key  # a top-level parameter is its own module

    odd = {module(k) for k, v in own.items() if k not in saved or saved[k].shape != v.shape}
    take = {k: v for k, v in saved.items() if k in own and module(k) not in odd and k not in norm}
    model.load_state_dict(take, strict=False)
    return fingerprint(folder), sorted(k for k in own if k not in take and k not in norm)


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def rewarm(step: int, start: int | None, steps: int) -> float:
    """LR factor after a weights-only resume at ``start``: a linear ramp over ``steps`` (1 otherwise)."""
    if start is None or steps < 1:
        return 1.0
    return min(1.0, (step - start + 1) / steps)


def save_wip(model: VLA, cfg: TrainConfig, step: int, wall: float) -> None:
    """Writes the fp16 resume point (written aside, then each file moved into place: a kill leaves a readable one)."""
    tmp = Path(cfg.wip + ".partial")
    save_vla(model, tmp, {"step": step, "wall": round(wall, 1), "train_config": asdict(cfg)})
    Path(cfg.wip).mkdir(parents=True, exist_ok=True)
    for f in sorted(tmp.iterdir(), key=lambda f: f.name == "train.json"):  # the step last
        f.replace(Path(cfg.wip) / f.name)
    tmp.rmdir()


def resume_wip(model: VLA, cfg: TrainConfig) -> tuple[int, float]:
    """Loads the fp16 resume point ``cfg.wip`` (weights, normalisation) into ``model``; returns (step, wall).
    The RNG restarts from the seed and the step, so a resumed run is reproducible but not the uninterrupted one."""
    meta = json.loads((Path(cfg.wip) / "train.json").read_text())
    saved = meta.get("train_config", {})
    for key in ("features", "suites", "steps", "batch_size", "lr", "seed", "init", "init_partial"):
        if key in saved and saved[key] != getattr(cfg, key):
            raise ValueError(f"resume point {cfg.wip} was trained with {key}={saved[key]!r}, not {getattr(cfg, key)!r}")
    init_from(model, cfg.wip)
    torch.manual_seed(cfg.seed + int(meta["step"]))
    return int(meta["step"]), float(meta.get("wall", 0.0))


FINGERS = (9, 10)  # finger joint positions in the proprio (envs.base.STATE_LAYOUT)


def drop_fingers(state: torch.Tensor, p: float, mean: torch.Tensor) -> torch.Tensor:
    """Each row's finger joints replaced, with probability ``p``, by their training mean (normalised 0:
    what a policy with them hidden reads)."""
    drop = torch.rand(state.shape[0], 1, device=state.device) < p
    out = state.clone()
    out[:, list(FINGERS)] = torch.where(drop, mean[list(FINGERS)], state[:, list(FINGERS)])
    return out


def action_loss(model: VLA, batch: tuple, device: torch.device, cfg: TrainConfig, noise: bool) -> torch.Tensor:
    feats, lang, state, chunk = (t.to(device, non_blocking=True) for t in batch)
    if noise and cfg.state_noise > 0:
        state = perturb_state(state, cfg.state_noise, model.state_std)
    if noise and cfg.finger_dropout > 0:
        state = drop_fingers(state, cfg.finger_dropout, model.state_mean)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        pred = model(feats, lang, state)
    return (pred.float() - model.normalise_actions(chunk)).abs().mean()


@torch.no_grad()
def validate(model: VLA, val: FrameSet, device: torch.device, cfg: TrainConfig, max_frames: int = 4096) -> float:
    model.eval()
    g = torch.Generator().manual_seed(1)
    idx = torch.randperm(len(val), generator=g)[:max_frames]
    losses = [
        action_loss(model, val.batch(idx[i : i + 256]), device, cfg, noise=False).item() * len(idx[i : i + 256])
        for i in range(0, len(idx), 256)
    ]
    model.train()
    return sum(losses) / len(idx)


PAUSED = 3  # exit status of a run stopped by --max-minutes before its last step (bench.chain reruns it)


def train(cfg: TrainConfig, command: str | None = None) -> VLA | None:
    """Trains (resuming from ``<out>/last.pt``) and exports; None if ``max_minutes`` paused it first.
    ``command``: the command line that started it (``main``), kept in the metadata; None from a library call."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    cfg = effective_precision(cfg, device)
    # the policy renders at evaluation the way its training images were rendered (envs.render)
    cfg = replace(cfg, model=replace(cfg.model, face_budget=feature_face_budget(cfg.features, cfg.suites)))
    # and encodes its images as deep as the cached features were encoded (image_feature_dim follows)
    blocks = feature_blocks_of(cfg.features, cfg.suites)
    cfg = replace(cfg, model=replace(cfg.model, feature_blocks=blocks, image_feature_dim=None))
    if cfg.init:
        check_init(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    t_load = time.time()
    rounds = None if cfg.max_round < 0 else cfg.max_round
    trainset = load_frames(cfg.features, cfg.suites, cfg.model.chunk, "train", cfg.val_every, max_round=rounds)
    valset = load_frames(cfg.features, cfg.suites, cfg.model.chunk, "val", cfg.val_every, max_round=rounds)
    print(
        f"{len(trainset)} train / {len(valset)} val frames, {len(trainset.lang)} tasks, "
        f"loaded in {time.time() - t_load:.0f} s"
    )
    model = VLA(cfg.model)
    init_sha1, fresh = None, []
    if cfg.init and cfg.init_partial:
        init_sha1, fresh = init_partial_from(model, cfg.init)
        print(f"warm start from {cfg.init}; initialised afresh: {', '.join(fresh)}")
    elif cfg.init:
        init_sha1 = init_from(model, cfg.init)
    if init_sha1 is None or cfg.init_partial:
        fit_normalisation(model, trainset)
    model = model.to(device)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos" not in n and "queries" not in n]
    other = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "pos" not in n and "queries" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": other, "weight_decay": 0.0}], lr=cfg.lr
    )
    step, wall, wip_step = 0, 0.0, None
    ckpt = out / "last.pt"
    if ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, wall = state["step"], state["wall"]
        torch.set_rng_state(state["rng"])
        print(f"resumed from {ckpt} at step {step}")
    elif cfg.wip and (Path(cfg.wip) / "config.json").exists():
        step, wall = resume_wip(model, cfg)
        wip_step = step
        print(f"resumed from the fp16 resume point {cfg.wip} at step {step} (new optimiser, warm-up {cfg.rewarmup})")
    model.train()
    log = (out / "log.jsonl").open("a")
    bar = tqdm(total=cfg.steps, initial=step, desc="train", unit="step")
    t0, t_run = time.time() - wall, time.time()
    while step < cfg.steps:
        for group in opt.param_groups:
            group["lr"] = cfg.lr * lr_at(step, cfg) * rewarm(step, wip_step, cfg.rewarmup)
        idx = torch.randint(len(trainset), (cfg.batch_size,))
        loss = action_loss(model, trainset.batch(idx), device, cfg, noise=True)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.4f}")
        row = {"step": step, "loss": round(loss.item(), 5), "lr": group["lr"], "wall": round(time.time() - t0, 1)}
        if step % cfg.eval_every == 0 or step == cfg.steps:
            row["val_loss"] = round(validate(model, valset, device, cfg), 5)
            tqdm.write(f"step {step}: train {loss.item():.4f} val {row['val_loss']:.4f}")
        if step % 10 == 0 or "val_loss" in row:
            log.write(json.dumps(row) + "\n")
            log.flush()
        pause = bool(cfg.max_minutes) and time.time() - t_run > 60 * cfg.max_minutes and step < cfg.steps
        if step % cfg.ckpt_every == 0 or step == cfg.steps or pause:
            atomic_save(
                ckpt,
                model=model.state_dict(),
                opt=opt.state_dict(),
                step=step,
                wall=time.time() - t0,
                rng=torch.get_rng_state(),
            )
            if cfg.wip:
                save_wip(model, cfg, step, time.time() - t0)
        if pause:
            bar.close()
            tqdm.write(f"paused at step {step} of {cfg.steps} after {cfg.max_minutes:g} min: rerun to continue")
            return None
    bar.close()
    wall = time.time() - t0
    meta = {
        "steps": step,
        "train_wall_s": round(wall, 1),
        "device": str(device),
        "train_frames": len(trainset),
        "val_frames": len(valset),
        "val_loss": validate(model, valset, device, cfg),
        "tasks": [list(k) for k in trainset.task_keys],
        "init_sha1": init_sha1,
        "init_fresh": fresh,
        "train_config": asdict(cfg),
        **({"command": command} if command else {}),
    }
    save_vla(model.cpu(), cfg.export, meta)
    record_training(cfg.results, Path(cfg.export).name, meta)
    print(f"exported {cfg.export} after {step} steps, {wall / 60:.1f} min; val loss {meta['val_loss']:.4f}")
    return model


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = TrainConfig()
    for f in fields(TrainConfig):
        if f.name == "model":
            continue
        flag = "--" + ("suite" if f.name == "suites" else f.name.replace("_", "-"))
        default = getattr(d, f.name)
        if isinstance(default, bool):
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default)
        elif isinstance(default, list):
            p.add_argument(flag, dest=f.name, nargs="+", default=default)
        else:
            p.add_argument(flag, dest=f.name, type=type(default), default=default)
    m = VLAConfig()
    for f in fields(VLAConfig):
        if isinstance(getattr(m, f.name), (int, str)) and f.name not in ("image_feature_dim", "text_feature_dim"):
            p.add_argument(
                "--" + f.name.replace("_", "-"),
                dest="model_" + f.name,
                type=type(getattr(m, f.name)),
                default=getattr(m, f.name),
            )
    p.add_argument(
        "--hidden-state",
        dest="model_hidden_state",
        type=int,
        nargs="*",
        default=[],
        help="proprio dims the policy does not see (9 10: the finger joints; envs.base.STATE_LAYOUT)",
    )
    a = vars(p.parse_args(argv))
    model_kw = {k[len("model_") :]: a.pop(k) for k in list(a) if k.startswith("model_")}
    # the encoder depth is the cached features' (train() sets it again): token_merge is validated against it
    model_kw["feature_blocks"] = feature_blocks_of(a["features"], a["suites"])
    try:
        cfg = TrainConfig(**a, model=VLAConfig(**model_kw))
        if cfg.init:
            check_init(cfg)
    except ValueError as e:
        p.error(str(e))
    if train(cfg, command=cli_command("policies.train", argv)) is None:
        raise SystemExit(PAUSED)


if __name__ == "__main__":
    main()
