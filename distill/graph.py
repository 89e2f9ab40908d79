"""Graph-structured encapsulation of the teacher (auxiliary, used only during distillation).

Nodes are depths 0..N (0: the trunk input, l: after layer l). Two variants (``GraphConfig.kind``):
- ``"dag"`` (our spec): node features = pooled action-query states of each depth; 2 rounds of
  attention-weighted message passing along the DAG edges i -> j (i <= j) give graph-informed node
  embeddings (B, N + 1, g);
- ``"token"`` (the authors' code): per depth, a k-nearest-neighbour graph over that depth's tokens
  (cosine affinity, k = 8), 2 GAT layers (4 heads) and attention pooling give one embedding per depth.
A per-depth action probe maps each node embedding to the action chunk. Trained with the teacher
frozen (stage 1); the probes give the per-layer action-change profile used as the router prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class GraphConfig:
    kind: str = "dag"  # "dag" | "token"
    dim: int = 128
    rounds: int = 2
    heads: int = 4
    knn: int = 8

    def __post_init__(self) -> None:
        if self.kind not in ("dag", "token"):
            raise ValueError(f"graph kind must be 'dag' or 'token', got {self.kind!r}")


class DagGraph(nn.Module):
    def __init__(self, d: int, depths: int, chunk: int, cfg: GraphConfig) -> None:
        super().__init__()
        self.chunk = chunk
        self.inp = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, cfg.dim))
        self.depth_emb = nn.Parameter(torch.randn(depths, cfg.dim) * 0.02)
        self.rounds = nn.ModuleList(
            nn.MultiheadAttention(cfg.dim, cfg.heads, batch_first=True) for _ in range(cfg.rounds)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(cfg.dim) for _ in range(cfg.rounds))
        causal = torch.ones(depths, depths, dtype=torch.bool).triu(1)  # True = no edge (j may read i <= j)
        self.register_buffer("no_edge", causal)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """states (B, depths, T, d) -> node embeddings (B, depths, dim)."""
        x = self.inp(states[:, :, -self.chunk :].mean(2).float()) + self.depth_emb
        for attn, norm in zip(self.rounds, self.norms, strict=True):
            x = norm(x + attn(x, x, x, attn_mask=self.no_edge, need_weights=False)[0])
        return x


class GATLayer(nn.Module):
    """Graph attention over a dense neighbourhood mask (B, T, T)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.proj = nn.Linear(dim, dim, bias=False)
        self.a_src = nn.Parameter(torch.randn(heads, self.hd) * 0.1)
        self.a_dst = nn.Parameter(torch.randn(heads, self.hd) * 0.1)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        h = self.proj(x).view(b, t, self.heads, self.hd)
        e = (h * self.a_dst).sum(-1).unsqueeze(2) + (h * self.a_src).sum(-1).unsqueeze(1)  # (B, T, T, H)
        e = nn.functional.leaky_relu(e, 0.2).masked_fill(~adj.unsqueeze(-1), float("-inf"))
        att = e.softmax(2)
        out = torch.einsum("bijh,bjhd->bihd", att, h).reshape(b, t, -1)
        return self.norm(x + nn.functional.elu(out))


class TokenGraph(nn.Module):
    def __init__(self, d: int, depths: int, chunk: int, cfg: GraphConfig) -> None:
        super().__init__()
        self.knn = cfg.knn
        self.inp = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, cfg.dim))
        self.gat = nn.ModuleList(GATLayer(cfg.dim, cfg.heads) for _ in range(cfg.rounds))
        self.pool = nn.Linear(cfg.dim, 1)
        self.out = nn.Linear(cfg.dim, cfg.dim)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        b, depths, t, d = states.shape
        x = self.inp(states.reshape(b * depths, t, d).float())
        xn = nn.functional.normalize(x, dim=-1)
        sim = xn @ xn.transpose(1, 2)
        k = min(self.knn + 1, t)  # the node itself plus its k nearest neighbours
        idx = sim.topk(k, dim=-1).indices
        adj = torch.zeros_like(sim, dtype=torch.bool).scatter_(-1, idx, True)
        for layer in self.gat:
            x = layer(x, adj)
        w = self.pool(x).softmax(1)
        return self.out((w * x).sum(1)).view(b, depths, -1)


class Encapsulation(nn.Module):
    """Graph network + per-depth action probes on top of it."""

    def __init__(self, d: int, num_layers: int, chunk: int, action_dim: int, cfg: GraphConfig) -> None:
        super().__init__()
        self.cfg, self.chunk, self.action_dim = cfg, chunk, action_dim
        depths = num_layers + 1
        self.graph = (DagGraph if cfg.kind == "dag" else TokenGraph)(d, depths, chunk, cfg)
        self.probes = nn.ModuleList(
            nn.Sequential(nn.Linear(cfg.dim, cfg.dim), nn.GELU(), nn.Linear(cfg.dim, chunk * action_dim))
            for _ in range(depths)
        )

    def forward(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """states (B, depths, T, d) -> node embeddings (B, depths, dim), probe actions (B, depths, K, 7)."""
        nodes = self.graph(states)
        acts = torch.stack([p(nodes[:, i]) for i, p in enumerate(self.probes)], 1)
        return nodes, acts.view(*acts.shape[:2], self.chunk, self.action_dim)


def depth_weights(num_layers: int, gamma: float = 2.0) -> torch.Tensor:
    """w_l = (l / N)^gamma for depths 0..N, normalised to mean 1 (deeper depths count more)."""
    w = (torch.arange(num_layers + 1, dtype=torch.float32) / num_layers) ** gamma
    return w / w.mean()


def action_change_profile(probe_actions: torch.Tensor) -> torch.Tensor:
    """(B, depths, K, 7) probe predictions -> (layers,) mean |a_l - a_{l-1}|: how much layer l moves the action."""
    return (probe_actions[:, 1:] - probe_actions[:, :-1]).abs().mean(dim=(0, 2, 3))
