"""Fast offscreen rendering of a MuJoCo model through ``mujoco.Renderer``.

robosuite's default offscreen path renders with shadows, reflections, skybox and 4x multisampling.
On a CPU (Mesa llvmpipe over EGL) those cost more than the scene itself; this renderer turns them
off, hides collision geoms (group 0), renders only the cameras asked for, and returns images right
side up (MuJoCo's own convention; robosuite's path returns them upside down).

Render paths (``RenderSettings.path``, stored with every episode record):
    ``full``: ``FastRenderer`` on the physics model itself, every mesh at full resolution.
    ``simplified``: ``SimplifiedRenderer``, a render-only copy of the model whose meshes above
        ``face_budget`` faces are decimated (``envs.meshes``), posed from the physics state each frame.
    ``robosuite``: robosuite's own offscreen path (shadows, reflections, multisampling), for comparison.
"""

from __future__ import annotations

import atexit
import os
import weakref
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from envs.errors import GL_FIX, GLBackendError  # noqa: E402

_LIVE: weakref.WeakSet = weakref.WeakSet()


def _close_all() -> None:
    """Frees GL contexts before interpreter teardown (freeing them later raises EGL errors)."""
    for renderer in list(_LIVE):
        renderer.close()


_OFF_FLAGS = (
    mujoco.mjtRndFlag.mjRND_SHADOW,
    mujoco.mjtRndFlag.mjRND_REFLECTION,
    mujoco.mjtRndFlag.mjRND_SKYBOX,
    mujoco.mjtRndFlag.mjRND_FOG,
    mujoco.mjtRndFlag.mjRND_HAZE,
)


class FastRenderer:
    """Renders named cameras of one ``MjModel``/``MjData`` pair; create it lazily in the process that uses it."""

    def __init__(self, model: mujoco.MjModel, height: int, width: int, multisample: bool = False) -> None:
        if not multisample:
            model.vis.quality.offsamples = 0
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        try:
            self._renderer = mujoco.Renderer(model, height, width)
        except Exception as e:  # GL setup errors come from several libraries with unhelpful messages
            raise GLBackendError(
                f"offscreen rendering failed with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r} ({e}); {GL_FIX}"
            ) from e
        for flag in _OFF_FLAGS:
            self._renderer.scene.flags[flag] = 0
        self._option = mujoco.MjvOption()
        self._option.geomgroup[0] = 0  # collision geoms
        self._model = model
        if not _LIVE:
            # after mujoco.egl registered eglTerminate, so that (LIFO) ours runs first
            atexit.unregister(_close_all)
            atexit.register(_close_all)
        _LIVE.add(self)

    def render(self, data: mujoco.MjData, camera: str) -> np.ndarray:
        """Returns an HxWx3 uint8 image of ``camera`` (right side up)."""
        if mujoco.mj_name2id(self._model, mujoco.mjtObj.mjOBJ_CAMERA, camera) < 0:
            raise ValueError(f"Unknown camera {camera!r}")
        self._renderer.update_scene(data, camera=camera, scene_option=self._option)
        return self._renderer.render().copy()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def check_gl() -> None:
    """Raises ``GLBackendError`` with the fix when no offscreen GL context can be made in this process."""
    try:
        ctx = mujoco.GLContext(8, 8)
        ctx.make_current()
        ctx.free()
    except Exception as e:
        raise GLBackendError(
            f"no working offscreen OpenGL with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r} "
            f"({type(e).__name__}: {e}); {GL_FIX}"
        ) from None


RENDER_PATHS = ("full", "simplified", "robosuite")


