"""``results/expert.md``: the scripted expert's success per suite and task, written from its episode records.

``bench.report`` calls ``write_expert``; each suite's block is the table ``bench.run`` prints
(``bench.summary.summary_table``), headed by the command that reproduces its records and followed by
the reason of every task that ended in an error (a goal the expert has no strategy for).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from bench.records import read_records
from bench.summary import summary_table

SUITE_ORDER = ["libero_spatial", "libero_object", "libero_goal", "libero_10", "robosuite"]
HEADER = """# Scripted expert success (privileged state)

Written by `python -m bench.report` from the per-episode records in `results/episodes/expert/` (per-task
CSVs in `results/summary/expert/`); each block shows the command that produced its records. Episode k of a
task starts from LIBERO's official init state k (robosuite: layout seed k); 95% Wilson intervals. A task
with errors has a goal the expert has no strategy for: its reason is listed under the block. How the
expert works and where it falls short: [docs/expert.md](../docs/expert.md).
"""


def command(records: list[dict[str, Any]], suite: str) -> str:
    """The ``bench.run`` command line of a suite's records (episodes per task: the most any task has)."""
    per_task = max(Counter(r["task_id"] for r in records).values())
    workers = records[0].get("config", {}).get("workers", 1)
    return f"python -m bench.run --policy expert --suite {suite} --episodes-per-task {per_task} --workers {workers}"


def reasons(records: list[dict[str, Any]]) -> list[str]:
    """One line per task with errors: its first error (the expert's reason)."""
    out: dict[int, str] = {}
    for r in records:
        if r.get("error") and r["task_id"] not in out:
            out[r["task_id"]] = r["error"].splitlines()[0]
    return [f"- task {t}: {e}" for t, e in sorted(out.items())]


def expert_markdown(root: Path) -> str | None:
    """The page, or None where there are no expert records."""
    order = {s: i for i, s in enumerate(SUITE_ORDER)}
    files = (root / "episodes" / "expert").glob("*.jsonl")
    files = sorted(files, key=lambda f: (order.get(f.stem, len(order)), f.stem))
    if not files:
        return None
    parts = [HEADER]
    for path in files:
        records = read_records(path)
        if not records:
            continue
        suite = records[0]["suite"]
        commits = sorted({str(r.get("commit", ""))[:7] for r in records})
        parts.append(f"## {suite}\n\n```\n$ {command(records, suite)}\n{summary_table(records)}\n```\n")
        parts.append(f"Expert code: {', '.join(commits)}.\n")
        if lines := reasons(records):
            parts.append("Errors:\n" + "\n".join(lines) + "\n")
    return "\n".join(parts)


def write_expert(root: Path) -> Path | None:
    """Writes ``<root>/expert.md`` from the expert's records; returns its path (None: no records)."""
    text = expert_markdown(root)
    if text is None:
        return None
    path = root / "expert.md"
    path.write_text(text)
    return path
