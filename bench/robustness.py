"""Robustness: success under LIBERO-PRO perturbations and language probes, paired with the clean suite.

A record is a robustness record when its suite perturbs a base suite (``envs.libero_pro.classify``:
``libero_spatial_with_mug`` perturbs ``libero_spatial``) or when it ran under a language probe
(``bench.run --instruction swap``). Each is paired with the same policy's clean record of the base suite
on the same task (the perturbed task's base task, ``envs.libero_pro.base_tasks``) and init state index.
The drop is clean minus perturbed success in points, with Newcombe's paired 95% interval.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from bench.metrics import paired_diff_ci, wilson
from bench.records import policy_fields, policy_label
from bench.tables import SUITE_NAMES, display, policy_order
from envs.libero_pro import classify

BaseTasks = Callable[[str], tuple[int | None, ...]]


def annotate(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with ``base_suite`` (the suite a perturbed suite perturbs; a clean suite's own name), ``kind``
    (perturbation kind or ``probe:<name>``) and ``clean_policy`` (the label of the same policy without a probe)."""
    out = df.copy()
    kinds = out["suite"].map(lambda s: classify(s)[:2])
    out["base_suite"] = [base or s for (_, base), s in zip(kinds, out["suite"], strict=True)]
    out["kind"] = [p.kind if base else None for p, base in kinds]
    fields = [policy_fields(r) for _, r in out.iterrows()]
    probes = [f["instruction_probe"] for f in fields]
    out["kind"] = [f"probe:{p}" if p else k for p, k in zip(probes, out["kind"], strict=True)]
    out["clean_policy"] = [policy_label(**{**f, "instruction_probe": None}) for f in fields]
    return out


def split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(clean records, robustness records): the main tables read only the first."""
    if df.empty:
        return df, df
    a = annotate(df)
    robust = a["kind"].notna()
    return df[~robust.to_numpy()], a[robust.to_numpy()]


def _default_base_tasks(suite: str) -> tuple[int | None, ...]:
    from envs.libero_pro import base_tasks

    return base_tasks(suite)


def pairs(clean: pd.DataFrame, robust: pd.DataFrame, base_tasks: BaseTasks = _default_base_tasks) -> pd.DataFrame:
    """One row per robustness episode that has a clean twin: policy, test, suite, task, init state, both outcomes."""
    if robust.empty or clean.empty:
        return pd.DataFrame()
    rows = []
    ref = clean.set_index(["policy", "suite", "task_id", "init_state"])["success"]
    ref = ref[~ref.index.duplicated(keep="last")]
    for _, r in robust.iterrows():
        suite, task = r.base_suite, r.task_id if r.base_suite == r.suite else base_tasks(r.suite)[r.task_id]
        if task is None:
            continue
        key = (r.clean_policy, suite, int(task), int(r.init_state))
        if key in ref.index:
            test = r.kind.removeprefix("probe:") + " instruction" if r.kind.startswith("probe:") else r.suite
            rows.append(
                {"policy": r.clean_policy, "test": test, "kind": r.kind, "base_suite": suite, "task_id": int(task),
                 "init_state": int(r.init_state), "clean": bool(ref[key]), "perturbed": bool(r.success),
                 "instructed": _flag(r.get("instructed_success"))}
            )  # fmt: skip
    return pd.DataFrame(rows)


def _flag(value: object) -> bool | None:
    """A record's ``instructed_success``: True/False, or None where it is absent or could not be read."""
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else bool(value)


def drops(paired: pd.DataFrame) -> pd.DataFrame:
    """Per policy and test: n, clean and perturbed success with Wilson intervals, the drop with its paired interval."""
    rows = []
    if paired.empty:
        return pd.DataFrame()
    for (policy, base, test, kind), g in paired.groupby(["policy", "base_suite", "test", "kind"], sort=True):
        n, c, p = len(g), int(g.clean.sum()), int(g.perturbed.sum())
        d, lo, hi = paired_diff_ci(g.clean.tolist(), g.perturbed.tolist())
        told = g.instructed.dropna()  # episodes whose scene could tell (``_flag``: True, False or None)
        rows.append(
            {"policy": policy, "base_suite": base, "test": test, "kind": kind, "episodes": n,
             "clean": c / n, "clean_ci": wilson(c, n), "perturbed": p / n, "perturbed_ci": wilson(p, n),
             "drop": d, "drop_low": lo, "drop_high": hi, "instructed": int(told.sum()), "instructed_n": len(told)}
        )  # fmt: skip
    return pd.DataFrame(rows)


def robustness_table(d: pd.DataFrame) -> pd.DataFrame:
    """The report's table: one row per policy and test (policies in table order), success clean vs perturbed
    and the drop in points."""
    rank = {p: i for i, p in enumerate(policy_order(d.policy.unique()))}
    d = d.sort_values(["policy", "base_suite", "test"], key=lambda c: c.map(rank) if c.name == "policy" else c)

    def cell(rate: float, ci: tuple[float, float]) -> str:
        return f"{100 * rate:.1f} [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]"

    out = [
        {
            "policy": display(r.policy),
            "suite": SUITE_NAMES.get(r.base_suite, r.base_suite),
            "test": r.test,
            "n": int(r.episodes),
            "clean": cell(r.clean, r.clean_ci),
            "perturbed": cell(r.perturbed, r.perturbed_ci),
            "drop (points)": f"{100 * r.drop:+.1f} [{100 * r.drop_low:+.1f}, {100 * r.drop_high:+.1f}]",
            # the swap probe: episodes in which the *instructed* task's goal held (of those whose scene can tell)
            "did as told": f"{r.instructed}/{r.instructed_n}" if getattr(r, "instructed_n", 0) else "",
        }
        for r in d.itertuples()
    ]
    return pd.DataFrame(out)
