"""Per-task success of a run's records: the summary table printed by the CLIs and ``<out>/summary/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bench.failures import stalled
from bench.metrics import format_rate, rate_rows
from policies.paths import summary_dir


def summary_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per-task success counts with 95% Wilson intervals (one row per policy, suite and task)."""
    df = pd.DataFrame(records)
    frame = rate_rows(df, ["policy", "suite", "task_id"])
    first = df.groupby(["policy", "suite", "task_id"], sort=True)["instruction"].first().to_numpy()
    frame.insert(3, "instruction", first)
    if "still_steps_at_end" in df:  # bench.failures: failures whose arm stopped moving for good
        frame["stalled"] = stalled(df).groupby([df.policy, df.suite, df.task_id], sort=True).sum().to_numpy()
    return frame


def write_summary(cfg: Any, records: list[dict[str, Any]]) -> Path:
    """Writes ``<out>/summary/<policy>/<suite>.csv`` for each suite evaluated (``cfg``: the run's
    ``bench.evaluate.RunConfig``); returns the folder."""
    folder = summary_dir(cfg.out, cfg.label)
    folder.mkdir(parents=True, exist_ok=True)
    frame = summary_frame(records)
    for suite, g in frame.groupby("suite"):
        g.to_csv(folder / f"{suite}.csv", index=False, float_format="%.4f")
    return folder


def summary_table(records: list[dict[str, Any]]) -> str:
    """Per-task and overall success with 95% Wilson intervals (from ``summary_frame``)."""
    rows, frame = [], summary_frame(records)
    for suite in dict.fromkeys(r["suite"] for r in records):  # suites in the order they were asked for
        g = frame[frame.suite == suite]
        for r in g.itertuples():
            kinds = {k: getattr(r, f"errors_{k}") for k in ("policy", "simulator", "renderer")}
            detail = ", ".join(f"{k} {v}" for k, v in kinds.items() if v)
            errors = f"errors: {r.errors}" + (f" ({detail})" if detail else "") if r.errors else ""
            errors += f" stalled: {r.stalled}" if getattr(r, "stalled", 0) else ""
            rows.append(
                f"{suite:16s} {r.task_id:>4d}  {format_rate(r.successes, r.episodes):32s} {errors} {r.instruction[:70]}"
            )
        rows.append(f"{suite:16s}  all  {format_rate(int(g.successes.sum()), int(g.episodes.sum()))}")
    return "\n".join(rows)
