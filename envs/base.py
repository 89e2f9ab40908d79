"""Gymnasium base class shared by the LIBERO and robosuite environments.

Observation (a ``Dict`` space):
    ``agentview``: HxWx3 uint8 third-person image, right side up.
    ``wrist``: HxWx3 uint8 eye-in-hand image, right side up.
    ``state``: float32 proprio vector, layout in ``STATE_LAYOUT``.
    ``instruction``: the task's language instruction (also in ``info["instruction"]``).
Action: 7-d OSC_POSE delta (dx, dy, dz, droll, dpitch, dyaw) in [-1, 1] and a gripper command
(-1 open, +1 close), the action space of LIBERO.
"""

from __future__ import annotations

import contextlib
import string
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from envs import forward_memo
from envs.errors import RendererError, SimulationError
from envs.render import FastRenderer, RenderSettings, SimplifiedRenderer
from policies.cameras import CAMERAS

STATE_LAYOUT: dict[str, slice] = {
    "eef_pos": slice(0, 3),
    "eef_rot6d": slice(3, 9),  # first two columns of the end-effector rotation matrix
    "gripper_qpos": slice(9, 11),
    "joint_pos": slice(11, 18),
}
STATE_DIM = 18
SETTLE_ACTION = np.array([0, 0, 0, 0, 0, 0, -1], dtype=np.float64)
_W = mujoco.mjtWarning
UNSTABLE_WARNINGS = (_W.mjWARN_BADQACC, _W.mjWARN_BADQPOS, _W.mjWARN_BADQVEL)


