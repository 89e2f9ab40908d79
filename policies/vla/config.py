"""Configuration of the teacher VLA (stored as JSON next to its safetensors weights)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from policies.vla.encoders import IMAGE_FEATURE_DIM, TEXT_FEATURE_DIM

CAMERAS = ("agentview", "wrist")


@dataclass
class VLAConfig:
    """Architecture and action interface. ``trunk_type`` is any transformers decoder model type
    whose base model has ``.layers`` and ``.rotary_emb`` (``llama``, ``qwen2``, ``mistral``...)."""

    trunk_type: str = "llama"
    hidden_size: int = 384
    num_layers: int = 12
    num_heads: int = 6
    intermediate_size: int = 1024
    image_size: int = 96  # rendered camera size; EfficientNet-Lite0 gives (image_size / 32)^2 cells
    lang_tokens: int = 2  # the MiniLM embedding is projected to this many tokens
    chunk: int = 8  # actions predicted per call (one action-query token each)
    exec_steps: int = 8  # of those, executed open-loop before the next prediction
    action_dim: int = 7
    state_dim: int = 18
    image_feature_dim: int = IMAGE_FEATURE_DIM
    text_feature_dim: int = TEXT_FEATURE_DIM
    # proprio dimensions withheld from the policy (normalised value fixed at 0, the training mean);
    # (9, 10), the finger joints: a clone that reads them closes the hand only once it is already closing
    hidden_state: tuple[int, ...] = ()
    # render path of the training images (envs.render): None = full meshes; N = meshes simplified to N faces
    face_budget: int | None = None

    def __post_init__(self) -> None:
        self.hidden_state = tuple(sorted(set(int(i) for i in self.hidden_state)))
        if any(not 0 <= i < self.state_dim for i in self.hidden_state):
            raise ValueError(f"hidden_state dims must be in [0, {self.state_dim}), got {list(self.hidden_state)}")
        if self.image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32, got {self.image_size}")
        if not 1 <= self.exec_steps <= self.chunk:
            raise ValueError(f"exec_steps must be in [1, chunk={self.chunk}], got {self.exec_steps}")
        if self.face_budget is not None and self.face_budget < 1:
            raise ValueError(f"face_budget must be >= 1 or None, got {self.face_budget}")
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be divisible by num_heads")

    @property
    def cells(self) -> int:
        """Visual tokens per camera."""
        return (self.image_size // 32) ** 2

    @property
    def num_tokens(self) -> int:
        return len(CAMERAS) * self.cells + self.lang_tokens + 1 + self.chunk

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> VLAConfig:
        raw = json.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"{path}: unknown config keys {sorted(unknown)}")
        return cls(**raw)