@dataclass(frozen=True)
class RenderSettings:
    """How an env renders its cameras; part of every record, so results of two paths never mix.

    ``algorithm``: the decimation (``envs.meshes.ALGORITHM``) of the simplified path, set automatically;
    a label names it only when it is not the current one, so two decimations never share a label."""

    path: str = "full"
    face_budget: int | None = None  # simplified path: meshes above this many faces are decimated
    algorithm: str | None = None

    def __post_init__(self) -> None:
        from envs.meshes import ALGORITHM

        if self.path not in RENDER_PATHS:
            raise ValueError(f"Unknown render path {self.path!r}; choose from {list(RENDER_PATHS)}")
        if (self.path == "simplified") != (self.face_budget is not None):
            raise ValueError(
                f"face_budget is set with the simplified path only (path={self.path!r}, "
                f"face_budget={self.face_budget!r})"
            )
        if self.face_budget is not None and (not isinstance(self.face_budget, int) or self.face_budget < 1):
            raise ValueError(f"face_budget must be an integer >= 1, got {self.face_budget!r}")
        if self.path == "simplified" and self.algorithm is None:
            object.__setattr__(self, "algorithm", ALGORITHM)
        if self.path != "simplified" and self.algorithm is not None:
            raise ValueError("algorithm belongs to the simplified path")

    @classmethod
    def of(cls, fast_render: bool = True, face_budget: int | None = None) -> RenderSettings:
        """The settings an env's ``fast_render`` and ``face_budget`` arguments select."""
        if not fast_render:
            if face_budget is not None:
                raise ValueError("face_budget needs fast_render=True (robosuite's path renders full meshes)")
            return cls("robosuite")
        return cls("full") if face_budget is None else cls("simplified", int(face_budget))

    @classmethod
    def from_record(cls, env: dict[str, Any]) -> RenderSettings:
        """The settings of an episode record's ``env`` field (records before this field: full or robosuite)."""
        if "render_path" in env:
            return cls(env["render_path"], env.get("face_budget"), env.get("mesh_algorithm"))
        return cls("full" if env.get("fast_render", True) else "robosuite")

    @classmethod
    def from_label(cls, label: str) -> RenderSettings:
        """Inverse of ``label()`` for the current decimation (``full``, ``robosuite``, ``simplified3000``)."""
        if label in ("full", "robosuite"):
            return cls(label)
        if label.startswith("simplified") and label.removeprefix("simplified").isdigit():
            return cls("simplified", int(label.removeprefix("simplified")))
        raise ValueError(f"not a render path label of this version: {label!r}")

    def describe(self) -> dict[str, Any]:
        return {"render_path": self.path, "face_budget": self.face_budget, "mesh_algorithm": self.algorithm}

    def label(self) -> str:
        from envs.meshes import ALGORITHM

        if self.face_budget is None:
            return self.path
        tag = "" if self.algorithm == ALGORITHM else f"[{self.algorithm}]"
        return f"{self.path}{self.face_budget}{tag}"


# model fields that robosuite and LIBERO change after compiling (fixture placement, hidden sites, colours)
SYNCED_FIELDS = (
    "body_pos",
    "body_quat",
    "geom_rgba",
    "site_rgba",
    "mat_rgba",
    "light_pos",
    "light_dir",
    "cam_pos",
    "cam_quat",
)


def scene_fields(model: mujoco.MjModel) -> dict[str, np.ndarray]:
    """The runtime-mutable model fields a render model copies from its physics model (see ``SYNCED_FIELDS``)."""
    return {k: getattr(model, k).copy() for k in SYNCED_FIELDS}


class SceneTrack:
    """The synced model fields over an episode, stored compactly: once if a field never changed, else per step.

    LIBERO changes some during an episode (the stove's flame is a site whose colour ``turn_on`` sets)."""

    def __init__(self) -> None:
        self._steps: list[dict[str, np.ndarray]] = []

    def record(self, model: mujoco.MjModel) -> None:
        """Adds the fields as they are now (call once per stored step)."""
        self._steps.append(scene_fields(model))

    def arrays(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``(static, per_step)``: fields equal at every step, and the others stacked over steps."""
        static, per_step = {}, {}
        for k in SYNCED_FIELDS:
            first = self._steps[0][k]
            if all(np.array_equal(st[k], first) for st in self._steps[1:]):
                static[k] = first
            else:
                per_step[k] = np.stack([st[k] for st in self._steps])
        return static, per_step


class SimplifiedRenderer:
    """Renders a physics model's state through its render model (simplified meshes, same bodies and joints)."""

    def __init__(self, physics: mujoco.MjModel, xml: str, face_budget: int, height: int, width: int) -> None:
        from envs.meshes import render_model

        self.model = render_model(physics, xml, face_budget)
        for name in ("nq", "nbody", "ngeom", "ncam", "nlight", "nmocap", "nsite", "nmat"):
            if getattr(self.model, name) != getattr(physics, name):
                raise ValueError(
                    f"render model differs from the physics model in {name}: "
                    f"{getattr(self.model, name)} vs {getattr(physics, name)}"
                )
        self.data = mujoco.MjData(self.model)
        self._renderer = FastRenderer(self.model, height, width)

    def pose(self, qpos: np.ndarray, fields: dict[str, np.ndarray], mocap: tuple | None = None) -> None:
        """Sets the render model's state: joint positions, runtime model fields, mocap poses."""
        for k, v in fields.items():
            np.copyto(getattr(self.model, k), v)
        np.copyto(self.data.qpos, qpos)
        if mocap is not None:
            np.copyto(self.data.mocap_pos, mocap[0])
            np.copyto(self.data.mocap_quat, mocap[1])
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_camlight(self.model, self.data)

    def pose_from(self, physics: mujoco.MjModel, data: mujoco.MjData) -> None:
        self.pose(data.qpos, {k: getattr(physics, k) for k in SYNCED_FIELDS}, (data.mocap_pos, data.mocap_quat))

    def render(self, camera: str) -> np.ndarray:
        """Renders ``camera`` at the last pose (``pose`` or ``pose_from``)."""
        return self._renderer.render(self.data, camera)

    def close(self) -> None:
        self._renderer.close()
