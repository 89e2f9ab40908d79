"""Paper-style tables and plots from the per-episode records in ``results/``.

Usage:
    python -m bench.report            # reads results/episodes/*/*.jsonl, results/cost/*.json, results/profiles

Writes ``results/tables/main.{md,tex,csv}`` (method x suite success with 95% Wilson intervals and episode
counts, LIBERO average, layers run, FLOPs per call, latency, speedup vs teacher),
``results/tables/ablation_b<B>.{md,tex,csv}`` (every routed policy at budget B, for each budget where a
baseline was evaluated beside ActDistill), ``results/tables/seeds_b<B>.{md,tex,csv}`` (training-seed
replicates under ``results/seeds/``, see ``bench.seeds``), ``results/tables/failures.{md,tex,csv}`` (stalled
vs moving failures, for the episodes recorded with ``still_steps_at_end``, see ``bench.failures``),
``results/tables/embodied.{md,tex,csv}`` (steps, wall time, end-effector path and action jerk of solved
episodes, paired with the teacher, see ``bench.embodied``), ``results/tables/robustness.{md,tex,csv}``
(LIBERO-PRO suites and language probes against the clean suite,
paired, see ``bench.robustness``), ``results/tables/rates.csv``, ``results/README.md`` and
``results/plots/*.png|pdf`` (success vs trunk FLOPs and vs speedup, robustness drop vs FLOPs, routing heat
maps, the teacher's per-layer action-change profile).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from bench import plots, robustness
from bench.embodied import REFERENCE as EMBODIED_REFERENCE
from bench.embodied import embodied_table
from bench.expert_report import write_expert
from bench.readme import write_readme
from bench.records import read_records
from bench.seeds import load_replicates, seed_tables
from bench.tables import (
    ablation_table,
    failure_modes,
    main_table,
    split_label,
    suite_rates,
    to_latex,
    to_markdown,
)


def load_episodes(root: Path, pattern: str = "episodes/*/*.jsonl") -> pd.DataFrame:
    rows = [r for p in sorted(root.glob(pattern)) for r in read_records(p)]
    return pd.DataFrame(rows)


EPISODE_KEY = ["policy", "suite", "task_id", "init_state", "seed"]


def failure_records(root: Path, df: pd.DataFrame) -> pd.DataFrame:
    """The episodes for the failure-mode table: the evaluation records plus the traced diagnostic
    reruns under ``diagnostics/*/episodes.jsonl`` (reruns of committed checkpoints on the same init
    states, made to record ``still_steps_at_end`` that older evaluation records lack); an episode
    recorded more than once counts once, from the last record that holds the field."""
    diag = load_episodes(root, "diagnostics/*/episodes.jsonl")
    both = pd.concat([df, diag], ignore_index=True)
    if "still_steps_at_end" not in both:
        return both
    both = both[both["still_steps_at_end"].notna()]
    return both.drop_duplicates(EPISODE_KEY, keep="last")


def load_costs(root: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(root.glob("cost/*.json"))}


def ablation_budgets(df: pd.DataFrame) -> list[float]:
    """Budgets at which at least one routed policy other than ActDistill was evaluated."""
    labels = [split_label(p) for p in df.policy.unique()]
    return sorted({b for name, b in labels if b is not None and name != "student"})


def _write_table(table: pd.DataFrame, folder: Path, name: str) -> None:
    table.to_csv(folder / f"{name}.csv", index=False)
    (folder / f"{name}.md").write_text(to_markdown(table))
    (folder / f"{name}.tex").write_text(to_latex(table))


def prune(folders: list[Path], since: float) -> list[Path]:
    """Deletes the files of ``folders`` not written since ``since`` (a policy's records went away: its plots
    and tables must go with them); returns them."""
    stale = [f for d in folders if d.is_dir() for f in sorted(d.iterdir()) if f.is_file() and f.stat().st_mtime < since]
    for f in stale:
        f.unlink()
    return stale


def write(
    root: Path, budget: float = 0.5, heatmap_policy: str | None = None, checkpoints: Path = Path("checkpoints")
) -> dict[str, pd.DataFrame]:
    """Writes every table, plot and results/README.md, deletes the tables and plots it no longer
    writes; returns the tables."""
    start = time.time() - 1.0
    every = load_episodes(root)
    if every.empty:
        raise SystemExit(f"error: no episode records under {root}/episodes; run python -m bench.run first")
    df, robust = robustness.split(every)  # perturbed suites and language probes: the robustness table only
    costs = load_costs(root)
    folder = root / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    tables = {"main": main_table(df, costs)}
    for b in ablation_budgets(df):
        tables[f"ablation_b{b:g}"] = ablation_table(df, costs, b)
    reps = load_replicates(root)
    tables |= seed_tables(df, reps)
    if not (fails := failure_modes(failure_records(root, df))).empty:
        tables["failures"] = fails
    reference = load_episodes(root, f"{EMBODIED_REFERENCE}/episodes/*/*.jsonl")
    if not (emb := embodied_table(pd.concat([df, reference], ignore_index=True))).empty:
        tables["embodied"] = emb
    drops = robustness.drops(robustness.pairs(df, robust))
    if not drops.empty:
        tables["robustness"] = robustness.robustness_table(drops)
        drops.drop(columns=["clean_ci", "perturbed_ci"]).to_csv(folder / "robustness_drops.csv", index=False)
    for name, t in tables.items():
        _write_table(t, folder, name)
    suite_rates(df).to_csv(folder / "rates.csv", index=False, float_format="%.4f")
    figs = root / "plots"
    plots.success_vs_cost(df, costs, "trunk_flops_ratio", "trunk FLOPs per call / teacher's", figs, "success_vs_flops")
    plots.success_vs_cost(
        df, costs, "speedup_call", "whole-call speedup vs teacher (batch 1, CPU)", figs, "success_vs_speedup"
    )
    policy = heatmap_policy or f"student_b{budget:g}"
    if policy in set(df.policy):
        plots.routing_heatmaps(df, policy, figs)
    if not drops.empty:
        plots.robustness_vs_flops(drops, costs, figs)
    for profile in sorted((root / "profiles").glob("action_change_*.json")):
        plots.action_change_profile(profile, figs)
    for f in prune([folder, figs], start):
        print(f"removed stale {f}")
    runs = pd.concat([every, reps], ignore_index=True) if len(reps) else every
    write_readme(root, runs, tables, checkpoints, costs)
    write_expert(root)
    return tables


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", default="results")
    p.add_argument("--budget", type=float, default=0.5, help="budget of the routing heat maps")
    p.add_argument("--heatmap-policy", default=None, help="policy label for the routing heat maps")
    a = p.parse_args(argv)
    for name, table in write(Path(a.results), a.budget, a.heatmap_policy).items():
        print(f"## {name}\n\n{to_markdown(table)}")


if __name__ == "__main__":
    main()
