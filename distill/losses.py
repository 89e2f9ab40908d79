"""ActDistill losses: action, teacher distillation, hierarchical graph supervision, routing.

``TERMS`` names the terms a training method composes (``distill.train.MethodSpec.terms``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


@dataclass
class LossInputs:
    """What one training step's loss terms read: the student's outputs, the targets, the teacher's outputs."""

    out: dict[str, torch.Tensor | None]  # ``RoutedVLA.forward_train``
    acts: torch.Tensor  # the student's chunk, float32
    target: torch.Tensor  # the demonstration's chunk, normalised
    decode: Callable[[torch.Tensor], torch.Tensor]  # the student's head (hidden states -> chunk)
    depth_w: torch.Tensor  # per-depth weights (``distill.graph.depth_weights``)
    weights: dict[str, float]  # w_distill, w_node, w_rel, w_budget, w_prior
    budget: float
    guide: float = 1.0  # the teacher terms' weight factor (guidance schedule)
    t_chunk: torch.Tensor | None = None  # the teacher's chunk
    frame_w: torch.Tensor | None = None  # per-frame distillation weights, mean 1
    enc: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None  # graph encapsulation
    t_nodes: torch.Tensor | None = None  # the teacher's node embeddings
    relation: str = "depth"
    prior: torch.Tensor | None = None  # per-layer run targets (router prior)


def action_term(x: LossInputs) -> dict[str, torch.Tensor]:
    """L1 between the student's chunk and the demonstration."""
    return {"action": (x.acts - x.target).abs().mean()}


def distill_term(x: LossInputs) -> dict[str, torch.Tensor]:
    """Teacher action distillation: per-frame L1 to the teacher's chunk, weighted per frame."""
    per_frame = (x.acts - x.t_chunk.float()).abs().mean(dim=(1, 2))
    return {"distill": x.guide * x.weights["w_distill"] * (per_frame * x.frame_w).mean()}


def exits_term(x: LossInputs) -> dict[str, torch.Tensor]:
    """Multi-exit (early exit): the shared head must work after every layer, deeper exits weighted more."""
    w, states = x.depth_w, x.out["states"]
    exits = torch.stack([x.decode(states[:, i]) for i in range(1, w.numel())], 1).float()
    return {"exits": ((exits - x.target[:, None]).abs().mean(dim=(0, 2, 3)) * w[1:]).mean()}


def graph_term(x: LossInputs) -> dict[str, torch.Tensor]:
    """Hierarchical graph supervision: node-wise and relation-wise, against the teacher's node embeddings."""
    s_nodes = x.enc(x.out["states"].float())[0]
    return {
        "node": x.guide * x.weights["w_node"] * node_loss(s_nodes, x.t_nodes, x.depth_w),
        "relation": x.guide * x.weights["w_rel"] * relation_loss(s_nodes, x.t_nodes, x.depth_w, x.relation),
    }


def routing_term(x: LossInputs) -> dict[str, torch.Tensor]:
    """Budget and action-guided prior on the router's run probabilities."""
    r = routing_loss(x.out["probs"], x.budget, x.prior, x.weights["w_prior"])
    out = {"budget": x.weights["w_budget"] * r["budget"]}
    if "prior" in r:
        out["prior"] = x.weights["w_prior"] * r["prior"]
    return out


# Loss terms by name, in the order they are computed and summed; a method lists the ones it uses.
TERMS: dict[str, Callable[[LossInputs], dict[str, torch.Tensor]]] = {
    "action": action_term,
    "distill": distill_term,
    "exits": exits_term,
    "graph": graph_term,
    "routing": routing_term,
}
TEACHER_TERMS = ("distill", "graph")  # the terms that read the teacher (weighted by the guidance schedule)


def compose(names: Sequence[str], x: LossInputs) -> dict[str, torch.Tensor]:
    """The named terms' losses, in ``TERMS`` order."""
    unknown = sorted(set(names) - set(TERMS))
    if unknown:
        raise ValueError(f"unknown loss terms {unknown}; choose from {list(TERMS)}")
    out: dict[str, torch.Tensor] = {}
    for name, term in TERMS.items():
        if name in names:
            out.update(term(x))
    return out
