"""``results/README.md``: the report's tables and plots with the commands that regenerate them.

The evaluation commands are rebuilt from the run configuration stored in every episode record. A training
command is the one stored with the run's metadata (runs started from the CLI), else it is rebuilt from the
metadata stored next to the checkpoints (older runs and library calls).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.failures import STALL_STEPS, STILL_RADIUS_M
from bench.tables import to_markdown

FAILURES_NOTE = (
    "Over the episodes whose records hold `still_steps_at_end` (recorded since this table exists; older runs"
    " lack it), including the traced reruns of committed checkpoints in `diagnostics/*/episodes.jsonl`"
    " (the same init states as their evaluation, rerun to record the field; commands in docs/teacher.md and"
    " docs/distillation.md)."
    f" Stalled: a failure whose end effector stayed within {100 * STILL_RADIUS_M:g} cm of where it"
    f" ended for at least its last {STALL_STEPS} steps (its actions no longer moved the arm); moving: any other failure"
    " without an error (missed grasps, dropped or knocked-over objects, too slow). See `bench/failures.py`."
)


ROBUSTNESS_NOTE = (
    "Each row pairs a policy's episodes on a perturbed suite (or under a language probe) with its own clean\n"
    "episodes on the same task and init state index. Success with 95% Wilson intervals; drop: clean minus\n"
    "perturbed in points with Newcombe's paired 95% interval. Swap probe: the instruction of another task of\n"
    "the same suite, success still judged on the scene's own task (a policy that reads its instruction drops)."
)


EMBODIED_NOTE = (
    "On the LIBERO episodes a policy and the teacher both ran (same init state and seed) on the same CPU and\n"
    "both solved: the teacher's mean and the policy's mean paired difference with its 95% t-interval, for\n"
    "steps to success, wall seconds per episode (workers share the CPU: compare within a run), end-effector\n"
    "path length and action jerk (mean norm of the third difference of the arm's 6-d action). The teacher's\n"
    "reference episodes are rerun on the students' machine into `results/embodied/` (`python -m bench.run\n"
    "--policy teacher --suite libero_spatial libero_object --episodes-per-task 10 --no-cost --out\n"
    "results/embodied`). See `bench/embodied.py`."
)


def _registered_sha1(policy: str, budget: float | None) -> str | None:
    """The fingerprint of a policy's registered default weights (None: no weights, or not on disk)."""
    from policies.registry import weights_sha1

    try:
        return weights_sha1(policy, budget=budget)
    except (KeyError, ValueError, OSError):
        return None


def eval_commands(df: pd.DataFrame, costs: dict[str, dict] | None = None) -> list[str]:
    """One ``bench.run`` command per recorded run configuration; runs that differ only in episode count
    or worker count (resumed extensions) collapse into the largest one, which regenerates them all; it
    measures the cost unless none of them did. ``costs`` (``cost/<label>.json`` by label) also counts:
    a cost-only rerun over recorded episodes writes a cost file but no episode."""
    costs = costs or {}
    largest: dict[tuple, dict] = {}
    costed: dict[tuple, bool] = {}  # --no-cost only where no run of the group measured the cost
    shas = df["weights_sha1"] if "weights_sha1" in df else [None] * len(df)
    for label, cfg, sha in zip(df["policy"], df["config"], shas, strict=True):
        if cfg.get("checkpoint") and sha is not None and sha == _registered_sha1(cfg["policy"], cfg.get("budget")):
            # weights since published as the policy's own checkpoint: the plain command reproduces them here
            cfg = {**cfg, "checkpoint": None, "out": "results"}
        where = (cfg.get("checkpoint"), cfg.get("out", "results"))  # a replicate: other weights, other folder
        # exec_steps: another execution horizon; instruction: a language probe
        run = (cfg["policy"], cfg.get("budget"), cfg.get("exec_steps"), cfg.get("instruction"))
        key = (*run, tuple(cfg["suites"]), tuple(cfg.get("tasks") or ()), where)
        # cost runs probe the first suite; cost/<label>.json is the main run's, not a replicate's (other --out)
        measured = where[1] == "results" and costs.get(label, {}).get("suite") == cfg["suites"][0]
        costed[key] = costed.get(key, False) or cfg.get("cost", True) or measured
        if key not in largest or cfg["episodes_per_task"] > largest[key]["episodes_per_task"]:
            largest[key] = cfg
    out = []
    for key, cfg in largest.items():
        parts = ["python -m bench.run", f"--policy {cfg['policy']}"]
        if cfg.get("budget") is not None:
            parts.append(f"--budget {cfg['budget']:g}")
        if cfg.get("exec_steps") is not None:
            parts.append(f"--exec-steps {cfg['exec_steps']}")
        if cfg.get("instruction"):
            parts.append(f"--instruction {cfg['instruction']}")
        parts.append("--suite " + " ".join(cfg["suites"]))
        if cfg.get("tasks") is not None:
            parts.append("--tasks " + " ".join(map(str, cfg["tasks"])))
        parts.append(f"--episodes-per-task {cfg['episodes_per_task']} --workers {cfg['workers']}")
        if cfg.get("checkpoint"):
            parts.append(f"--checkpoint {cfg['checkpoint']}")
        if cfg.get("out", "results") != "results":
            parts.append(f"--out {cfg['out']}")
        if not costed[key]:
            parts.append("--no-cost")
        out.append(" ".join(parts))
    return out


