"""Training helpers shared by the teacher (``policies.train``) and the students (``distill.train``): device,
bf16, proprio augmentation, atomic checkpoints and the run's metadata under ``<results>/training/``."""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from policies.paths import training_path


def cli_command(module: str, argv: list[str] | None) -> str:
    """The command line a CLI ran as, ``python -m <module> <argv>`` (``argv`` None: this process's ``sys.argv``)."""
    return shlex.join(["python", "-m", module, *(sys.argv[1:] if argv is None else argv)])


def record_training(results: str | Path, name: str, meta: dict[str, Any]) -> Path:
    """Keeps a training run's metadata under ``<results>/training/`` so the report can print the command
    even where the weights are not committed (baselines). Runs started from a CLI store it (``command``)."""
    path = training_path(results, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(meta, indent=2) + "\n")
    return path


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def use_bf16(requested: bool, device: torch.device) -> bool:
    """Whether bf16 autocast helps on ``device``: CUDA with bf16 support, or a CPU with native bf16
    (AVX512-BF16 or AMX). Elsewhere bf16 is emulated: a teacher training step took more than 7x the fp32
    time on a 2-core AVX2-only CPU (more than 35 s against 4.7 s), so training runs in fp32 there."""
    if not requested:
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, c, lambda: False)() for c in checks)
    return False


def effective_precision(cfg: Any, device: torch.device) -> Any:
    """``cfg`` with ``bf16`` as it will run on ``device`` (recorded with the run), saying so when it is dropped."""
    if cfg.bf16 and not use_bf16(True, device):
        print(f"bf16 autocast off: {device.type} has no native bf16 here (emulated bf16 is slower than fp32)")
        return replace(cfg, bf16=False)
    return cfg


def perturb_state(
    state: torch.Tensor, scale: float, std: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The proprio plus Gaussian noise of ``scale`` x its per-dimension ``std`` (robustness to drift)."""
    device = generator.device if generator is not None else state.device
    return state + torch.randn(state.shape, generator=generator, device=device).to(state) * scale * std


def atomic_save(path: Path, **state: Any) -> None:
    """``torch.save`` under a temporary name, then rename: a kill never leaves half a checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
