"""Students stored as what differs from the teacher: router weights + the parameters training changed
(a LoRA student: the low-rank factors of its trunk matrices, merged into the teacher's on loading).

Folder layout: ``student.safetensors`` (float16; router and changed teacher tensors) and
``student.json`` (StudentConfig, the teacher folder it applies to and that teacher's fingerprint, realised
fraction on validation). Loading assembles teacher + difference and refuses a teacher other than the one
the student was derived from (the tensors not stored, e.g. the action normalisation, come from it); no
probes, graph network or relaxed gates are stored.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from distill.lora import SUFFIXES, lora_factors, merge_factors
from distill.router import RouterConfig
from distill.student import RoutedVLA, StudentConfig
from policies.vla.checkpoint import CheckpointError, fingerprint, load_vla
from policies.vla.model import VLA

WEIGHTS, CONFIG = "student.safetensors", "student.json"


def save_student(student: RoutedVLA, teacher: VLA, folder: str | Path, teacher_dir: str, meta: dict[str, Any]) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = {k: v.to(torch.float16) for k, v in teacher.state_dict().items()}
    out = {}
    for k, v in student.state_dict().items():
        if ".parametrizations." in k:
            continue  # a LoRA-reparametrised matrix: the teacher's (frozen) plus the factors stored below
        v16 = v.detach().cpu().to(torch.float16) if v.is_floating_point() else v.detach().cpu()
        tk = k.removeprefix("vla.")
        if k.startswith("vla.") and tk in base and torch.equal(base[tk], v16):
            continue  # unchanged teacher tensor: not stored
        out[k] = v16.contiguous()
    out |= {k: v.cpu().to(torch.float16).contiguous() for k, v in lora_factors(student).items()}
    save_file(out, str(folder / WEIGHTS))
    cfg = {
        "student": asdict(student.cfg),
        "teacher": teacher_dir,
        "teacher_sha1": fingerprint(folder / teacher_dir),
        **meta,
    }
    (folder / CONFIG).write_text(json.dumps(cfg, indent=2) + "\n")
    return folder


def load_student(folder: str | Path, teacher_dir: str | Path | None = None) -> RoutedVLA:
    folder = Path(folder)
    for name in (WEIGHTS, CONFIG):
        if not (folder / name).exists():
            raise CheckpointError(f"student {folder}: {name} is missing (train students: python -m distill.run)")
    raw = json.loads((folder / CONFIG).read_text())
    scfg = dict(raw["student"])
    scfg["router"] = RouterConfig(**scfg["router"])
    cfg = StudentConfig(**scfg)
    teacher_path = Path(teacher_dir) if teacher_dir else student_teacher_dir(folder)
    teacher = load_vla(teacher_path)
    derived = raw.get("teacher_sha1")  # students saved before it: unchecked
    if derived is not None and derived != (found := fingerprint(teacher_path)):
        raise CheckpointError(
            f"student {folder} was derived from another teacher than {teacher_path} holds now (teacher sha1 "
            f"{derived[:12]}, found {found[:12]}): re-derive it (python -m distill.run) or restore that teacher"
        )
    student = RoutedVLA(copy.deepcopy(teacher), cfg)
    try:
        diff = load_file(str(folder / WEIGHTS))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"student {folder}: cannot read {WEIGHTS} ({e})") from None
    state = student.state_dict()
    factors = {k: diff.pop(k) for k in [k for k in diff if k.endswith(SUFFIXES)]}
    bad = [k for k in diff if k not in state or state[k].shape != diff[k].shape]
    if bad:
        raise CheckpointError(f"student {folder}: weights do not match the teacher/config ({bad[:3]})")
    state.update({k: v.to(state[k].dtype) for k, v in diff.items()})
    try:
        merge_factors(state, factors)  # LoRA students: W + B A, once
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"student {folder}: LoRA factors do not match the teacher ({e})") from None
    student.load_state_dict(state)
    student.teacher_dir = str(teacher_path)
    return student.eval()


def student_teacher_dir(folder: str | Path) -> Path:
    """The teacher folder a stored student applies to (``teacher`` in its ``student.json``)."""
    folder = Path(folder)
    return (folder / json.loads((folder / CONFIG).read_text())["teacher"]).resolve()
