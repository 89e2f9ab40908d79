"""Fast offscreen rendering of a MuJoCo model through ``mujoco.Renderer``.

robosuite's default offscreen path renders with shadows, reflections, skybox and 4x multisampling.
On a CPU (Mesa llvmpipe over EGL) those cost more than the scene itself; this renderer turns them
off, hides collision geoms (group 0), renders only the cameras asked for, and returns images right
side up (MuJoCo's own convention; robosuite's path returns them upside down).
"""

from __future__ import annotations

import atexit
import os
import weakref

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
