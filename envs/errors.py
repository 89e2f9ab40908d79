"""Errors raised by the environments, so evaluation can record why an episode failed."""


class SimulationError(RuntimeError):
    """The physics became unstable (MuJoCo flagged bad accelerations/positions/velocities and reset)."""


class RendererError(RuntimeError):
    """Offscreen rendering failed (GL context lost, EGL unavailable...)."""
