"""Episode records: one JSON line per episode, appended and fsynced as each finishes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def trace_path(out: str | Path, label: str, suite: str, task_id: int, init_state: int) -> Path:
    """Where ``bench.run --trace`` saves an episode's per-step actions and proprio (npz)."""
    return Path(out) / "traces" / label / f"{suite}_task{task_id}_init{init_state}.npz"


def read_records(path: Path) -> list[dict[str, Any]]:
    """All complete records of ``path``; a half-written last line (killed run) is dropped from the file."""
    if not path.exists():
        return []
    records, good_bytes = [], 0
    with open(path, "rb") as f:
        for raw in f:
            try:
                if not raw.endswith(b"\n"):
                    raise ValueError("unterminated line")
                records.append(json.loads(raw))
            except ValueError:
                break
            good_bytes += len(raw)
    if good_bytes != path.stat().st_size:
        with open(path, "r+b") as f:
            f.truncate(good_bytes)
    return records


def append_record(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
