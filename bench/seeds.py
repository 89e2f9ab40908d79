"""Training-seed replicates: a method retrained with another seed, evaluated on the same episodes.

A replicate's records live in ``results/seeds/<run>_s<seed>/episodes/`` (``python -m bench.run
--checkpoint <its weights> --out results/seeds/<run>_s<seed> ...``) under the policy label of the run it
replicates (``student_b0.25``, ``nograph_b0.25``); the records in ``results/episodes/`` are training
seed 0. ``seed_tables`` puts each method's seeds side by side on the LIBERO episodes every row ran
(same suite, task, init state and env seed), with paired gaps to ActDistill trained with the same seed
and to the same method's seed 0.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from bench.records import policy_fields, policy_label, read_records
from bench.tables import (
    LIBERO,
    METHOD_NAMES,
    paired_gap,
    policy_order,
    pooled_libero,
    rate_cell,
    suite_rates,
)

RUN_DIR = re.compile(r"^(?P<run>[A-Za-z0-9_]+)_s(?P<seed>\d+)$")
KEY = ["suite", "task_id", "init_state", "seed"]


def load_replicates(root: Path) -> pd.DataFrame:
    """Episode records under ``<root>/seeds/<run>_s<seed>/``, with a ``train_seed`` column."""
    frames = []
    for d in sorted((root / "seeds").glob("*")):
        m = RUN_DIR.match(d.name)
        rows = [r for p in sorted(d.glob("episodes/*/*.jsonl")) for r in read_records(p)] if m else []
        if rows:
            frames.append(pd.DataFrame(rows).assign(train_seed=int(m["seed"])))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _common(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the episodes (KEY) that every tagged policy ran."""
    sets = [set(map(tuple, g[KEY].to_numpy().tolist())) for _, g in df.groupby("tag")]
    keep = set.intersection(*sets) if sets else set()
    return df[[tuple(k) in keep for k in df[KEY].to_numpy().tolist()]]


def seed_tables(main: pd.DataFrame, reps: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{"seeds_b<B>": table}`` for each budget with a replicate: per method and training seed, success
    per LIBERO suite and pooled, and the paired gaps (points, Newcombe 95%, n)."""
    if reps.empty:
        return {}
    fields = {r["policy"]: policy_fields(r) for r in reps.drop_duplicates("policy").to_dict("records")}
    out = {}
    for budget in sorted({f["budget"] for f in fields.values() if f["budget"] is not None}):
        labels = {p for p, f in fields.items() if f["budget"] == budget}
        df = pd.concat([main[main.policy.isin(labels)].assign(train_seed=0), reps[reps.policy.isin(labels)]])
        df = df[df.suite.str.startswith("libero")]
        df = _common(df.assign(tag=df.policy + "#s" + df.train_seed.astype(str)))
        by_tag = df.assign(policy=df.tag)  # the tables' helpers group by ``policy``
        rates = suite_rates(by_tag)
        cols = [c for c in LIBERO if c in set(rates.column)]
        pooled = pooled_libero(by_tag, cols).set_index("policy")
        ref = f"student_b{budget:g}"
        rows = []
        for label in policy_order(labels):
            for seed in sorted(df[df.policy == label].train_seed.unique()):
                tag = f"{label}#s{seed}"
                g = rates[rates.policy == tag].set_index("column")
                name = policy_label(**{**fields[label], "budget": None})  # the label without its budget
                row: dict = {"method": METHOD_NAMES.get(name, name), "training seed": int(seed)}
                row |= {c: rate_cell(g.loc[c]) if c in g.index else "" for c in cols}
                row["LIBERO pooled"] = rate_cell(pooled.loc[tag])
                same = f"{ref}#s{seed}"
                row["vs ActDistill, same seed"] = "" if label == ref else paired_gap(by_tag, tag, same)
                row["vs its seed 0"] = paired_gap(by_tag, tag, f"{label}#s0") if seed else ""
                rows.append(row)
        out[f"seeds_b{budget:g}"] = pd.DataFrame(rows)
    return out
