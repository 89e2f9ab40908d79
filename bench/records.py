"""Episode records: one JSON line per episode, appended and fsynced as each finishes."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FIELDS = ("policy_name", "budget", "exec_steps", "face_budget", "instruction_probe")  # what a label is made of


def policy_label(
    policy_name: str,
    budget: float | None = None,
    exec_steps: int | None = None,
    face_budget: int | None = None,
    instruction_probe: str | None = None,
) -> str:
    """The policy as named in results (the records' ``policy`` field and folder names): a chosen execution
    horizon and routed students' budget are part of it (``teacher_x4``: replanning every 4 steps;
    ``student_b0.5``, ``student_x4_b0.5``), and so is a ``--face-budget`` override (``teacher_fb3000``) and a
    language probe (``teacher_instr-swap``)."""
    name = policy_name if exec_steps is None else f"{policy_name}_x{exec_steps}"
    name = name if face_budget is None else f"{name}_fb{face_budget}"  # another render path
    name = name if instruction_probe is None else f"{name}_instr-{instruction_probe}"
    return name if budget is None else f"{name}_b{budget:g}"


def policy_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a record's ``policy`` label is made of (``FIELDS``): the record's own fields, else its run config's,
    else, for records written before either, parsed from the label (the only place a label is parsed)."""
    if isinstance(record.get("policy_name"), str):  # a DataFrame row of an older record has NaN there
        return _clean({k: record.get(k) for k in FIELDS})
    if isinstance(record.get("config"), Mapping):
        c = record["config"]
        keys = {"policy_name": "policy", "instruction_probe": "instruction"}
        return _clean({k: c.get(keys.get(k, k)) for k in FIELDS})
    return parse_label(record["policy"])


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    """None for missing values (NaN in a DataFrame row), integers where the label writes integers."""
    out = {k: None if v is None or v != v else v for k, v in fields.items()}
    for k in ("exec_steps", "face_budget"):
        out[k] = None if out[k] is None else int(out[k])
    out["budget"] = None if out["budget"] is None else float(out["budget"])
    return out


def parse_label(label: str) -> dict[str, Any]:
    """``policy_label`` read back: ``"student_x4_b0.5"`` -> policy_name student, exec_steps 4, budget 0.5."""
    out: dict[str, Any] = dict.fromkeys(FIELDS)
    name, sep, budget = label.rpartition("_b")
    try:
        out["budget"], label = (float(budget), name) if sep and name else (None, label)
    except ValueError:
        pass
    name, sep, probe = label.rpartition("_instr-")
    if sep and name:
        out["instruction_probe"], label = probe, name
    name, sep, faces = label.rpartition("_fb")
    if sep and name and faces.isdigit():
        out["face_budget"], label = int(faces), name
    name, sep, steps = label.rpartition("_x")
    if sep and name and steps.isdigit():
        out["exec_steps"], label = int(steps), name
    out["policy_name"] = label
    return out


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
