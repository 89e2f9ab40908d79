"""Run/skip gates for the trunk layers of a routed student.

Two router inputs (``RouterConfig.kind``):
- ``"hidden"`` (ours): before layer i a tiny MLP reads the current hidden state (mean of the
  action-query tokens and mean of the context tokens) and decides run or skip;
- ``"input"`` (the authors' code): all gates at once from the input embeddings (vision and
  text/proprio tokens projected, layer-normed, mean- and max-pooled, one linear layer).
Training uses Gumbel-sigmoid gates with a straight-through hard decision on the residual branch,
h <- h + g * (layer(h) - h), so training sees what inference does (a skipped layer is the identity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import erf
from torch import nn


@dataclass
class RouterConfig:
    kind: str = "hidden"  # "hidden" | "input"
    hidden: int = 64
    init_bias: float = 2.0  # gates start open: the student starts as the teacher
    tau: float = 1.0  # Gumbel-sigmoid temperature

    def __post_init__(self) -> None:
        if self.kind not in ("hidden", "input"):
            raise ValueError(f"router kind must be 'hidden' or 'input', got {self.kind!r}")


def gumbel_sigmoid(logits: torch.Tensor, tau: float, hard: bool = True) -> torch.Tensor:
    """Relaxed Bernoulli sample; with ``hard`` the forward value is 0/1 and the gradient the relaxed one."""
    u = torch.rand_like(logits).clamp(1e-6, 1 - 1e-6)
    soft = torch.sigmoid((logits + torch.log(u) - torch.log1p(-u)) / tau)
    if not hard:
        return soft
    return (soft > 0.5).to(soft.dtype) + soft - soft.detach()


class HiddenRouter(nn.Module):
    """One gate MLP per layer on the current hidden state.

    ``runs`` (batch-1 inference) evaluates the gate in numpy on views of the parameters: the same
    float32 function as ``logit`` with a fraction of torch's per-op dispatch cost (this sits before
    every layer of every call: about 0.08 against 0.24 ms per gate on a 2-core AVX2 CPU, beside about
    4 ms per layer). ``use_numpy = False`` runs the torch arithmetic (FLOP counting sees only torch ops).
    """

    kind = "hidden"

    def __init__(self, d: int, num_layers: int, chunk: int, cfg: RouterConfig) -> None:
        super().__init__()
        self.chunk = chunk
        self.gates = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(2 * d), nn.Linear(2 * d, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, 1))
            for _ in range(num_layers)
        )
        for g in self.gates:
            nn.init.constant_(g[-1].bias, cfg.init_bias)
        self.use_numpy = True
        self._np: dict[int, tuple] = {}  # gate -> (address of its fc1 weight, numpy views of its parameters)
        self._pool: dict[int, tuple] = {}  # tokens -> ((2, tokens) pooling matrix, row of 1 / (2 d))

    def logit(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B,) run logit of layer i."""
        return self.gates[i](self._pooled(h).to(self.gates[i][1].weight.dtype)).squeeze(-1)

    def _pooled(self, h: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, 2d): mean of the action-query tokens and mean of the context tokens."""
        return torch.cat([h[:, -self.chunk :].mean(1), h[:, : -self.chunk].mean(1)], dim=-1)

    def runs(self, i: int, h: torch.Tensor, threshold: float) -> bool:
        """Batch-1 inference: whether layer i runs (``logit(i, h) > threshold``)."""
        if self.use_numpy and h.device.type == "cpu" and h.dtype == self.gates[i][1].weight.dtype == torch.float32:
            return self._logit_numpy(i, h[0].detach().numpy()) > threshold
        ln, fc1, fc2 = self.gates[i][0], self.gates[i][1], self.gates[i][3]
        z = nn.functional.layer_norm(
            self._pooled(h).to(fc1.weight.dtype), ln.normalized_shape, ln.weight, ln.bias, ln.eps
        )
        z = nn.functional.gelu(nn.functional.linear(z, fc1.weight, fc1.bias))
        return nn.functional.linear(z, fc2.weight, fc2.bias).item() > threshold

    def _logit_numpy(self, i: int, h: np.ndarray) -> float:
        g = self.gates[i]
        ptr = g[1].weight.data_ptr()  # another address: the parameters were replaced, moved or copied
        if self._np.get(i, (None,))[0] != ptr:
            if any(p.dtype != torch.float32 or p.device.type != "cpu" for p in g.parameters()):
                raise RuntimeError("numpy gates need float32 CPU parameters")
            params = (g[0].weight, g[0].bias, g[1].weight, g[1].bias, g[3].weight, g[3].bias)
            self._np[i] = (ptr, g[0].eps, *(t.detach().numpy() for t in params))  # views: follow in-place updates
        t, d = h.shape
        if t not in self._pool:
            pool = np.zeros((2, t), np.float32)
            pool[0, -self.chunk :], pool[1, : -self.chunk] = 1.0 / self.chunk, 1.0 / (t - self.chunk)
            self._pool[t] = (pool, np.full(2 * d, 1.0 / (2 * d), np.float32))
        pool, mean_row = self._pool[t]
        _, eps, w_ln, b_ln, w1, b1, w2, b2 = self._np[i]
        z = (pool @ h).reshape(-1)
        z = z - mean_row @ z  # layer norm with dot products: numpy's mean/var cost 4x more here
        z = z * (1.0 / math.sqrt(float(z @ z) / z.size + eps)) * w_ln + b_ln
        z = w1 @ z + b1
        return float(w2[0] @ (0.5 * z * (1.0 + erf(z * (1.0 / math.sqrt(2.0))))) + b2[0])


class InputRouter(nn.Module):
    """All layer logits from the input embeddings at once (the authors' router)."""

    kind = "input"

    def __init__(self, d: int, num_layers: int, num_visual: int, chunk: int, cfg: RouterConfig) -> None:
        super().__init__()
        self.num_visual, self.chunk = num_visual, chunk
        self.vis = nn.Sequential(nn.Linear(d, cfg.hidden), nn.LayerNorm(cfg.hidden))
        self.ctx = nn.Sequential(nn.Linear(d, cfg.hidden), nn.LayerNorm(cfg.hidden))
        self.out = nn.Linear(4 * cfg.hidden, num_layers)
        nn.init.constant_(self.out.bias, cfg.init_bias)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Input tokens (B, T, d) -> (B, layers) run logits."""
        x = x.to(self.out.weight.dtype)
        v = self.vis(x[:, : self.num_visual])
        c = self.ctx(x[:, self.num_visual : -self.chunk])  # instruction and proprio tokens
        pooled = torch.cat([v.mean(1), v.amax(1), c.mean(1), c.amax(1)], dim=-1)
        return self.out(pooled)


def make_router(cfg: RouterConfig, d: int, num_layers: int, num_visual: int, chunk: int) -> nn.Module:
    if cfg.kind == "hidden":
        return HiddenRouter(d, num_layers, chunk, cfg)
    return InputRouter(d, num_layers, num_visual, chunk, cfg)
