"""Routing strategies: how a routed student chooses the trunk layers it runs (``StudentConfig.routing``).

A strategy drives the one layer loop, ``VLA.run_trunk``, through a ``decide(i, h)`` callback, once per
pass: ``train_pass`` gives a float gate per sample (the residual branch is gated, so training sees what
inference does), ``hard_pass`` a hard decision (a bool at batch size 1, a bool per sample otherwise), so a
skipped layer is not computed. Kinds (registry ``ROUTINGS``):
- ``"learned"``: a ``distill.router`` gate network (ActDistill and the no-graph baseline): Gumbel-sigmoid
  gates in training, ``logit > threshold`` at inference;
- ``"static"``: a fixed mask (truncation to the first ceil(bN) layers, uniform skipping);
- ``"random"``: ceil(bN) layers drawn uniformly at random for every call;
- ``"early_exit"`` (DeeR-VLA-like): trained with every layer run (each exit supervised); at inference the
  layers run in order and the call stops once the action decoded after a layer (the shared head) differs
  from the one decoded after the previous layer by less than ``threshold`` (mean absolute change,
  normalised units; calibrated to the budget).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch

from distill.router import gumbel_sigmoid
from policies.vla.model import Decision

if TYPE_CHECKING:
    from distill.student import RoutedVLA


def static_mask(num_layers: int, budget: float, kind: str) -> list[bool]:
    """Layers a static student runs: the first ceil(bN) (``"truncate"``) or ceil(bN) evenly spaced (``"uniform"``)."""
    k = math.ceil(budget * num_layers)
    if kind == "truncate":
        idx = set(range(k))
    else:
        idx = set(np.linspace(0, num_layers - 1, k).round().astype(int).tolist())
    return [i in idx for i in range(num_layers)]


class Pass:
    """One pass through the trunk: ``decide`` and ``hook`` for ``VLA.run_trunk``; records the decisions."""

    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def decide(self, i: int, h: torch.Tensor) -> Decision:
        d = self.choose(i, h)
        self.decisions.append(d)
        return d

    def choose(self, i: int, h: torch.Tensor) -> Decision:
        raise NotImplementedError

    def hook(self, i: int, h: torch.Tensor) -> None:
        """Sees the hidden state after layer i."""

    def keep(self, h: torch.Tensor) -> torch.Tensor:
        """The layers run, (B, layers) bool, given the final hidden state ``h``."""
        if isinstance(self.decisions[0], bool):  # batch size 1
            return torch.tensor([self.decisions], device=h.device)
        return torch.stack(self.decisions, 1)


class KeepPass(Pass):
    """Hard decisions from a mask known before the trunk runs, (B, layers) bool."""

    def __init__(self, keep: torch.Tensor) -> None:
        super().__init__()
        # batch size 1: one Python bool per layer, no per-layer tensor ops
        self.rows = keep[0].tolist() if keep.shape[0] == 1 else keep.unbind(1)

    def choose(self, i: int, h: torch.Tensor) -> Decision:
        return self.rows[i]


class HiddenPass(Pass):
    """Hard decisions of a hidden-state router: layer i runs where its logit on the current state > threshold."""

    def __init__(self, router, threshold: float) -> None:
        super().__init__()
        self.router, self.threshold = router, threshold

    def choose(self, i: int, h: torch.Tensor) -> Decision:
        if h.shape[0] == 1:  # a Python bool from the (numpy) gate
            return self.router.runs(i, h, self.threshold)
        return self.router.logit(i, h) > self.threshold


class EarlyExitPass(Pass):
    """Layers in order until the decoded action settles: a sample stops after the first layer that moves its
    action by less than ``threshold`` (mean absolute change)."""

    def __init__(self, decode: Callable[[torch.Tensor], torch.Tensor], threshold: float, x: torch.Tensor) -> None:
        super().__init__()
        self.decode, self.threshold = decode, threshold
        b = x.shape[0]  # batch size 1: a Python bool, as the other strategies' batch-1 decisions
        self.active: Decision = True if b == 1 else torch.ones(b, dtype=torch.bool, device=x.device)
        self.prev: torch.Tensor | None = None

    def choose(self, i: int, h: torch.Tensor) -> Decision:
        return self.active

    def hook(self, i: int, h: torch.Tensor) -> None:
        if not isinstance(self.active, torch.Tensor):  # batch size 1: a Python bool
            if not self.active:
                return
            act = self.decode(h)
            if self.prev is not None and (act - self.prev).abs().mean().item() < self.threshold:
                self.active = False
            self.prev = act
            return
        if not self.decisions[-1].any():
            return
        act = self.decode(h)
        if self.prev is not None:
            change = (act - self.prev).abs().mean(dim=(1, 2))
            self.active = self.active & (change >= self.threshold)
        self.prev = act


class GatePass(Pass):
    """Training with fixed 0/1 gates (B, layers) in the input's dtype; a layer no sample runs is not computed."""

    def __init__(self, gates: torch.Tensor) -> None:
        super().__init__()
        self.gates = gates
        self.probs: list[torch.Tensor] = []

    def decide(self, i: int, h: torch.Tensor) -> Decision:
        g = self.gates[:, i]
        self.decisions.append(g)
        return g if bool(g.any()) else False


