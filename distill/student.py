"""Routed students: a copy of the teacher VLA whose trunk layers run or are skipped per input.

``routing`` selects how layers are chosen:
- ``"learned"``: a ``distill.router`` gate network (ActDistill and the no-graph baseline);
- ``"static"``: a fixed mask (truncation to the first ceil(bN) layers, uniform skipping);
- ``"random"``: ceil(bN) layers drawn uniformly at random for every call;
- ``"early_exit"`` (DeeR-VLA-like): layers run in order and the call stops once the action decoded
  after a layer (the shared head) differs from the one decoded after the previous layer by less than
  ``threshold`` (mean absolute change, normalised units; calibrated to the budget).
At inference a skipped layer is not computed at all; training gates only the residual branch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from distill.router import RouterConfig, gumbel_sigmoid, make_router
from policies.vla.config import CAMERAS
from policies.vla.model import VLA


@dataclass
class StudentConfig:
    budget: float = 0.5  # target fraction of trunk layers executed
    routing: str = "learned"  # learned | static | random | early_exit
    static: str = "truncate"  # static masks: truncate (first ceil(bN)) | uniform (evenly spaced)
    router: RouterConfig = field(default_factory=RouterConfig)
    threshold: float = 0.0  # inference: a layer runs when its logit > threshold (calibrated after training)

    def __post_init__(self) -> None:
        if not 0.0 < self.budget <= 1.0:
            raise ValueError(f"budget must be in (0, 1], got {self.budget}")
        if self.routing not in ("learned", "static", "random", "early_exit"):
            raise ValueError(f"routing must be learned, static, random or early_exit, got {self.routing!r}")
        if self.static not in ("truncate", "uniform"):
            raise ValueError(f"static must be truncate or uniform, got {self.static!r}")


def static_mask(num_layers: int, budget: float, kind: str) -> list[bool]:
    k = math.ceil(budget * num_layers)
    if kind == "truncate":
        idx = set(range(k))
    else:
        idx = set(np.linspace(0, num_layers - 1, k).round().astype(int).tolist())
    return [i in idx for i in range(num_layers)]


class RoutedVLA(nn.Module):
    """The teacher's modules plus a router; ``forward_train`` (relaxed) and ``route`` (hard)."""

    def __init__(self, vla: VLA, cfg: StudentConfig) -> None:
        super().__init__()
        self.vla, self.cfg = vla, cfg
        n, c = len(vla.layers), vla.cfg
        self.router = None
        if cfg.routing == "learned":
            self.router = make_router(cfg.router, c.hidden_size, n, len(CAMERAS) * c.cells, c.chunk)
        self.register_buffer("mask", torch.tensor(static_mask(n, cfg.budget, cfg.static)))
        self.k = math.ceil(cfg.budget * n)
        self.rng = torch.Generator().manual_seed(0)

    @property
    def num_layers(self) -> int:
        return len(self.vla.layers)

    def _random_mask(self, b: int) -> torch.Tensor:
        scores = torch.rand(b, self.num_layers, generator=self.rng)
        return scores.argsort(1).argsort(1) < self.k

    def forward_train(self, x: torch.Tensor, tau: float | None = None) -> dict[str, torch.Tensor]:
        """Input tokens -> normalised actions, the hidden state after every layer (index 0: input),
        run probabilities (learned routing) and the gates used."""
        tau = self.cfg.router.tau if tau is None else tau
        b, n = x.shape[0], self.num_layers
        pe = self.vla.position_embeddings(x)
        states, probs, gates = [x], [], []
        in_logits = self.router.logits(x) if self.router is not None and self.router.kind == "input" else None
        fixed = None
        if self.cfg.routing == "early_exit":  # trained with every exit supervised: run all layers
            fixed = torch.ones(b, n, device=x.device, dtype=x.dtype)
        elif self.router is None:
            fixed = self.mask.expand(b, -1) if self.cfg.routing == "static" else self._random_mask(b)
            fixed = fixed.to(x.device, x.dtype)
        for i in range(n):
            if fixed is not None:
                g = fixed[:, i]
            else:
                logit = in_logits[:, i] if in_logits is not None else self.router.logit(i, x)
                probs.append(torch.sigmoid(logit.float()))
                g = gumbel_sigmoid(logit.float(), tau).to(x.dtype)
            gates.append(g)
            if fixed is None or bool(g.any()):  # a layer no sample runs is not computed (static masks)
                x = x + g[:, None, None] * (self.vla.run_layer(i, x, pe) - x)
            states.append(x)
        return {
            "actions": self.vla.decode(x),
            "states": torch.stack(states, 1),  # (B, layers + 1, T, d)
            "probs": torch.stack(probs, 1) if probs else None,
            "gates": torch.stack(gates, 1),
        }

    @torch.no_grad()
    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hard routing: layers not chosen are not computed. Returns final states and keep (B, layers)."""
        b, n = x.shape[0], self.num_layers
        if self.cfg.routing == "early_exit":
            return self._route_early_exit(x)
        if self.router is None:
            keep = self.mask.expand(b, -1) if self.cfg.routing == "static" else self._random_mask(b)
        elif self.router.kind == "input":
            keep = self.router.logits(x) > self.cfg.threshold
        else:
            keep = None
        pe = self.vla.position_embeddings(x)
        if b == 1:  # one decision per layer as a Python bool: no per-layer tensor ops beyond the gate
            return self._route_one(x, pe, keep[0].tolist() if keep is not None else None)
        rows = []
        for i in range(n):
            run = keep[:, i] if keep is not None else self.router.logit(i, x) > self.cfg.threshold
            rows.append(run)
            if run.any():
                x = x.clone()
                x[run] = self.vla.run_layer(
                    i, x[run], (pe[0].expand(int(run.sum()), -1, -1), pe[1].expand(int(run.sum()), -1, -1))
                )
        return x, torch.stack(rows, 1)

    def _route_one(self, x: torch.Tensor, pe, keep: list[bool] | None) -> tuple[torch.Tensor, torch.Tensor]:
        runs = []
        for i in range(self.num_layers):
            run = keep[i] if keep is not None else self.router.runs(i, x, self.cfg.threshold)
            runs.append(run)
            if run:
                x = self.vla.run_layer(i, x, pe)
        return x, torch.tensor([runs], device=x.device)

    def _route_early_exit(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n = x.shape[0], self.num_layers
        pe = self.vla.position_embeddings(x)
        if b == 1:  # same decisions as the batched loop below, without its masking ops
            runs, prev = [], None
            for i in range(n):
                x = self.vla.run_layer(i, x, pe)
                runs.append(True)
                act = self.vla.decode(x)
                if prev is not None and (act - prev).abs().mean().item() < self.cfg.threshold:
                    break
                prev = act
            return x, torch.tensor([runs + [False] * (n - len(runs))], device=x.device)
        active = torch.ones(b, dtype=torch.bool, device=x.device)
        rows, prev = [], None
        for i in range(n):
            rows.append(active.clone())
            if not active.any():
                continue
            x = x.clone()
            sel = active.nonzero().squeeze(1)
            x[sel] = self.vla.run_layer(i, x[sel], (pe[0].expand(len(sel), -1, -1), pe[1].expand(len(sel), -1, -1)))
            act = self.vla.decode(x)
            if prev is not None:
                change = (act - prev).abs().mean(dim=(1, 2))
                active = active & (change >= self.cfg.threshold)
            prev = act
        return x, torch.stack(rows, 1)
