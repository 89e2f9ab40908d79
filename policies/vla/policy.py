"""The teacher VLA as a registered policy: action chunks executed open-loop.

Every ``exec_steps`` env steps (the config's, 8 by default: the whole chunk; ``exec_steps=`` overrides it at
inference, ``bench.run --exec-steps``) the policy encodes both camera images,
runs the model once and queues the predicted actions; the steps in between replay the queue without
looking at the observation (no temporal ensembling: it would need a model call per step, about 8x the
compute, for no gain seen in the prototype; replanning every 4 steps measured 13 points worse, README).
The instruction is encoded once per distinct instruction.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from policies.base import Policy
from policies.cameras import CAMERAS
from policies.paths import TEACHER
from policies.vla.checkpoint import load_vla
from policies.vla.encoders import image_encoder, text_encoder
from policies.vla.model import VLA

DEFAULT_TEACHER = TEACHER  # read at call time (tests point it elsewhere)


class VLAPolicy(Policy):
    """Wraps a ``VLA`` (teacher or student) behind ``reset`` / ``select_action``."""

    def __init__(self, model: VLA, threads: int | None = None, exec_steps: int | None = None) -> None:
        self.model = model.eval()
        # an inference-time execution horizon is the config's own field, validated by it
        self.cfg = model.cfg if exec_steps is None else replace(model.cfg, exec_steps=exec_steps)
        self.threads = threads
        self.images = image_encoder(self.cfg.feature_blocks)
        self.text = text_encoder()
        self._lang: dict[str, torch.Tensor] = {}
        self.queue: deque[np.ndarray] = deque()
        self.call_ms: list[float] = []  # latency of each model call (queue replays excluded)
        self.keeps: list[list[int]] = []  # trunk layers executed at each call

    def reset(self) -> None:
        self.queue.clear()
        self.call_ms = []
        self.keeps = []

    def needs_images_next(self) -> bool:
        """Whether the next ``select_action`` looks at the images (a new chunk is predicted)."""
        return not self.queue

    def lang(self, instruction: str) -> torch.Tensor:
        if instruction not in self._lang:
            self._lang[instruction] = self.text([instruction])
        return self._lang[instruction]

    def trunk(self, tokens: torch.Tensor) -> tuple[torch.Tensor, Sequence[bool] | None]:
        """Runs the trunk; returns the final hidden states and which layers ran (None: all).

        Routed students override this (their router's cost is part of the trunk's)."""
        return self.model.run_trunk(tokens), None

    @torch.inference_mode()
    def predict(self, obs: dict[str, Any]) -> np.ndarray:
        """One model call: (chunk, 7) unnormalised actions."""
        for key in CAMERAS:
            if obs[key].shape[0] != self.cfg.image_size:
                raise ValueError(
                    f"{key} image is {obs[key].shape[0]} px but the model was trained on {self.cfg.image_size} px; "
                    f"make the env with image_size={self.cfg.image_size}"
                )
        imgs = torch.from_numpy(np.stack([obs[k] for k in CAMERAS]))
        feats = self.images(imgs).unsqueeze(0)  # (1, cams, C, h, w)
        state = torch.from_numpy(np.asarray(obs["state"], np.float32)).unsqueeze(0)
        tokens = self.model.embed(feats, self.lang(obs["instruction"]), state)
        h, keep = self.trunk(tokens)
        if keep is not None:
            self.keeps.append([int(k) for k in keep])
        actions = self.model.unnormalise_actions(self.model.decode(h))
        return actions[0].float().numpy()

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        if not self.queue:
            prev = torch.get_num_threads()
            if self.threads:
                torch.set_num_threads(self.threads)
            t0 = time.perf_counter()
            chunk = self.predict(obs)
            self.call_ms.append(1e3 * (time.perf_counter() - t0))
            if self.threads:
                torch.set_num_threads(prev)
            self.queue.extend(chunk[: self.cfg.exec_steps])
        return np.clip(self.queue.popleft(), -1.0, 1.0)

    def episode_stats(self) -> dict[str, Any]:
        """Per-episode figures for the episode record."""
        stats: dict[str, Any] = {
            "model_calls": len(self.call_ms),
            "call_ms_median": round(float(np.median(self.call_ms)), 3) if self.call_ms else None,
        }
        if self.keeps:
            stats["layer_fraction"] = round(float(np.mean(self.keeps)), 4)
            stats["keeps"] = ["".join(map(str, k)) for k in self.keeps]
        return stats


def load_teacher(checkpoint: str | Path | None = None, **kwargs: Any) -> VLAPolicy:
    return VLAPolicy(load_vla(checkpoint or DEFAULT_TEACHER), **kwargs)
