"""The teacher VLA: frozen pretrained encoders, a routable transformers trunk, an action-chunk head."""

from policies.vla.config import VLAConfig
from policies.vla.model import VLA

__all__ = ["VLA", "VLAConfig"]
