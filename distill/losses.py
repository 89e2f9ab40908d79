"""ActDistill losses: action, teacher distillation, hierarchical graph supervision, routing."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def node_loss(s: torch.Tensor, t: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Node-wise: depth-weighted 1 - cos between student and teacher node embeddings (B, depths, g)."""
    return ((1 - F.cosine_similarity(s, t, dim=-1)).mean(0) * w).mean()


def relation_loss(s: torch.Tensor, t: torch.Tensor, w: torch.Tensor, relation: str) -> torch.Tensor:
    """Relation-wise: match pairwise cosine-similarity matrices.

    ``"depth"`` (ours): per sample, the depths x depths matrix (how the action representation evolves);
    ``"batch"`` (the authors'): per depth, the samples x samples matrix.
    """
    sn, tn = F.normalize(s, dim=-1), F.normalize(t, dim=-1)
    if relation == "depth":
        cs, ct = sn @ sn.transpose(1, 2), tn @ tn.transpose(1, 2)  # (B, D, D)
        per_depth = ((cs - ct) ** 2).mean(dim=(0, 2))
    elif relation == "batch":
        cs = torch.einsum("bdg,cdg->dbc", sn, sn)
        ct = torch.einsum("bdg,cdg->dbc", tn, tn)
        per_depth = ((cs - ct) ** 2).mean(dim=(1, 2))
    else:
        raise ValueError(f"relation must be 'depth' or 'batch', got {relation!r}")
    return (per_depth * w).mean()


def prior_targets(profile: torch.Tensor, budget: float, lo: float = 0.02, hi: float = 0.98) -> torch.Tensor:
    """Per-layer run targets proportional to how much each layer moves the action, with mean = budget."""
    p = profile / profile.mean().clamp(min=1e-8) * budget
    for _ in range(20):  # rescale after clipping so the mean stays at the budget
        p = p.clamp(lo, hi)
        p = p * budget / p.mean()
    return p.clamp(lo, hi)


def routing_loss(
    probs: torch.Tensor, budget: float, prior: torch.Tensor | None, w_prior: float
) -> dict[str, torch.Tensor]:
    """Budget: squared gap between the mean run probability and the budget; prior: BCE of each layer's
    mean run probability towards the action-guided target."""
    out = {"budget": (probs.mean() - budget) ** 2}
    if prior is not None and w_prior > 0:
        out["prior"] = F.binary_cross_entropy(probs.mean(0).clamp(1e-6, 1 - 1e-6), prior)
    return out
