"""The teacher VLA: frozen-encoder features -> tokens -> transformers decoder trunk -> action chunk.

Token sequence (bidirectional attention): visual tokens of both cameras (EfficientNet-Lite0 cells, or
``token_merge`` x ``token_merge`` of them concatenated; LayerNorm + linear + learned position),
``lang_tokens`` instruction tokens (MiniLM embedding, linear), one proprio token, ``chunk`` learned
action queries. The trunk runs layer by layer (``run_trunk``, the one layer loop; its ``decide`` callback
lets students skip layers, see ``distill.routing``); the head maps each query's final state to one
normalised 7-d action (OpenVLA-OFT-style parallel decoding, L1 loss).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from transformers import AutoConfig, AutoModel

from policies.cameras import CAMERAS
from policies.vla.config import VLAConfig

LayerHook = Callable[[int, torch.Tensor], None]
Decision = bool | torch.Tensor  # how one layer runs, see ``VLA.apply_layer``
LayerDecide = Callable[[int, torch.Tensor], Decision]


def build_trunk(cfg: VLAConfig) -> nn.Module:
    """A randomly initialised transformers decoder base model with ``.layers`` (no download)."""
    conf = AutoConfig.for_model(
        cfg.trunk_type,
        vocab_size=8,  # token embeddings are unused: the trunk reads our own embeddings
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=max(64, cfg.num_tokens),
    )
    conf._attn_implementation = "sdpa"
    trunk = AutoModel.from_config(conf)
    for attr in ("layers", "rotary_emb", "norm"):
        if not hasattr(trunk, attr):
            raise ValueError(f"trunk type {cfg.trunk_type!r}: base model has no .{attr}")
    return trunk


class VLA(nn.Module):
    """Maps (image features, instruction embedding, proprio) to a normalised action chunk."""

    def __init__(self, cfg: VLAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden_size
        self.vis_norm = nn.LayerNorm(cfg.image_feature_dim)
        self.vis_proj = nn.Linear(cfg.image_feature_dim, d)
        self.vis_pos = nn.Parameter(torch.randn(len(CAMERAS) * cfg.cells, d) * 0.02)
        self.lang_proj = nn.Linear(cfg.text_feature_dim, cfg.lang_tokens * d)
        self.state_proj = nn.Linear(cfg.state_dim, d)
        self.queries = nn.Parameter(torch.randn(cfg.chunk, d) * 0.02)
        self.trunk = build_trunk(cfg)
        self.head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, cfg.action_dim))
        # normalisation statistics, filled from the training data and saved with the weights
        self.register_buffer("state_mean", torch.zeros(cfg.state_dim))
        self.register_buffer("state_std", torch.ones(cfg.state_dim))
        self.register_buffer("action_mean", torch.zeros(cfg.action_dim))
        self.register_buffer("action_std", torch.ones(cfg.action_dim))
        keep = torch.ones(cfg.state_dim)
        keep[list(cfg.hidden_state)] = 0.0
        self.register_buffer("state_keep", keep, persistent=False)  # from the config, not saved

    @property
    def layers(self) -> nn.ModuleList:
        return self.trunk.layers

    def embed(self, image_feats: torch.Tensor, lang: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """image_feats (B, cams, C, h, w), lang (B, 384), raw state (B, 18) -> tokens (B, T, d)."""
        b = image_feats.shape[0]
        if self.cfg.token_merge > 1:  # k x k cells -> one token of C * k^2 features
            image_feats = nn.functional.pixel_unshuffle(image_feats.flatten(0, 1), self.cfg.token_merge)
            image_feats = image_feats.unflatten(0, (b, -1))
        vis = image_feats.flatten(3).transpose(2, 3).reshape(b, -1, self.cfg.image_feature_dim)
        vis = self.vis_proj(self.vis_norm(vis.to(self.vis_proj.weight.dtype))) + self.vis_pos
        lang_tok = self.lang_proj(lang.to(vis.dtype)).view(b, self.cfg.lang_tokens, -1)
        state_tok = self.state_proj(self.normalise_state(state).to(vis.dtype)).unsqueeze(1)
        queries = self.queries.expand(b, -1, -1)
        return torch.cat([vis, lang_tok, state_tok, queries], dim=1)

    def normalise_state(self, state: torch.Tensor) -> torch.Tensor:
        """Normalised proprio; the config's ``hidden_state`` dimensions read 0 whatever their value."""
        return (state - self.state_mean) / self.state_std * self.state_keep

    def position_embeddings(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pos = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
        return self.trunk.rotary_emb(x, pos)

    def run_layer(self, i: int, x: torch.Tensor, pe: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        out = self.trunk.layers[i](x, attention_mask=None, position_embeddings=pe, is_causal=False)
        return out[0] if isinstance(out, tuple) else out

    def run_trunk(
        self,
        x: torch.Tensor,
        keep: Sequence[bool] | None = None,
        hook: LayerHook | None = None,
        decide: LayerDecide | None = None,
    ) -> torch.Tensor:
        """Runs the trunk layer by layer: the one layer loop, for the teacher and every routed student.

        Before layer i, ``decide(i, h)`` (default: ``keep[i]``, else every layer runs) says how it runs, see
        ``apply_layer``; ``hook(i, h)`` sees the hidden state after layer i (also for skipped layers).
        """
        if keep is not None:
            if decide is not None:
                raise ValueError("run_trunk takes keep or decide, not both")

            def decide(i: int, h: torch.Tensor) -> Decision:
                return keep[i]

        pe = self.position_embeddings(x)
        for i in range(len(self.trunk.layers)):
            x = self.apply_layer(i, x, pe, True if decide is None else decide(i, x))
            if hook is not None:
                hook(i, x)
        return x

    def apply_layer(
        self, i: int, x: torch.Tensor, pe: tuple[torch.Tensor, torch.Tensor], decision: Decision
    ) -> torch.Tensor:
        """Layer i under ``decision``: a bool runs or skips it (a skipped layer is not computed); a bool per
        sample (B,) computes only those rows; a float gate per sample (B,) gates the residual branch,
        h <- h + g * (layer(h) - h) (relaxed routing in training)."""
        if isinstance(decision, torch.Tensor) and decision.dim() > 0:
            if decision.dtype != torch.bool:
                return x + decision[:, None, None] * (self.run_layer(i, x, pe) - x)
            if decision.any():
                n = int(decision.sum())
                x = x.clone()
                x[decision] = self.run_layer(i, x[decision], (pe[0].expand(n, -1, -1), pe[1].expand(n, -1, -1)))
            return x
        return self.run_layer(i, x, pe) if decision else x

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """Final hidden states (B, T, d) -> normalised actions (B, chunk, 7) from the query tokens."""
        return self.head(self.trunk.norm(h[:, -self.cfg.chunk :]))

    def forward(
        self, image_feats: torch.Tensor, lang: torch.Tensor, state: torch.Tensor, keep: Sequence[bool] | None = None
    ) -> torch.Tensor:
        return self.decode(self.run_trunk(self.embed(image_feats, lang, state), keep))

    def unnormalise_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return actions * self.action_std + self.action_mean

    def normalise_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return (actions - self.action_mean) / self.action_std
