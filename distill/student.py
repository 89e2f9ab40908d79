"""Routed students: a copy of the teacher VLA whose trunk layers run or are skipped per input.

How layers are chosen is a ``distill.routing`` strategy (``StudentConfig.routing``: learned, static,
random, early_exit); it drives the teacher's own layer loop, ``VLA.run_trunk``. At inference a skipped
layer is not computed at all; training gates only the residual branch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from distill.router import RouterConfig, make_router
from distill.routing import ROUTINGS, make_routing, static_mask
from policies.cameras import CAMERAS
from policies.vla.model import VLA


@dataclass
class StudentConfig:
    budget: float = 0.5  # target fraction of trunk layers executed
    routing: str = "learned"  # a ``distill.routing`` strategy: learned | static | random | early_exit
    static: str = "truncate"  # static masks: truncate (first ceil(bN)) | uniform (evenly spaced)
    router: RouterConfig = field(default_factory=RouterConfig)
    threshold: float = 0.0  # inference: a layer runs when its logit > threshold (calibrated after training)

    def __post_init__(self) -> None:
        if not 0.0 < self.budget <= 1.0:
            raise ValueError(f"budget must be in (0, 1], got {self.budget}")
        if self.routing not in ROUTINGS:
            raise ValueError(f"routing must be one of {sorted(ROUTINGS)}, got {self.routing!r}")
        if self.static not in ("truncate", "uniform"):
            raise ValueError(f"static must be truncate or uniform, got {self.static!r}")


class RoutedVLA(nn.Module):
    """The teacher's modules plus a router; ``forward_train`` (relaxed) and ``route`` (hard)."""

    def __init__(self, vla: VLA, cfg: StudentConfig) -> None:
        super().__init__()
        self.vla, self.cfg = vla, cfg
        self.routing = make_routing(cfg.routing)
        n, c = len(vla.layers), vla.cfg
        self.router = None
        if self.routing.needs_router:
            self.router = make_router(cfg.router, c.hidden_size, n, len(CAMERAS) * c.cells, c.chunk)
        self.register_buffer("mask", torch.tensor(static_mask(n, cfg.budget, cfg.static)))
        self.k = math.ceil(cfg.budget * n)
        self.rng = torch.Generator().manual_seed(0)  # random routing's draws

    @property
    def num_layers(self) -> int:
        return len(self.vla.layers)

    def forward_train(self, x: torch.Tensor, tau: float | None = None) -> dict[str, torch.Tensor]:
        """Input tokens -> normalised actions, the hidden state after every layer (index 0: input),
        run probabilities (learned routing) and the gates used."""
        tau = self.cfg.router.tau if tau is None else tau
        states = [x]
        p = self.routing.train_pass(self, x, tau)
        x = self.vla.run_trunk(x, decide=p.decide, hook=lambda i, h: states.append(h))
        return {
            "actions": self.vla.decode(x),
            "states": torch.stack(states, 1),  # (B, layers + 1, T, d)
            "probs": torch.stack(p.probs, 1) if p.probs else None,
            "gates": torch.stack(p.decisions, 1),
        }

    @torch.no_grad()
    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hard routing: layers not chosen are not computed. Returns final states and keep (B, layers)."""
        p = self.routing.hard_pass(self, x)
        h = self.vla.run_trunk(x, decide=p.decide, hook=p.hook)
        return h, p.keep(h)
