"""Paper-style tables from episode records and cost files: main table and budget ablation."""

from __future__ import annotations

import pandas as pd

from bench.failures import failure_table
from bench.metrics import paired_diff_ci, rate_rows
from policies.registry import POLICIES

SUITE_NAMES = {
    "libero_spatial": "Spatial",
    "libero_object": "Object",
    "libero_goal": "Goal",
    "libero_10": "Long",
    "robosuite": "robosuite",
}
COLUMNS = ["Spatial", "Object", "Goal", "Long", "Lift", "Stack", "PickPlaceCan"]
LIBERO = ["Spatial", "Object", "Goal", "Long"]
# policies no longer registered whose results a report may still read: name -> (the name it follows, table name)
RETIRED = {"teacher_big": ("teacher_obj50", "Teacher VLA fine-tuned on 80-120 demos for its weak tasks")}


def method_names() -> dict[str, str]:
    """The table name of every registered policy (its ``PolicySpec.display_name``) in registration order,
    which is the tables' row order, with the retired policies in their old places."""
    names: dict[str, str] = {}
    for name, spec in POLICIES.items():
        names[name] = spec.display_name
        names |= {r: d for r, (after, d) in RETIRED.items() if after == name}
    return names


METHOD_NAMES = method_names()  # ``import bench`` has registered every policy (``distill``'s too) by now


def split_label(label: str) -> tuple[str, float | None]:
    """``"student_b0.5"`` -> ("student", 0.5); ``"teacher"`` -> ("teacher", None)."""
    name, sep, budget = label.rpartition("_b")
    if sep and name:
        try:
            return name, float(budget)
        except ValueError:
            pass
    return label, None


def split_exec(name: str) -> tuple[str, int | None]:
    """``"teacher_x4"`` -> ("teacher", 4): a policy run with ``bench.run --exec-steps 4``."""
    base, sep, steps = name.rpartition("_x")
    return (base, int(steps)) if sep and base and steps.isdigit() else (name, None)


def display(label: str) -> str:
    name, budget = split_label(label)
    name, steps = split_exec(name)
    base = METHOD_NAMES.get(name, name) + (f", replanning every {steps} steps" if steps else "")
    return base if budget is None else f"{base} @ {budget:g}"


def table_column(df: pd.DataFrame) -> pd.Series:
    """The table column of each record: the LIBERO suite's short name; robosuite split by task."""
    col = df["suite"].map(SUITE_NAMES).fillna(df["suite"])
    is_rs = df["suite"] == "robosuite"
    col[is_rs] = df.loc[is_rs, "task_id"].map({0: "Lift", 1: "Stack", 2: "PickPlaceCan"})
    return col


def suite_rates(df: pd.DataFrame) -> pd.DataFrame:
    """One row per policy and table column (LIBERO suites; robosuite split by task), from ``rate_rows``."""
    df = df.copy()
    df["column"] = table_column(df)
    return rate_rows(df, ["policy", "column"])


def failure_modes(df: pd.DataFrame) -> pd.DataFrame:
    """``bench.failures.failure_table`` in table order with display names; empty without the records' field."""
    t = failure_table(df, table_column)
    if t.empty:
        return t
    rank = {p: i for i, p in enumerate(policy_order(t.policy.unique()))}
    t = t.sort_values(["policy", "column"], key=lambda s: s.map(rank) if s.name == "policy" else s)
    return t.assign(policy=t.policy.map(display)).rename(columns={"column": "suite"}).reset_index(drop=True)


