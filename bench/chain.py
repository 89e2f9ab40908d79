"""The teacher chain as resumable stages: record, DAgger, render, encode, train, evaluate.

Usage:
    python -m bench.chain --name fb3000 --dry-run                 # print the stage commands
    python -m bench.chain --name fb3000 --workers 2               # run what is not done yet
    python -m bench.chain --name fb3000 --stages render encode    # only these stages
    python -m bench.chain --name fb3000 --device cuda --workers 16 --train-steps 6000   # a GPU machine
    # a DAgger round: the chain's teacher drives, the expert labels, and a fine-tuned teacher_fb3000_r1 is trained
    python -m bench.chain --name fb3000 --dagger-policy teacher --dagger-checkpoint checkpoints/teacher_fb3000 \
        --dagger-round 1 --train-steps 2000

Every stage is an existing command that writes its outputs as it goes and skips what is on disk:
``demos.record --no-images`` (states only, ``data/demos_states``), ``demos.dagger`` (the current teacher
drives, the expert takes over; ``data/dagger_<name>``, with ``--dagger-policy``), ``demos.render``
(images from the states at the policy's size and face budget, base and DAgger demos into one tree),
``demos.features``, ``policies.train`` (exports ``checkpoints/teacher_<name>``) and ``bench.run``
(official init states). Training pauses with a checkpoint after ``--train-minutes`` (a stage stays
under about 2 h on a 2-core CPU; rerun the chain to go on). Each stage runs in its own process; its
command, exit status and wall time go to ``runs/chain_<name>/stages.jsonl``, and a stage that finished
with the same command, after the last run of every stage before it, is skipped on a rerun; once a stage
runs, the stages after it run too, since their inputs may have changed (``--force`` runs every stage:
each command still reuses what it finds). A fresh machine regenerates
everything from the committed code; the same machine picks up where it stopped.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

STAGES = ("record", "dagger", "render", "encode", "train", "evaluate")
PAUSED = 3  # policies.train's exit status when --max-minutes stopped it (checkpointed, to be rerun)
# modules moved to the demos package (issue 40): a stage logged under its old module counts as the same command
MOVED = {
    "bench.demos": "demos.record",
    "bench.dagger": "demos.dagger",
    "bench.render_demos": "demos.render",
    "policies.vla.features": "demos.features",
}


@dataclass
class ChainConfig:
    name: str = "fb3000"
    suites: list[str] = field(default_factory=lambda: ["libero_spatial", "libero_object", "robosuite"])
    lift_only: bool = True  # robosuite: task 0 (Lift), the benchmark's third suite
    demos_per_task: int = 50
    noise_frac: float = 0.4
    dagger_policy: str = ""  # "" skips DAgger; e.g. "teacher" (the committed one)
    dagger_checkpoint: str = ""
    dagger_episodes: int = 20
    dagger_round: int = 1
    image_size: int = 96
    frame_stride: int = 2
    face_budget: int = 3000
    feature_blocks: int = 11  # EfficientNet blocks encoded (112 x 6 x 6 at 96 px); 0: the whole encoder (1280 x 3 x 3)
    token_merge: int = 2  # 2 x 2 cells per visual token: 9 tokens per camera, as many as the head's 3 x 3
    finger_dropout: float = 0.5  # per training frame, the finger joints hidden with this probability
    # 3000 steps warm-started: a step is 2.9 s at batch 64 on a 2-core AVX2 CPU, and from scratch needed 5000-6000
    train_steps: int = 3000
    train_lr: float = 0.0  # peak learning rate; 0: policies.train's default (3e-4)
    train_init: str = ""  # fine-tune from a teacher folder (same architecture) instead of the warm start
    # warm start across visual features (policies.train --init-partial): trunk, language, proprio, queries and
    # head from this teacher, the visual projection random; "" trains from a random initialisation
    warm_start: str = "checkpoints/teacher"
    train_minutes: float = 110.0  # one train stage pauses (checkpointed) after this long; rerun the chain to go on
    keep_going: bool = False  # rerun a paused train stage at once instead of exiting (one process per stage still)
    wip: bool = True  # fp16 resume point in checkpoints/wip/teacher_<name> (commit it to survive a fresh machine)
    device: str = "auto"
    workers: int = 2
    eval_episodes: int = 50  # per LIBERO task (official init states)
    lift_eval_episodes: int = 100  # seeded Lift layouts
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    force: bool = False
    dry_run: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.stages) - set(STAGES)
        if unknown:
            raise ValueError(f"unknown stages {sorted(unknown)}; choose from {list(STAGES)}")
        if self.workers < 1 or self.demos_per_task < 1 or self.train_steps < 1:
            raise ValueError("workers, demos_per_task and train_steps must be >= 1")
        if self.train_lr < 0:
            raise ValueError("train_lr must be >= 0 (0: policies.train's default)")

    @property
    def log(self) -> Path:
        return Path("runs") / f"chain_{self.name}" / "stages.jsonl"

    def commands(self) -> dict[str, list[str]]:
        """The stage commands (module and arguments), in order."""
        rendered, feats = f"data/demos_{self.name}", f"data/features_{self.name}"
        # a DAgger round trains its own teacher (runs/teacher_<name>_r<round>), by default from the one that drove
        tag = f"{self.name}_r{self.dagger_round}" if self.dagger_policy else self.name
        export = f"checkpoints/teacher_{tag}"
        init = self.train_init or (self.dagger_checkpoint if self.dagger_policy else "")
        libero = [s for s in self.suites if s != "robosuite"]
        w = ["--workers", str(self.workers)]
        cmds: dict[str, list[str]] = {}

        def per_suite(cmd: list[str]) -> list[str]:
            """``cmd`` once for the LIBERO suites and once for robosuite (Lift only by default), ';'-joined."""
            parts = [[*cmd, "--suite", *libero]] if libero else []
            if "robosuite" in self.suites:
                parts.append([*cmd, "--suite", "robosuite", *(["--tasks", "0"] if self.lift_only else [])])
            return [a for part in parts for a in (*part, ";")][:-1]

        rec = ["demos.record", "--episodes-per-task", str(self.demos_per_task), "--noise-frac", str(self.noise_frac)]
        cmds["record"] = per_suite([*rec, "--no-images", "--out", "data/demos_states", *w])
        if self.dagger_policy:
            dg = ["demos.dagger", "--policy", self.dagger_policy, "--episodes-per-task", str(self.dagger_episodes)]
            dg += ["--round", str(self.dagger_round), "--out", f"data/dagger_{self.name}", *w]
            dg += ["--checkpoint", self.dagger_checkpoint] if self.dagger_checkpoint else []
            cmds["dagger"] = per_suite(dg)
        rd = ["--out", rendered, "--image-size", str(self.image_size), "--frame-stride", str(self.frame_stride)]
        rd += ["--face-budget", str(self.face_budget), *w]
        cmds["render"] = ["demos.render", "--demos", "data/demos_states", *rd]
        if self.dagger_policy:
            cmds["render"] += [";", "demos.render", "--demos", f"data/dagger_{self.name}", *rd]
        cmds["encode"] = ["demos.features", "--demos", rendered, "--out", feats]
        if self.feature_blocks:
            cmds["encode"] += ["--feature-blocks", str(self.feature_blocks)]
        tr = ["policies.train", "--features", feats, "--suite", *self.suites, "--steps", str(self.train_steps)]
        tr += ["--out", f"runs/teacher_{tag}", "--export", export, "--device", self.device]
        tr += ["--image-size", str(self.image_size), "--max-minutes", f"{self.train_minutes:g}"]
        tr += ["--token-merge", str(self.token_merge), "--finger-dropout", f"{self.finger_dropout:g}"]
        if self.train_lr:
            tr += ["--lr", f"{self.train_lr:g}"]
        if init:
            tr += ["--init", init]
        elif self.warm_start:
            tr += ["--init", self.warm_start, "--init-partial"]
        if self.wip:
            tr += ["--wip", f"checkpoints/wip/teacher_{tag}"]
        cmds["train"] = tr
        ev = ["bench.run", "--policy", "teacher", "--checkpoint", export, "--no-cost"]
        ev += ["--out", f"runs/eval_{tag}", *w]
        cmds["evaluate"] = [*ev, "--episodes-per-task", str(self.eval_episodes), "--suite", *libero] if libero else []
        if "robosuite" in self.suites:
            lift = [*ev, "--episodes-per-task", str(self.lift_eval_episodes), "--suite", "robosuite"]
            lift += ["--tasks", "0"] if self.lift_only else []
            cmds["evaluate"] += [";", *lift] if libero else lift
        return {k: v for k, v in cmds.items() if k in self.stages}


def _split(cmd: list[str]) -> list[list[str]]:
    """A stage's command is one or more module invocations separated by ';'."""
    out, cur = [], []
    for a in cmd:
        if a == ";":
            out.append(cur)
            cur = []
        else:
            cur.append(a)
    return [*out, cur] if cur else out


