"""Low-rank adapters (LoRA, Hu et al. 2021) on the trunk's attention and MLP matrices of a student.

Training (``DistillConfig.tune="lora"``): each trunk matrix W is reparametrised as W + B A (A: rank x in,
B: out x rank, B starts at 0, so the student starts as the teacher), with W frozen. A stored student keeps
only the factors (``<module>.lora_A`` / ``<module>.lora_B``); loading adds B A to the teacher's W once, so
inference runs plain matrices at the teacher's cost.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

SUFFIXES = ("lora_A", "lora_B")


def is_trunk_matrix(name: str) -> bool:
    """Whether a VLA parameter is one of the trunk's attention or MLP matrices."""
    return name.startswith("trunk.layers.") and (".self_attn." in name or ".mlp." in name)


class LowRankDelta(nn.Module):
    """The parametrisation W -> W + B A."""

    def __init__(self, out_features: int, in_features: int, rank: int) -> None:
        super().__init__()
        self.A = nn.Parameter(torch.empty(rank, in_features))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(out_features, rank))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w + (self.B @ self.A).to(w.dtype)


def add_lora(vla: nn.Module, rank: int) -> list[str]:
    """Reparametrises every trunk matrix of ``vla`` with a rank-``rank`` delta and freezes the matrix;
    returns the module names."""
    if rank < 1:
        raise ValueError(f"LoRA rank must be >= 1, got {rank}")
    names = []
    for name, mod in vla.named_modules():
        if isinstance(mod, nn.Linear) and is_trunk_matrix(f"{name}.weight"):
            mod.weight.requires_grad_(False)
            parametrize.register_parametrization(mod, "weight", LowRankDelta(*mod.weight.shape, rank))
            names.append(name)
    return names


def lora_factors(model: nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    """``{<prefix><module>.lora_A: A, ...lora_B: B}`` of every reparametrised matrix of ``model``."""
    out = {}
    for name, mod in model.named_modules():
        if parametrize.is_parametrized(mod, "weight"):
            delta = mod.parametrizations.weight[0]
            if isinstance(delta, LowRankDelta):
                out[f"{prefix}{name}.lora_A"] = delta.A.detach()
                out[f"{prefix}{name}.lora_B"] = delta.B.detach()
    return out


def merge_factors(state: dict[str, torch.Tensor], factors: dict[str, torch.Tensor]) -> None:
    """Adds B A to each ``<module>.weight`` of ``state`` in place, from ``<module>.lora_A/B`` in ``factors``."""
    for key in [k for k in factors if k.endswith(".lora_A")]:
        module = key.removesuffix(".lora_A")
        w, a, b = state[f"{module}.weight"], factors[key], factors[f"{module}.lora_B"]
        if a.ndim != 2 or b.shape != (w.shape[0], a.shape[0]) or a.shape[1] != w.shape[1]:
            shapes = f"{tuple(b.shape)} x {tuple(a.shape)}, the weight {tuple(w.shape)}"
            raise ValueError(f"LoRA factors of {module} are {shapes}")
        delta = b.float() @ a.float()
        state[f"{module}.weight"] = (w.float() + delta).to(w.dtype)