class LearnedGatePass(Pass):
    """Training with a router: Gumbel-sigmoid gates (straight-through hard decision) and run probabilities."""

    def __init__(self, router, x: torch.Tensor, tau: float) -> None:
        super().__init__()
        self.router, self.tau = router, tau
        self.logits = router.logits(x) if router.kind == "input" else None  # all layers at once
        self.probs: list[torch.Tensor] = []

    def choose(self, i: int, h: torch.Tensor) -> Decision:
        logit = self.logits[:, i] if self.logits is not None else self.router.logit(i, h)
        self.probs.append(torch.sigmoid(logit.float()))
        return gumbel_sigmoid(logit.float(), self.tau).to(h.dtype)


class RoutingStrategy:
    """How a routed student chooses its layers; the student holds the state (router, mask, rng, config)."""

    name: ClassVar[str] = ""
    needs_router: ClassVar[bool] = False  # whether the student gets a gate network (``distill.router``)
    thresholds: ClassVar[tuple[float, ...]] = ()  # calibration grid of ``StudentConfig.threshold`` (none: fixed)

    def masks(self, student: RoutedVLA, b: int) -> torch.Tensor:
        """(b, layers) bool: the layers each sample runs, where they are known before the trunk runs."""
        raise NotImplementedError

    def train_pass(self, student: RoutedVLA, x: torch.Tensor, tau: float) -> GatePass | LearnedGatePass:
        return GatePass(self.masks(student, x.shape[0]).to(x.device, x.dtype))

    def hard_pass(self, student: RoutedVLA, x: torch.Tensor) -> Pass:
        return KeepPass(self.masks(student, x.shape[0]))


ROUTINGS: dict[str, type[RoutingStrategy]] = {}


def register_routing(name: str) -> Callable[[type[RoutingStrategy]], type[RoutingStrategy]]:
    def wrap(cls: type[RoutingStrategy]) -> type[RoutingStrategy]:
        cls.name = name
        ROUTINGS[name] = cls
        return cls

    return wrap


def make_routing(name: str) -> RoutingStrategy:
    if name not in ROUTINGS:
        raise ValueError(f"routing must be one of {sorted(ROUTINGS)}, got {name!r}")
    return ROUTINGS[name]()


@register_routing("learned")
class LearnedRouting(RoutingStrategy):
    needs_router = True
    thresholds = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)  # gate logit

    def train_pass(self, student: RoutedVLA, x: torch.Tensor, tau: float) -> LearnedGatePass:
        return LearnedGatePass(student.router, x, tau)

    def hard_pass(self, student: RoutedVLA, x: torch.Tensor) -> Pass:
        if student.router.kind == "input":
            return KeepPass(student.router.logits(x) > student.cfg.threshold)
        return HiddenPass(student.router, student.cfg.threshold)


@register_routing("static")
class StaticRouting(RoutingStrategy):
    def masks(self, student: RoutedVLA, b: int) -> torch.Tensor:
        return student.mask.expand(b, -1)


@register_routing("random")
class RandomRouting(RoutingStrategy):
    def masks(self, student: RoutedVLA, b: int) -> torch.Tensor:
        scores = torch.rand(b, student.num_layers, generator=student.rng)
        return scores.argsort(1).argsort(1) < student.k


@register_routing("early_exit")
class EarlyExitRouting(RoutingStrategy):
    # action change; larger: earlier exits
    thresholds = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 1e9)

    def masks(self, student: RoutedVLA, b: int) -> torch.Tensor:
        return torch.ones(b, student.num_layers, dtype=torch.bool)  # trained with every exit supervised

    def hard_pass(self, student: RoutedVLA, x: torch.Tensor) -> Pass:
        return EarlyExitPass(student.vla.decode, student.cfg.threshold, x)
