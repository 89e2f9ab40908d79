"""Paired comparison of two evaluation runs of a policy (e.g. a DAgger round against the teacher that drove it).

Usage:
    python -m bench.compare runs/eval_fb3000_r1 runs/eval_fb3000            # per suite
    python -m bench.compare runs/eval_fb3000_r1 runs/eval_fb3000 --per-task --out docs/dagger_r1.md

Reads ``<run>/episodes/<policy>/<suite>.jsonl`` of both runs and pairs the episodes both ran (same suite,
task, init state and seed: ``bench.run`` gives an episode the same seed in every run). Prints, per suite
(and per task with ``--per-task``), both success rates with their 95% Wilson intervals, the difference in
points with Newcombe's paired 95% interval, and the discordant pairs (+ solved only by A, - only by B).
An episode that ended in an error counts as a failure, as in ``bench.report``. Refuses runs whose
episodes were rendered on different render paths (face budgets included) or run with the same weights,
unless ``--across-render-paths``: then each run must hold one render path, and the header names both (a
policy compared on the path its weights were trained for against another on its own, e.g. two teachers).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from bench.metrics import format_rate
from bench.records import read_records
from bench.tables import format_gap, to_markdown
from envs.render import RenderSettings

KEY = ["suite", "task_id", "init_state", "seed"]


def load_run(run: str | Path, policy: str = "teacher") -> pd.DataFrame:
    """One row per finished episode of ``policy`` in ``run``: the pairing key, success, render path and weights."""
    folder = Path(run) / "episodes" / policy
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        for r in read_records(path):
            rows.append(
                {
                    **{k: r[k] for k in KEY},
                    "success": bool(r.get("success")) and not r.get("error"),
                    "render_path": RenderSettings.from_record(r["env"]).label(),
                    "weights": r.get("weights_sha1") or r.get("config", {}).get("weights_sha1"),
                }
            )
    if not rows:
        raise FileNotFoundError(f"no episode records of {policy!r} under {folder}")
    return pd.DataFrame(rows).drop_duplicates(KEY, keep="last")


def render_path(run: pd.DataFrame) -> str:
    """The one render path of a run's episodes (ValueError if it holds several)."""
    paths = sorted(map(str, set(run.render_path)))
    if len(paths) > 1:
        raise ValueError(f"one run holds episodes of several render paths {paths}")
    return paths[0]


def paired(a: pd.DataFrame, b: pd.DataFrame, across_render_paths: bool = False) -> pd.DataFrame:
    """The episodes both runs ran, with columns ``a`` and ``b`` (success); checks render paths and weights.
    ``across_render_paths``: A and B may each be on its own (single) render path."""
    if across_render_paths:
        render_path(a), render_path(b)
    else:
        paths = set(a.render_path) | set(b.render_path)
        if len(paths) > 1:
            raise ValueError(
                f"the runs were rendered on different render paths {sorted(map(str, paths))} "
                "(--across-render-paths pairs them anyway, each on its own path)"
            )
    if (set(a.weights) & set(b.weights)) - {None}:
        raise ValueError("both runs hold episodes of the same weights: nothing to compare")
    both = a[[*KEY, "success"]].merge(b[[*KEY, "success"]], on=KEY, how="inner", suffixes=("_a", "_b"))
    if both.empty:
        raise ValueError("the runs share no episode (suite, task, init state, seed)")
    return both.rename(columns={"success_a": "a", "success_b": "b"})


def table(pairs: pd.DataFrame, per_task: bool = False) -> pd.DataFrame:
    """One row per suite (or per suite and task): n, both rates, the paired difference and the discordant pairs."""
    by = ["suite", "task_id"] if per_task else ["suite"]
    rows = []
    for key, g in pairs.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                "n": len(g),
                "A": format_rate(int(g.a.sum()), len(g)),
                "B": format_rate(int(g.b.sum()), len(g)),
                "A - B (points)": format_gap(g.a, g.b),
                "+ / -": f"+{int((g.a & ~g.b).sum())} / -{int((g.b & ~g.a).sum())}",
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_a", help="run folder of A (the candidate)")
    p.add_argument("run_b", help="run folder of B (the reference)")
    p.add_argument("--policy", default="teacher", help="policy whose records both runs hold")
    p.add_argument("--per-task", action="store_true", help="one row per task as well")
    p.add_argument("--out", default="", help="also write the table(s) as Markdown to this file")
    p.add_argument(
        "--across-render-paths",
        action="store_true",
        help="pair runs rendered on different paths (each run on one path; the header names both)",
    )
    args = p.parse_args(argv)
    try:
        a, b = load_run(args.run_a, args.policy), load_run(args.run_b, args.policy)
        pairs = paired(a, b, args.across_render_paths)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    where = f"; render paths: A {render_path(a)}, B {render_path(b)}" if args.across_render_paths else ""
    parts = [
        f"A = {args.run_a}, B = {args.run_b} ({args.policy}), paired episodes{where}\n",
        to_markdown(table(pairs)),
    ]
    if args.per_task:
        parts += ["", to_markdown(table(pairs, per_task=True))]
    text = "\n".join(parts) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
