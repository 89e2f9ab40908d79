"""Expert primitives for articulated fixtures: drawers and doors (open, close) and knobs (turn).

Each primitive reads the fixture's joint from the live model, plans from its geometry and runs as a
generator of actions on a ``PickPlaceExpert`` (its servo, move and hold helpers), so that one planner
executes a task's whole goal: the pick-and-place steps and these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from policies.expert.pick_place import CLOSE, OPEN, PickPlaceExpert, Place
from policies.expert.scene import Scene, wrap_to

PAD_DEPTH = 0.004  # the finger pads' centre lies this far behind the grip site, along the approach
PUSH_TILT = np.deg2rad(50.0)  # a pushing hand dips this far from horizontal (keeps the elbow off the fixture)
FINGER_REACH = 0.012  # the fingertips lie this far beyond the grip site, along the approach


@dataclass
class Joint:
    """One fixture joint: ``body`` moves on it; ``goal_q`` is where the task wants it."""

    id: int
    body: int
    goal_q: float
    done: Callable[[], bool]  # the BDDL predicate, read from the env (LIBERO's own check)
    toward: float = 1.0  # the sign of a change of q that moves it towards the goal

    def q(self, scene: Scene) -> float:
        return float(scene.d.qpos[scene.m.jnt_qposadr[self.id]])

    def axis(self, scene: Scene) -> np.ndarray:
        """The joint axis in world coordinates."""
        return scene.d.xmat[self.body].reshape(3, 3) @ scene.m.jnt_axis[self.id]

    def is_slide(self, scene: Scene) -> bool:
        return int(scene.m.jnt_type[self.id]) == int(mujoco.mjtJoint.mjJNT_SLIDE)


def handle_box(scene: Scene, joint: Joint, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The box of the moving part's geom that sticks out furthest along ``direction`` (a drawer's handle)."""
    geoms = scene.geoms(joint.body)
    boxes = scene.geom_boxes(geoms)
    reach = np.maximum(boxes[:, 0] @ direction, boxes[:, 1] @ direction)
    lo, hi = boxes[int(np.argmax(reach))]
    return lo, hi


def _nearest(candidates: list[np.ndarray], now: np.ndarray) -> np.ndarray:
    """The orientation among ``candidates`` that is the smallest rotation away from ``now``."""
    angles = [np.linalg.norm(Rotation.from_matrix(r @ now.T).as_rotvec()) for r in candidates]
    return candidates[int(np.argmin(angles))]


def side_rotation(approach: np.ndarray, now: np.ndarray) -> np.ndarray:
    """Gripper pointing horizontally along ``approach`` with its fingers closing vertically: of the two
    such orientations (the hand turned by half a turn about its axis), the one nearer ``now``."""
    z = approach / np.linalg.norm(approach)
    xs = [np.array([0.0, 0.0, up]) for up in (1.0, -1.0)]
    return _nearest([np.column_stack([x, np.cross(z, x), z]) for x in xs], now)


def pointing_rotation(approach: np.ndarray, now: np.ndarray, tilt: float = 0.0) -> np.ndarray:
    """Gripper pointing along horizontal ``approach``, dipped by ``tilt`` rad towards the floor, its fingers
    side by side (closing horizontally); of the two such orientations, the one nearer ``now``."""
    a = approach / np.linalg.norm(approach)
    z = np.cos(tilt) * a + np.sin(tilt) * np.array([0.0, 0.0, -1.0])
    xs = [sign * np.cross([0.0, 0.0, 1.0], a) for sign in (1.0, -1.0)]
    return _nearest([np.column_stack([x, np.cross(z, x), z]) for x in xs], now)