def _train_command(t: dict) -> str:
    tc, m = t["train_config"], t["train_config"]["model"]
    cmd = (
        f"python -m policies.train --suite {' '.join(tc['suites'])} --steps {tc['steps']} "
        f"--batch-size {tc['batch_size']} --num-layers {m['num_layers']}"
    )
    if tc.get("features", "data/features") != "data/features":  # another dataset (e.g. more demonstrations)
        cmd += f" --features {tc['features']}"
    if tc.get("init"):  # fine-tuned from a saved teacher
        cmd += f" --init {tc['init']}" + (" --init-partial" if tc.get("init_partial") else "")
    if tc.get("lr", 3e-4) != 3e-4:
        cmd += f" --lr {tc['lr']:g}"
    if m.get("token_merge", 1) != 1:
        cmd += f" --token-merge {m['token_merge']}"
    if tc.get("finger_dropout"):
        cmd += f" --finger-dropout {tc['finger_dropout']:g}"
    if m.get("hidden_state"):  # proprio dims withheld from the policy
        cmd += " --hidden-state " + " ".join(map(str, m["hidden_state"]))
    if Path(tc["export"]).name != "teacher":
        cmd += f" --out {tc['out']} --export {tc['export']}"
    return cmd


def _distill_command(s: dict) -> str:
    cmd = f"python -m distill.run --method {s['method']} --budgets {s['student']['budget']:g} --steps {s['steps']}"
    if s.get("name", s["method"]) != s["method"]:
        cmd += f" --name {s['name']}"
    if s.get("graph"):
        cmd += f" --graph {s['graph']} --router {s['student']['router']['kind']} --relation {s['relation']}"
    if s.get("stage1_steps"):
        cmd += f" --stage1-steps {s['stage1_steps']}"
    if s.get("batch_size"):
        cmd += f" --batch-size {s['batch_size']}"
    if s.get("seed"):
        cmd += f" --seed {s['seed']}"
    if s.get("state_noise"):
        cmd += f" --state-noise {s['state_noise']:g}"
    if s.get("guidance", "constant") != "constant":
        cmd += f" --guidance {s['guidance']}"
    if s.get("tune", "all") != "all":
        cmd += f" --tune {s['tune']}" + (f" --lora-rank {s['lora_rank']}" if s.get("lora_rank") else "")
    for k, v in s.get("weights", {}).items():  # the loss weights an ablation changed
        cmd += f" --{k.replace('_', '-')} {v:g}"
    return cmd


def _wall(meta: dict) -> float:
    """A training record's wall seconds (``wall`` in a resume point's record)."""
    return meta.get("train_wall_s", meta.get("wall", 0.0))