def pooled_libero(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per policy: all episodes of the given LIBERO columns pooled (successes, episodes, interval)."""
    d = df.copy()
    d["column"] = d["suite"].map(SUITE_NAMES)
    d = d[d["column"].isin(columns)]
    return rate_rows(d, ["policy"]) if len(d) else pd.DataFrame()


def rate_cell(r: pd.Series) -> str:
    lo, hi = 100 * r.ci95_low, 100 * r.ci95_high
    return f"{100 * r.success_rate:.1f} [{lo:.0f}, {hi:.0f}] (n={int(r.episodes)})"


def policy_order(labels) -> list[str]:
    rank = {"expert": 0, "teacher": 1, "student": 2}
    names = list(METHOD_NAMES)

    def key(label: str):
        name, budget = split_label(label)
        name = split_exec(name)[0]
        group = 1 if name.startswith("teacher") else rank.get(name, 3)  # retrained teachers beside the teacher
        return (group, names.index(name) if name in names else 99, -(budget or 0), label)

    return sorted(labels, key=key)


def _paired(df: pd.DataFrame, policy: str, ref: str) -> tuple[pd.Series, pd.Series]:
    """Success of ``policy`` and ``ref`` on the LIBERO episodes both ran (same suite, task, init state, seed)."""
    key = ["suite", "task_id", "init_state", "seed"]
    lib = df[df.suite.str.startswith("libero")]
    a = lib[lib.policy == policy].set_index(key)["success"]
    b = lib[lib.policy == ref].set_index(key)["success"]
    common = a.index.intersection(b.index)
    return a.loc[common].astype(bool), b.loc[common].astype(bool)


def format_gap(a: pd.Series, b: pd.Series) -> str:
    """``"+4.2 [-1.0, +9.5]"``: difference in points with Newcombe's paired 95% interval."""
    d, lo, hi = paired_diff_ci(a.tolist(), b.tolist())
    return f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def paired_vs_teacher(df: pd.DataFrame, policy: str) -> str:
    """On the LIBERO episodes both ran: ``"-6.0 [-9.9, -2.1]; +12 / -27 (500)"``, the difference in points
    with its paired 95% interval, a episodes only ``policy`` solved and b only the teacher solved."""
    p, t = _paired(df, policy, "teacher")
    if policy == "teacher" or p.empty:
        return ""
    return f"{format_gap(p, t)}; +{int((p & ~t).sum())} / -{int((t & ~p).sum())} ({len(p)})"


def paired_gap(df: pd.DataFrame, policy: str, ref: str) -> str:
    """Success of ``policy`` minus that of ``ref`` on the LIBERO episodes both ran, with the paired 95%
    interval: ``"+4.2 [-1.0, +9.5] (n=60)"``."""
    a, b = _paired(df, policy, ref)
    return f"{format_gap(a, b)} (n={len(a)})" if len(a) else ""


def speedup(c: dict, part: str) -> str:
    """``"1.40x"``, with the 95% interval over timing rounds where the cost file has one: ``"1.40x [1.35, 1.46]"``."""
    ci = c.get(f"speedup_{part}_ci")
    return f"{c[f'speedup_{part}']:.2f}x" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def layers_run(df: pd.DataFrame, policy: str, cost: dict) -> str:
    """Fraction of trunk layers run over all model calls of the policy's episode records (``keeps``); without
    them, the mean of the episodes' ``layer_fraction``; the cost file's figure only for records that lack both."""
    g = df[df.policy == policy]
    calls = [k for ks in g["keeps"] if isinstance(ks, list) for k in ks] if "keeps" in g else []
    if calls:
        return f"{sum(k.count('1') for k in calls) / sum(len(k) for k in calls):.2f}"
    if "layer_fraction" in g and g["layer_fraction"].notna().any():
        return f"{g['layer_fraction'].mean():.2f}"
    return f"{cost['layer_fraction']:.2f}" if "layer_fraction" in cost else ("1.00" if cost else "")


def main_table(df: pd.DataFrame, costs: dict[str, dict]) -> pd.DataFrame:
    """Method x suite success (95% Wilson, n), LIBERO average, FLOPs, latency and speedups.

    Columns are the suites a teacher was evaluated on; "paired vs teacher": on the LIBERO episodes both
    ran (same init states and seeds), the success difference in points with Newcombe's paired 95%
    interval, then the episodes only this policy solved / only the teacher solved; latency is the median per
    call measured in the same process as the teacher (teacher's in parentheses); speedups are ratios
    of those medians.
    """
    rates = suite_rates(df)
    # the suites a teacher was evaluated on (``teacher``, and ``teacher_gl`` for LIBERO-Goal and -10)
    have = set(rates[rates.policy.str.startswith("teacher")].column) or set(rates.column)
    cols = [c for c in COLUMNS if c in have]
    out = []
    for policy in policy_order(rates.policy.unique()):
        g = rates[rates.policy == policy].set_index("column")
        row: dict = {"policy": display(policy)}
        for c in cols:
            row[c] = rate_cell(g.loc[c]) if c in g.index else ""
        lib, every = [c for c in cols if c in LIBERO and c in g.index], [c for c in cols if c in LIBERO]
        avg = f"{100 * g.loc[lib].success_rate.mean():.1f}" if lib else ""
        # a row with fewer LIBERO suites than the table (a teacher of some suites only) says over how many
        row["LIBERO avg"] = avg if len(lib) == len(every) or not lib else f"{avg} ({len(lib)} of {len(every)})"
        row["paired vs teacher"] = paired_vs_teacher(df, policy)
        c = costs.get(policy, {})
        row["layers run"] = layers_run(df, policy, c)
        call, trunk = c.get("gflops_call_mean", c.get("gflops_call")), c.get("gflops_trunk_mean", c.get("gflops_trunk"))
        row["GFLOPs call / trunk"] = f"{call:.2f} / {trunk:.2f}" if c else ""
        if "speedup_call" in c:
            row["latency ms (teacher)"] = f"{c['call_ms']:.1f} ({c['teacher_call_ms']:.1f})"
            row["speedup call / trunk"] = f"{speedup(c, 'call')} / {speedup(c, 'trunk')}"
        else:
            row["latency ms (teacher)"] = f"{c['call_ms']:.1f}" if "call_ms" in c else ""
            row["speedup call / trunk"] = "1.00x / 1.00x" if policy == "teacher" else ""
        out.append(row)
    return pd.DataFrame(out)


def ablation_table(df: pd.DataFrame, costs: dict[str, dict], budget: float = 0.5) -> pd.DataFrame:
    """Every routed policy at one budget: success per LIBERO suite and pooled, cost, and the gap to
    ActDistill on the episodes both ran (same init states and seeds)."""
    df = df[df.policy.map(lambda p: split_label(p)[1] == budget)]
    if df.empty:
        return pd.DataFrame()
    rates = suite_rates(df)
    cols = [c for c in LIBERO if c in set(rates.column)]
    pooled = pooled_libero(df, cols).set_index("policy")
    ref = f"student_b{budget:g}"
    out = []
    for policy in policy_order(rates.policy.unique()):
        g = rates[rates.policy == policy].set_index("column")
        row: dict = {"method": display(split_label(policy)[0])}
        for c in cols:
            row[c] = rate_cell(g.loc[c]) if c in g.index else ""
        p = pooled.loc[policy]
        row["LIBERO pooled"] = rate_cell(p)
        row["vs ActDistill, same episodes (points)"] = "" if policy == ref else paired_gap(df, policy, ref)
        c = costs.get(policy, {})
        row["layers run"] = layers_run(df, policy, c) if "layer_fraction" in c or "keeps" in df else ""
        row["trunk FLOPs"] = f"{100 * c['trunk_flops_ratio']:.0f}%" if "trunk_flops_ratio" in c else ""
        row["speedup trunk"] = speedup(c, "trunk") if "speedup_trunk" in c else ""
        row["speedup call (bound)"] = f"{speedup(c, 'call')} ({c['amdahl_bound']:.2f}x)" if "speedup_call" in c else ""
        code = c.get("code")  # timings depend on the inference code, not only the weights
        short = (code[:7] + ("+dirty" if code.endswith("+dirty") else "")) if code else "unrecorded"
        row["cost code"] = short if c else ""
        out.append(row)
    return pd.DataFrame(out)


def to_markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for _, r in table.iterrows()]
    return "\n".join(lines) + "\n"


def _tex(s: str) -> str:
    return str(s).replace("\\", "\\textbackslash{}").replace("_", "\\_").replace("%", "\\%").replace("&", "\\&")


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs tabular."""
    cols = list(table.columns)
    lines = ["\\begin{tabular}{l" + "r" * (len(cols) - 1) + "}", "\\toprule", " & ".join(map(_tex, cols)) + " \\\\"]
    lines.append("\\midrule")
    lines += [" & ".join(_tex(r[c]) for c in cols) + " \\\\" for _, r in table.iterrows()]
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