@dataclass
class SlideDrawer:
    """Open or close a drawer on a slide joint.

    Open: the handle bar is grasped from the side (the gap between bar and drawer face is too narrow for a
    finger from above), fingers closing vertically, and pulled. Close: the closed hand pushes the handle
    from outside, pointing down.
    """

    joint: Joint
    open: bool
    full: bool = False  # open to the joint's limit, even if the predicate already holds (to put things in)

    def direction(self, scene: Scene) -> np.ndarray:
        """Unit world direction in which the drawer moves towards the goal (horizontal)."""
        d = self.joint.axis(scene) * self.joint.toward
        d[2] = 0.0
        return d / max(np.linalg.norm(d), 1e-9)

    def limit(self, scene: Scene) -> float:
        """The joint's end stop in the direction of the goal."""
        lo, hi = scene.m.jnt_range[self.joint.id]
        return float(hi if self.joint.toward > 0 else lo)

    def run(self, ex: PickPlaceExpert) -> Iterator[np.ndarray]:
        s = ex.scene
        if not self.joint.done():
            yield from self._open_or_close(ex)  # (``full``: pulled to the end stop)
            return
        left = (self.limit(s) - self.joint.q(s)) * self.joint.toward
        if self.full and left > 0.004:
            yield from self._hook(ex, left)

    def _open_or_close(self, ex: PickPlaceExpert) -> Iterator[np.ndarray]:
        s = ex.scene
        d = self.direction(s)
        out = d if self.open else -d  # the handle's outward direction: the face's normal
        lo, hi = handle_box(s, self.joint, out)
        centre = 0.5 * (lo + hi)
        goal = self.limit(s) if self.full else self.joint.goal_q
        travel = abs(goal - self.joint.q(s)) + 0.01
        if self.open:
            yield from self._pull(ex, centre, d, travel)
        else:
            yield from self._push(ex, centre, hi, lo, d, travel)

    def _hook(self, ex: PickPlaceExpert, travel: float) -> Iterator[np.ndarray]:
        """An open drawer is pulled to its end stop by the closed fingers hooked behind its front wall."""
        s, c = ex.scene, ex.cfg
        out = self.direction(s)
        boxes = s.geom_boxes(s.geoms(self.joint.body))
        walls = boxes[(boxes[:, 1, 2] - boxes[:, 0, 2]) > 0.03]
        far = np.maximum(walls[:, 0] @ out, walls[:, 1] @ out)
        near = np.minimum(walls[:, 0] @ out, walls[:, 1] @ out)
        front = (far > far.max() - 0.02) & (far - near < 0.02)  # the panels across the drawer's front
        inner = near[front].min()
        lo, hi = walls[:, 0].min(0), walls[:, 1].max(0)
        centre = 0.5 * (lo + hi)
        point = centre + (inner - centre @ out - 0.018) * out
        point[2] = hi[2] - 0.03 + FINGER_REACH
        yaw = wrap_to(float(np.arctan2(out[1], out[0])) + np.pi / 2, s.eef_yaw())  # fingers along the wall
        yield from ex._hold(CLOSE, 8)
        yield from ex._move(point + [0, 0, 0.08], yaw, CLOSE, tol=0.01, max_steps=120)
        yield from ex._move(point, yaw, CLOSE, vmax=c.vmax_fine, tol=0.006, max_steps=60)
        yield from ex._move(point + (travel + 0.01) * out, yaw, CLOSE, vmax=c.vmax_fine, tol=0.005, max_steps=60)
        yield from ex._move(s.eef_pos() + [0, 0, 0.08], yaw, CLOSE, tol=0.015, max_steps=40)

    def _pull(self, ex: PickPlaceExpert, centre: np.ndarray, d: np.ndarray, travel: float) -> Iterator[np.ndarray]:
        s, c = ex.scene, ex.cfg
        rot = side_rotation(-d, s.eef_rot())
        grip = centre - PAD_DEPTH * d  # pads centred on the bar
        far = grip + 0.12 * d
        yield from ex._move(far + [0, 0, 0.06], 0.0, OPEN, tol=0.02, max_steps=120, rot=rot)
        yield from ex._move(far, 0.0, OPEN, tol=0.01, max_steps=60, rot=rot)
        yield from ex._move(grip, 0.0, OPEN, vmax=c.vmax_fine, tol=0.004, max_steps=80, rot=rot)
        for _ in range(c.close_steps):
            yield ex._servo(grip, 0.0, CLOSE, c.vmax_fine, rot)
        yield from ex._move(grip + travel * d, 0.0, CLOSE, vmax=0.5, tol=0.006, max_steps=150, rot=rot)
        for _ in range(10):
            yield ex._servo(s.eef_pos(), 0.0, OPEN, c.vmax_fine, rot)
        back = s.eef_pos() + 0.10 * d
        yield from ex._move(back, 0.0, OPEN, tol=0.015, max_steps=40, rot=rot)
        # turn back to pointing down clear of the fixture: turning next to it, the hand shuts the drawer again
        high = back.copy()
        high[2] = max(back[2], s.box(s.root(self.joint.body))[1][2] + 0.10)
        yield from ex._move(high, 0.0, OPEN, tol=0.02, max_steps=60, rot=rot)
        yield from ex._move(high, wrap_to(float(np.arctan2(d[1], d[0])), s.eef_yaw()), OPEN, tol=0.03, max_steps=40)

    def _push(self, ex, centre, hi, lo, d, travel) -> Iterator[np.ndarray]:
        """The closed hand, pointing horizontally into the fixture (fingers side by side), pushes the handle
        with its fingertips: pointing down, the arm's elbow hits the cabinet top over a low drawer."""
        s, c = ex.scene, ex.cfg
        rot = pointing_rotation(d, s.eef_rot(), tilt=PUSH_TILT)
        tip = rot[:, 2] * FINGER_REACH  # grip site -> fingertips
        front = min(hi @ d, lo @ d)  # the handle's outer face
        contact = centre + (front - centre @ d - 0.015) * d - [0, 0, 0.008]  # below the handle's top edge
        start = contact - tip
        yield from ex._hold(CLOSE, 8)
        yield from ex._move(start - 0.04 * d + [0, 0, 0.08], 0.0, CLOSE, tol=0.02, max_steps=120, rot=rot)
        yield from ex._move(start, 0.0, CLOSE, vmax=c.vmax_fine, tol=0.006, max_steps=80, rot=rot)
        yield from ex._move(start + (travel + 0.03) * d, 0.0, CLOSE, tol=0.006, max_steps=150, rot=rot)
        back = s.eef_pos() - 0.05 * d + [0, 0, 0.08]
        yield from ex._move(back, 0.0, CLOSE, tol=0.015, max_steps=40, rot=rot)


