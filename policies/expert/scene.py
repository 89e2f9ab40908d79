"""Privileged geometric queries on a robosuite/LIBERO scene, for the scripted experts."""

from __future__ import annotations

import mujoco
import numpy as np

from envs.base import SimEnv

_CORNERS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)


class Scene:
    """Bodies, their collision boxes and surfaces, read from the live MuJoCo model and data."""

    def __init__(self, env: SimEnv) -> None:
        self.env = env
        self.m: mujoco.MjModel = env.model
        self.d: mujoco.MjData = env.data
        m = self.m
        collidable = (m.geom_contype != 0) | (m.geom_conaffinity != 0)
        self._geoms_by_root: dict[int, np.ndarray] = {}
        self._collidable = np.flatnonzero(collidable)
        self._robot_bodies = {
            b
            for b in range(m.nbody)
            if (mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b) or "").startswith(("robot0_", "gripper0_", "mount0_"))
        }
        body_root = np.array([self.root(b) if b else 0 for b in range(m.nbody)])
        self._obstacle_candidates = np.array(
            [g for g in self._collidable if m.geom_bodyid[g] != 0 and m.geom_bodyid[g] not in self._robot_bodies],
            dtype=int,
        )
        self._candidate_root = body_root[m.geom_bodyid[self._obstacle_candidates]]
        self.eef_site = env.robot.eef_site_id
        base = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "robot0_base")
        self.base_xy = self.d.xpos[base][:2].copy()

    # --- bodies ---------------------------------------------------------------------------
    def site(self, name: str) -> int:
        return mujoco.mj_name2id(self.m, mujoco.mjtObj.mjOBJ_SITE, name)

    def in_subtree(self, body: int, root: int) -> bool:
        """Whether ``body`` is ``root`` or below it (every body is below the world body 0)."""
        while body > 0:
            if body == root:
                return True
            body = self.m.body_parentid[body]
        return root == 0

    def geoms(self, root: int) -> np.ndarray:
        """Collidable geoms in the subtree of body ``root``."""
        if root not in self._geoms_by_root:
            ids = [g for g in self._collidable if self.in_subtree(self.m.geom_bodyid[g], root)]
            self._geoms_by_root[root] = np.array(ids, dtype=int)
        return self._geoms_by_root[root]

    def _geom_corners(self, g: np.ndarray) -> np.ndarray:
        """World coordinates (n, 8, 3) of the corners of the bounding boxes of geoms ``g``."""
        aabb = self.m.geom_aabb[g]  # center (3), half-size (3) in each geom's frame
        local = aabb[:, None, :3] + _CORNERS[None] * aabb[:, None, 3:]
        rot = self.d.geom_xmat[g].reshape(-1, 3, 3)
        return np.einsum("gij,gkj->gki", rot, local) + self.d.geom_xpos[g][:, None]

    def corners(self, root: int) -> np.ndarray:
        """World coordinates of the corners of every collision geom's box in a body's subtree, (8 n, 3)."""
        return self.corners_of(self.geoms(root))

    def corners_of(self, geoms: np.ndarray) -> np.ndarray:
        """World coordinates of the corners of the boxes of ``geoms``, (8 n, 3)."""
        return self._geom_corners(geoms).reshape(-1, 3)

    def box(self, root: int) -> tuple[np.ndarray, np.ndarray]:
        """World axis-aligned bounding box (lo, hi) of a body's collision geoms."""
        c = self.corners(root)
        return c.min(0), c.max(0)

    def unsettled(self, speed: float = 0.02) -> list[int]:
        """Free objects still falling or sliding: faster than ``speed`` (m/s), or touching nothing (some
        LIBERO-10 init states start objects in the air, and they land during the first steps)."""
        m, d = self.m, self.d
        touching = {self.root(m.geom_bodyid[g]) for c in d.contact[: d.ncon] for g in (c.geom1, c.geom2)}
        out = []
        for j in np.flatnonzero(m.jnt_type == mujoco.mjtJoint.mjJNT_FREE):
            body = self.root(m.jnt_bodyid[j])
            if body in self._robot_bodies:
                continue
            v = d.qvel[m.jnt_dofadr[j] : m.jnt_dofadr[j] + 3]
            if np.linalg.norm(v) > speed or body not in touching:
                out.append(int(body))
        return out

    def pos(self, body: int) -> np.ndarray:
        return self.d.xpos[body].copy()

    def obstacles(self, exclude: set[int]) -> np.ndarray:
        """Collision geoms of the things on the table: geoms of non-robot bodies outside the subtrees
        in ``exclude``, smaller than 0.5 m across (drops table, floor and walls)."""
        g = self._obstacle_candidates[~np.isin(self._candidate_root, list(exclude))]
        boxes = self.geom_boxes(g)
        return g[np.all(boxes[:, 1, :2] - boxes[:, 0, :2] < 0.5, axis=1)]

    def geom_boxes(self, g: np.ndarray) -> np.ndarray:
        """World axis-aligned boxes (n, 2, 3) around geoms ``g``."""
        world = self._geom_corners(g)
        return np.stack([world.min(1), world.max(1)], axis=1)

    def blocked(self, points: np.ndarray, geoms: np.ndarray, margin: float) -> int:
        """How many 3-d ``points`` lie within ``margin`` of a geom's oriented bounding box."""
        if not len(geoms):
            return 0
        aabb = self.m.geom_aabb[geoms]
        rot = self.d.geom_xmat[geoms].reshape(-1, 3, 3)
        centre = self.d.geom_xpos[geoms] + np.einsum("gij,gj->gi", rot, aabb[:, :3])
        local = np.einsum("gji,pgj->pgi", rot, points[:, None] - centre[None])  # into each geom's frame
        inside = np.all(np.abs(local) <= aabb[None, :, 3:] + margin, axis=-1)
        return int(np.any(inside, axis=1).sum())

    def root(self, body: int) -> int:
        """The child of the world body whose subtree holds ``body`` (a whole object or fixture)."""
        while self.m.body_parentid[body] != 0:
            body = self.m.body_parentid[body]
        return body

    def surface_z(self, xy: np.ndarray, exclude: int = -1) -> float:
        """Height of the first collision surface straight below ``xy`` (ray cast from 2 m)."""
        geomgroup = np.array([1, 0, 0, 0, 0, 0], dtype=np.uint8)
        geomid = np.zeros(1, dtype=np.int32)
        start = np.array([xy[0], xy[1], 2.0])
        dist = mujoco.mj_ray(self.m, self.d, start, np.array([0.0, 0.0, -1.0]), geomgroup, 1, exclude, geomid)
        if dist < 0:
            raise RuntimeError(f"no surface below {xy}")
        return 2.0 - dist

    # --- robot ----------------------------------------------------------------------------
    def eef_pos(self) -> np.ndarray:
        return self.d.site_xpos[self.eef_site].copy()

    def eef_rot(self) -> np.ndarray:
        return self.d.site_xmat[self.eef_site].reshape(3, 3).copy()

    def eef_yaw(self) -> float:
        r = self.eef_rot()
        return float(np.arctan2(r[1, 0], r[0, 0]))

    def grasped(self, root: int) -> bool:
        """Whether both finger pads touch the object under ``root`` (robosuite's own grasp check)."""
        m = self.m
        names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, g) for g in self.geoms(root)]
        names = [n for n in names if n]
        return bool(names) and bool(self.env._rs._check_grasp(gripper=self.env.robot.gripper, object_geoms=names))

    def finger_gap(self) -> float:
        q = self.d.qpos[self.env.robot._ref_gripper_joint_pos_indexes]
        return float(abs(q[0] - q[1]))


def down_rotation(yaw: float) -> np.ndarray:
    """Gripper pointing straight down with its finger axis at ``yaw`` in the world xy plane."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])


def wrap_to(angle: float, ref: float, period: float = np.pi) -> float:
    """The angle equivalent to ``angle`` modulo ``period`` closest to ``ref``."""
    return ref + (angle - ref + period / 2) % period - period / 2