def done_stages(log: Path) -> dict[str, tuple[int, list[str]]]:
    """Stage name -> (line number, command) of its last successful run (moved modules under their new names)."""
    if not log.exists():
        return {}
    done = {}
    for i, line in enumerate(log.read_text().splitlines()):
        rec = json.loads(line)
        if rec["rc"] == 0:
            done[rec["stage"]] = (i, [MOVED.get(a, a) for a in rec["command"]])
    return done


def _up_to_date(done: dict[str, tuple[int, list[str]]], stage: str, cmd: list[str], earlier: list[str]) -> bool:
    """Finished with this command, and after the last run of every earlier stage (which may have changed
    its inputs: more demos recorded, DAgger data relabelled)."""
    if stage not in done or done[stage][1] != cmd:
        return False
    return all(done[stage][0] > done[e][0] for e in earlier if e in done)


def _run_stage(cfg: ChainConfig, stage: str, cmd: list[str]) -> dict:
    """Runs one stage's commands (stopping at the first that fails) and appends its record to the log."""
    t0, rc = time.time(), 0
    for part in _split(cmd):
        rc = subprocess.call([sys.executable, "-m", *part])
        if rc:
            break
    rec = {
        "stage": stage,
        "command": cmd,
        "rc": rc,
        "wall_s": round(time.time() - t0, 1),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    cfg.log.parent.mkdir(parents=True, exist_ok=True)
    with open(cfg.log, "a") as f:
        f.write(json.dumps(rec) + "\n")
    return rec


def run(cfg: ChainConfig) -> list[dict]:
    """Runs the stages not yet done; returns this run's stage records. Stops at the first failing stage."""
    done, records = done_stages(cfg.log), []
    for stage, cmd in cfg.commands().items():
        shown = " ; ".join("python -m " + " ".join(part) for part in _split(cmd))
        if cfg.dry_run:
            print(f"[{stage}] {shown}")
            continue
        if not cfg.force and _up_to_date(done, stage, cmd, list(STAGES[: STAGES.index(stage)])):
            print(f"[{stage}] done before with the same command, after the stages before it: skipped")
            continue
        print(f"[{stage}] {shown}", flush=True)
        while True:
            rec = _run_stage(cfg, stage, cmd)
            records.append(rec)
            done = done_stages(cfg.log)
            paused = stage == "train" and rec["rc"] == PAUSED
            note = " (paused with a checkpoint: rerun the chain to continue)" if paused and not cfg.keep_going else ""
            print(f"[{stage}] exit {rec['rc']} after {rec['wall_s'] / 60:.1f} min{note}", flush=True)
            if not (paused and cfg.keep_going):
                break
        if rec["rc"]:
            break
    return records


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = ChainConfig()
    for name, default in vars(d).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        elif isinstance(default, list):
            p.add_argument(flag, nargs="+", default=default)
        else:
            p.add_argument(flag, type=type(default), default=default)
    try:
        cfg = ChainConfig(**vars(p.parse_args(argv)))
    except ValueError as e:
        p.error(str(e))
    records = run(cfg)
    failed = [r for r in records if r["rc"]]
    sys.exit(failed[-1]["rc"] if failed else 0)


if __name__ == "__main__":
    main()