@dataclass
class TurnKnob:
    """Grasp a knob's ridge from above and turn it about its (vertical) axis to the goal angle."""

    joint: Joint
    overshoot: float = 0.35  # rad past the goal, against the knob's spring-back and slip

    def run(self, ex: PickPlaceExpert) -> Iterator[np.ndarray]:
        s, c = ex.scene, ex.cfg
        if self.joint.done():
            return
        boxes = s.geom_boxes(s.geoms(self.joint.body))
        top = boxes[:, 1, 2].max()
        ridge = boxes[boxes[:, 1, 2] > top - 0.02]  # the part standing up from the knob's disc
        rlo, rhi = ridge[:, 0].min(0), ridge[:, 1].max(0)
        along = rhi[:2] - rlo[:2]
        axis_xy = s.d.xanchor[self.joint.id][:2]
        # fingers across the ridge's narrow side
        yaw0 = 0.0 if along[0] < along[1] else np.pi / 2
        yaw0 = wrap_to(yaw0, s.eef_yaw())
        point = np.array([axis_xy[0], axis_xy[1], top - 0.02])
        yield from ex._move(point + [0, 0, 0.08], yaw0, OPEN, tol=0.01, max_steps=120)
        yield from ex._move(point, yaw0, OPEN, vmax=c.vmax_fine, tol=0.005, max_steps=80)
        yield from ex._hold(CLOSE, c.close_steps)
        turn = np.sign(self.joint.goal_q - self.joint.q(s)) * (
            abs(self.joint.goal_q - self.joint.q(s)) + self.overshoot
        )
        for k in range(1, 9):
            yield from ex._move(point, yaw0 + turn * k / 8, CLOSE, vmax=c.vmax_fine, tol=0.01, max_steps=12)
            if self.joint.done() and k >= 4:
                break
        yield from ex._hold(OPEN, 10)
        yield from ex._move(s.eef_pos() + [0, 0, 0.08], s.eef_yaw(), OPEN, tol=0.015, max_steps=40)


def drawer_place(scene: Scene, drawer: SlideDrawer, site_xy: np.ndarray, held: int, margin: float = 0.012) -> Place:
    """How to put ``held`` into an open drawer, on its floor at the region's centre. Where the fixture
    overhangs that spot (the handles of the drawers above), the object is lowered further out until its
    rim just clears the drawer's walls and slid in under the overhang."""
    out = drawer.direction(scene)[:2]
    lo_d, hi_d = scene.box(drawer.joint.body)
    floor = scene.surface_z(site_xy, exclude=held) + 0.01
    moving = set(scene.geoms(drawer.joint.body).tolist())
    geoms = np.array([g for g in scene.geoms(scene.root(drawer.joint.body)) if g not in moving], dtype=int)
    boxes = scene.geom_boxes(geoms)
    boxes = boxes[boxes[:, 0, 2] > hi_d[2] - 0.005]  # over the drawer's walls
    lo_h, hi_h = scene.box(held)
    radius = 0.5 * np.ptp(scene.corners(held)[:, :2] @ out)
    if not len(boxes):
        return Place(site_xy, floor)
    inner = np.minimum(boxes[:, 0, :2] @ -out, boxes[:, 1, :2] @ -out).min()  # nearest overhang, into the cabinet
    shift = site_xy @ -out + radius + margin - inner
    if shift <= 0:
        return Place(site_xy, floor)
    rim_clear = hi_d[2] + 0.008 - (hi_h[2] - lo_h[2])  # bottom height at which the rim just clears the walls
    return Place(site_xy, floor, via_xy=site_xy + shift * out, via_bottom_z=max(floor, rim_clear))
