"""Configuration of the teacher VLA (stored as JSON next to its safetensors weights)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from policies.cameras import CAMERAS
from policies.vla.encoders import TEXT_FEATURE_DIM, check_blocks, feature_channels, feature_stride


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
    # image features after this many EfficientNet MBConv blocks (None: after the head conv, 1280 x size/32;
    # 11: 112 x size/16, a cheaper encoder and finer cells)
    feature_blocks: int | None = None
    # k x k neighbouring feature cells concatenated into one visual token (Qwen2-VL's patch merger):
    # the cells' detail at 1/k^2 the tokens
    token_merge: int = 1
    lang_tokens: int = 2  # the MiniLM embedding is projected to this many tokens
    chunk: int = 8  # actions predicted per call (one action-query token each)
    exec_steps: int = 8  # of those, executed open-loop before the next prediction
    action_dim: int = 7
    state_dim: int = 18
    image_feature_dim: int | None = None  # derived: feature channels x token_merge^2 (stored for old configs)
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
        check_blocks(self.feature_blocks)
        if self.token_merge < 1:
            raise ValueError(f"token_merge must be >= 1, got {self.token_merge}")
        cell = feature_stride(self.feature_blocks) * self.token_merge
        if self.image_size % cell:
            raise ValueError(
                f"image_size must be a multiple of {cell} (feature stride x token_merge), got {self.image_size}"
            )
        dim = feature_channels(self.feature_blocks) * self.token_merge**2
        if self.image_feature_dim not in (None, dim):
            raise ValueError(f"image_feature_dim {self.image_feature_dim} does not match the features ({dim})")
        self.image_feature_dim = dim
        if not 1 <= self.exec_steps <= self.chunk:
            raise ValueError(f"exec_steps must be in [1, chunk={self.chunk}], got {self.exec_steps}")
        if self.face_budget is not None and self.face_budget < 1:
            raise ValueError(f"face_budget must be >= 1 or None, got {self.face_budget}")
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be divisible by num_heads")

    @property
    def cells(self) -> int:
        """Visual tokens per camera."""
        return (self.image_size // (feature_stride(self.feature_blocks) * self.token_merge)) ** 2

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
