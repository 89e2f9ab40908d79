"""Teacher checkpoints: ``model.safetensors`` (float16) + ``config.json`` in one folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from policies.vla.config import VLAConfig
from policies.vla.model import VLA

WEIGHTS, CONFIG, META = "model.safetensors", "config.json", "train.json"
FINGERPRINTED = ("config.json", "student.json")  # besides every *.safetensors: the configs that shape a model


class CheckpointError(ValueError):
    """A checkpoint folder that is missing, truncated or does not match its config."""


def digest_folder(h: hashlib._Hash, folder: str | Path) -> None:
    """Feeds the weight and config files of ``folder`` (every ``*.safetensors``, ``config.json``,
    ``student.json``; not training metadata) to the hash ``h``, in name order."""
    for f in sorted(Path(folder).iterdir()):
        if f.suffix == ".safetensors" or f.name in FINGERPRINTED:
            h.update(f.name.encode())
            h.update(f.read_bytes())


def fingerprint(folder: str | Path) -> str:
    """SHA-1 of a checkpoint folder's weight and config files (a teacher's equals its ``weights_sha1``)."""
    h = hashlib.sha1()
    digest_folder(h, folder)
    return h.hexdigest()


def save_vla(model: VLA, folder: str | Path, meta: dict[str, Any] | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    model.cfg.save(folder / CONFIG)
    if meta is not None:
        (folder / META).write_text(json.dumps(meta, indent=2) + "\n")
    return folder


def load_state(folder: str | Path) -> tuple[VLAConfig, dict[str, torch.Tensor]]:
    folder = Path(folder)
    for name in (WEIGHTS, CONFIG):
        if not (folder / name).exists():
            raise CheckpointError(f"checkpoint {folder}: {name} is missing (train one: python -m policies.train)")
    try:
        cfg = VLAConfig.load(folder / CONFIG)
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {folder}: bad {CONFIG} ({e})") from None
    try:
        state = load_file(str(folder / WEIGHTS))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(
            f"checkpoint {folder}: cannot read {WEIGHTS} ({e}); re-export or re-download it"
        ) from None
    return cfg, state


def load_vla(folder: str | Path) -> VLA:
    """Builds the model from ``config.json`` and loads the weights (float32), with clear errors."""
    cfg, state = load_state(folder)
    model = VLA(cfg)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    bad = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or bad:
        raise CheckpointError(
            f"checkpoint {folder}: weights do not match config.json "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {bad[:3]})"
        )
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval()
