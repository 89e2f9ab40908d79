"""Train ActDistill students (or a baseline) at several routing budgets with one command.

Usage:
    python -m distill.run --budgets 0.25 0.5 0.75                      # ActDistill (DAG graph, hidden-state router)
    python -m distill.run --budgets 0.5 --graph token --router input --relation batch --name actdistill_authors
    python -m distill.run --budgets 0.5 --method nograph               # baselines: nograph truncate uniform random
    python -m distill.run --budgets 0.25 --name actdistill_nodistill --w-distill 0   # ablation: a term off
    python -m distill.run --budgets 0.25 --name actdistill_anneal --guidance anneal   # teacher terms fade out
    python -m distill.run --budgets 0.5 --name actdistill_io --tune io   # trunk matrices frozen: a 1.5 MB student
    python -m distill.run --budgets 0.5 --name actdistill_lora --tune lora   # + rank-16 deltas on them: 4 MB
Outputs: ``checkpoints/students/<name or method>_b<budget>/`` (student.safetensors + student.json), logs and
resumable checkpoints under ``runs/distill``; the per-layer action-change profile in
``runs/distill/profile_<name>_<graph>.json`` and ``results/profiles/action_change_<name>_<graph>.json``.
"""

from __future__ import annotations

import argparse

from distill.graph import GraphConfig
from distill.router import RouterConfig
from distill.train import GUIDANCE, LOSS_WEIGHTS, METHODS, TUNES, DistillConfig, ResumeMismatch, run
from policies.training import cli_command


def main(argv: list[str] | None = None) -> None:
    d = DistillConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budgets", type=float, nargs="+", default=d.budgets)
    p.add_argument("--method", default=d.method, help=f"one of {sorted(METHODS)}")
    p.add_argument("--name", default="", help="checkpoint name prefix (default: the method); e.g. a variant")
    p.add_argument("--graph", default=d.graph.kind, help="dag (ours) | token (the authors')")
    p.add_argument("--router", default=d.router.kind, help="hidden (gate per layer) | input (all gates at once)")
    p.add_argument("--relation", default=d.relation, help="depth (ours) | batch (the authors')")
    p.add_argument("--teacher", default=d.teacher)
    p.add_argument("--features", default=d.features)
    p.add_argument("--suite", dest="suites", nargs="+", default=d.suites)
    p.add_argument("--out", default=d.out)
    p.add_argument("--export", default=d.export)
    p.add_argument("--results", default=d.results, help="training records and action-change profiles go here")
    p.add_argument("--stage1-steps", type=int, default=d.stage1_steps)
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--device", default=d.device)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--state-noise", type=float, default=d.state_noise, help="proprio noise, x std (teacher: 0.1)")
    p.add_argument("--guidance", default=d.guidance, help=f"one of {sorted(GUIDANCE)}: teacher-term weighting")
    p.add_argument("--tune", default=d.tune, help="; ".join(f"{k}: {v}" for k, v in TUNES.items()))
    p.add_argument("--lora-rank", type=int, default=d.lora_rank, help="rank of the trunk deltas under --tune lora")
    for k in LOSS_WEIGHTS:  # 0 switches a term off (ablations)
        p.add_argument("--" + k.replace("_", "-"), type=float, default=getattr(d, k), help=f"default {getattr(d, k)}")
    a = p.parse_args(argv)
    try:
        cfg = DistillConfig(
            teacher=a.teacher,
            features=a.features,
            suites=a.suites,
            out=a.out,
            export=a.export,
            results=a.results,
            method=a.method,
            name=a.name,
            budgets=a.budgets,
            graph=GraphConfig(kind=a.graph),
            router=RouterConfig(kind=a.router),
            relation=a.relation,
            stage1_steps=a.stage1_steps,
            steps=a.steps,
            batch_size=a.batch_size,
            threads=a.threads,
            device=a.device,
            seed=a.seed,
            state_noise=a.state_noise,
            guidance=a.guidance,
            tune=a.tune,
            lora_rank=a.lora_rank,
            **{k: getattr(a, k) for k in LOSS_WEIGHTS},
        )
    except ValueError as e:
        p.error(str(e))
    try:
        run(cfg, command=cli_command("distill.run", argv))
    except ResumeMismatch as e:
        p.error(str(e))


if __name__ == "__main__":
    main()
