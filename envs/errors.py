"""Errors raised by the environments, so evaluation can record why an episode failed."""


class SimulationError(RuntimeError):
    """The physics became unstable (MuJoCo flagged bad accelerations/positions/velocities and reset)."""


class RendererError(RuntimeError):
    """Offscreen rendering failed (GL context lost, EGL unavailable...)."""


class GLBackendError(RuntimeError):
    """No working offscreen OpenGL backend for MuJoCo (``MUJOCO_GL``)."""


GL_FIX = "use MUJOCO_GL=egl with Mesa EGL installed (apt-get install libegl1 libegl-mesa0)"