def training_commands(root: Path, checkpoints: Path | None = None) -> list[str]:
    """Training commands from the run metadata in ``<root>/training/*.json`` (written by
    ``policies.train`` and ``distill.run``), else from the checkpoints' own metadata: the stored command
    where there is one (the students of one ``distill.run`` share it: one line, their minutes summed),
    else one rebuilt from the stored settings."""
    metas: dict[str, dict] = {}
    if checkpoints is not None:
        teacher = (checkpoints / "teacher").resolve()
        for path in [checkpoints / "teacher" / "train.json", *sorted((checkpoints / "students").glob("*/*.json"))]:
            if path.name in ("train.json", "student.json") and path.exists():
                meta = json.loads(path.read_text())
                if path.name == "student.json" and (path.parent / meta["teacher"]).resolve() != teacher:
                    continue  # derived from another (retired) teacher: not a command of these results
                metas[path.parent.name] = meta
    for path in sorted((root / "training").glob("*.json")):
        metas[path.stem] = json.loads(path.read_text())
    rows: list[list] = []  # [command, wall seconds]
    stored: dict[str, list] = {}  # a stored command's row
    seen: set[tuple[str, float]] = set()
    for name in sorted(metas, key=lambda n: (n != "teacher", n)):
        meta, cmd = metas[name], metas[name].get("command")
        if cmd is not None and (cmd, _wall(meta)) in seen:
            continue  # the same record twice (a checkpoint's own copy of its run's training record)
        seen.add((cmd, _wall(meta)))
        if cmd in stored:  # another budget of the same run
            stored[cmd][1] += _wall(meta)
            continue
        line = cmd or (_train_command(meta) if "train_config" in meta else _distill_command(meta))
        rows.append([line, _wall(meta)])
        if cmd:
            stored[cmd] = rows[-1]
    return [f"{cmd}   # {wall / 60:.0f} min" for cmd, wall in rows]


def write_readme(
    root: Path, df: pd.DataFrame, tables: dict[str, pd.DataFrame], checkpoints: Path, costs: dict[str, dict]
) -> Path:
    plots = sorted(p.name for p in (root / "plots").glob("*.png"))
    lines = [
        "# Results",
        "",
        "Generated by `python -m bench.report` from the episode records in `episodes/` and the cost files in",
        "`cost/`. Success: successes / episodes with the 95% Wilson interval and n. Latency: median per call at",
        "batch 1 on this CPU (2 threads), measured in the same process as the teacher, whose figure is in",
        "parentheses; speedups are ratios of those medians. Layers run: realised fraction over the evaluation",
        "episodes. FLOPs: `torch.utils.flop_counter.FlopCounterMode` on one real call. Cost code: the commit",
        "whose inference code measured the latency (`unrecorded`: measured before cost files recorded it;",
        "speedups from different code are not comparable to the last digit). Paired comparisons (vs teacher,",
        "vs ActDistill): success difference in points on the LIBERO episodes both policies ran (same init",
        "states and seeds) with Newcombe's paired 95% interval.",
        "",
    ]
    for name, table in tables.items():
        title = (
            "Main table"
            if name == "main"
            else f"Ablation at budget {name.removeprefix('ablation_b')}"
            if name.startswith("ablation_b")
            else f"Training-seed replicates at budget {name.removeprefix('seeds_b')} (episodes every row ran)"
            if name.startswith("seeds_b")
            else "Robustness (LIBERO-PRO suites and language probes, paired with the clean suite)"
            if name == "robustness"
            else "Embodied efficiency (solved LIBERO episodes, paired with the teacher)"
            if name == "embodied"
            else "Failure modes"
        )
        lines += [f"## {title}", "", *([FAILURES_NOTE, ""] if name == "failures" else [])]
        lines += [ROBUSTNESS_NOTE, ""] if name == "robustness" else []
        lines += [EMBODIED_NOTE, ""] if name == "embodied" else []
        lines += [to_markdown(table), f"Files: `tables/{name}.md|tex|csv`.", ""]
    lines += [
        "## Commands",
        "",
        "Evaluation (rerun skips recorded episodes; `rm -r results/episodes/<policy>` to redo):",
        "",
    ]
    lines += ["```", *eval_commands(df, costs), "python -m bench.report", "```", ""]
    train = training_commands(root, checkpoints)
    if train:
        lines += [
            "Training (wall time on this 2-core CPU, some runs sharing it with other jobs). Committed: the teacher and",
            "the ActDistill students; the baselines' weights are regenerated by their commands.",
            "",
            "```",
            *train,
            "```",
            "",
        ]
    if plots:
        lines += ["## Plots", ""] + [f"![{p[:-4]}](plots/{p})" for p in plots] + [""]
    path = root / "README.md"
    path.write_text("\n".join(lines))
    return path
