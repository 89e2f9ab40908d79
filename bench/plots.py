"""Report figures (PNG + PDF): success vs cost, routing heat maps, the teacher's action-change profile."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.tables import LIBERO, METHOD_NAMES, SUITE_NAMES, pooled_libero, split_label  # noqa: E402
from policies.registry import POLICIES  # noqa: E402

# the routed policies (students and baselines) in registration order: each its marker and one colour
MARKERS = {name: spec.marker for name, spec in POLICIES.items() if spec.routed}

# one colour per method: tab10, six dark tab20b shades, a tab20b red and two light tab20b tones (18 routed methods)
PALETTE = [f"C{i}" for i in range(10)] + [
    "#393b79",
    "#637939",
    "#843c39",
    "#7b4173",
    "#8c6d31",
    "#5254a3",
    "#d6616b",
    "#9c9ede",
    "#e7969c",
]


def _save(fig, folder: Path, name: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.pdf"]
    for p in paths:  # no creation date in the PDF: regenerating unchanged figures leaves git clean
        meta = {"CreationDate": None} if p.suffix == ".pdf" else None
        fig.savefig(p, dpi=150, bbox_inches="tight", metadata=meta)
    plt.close(fig)
    return paths


def success_vs_cost(df: pd.DataFrame, costs: dict[str, dict], x: str, xlabel: str, folder: Path, name: str):
    """Pooled LIBERO success (95% Wilson bars) of each routed policy against one cost figure; the
    teacher (band: its interval) and the expert as reference lines."""
    ran = df[df.policy == "teacher"] if (df.policy == "teacher").any() else df  # the suites the teacher ran
    cols = [c for c in LIBERO if c in set(ran.suite.map(SUITE_NAMES))]
    pooled = pooled_libero(df, cols).set_index("policy")
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for ref, style in (("teacher", "-"), ("expert", ":")):
        if ref in pooled.index:
            r = pooled.loc[ref]
            ax.axhline(
                100 * r.success_rate,
                color="k",
                ls=style,
                lw=1,
                label=f"{METHOD_NAMES[ref]} ({100 * r.success_rate:.0f}%)",
            )
            if ref == "teacher":
                ax.axhspan(100 * r.ci95_low, 100 * r.ci95_high, color="k", alpha=0.08, lw=0)
    seen = set()
    for label in pooled.index:
        method, budget = split_label(label)
        if budget is None or x not in costs.get(label, {}):
            continue
        r = pooled.loc[label]
        y = 100 * r.success_rate
        err = [[y - 100 * r.ci95_low], [100 * r.ci95_high - y]]
        color = PALETTE[list(MARKERS).index(method) % len(PALETTE)] if method in MARKERS else "0.5"
        ax.errorbar(
            costs[label][x],
            y,
            yerr=err,
            fmt=MARKERS.get(method, "o"),
            color=color,
            capsize=3,
            ms=6,
            label=None if method in seen else METHOD_NAMES.get(method, method),
        )
        seen.add(method)
        if method == "student":
            ax.annotate(f"b={budget:g}", (costs[label][x], y), textcoords="offset points", xytext=(6, -12), fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"success rate, LIBERO {' + '.join(cols)} pooled (%)")
    ax.set_ylim(0, 105)
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo, hi + 0.06 * (hi - lo))  # room for the budget labels right of the rightmost points
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), framealpha=0.9)  # outside: no point hidden
    return _save(fig, folder, name)


def _keeps(records: pd.DataFrame) -> list[np.ndarray]:
    return [np.array([[int(c) for c in k] for k in ks]) for ks in records["keeps"] if isinstance(ks, list) and ks]


def routing_heatmaps(df: pd.DataFrame, policy: str, folder: Path) -> list[Path]:
    """Layer x task (fraction of calls that ran each layer) and layer x call for one episode."""
    d = df[(df.policy == policy)]
    if "keeps" not in d or d["keeps"].isna().all():
        return []
    rows, names = [], []
    for (suite, task), g in d.groupby(["suite", "task_id"], sort=True):
        ks = _keeps(g)
        if ks:
            rows.append(np.concatenate(ks).mean(0))
            names.append(f"{SUITE_NAMES.get(suite, suite)} {task}")
    m = np.array(rows)
    fig, ax = plt.subplots(figsize=(6.4, 0.25 * len(names) + 1.6))
    im = ax.imshow(m, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xticks(range(m.shape[1]), [str(i) for i in range(m.shape[1])], fontsize=8)
    ax.set_xlabel("trunk layer")
    ax.set_title(f"{policy}: fraction of calls that run each layer", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    paths = _save(fig, folder, f"routing_tasks_{policy}")
    # one episode: the longest successful one of the first task (most calls, so most to see)
    g = d[d.success.astype(bool)] if d.success.any() else d
    ep = g.loc[g["keeps"].map(lambda k: len(k) if isinstance(k, list) else 0).idxmax()]
    k = _keeps(pd.DataFrame([ep]))[0]
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    ax.imshow(k.T, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xlabel(f"policy call (every {8} env steps)")
    ax.set_ylabel("trunk layer")
    ax.set_title(
        f"{policy}, {SUITE_NAMES.get(ep.suite, ep.suite)} task {ep.task_id} init {ep.init_state} "
        f"({'success' if ep.success else 'failure'}): black = layer run",
        fontsize=8,
    )
    return paths + _save(fig, folder, f"routing_episode_{policy}")


def action_change_profile(path: Path, folder: Path) -> list[Path]:
    """How far each teacher layer moves the action decoded by the per-depth probes (stage 1)."""
    p = json.loads(path.read_text())
    change, err = np.array(p["action_change"]), np.array(p["probe_l1_per_depth"])
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.bar(np.arange(len(change)), change, color="C0", label="action change by the layer")
    ax.set_xlabel("trunk layer")
    ax.set_ylabel("mean |Δ action| (normalised)")
    ax2 = ax.twinx()
    ax2.plot(np.arange(len(err)) - 0.5, err, "C3.-", label="probe L1 to demo action (between layers; left: input)")
    ax2.set_ylabel("probe L1 (normalised)", color="C3")
    ax.set_xticks(range(len(change)))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right")
    run = ", ".join(str(x) for x in (p.get("name"), p.get("seed") is not None and f"seed {p['seed']}") if x)
    probes = f"{p['graph']} graph probes" + (f", {run}" if run else "")
    ax.set_title(f"teacher: per-layer action-change profile ({probes})", fontsize=9)
    return _save(fig, folder, f"action_change_profile_{path.stem.removeprefix('action_change_')}")


def robustness_vs_flops(d: pd.DataFrame, costs: dict[str, dict], folder: Path, name: str = "robustness_vs_flops"):
    """Success drop (clean minus perturbed, points, paired 95% interval) of each policy against its trunk
    FLOPs per call relative to the teacher's; one colour per robustness test (suite and perturbation)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    tests = sorted({(r.base_suite, r.test) for r in d.itertuples()})
    for i, (base, test) in enumerate(tests):
        g = d[(d.base_suite == base) & (d.test == test)]
        xs, ys, lo, hi = [], [], [], []
        for r in g.itertuples():
            c = costs.get(r.policy, {})
            x = c.get("trunk_flops_ratio", 1.0 if r.policy == "teacher" else None)
            if x is None:
                continue
            xs.append(x)
            ys.append(100 * r.drop)
            lo.append(100 * (r.drop - r.drop_low))
            hi.append(100 * (r.drop_high - r.drop))
        if xs:
            label = f"{SUITE_NAMES.get(base, base)}: {test.removeprefix(base + '_')}"
            off = (i - (len(tests) - 1) / 2) * 0.01  # side by side where policies share a FLOPs ratio
            ax.errorbar(np.add(xs, off), ys, yerr=[lo, hi], fmt="o", color=PALETTE[i % len(PALETTE)], capsize=3,
                        ms=5, label=label)  # fmt: skip
    ax.axhline(0, color="k", lw=1)
    ax.set_xlabel("trunk FLOPs per call / teacher's")
    ax.set_ylabel("success drop under the test (points, clean - perturbed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), framealpha=0.9)
    return _save(fig, folder, name)
