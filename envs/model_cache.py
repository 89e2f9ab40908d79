"""Compiled physics models reused across LIBERO's hard resets (same MJCF, compiled once per process).

LIBERO rebuilds its model from the MJCF at every new layout (``hard_reset``), and the MJCF of a task is
the same for every layout: the placements are set afterwards through joint positions and body poses.
Compiling it took 1.2-2.1 s per new layout here, copying a compiled model 0.6-0.8 s. ``install()``
makes robosuite's ``MjSim.from_xml_string`` hand out a copy of a model compiled once from the same
text: the copy is byte for byte the compiled model, so episodes are bit-identical (three expert
episodes of LIBERO-Spatial task 0 compared step by step; ``tests/test_render.py`` checks the copy).
"""

from __future__ import annotations

import copy
import hashlib
from collections import OrderedDict

import mujoco

_MODELS: OrderedDict[str, mujoco.MjModel] = OrderedDict()
KEEP = 2  # pristine models kept per process (a LIBERO model with its textures is a few hundred MB)
_installed = False


def compiled(xml: str) -> mujoco.MjModel:
    """A fresh copy of ``xml`` compiled (once per process for the last ``KEEP`` distinct texts)."""
    key = hashlib.sha1(xml.encode()).hexdigest()
    if key not in _MODELS:
        _MODELS[key] = mujoco.MjModel.from_xml_string(xml)
        while len(_MODELS) > KEEP:
            _MODELS.popitem(last=False)
    _MODELS.move_to_end(key)
    return copy.deepcopy(_MODELS[key])  # robosuite and LIBERO change their model after loading it


def install() -> None:
    """Routes robosuite's ``MjSim.from_xml_string`` through ``compiled`` (idempotent)."""
    global _installed
    if _installed:
        return
    from robosuite.utils.binding_utils import MjSim

    MjSim.from_xml_string = classmethod(lambda cls, xml: cls(compiled(xml)))
    _installed = True