@contextlib.contextmanager
def seeded_global_numpy(seed: int) -> Iterator[None]:
    """Seeds numpy's global RNG for the block and restores its previous state afterwards.

    robosuite's and LIBERO's placement samplers draw from ``np.random`` directly; this makes them
    reproducible without leaving the caller's global RNG changed.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


class SimEnv(gym.Env):
    """A robosuite-backed manipulation task with image + proprio + instruction observations."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    settle_steps = 10

    def __init__(
        self,
        image_size: int = 128,
        fast_render: bool = True,
        render_images: bool = True,
        render_mode: str | None = None,
        face_budget: int | None = None,
    ) -> None:
        if image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {image_size}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.image_size = int(image_size)
        self.fast_render = fast_render
        self.render_settings = RenderSettings.of(fast_render, face_budget)  # envs.render: the three paths
        self.render_images = render_images  # False: black images (privileged-state experts, physics timing)
        self.render_mode = render_mode
        img = spaces.Box(0, 255, (self.image_size, self.image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(
            {
                "agentview": img,
                "wrist": img,
                "state": spaces.Box(-np.inf, np.inf, (STATE_DIM,), np.float32),
                "instruction": spaces.Text(max_length=512, charset=string.printable),
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, (7,), np.float32)
        # robosuite samples some model parameters (Lift's cube size) from np.random while building the
        # model: seeded here, or the same seed and init state gave different episodes in each process
        forward_memo.install()  # robosuite's second mj_forward per substep, on the same state, is skipped
        with seeded_global_numpy(0):
            self._rs = self._build()  # the robosuite MujocoEnv
        # created lazily: EGL contexts must not cross fork()
        self._renderer: FastRenderer | SimplifiedRenderer | None = None
        self._rs_obs: dict[str, np.ndarray] = {}

    # --- subclass hooks -------------------------------------------------------------------
    def _build(self) -> Any:
        raise NotImplementedError

    def _reset_sim(self, placement_seed: int, options: dict[str, Any]) -> None:
        raise NotImplementedError

    @property
    def instruction(self) -> str:
        raise NotImplementedError

    def is_success(self) -> bool:
        return bool(self._rs._check_success())

    def describe(self) -> dict[str, Any]:
        """Settings to store alongside results."""
        return {
            "class": type(self).__name__,
            "image_size": self.image_size,
            "fast_render": self.fast_render,
            "render_images": self.render_images,
            **self.render_settings.describe(),
        }

    # --- privileged access (scripted experts, tests) --------------------------------------
    @property
    def sim(self) -> Any:
        return self._rs.sim

    @property
    def model(self) -> mujoco.MjModel:
        return self._rs.sim.model._model

    @property
    def data(self) -> mujoco.MjData:
        return self._rs.sim.data._data

    @property
    def robot(self) -> Any:
        return self._rs.robots[0]

    def scene_xml(self) -> str:
        """The MJCF the current physics model was compiled from (a new layout rebuilds it on LIBERO)."""
        return self._rs.model.get_xml()

    # --- gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        placement_seed = int(self.np_random.integers(2**31 - 1))
        self._use_robosuite_context()
        self._reset_sim(placement_seed, dict(options or {}))
        self._sync_controllers()
        for _ in range(self.settle_steps):
            self._rs_obs = self._rs.step(SETTLE_ACTION)[0]
        return self._observation(), {"instruction": self.instruction, "is_success": self.is_success()}

    def step(self, action: np.ndarray):
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (7,):
            raise ValueError(f"action must have 7 entries, got shape {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action contains NaN or inf: {action}")
        self._use_robosuite_context()
        before = [int(self.data.warning[w].number) for w in UNSTABLE_WARNINGS]
        self._rs_obs = self._rs.step(np.clip(action, -1.0, 1.0))[0]
        after = [int(self.data.warning[w].number) for w in UNSTABLE_WARNINGS]
        if after != before:  # MuJoCo reset the state silently: the episode is no longer meaningful
            raise SimulationError(f"MuJoCo instability at time {self.data.time:.3f} s (warnings {before} -> {after})")
        success = self.is_success()
        info = {"instruction": self.instruction, "is_success": success}
        return self._observation(), float(success), success, False, info

    def _use_robosuite_context(self) -> None:
        """On the default path, makes robosuite's EGL context current: its renderer assumes it is, and
        renders garbage after another context (a ``FastRenderer`` in the same process) was used."""
        ctx = getattr(self._rs.sim, "_render_context_offscreen", None)
        if ctx is not None:
            ctx.gl_ctx.make_current()

    def _invalidate_renderer(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def _sync_controllers(self) -> None:
        """Clears controller state that robosuite keeps across a soft reset.

        The Panda gripper model integrates its command in ``current_action`` and the OSC controller
        caches the end-effector pose until its next update; both survived ``reset()`` and made an
        episode depend on the one run before it in the same env (the fresh-vs-reused mismatch).
        """
        for robot in self._rs.robots:
            robot.gripper.current_action = np.zeros(robot.gripper.dof)
            robot.controller.update(force=True)
            robot.controller.reset_goal()

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self._camera("agentview")

    def close(self) -> None:
        self._invalidate_renderer()
        if self._rs is not None:
            self._rs.close()
            self._rs = None

    # --- observation -------------------------------------------------------------------------
    def _camera(self, key: str, posed: bool = False) -> np.ndarray:
        """One camera's image; ``posed``: the simplified renderer already holds this step's pose."""
        if not self.render_images:
            return np.zeros((self.image_size, self.image_size, 3), np.uint8)
        if not self.fast_render:  # robosuite's own offscreen path, rendered inside its step()
            return np.ascontiguousarray(self._rs_obs[f"{CAMERAS[key]}_image"][::-1])
        try:
            if self._renderer is None:
                self._renderer = self._make_renderer()
            if isinstance(self._renderer, SimplifiedRenderer):
                if not posed:
                    self._renderer.pose_from(self.model, self.data)
                return self._renderer.render(CAMERAS[key])
            return self._renderer.render(self.data, CAMERAS[key])
        except Exception as e:
            raise RendererError(f"rendering camera {key!r} failed: {type(e).__name__}: {e}") from e

    def _make_renderer(self) -> FastRenderer | SimplifiedRenderer:
        size = self.image_size
        if self.render_settings.path == "simplified":
            return SimplifiedRenderer(self.model, self.scene_xml(), self.render_settings.face_budget, size, size)
        return FastRenderer(self.model, size, size)

    def proprio(self) -> np.ndarray:
        """The ``state`` vector (see ``STATE_LAYOUT``)."""
        robot, data = self.robot, self.data
        rot = data.site_xmat[robot.eef_site_id].reshape(3, 3)
        return np.concatenate(
            [
                data.site_xpos[robot.eef_site_id],
                rot[:, 0],
                rot[:, 1],
                data.qpos[robot._ref_gripper_joint_pos_indexes],
                data.qpos[robot._ref_joint_pos_indexes],
            ]
        ).astype(np.float32)

    def _observation(self) -> dict[str, Any]:
        agentview = self._camera("agentview")  # poses the simplified renderer for both cameras
        return {
            "agentview": agentview,
            "wrist": self._camera("wrist", posed=True),
            "state": self.proprio(),
            "instruction": self.instruction,
        }

    def _camera_kwargs(self) -> dict[str, Any]:
        """robosuite constructor arguments selecting the rendering path."""
        return dict(
            has_renderer=False,
            has_offscreen_renderer=self.render_images and not self.fast_render,
            use_camera_obs=self.render_images and not self.fast_render,
            camera_names=list(CAMERAS.values()),
            camera_heights=self.image_size,
            camera_widths=self.image_size,
            control_freq=20,
            ignore_done=True,
            hard_reset=False,
        )
