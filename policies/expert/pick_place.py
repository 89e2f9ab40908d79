"""A privileged-state pick-and-place expert: a scripted state machine over an OSC_POSE delta controller.

Grasps: bowls and mugs by the rim (wider than the finger gap), everything else across a
horizontal width that fits between the fingers. Placing: the held object is brought above the target with its
bottom clear of every obstacle on the way, lowered and released.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from policies.expert.scene import Scene, down_rotation, wrap_to

OPEN, CLOSE = -1.0, 1.0
MAX_FINGER_WIDTH = 0.066  # widest object the Panda fingers grasp reliably (open gap about 0.076)
PART_MIN_HEIGHT = 0.02  # a part grasped alone (a handle, a lid's knob) is at least this tall: a finger pad


@dataclass
class Place:
    """Where to put the held object: bottom at ``bottom_z`` above ``xy`` (``xy`` None: just lift)."""

    xy: np.ndarray | None
    bottom_z: float = 0.0
    release_open_steps: int = 20
    # lowered at ``via_xy`` to ``via_bottom_z`` first, then slid over to ``xy`` (into a drawer, under what
    # overhangs it)
    via_xy: np.ndarray | None = None
    via_bottom_z: float = 0.0


@dataclass
class Step:
    """Pick ``body`` and then put it where ``place()`` says (evaluated after the lift)."""

    body: int
    place: Callable[[Scene, int], Place]
    rim_grasp: bool = False
    part_grasp: bool = False  # too wide to grasp whole: by a part (``PickPlaceExpert._part_grasp``)


@dataclass
class ExpertConfig:
    kp_pos: float = 10.0
    kp_rot: float = 3.0
    vmax: float = 1.0
    vmax_fine: float = 0.4
    hover: float = 0.08
    lift: float = 0.15
    clearance: float = 0.04
    close_steps: int = 15
    max_regrasps: int = 3
    yaw_step_deg: float = 15.0
    rim_depth: float = 0.03  # how far below the rim the finger pads close on a bowl wall
    reach_soft_limit: float = 0.68
    open_gap: float = 0.07  # finger gap (m) that counts as open, resuming (fully open: about 0.08)
    corridor: float = 0.02  # xy distance (m) from the grasp within which a resumed hand descends straight
    # the descent onto a grasp ends within ``grasp_tol`` of it, moving at least ``descent_vmin``: a state decides
    # the close (a memoryless clone can copy it), not 10 steps of creeping against a contact (docs/expert.md)
    grasp_tol: float = 0.012
    descent_vmin: float = 0.15
    descent_stall_steps: int = 3  # a descent blocked by a contact closes after this many still steps, not 10
    settled_gap: float = 0.0005  # the fingers have stopped closing once the gap changes less than this in a step


@dataclass
class Grasp:
    point: np.ndarray
    yaw: float


class PickPlaceExpert:
    """Runs ``steps`` in order; ``next_action()`` returns one 7-d action per env step."""

    def __init__(self, scene: Scene, steps: list[Step], cfg: ExpertConfig | None = None, resume: bool = False) -> None:
        """``resume``: start from whatever state the scene is in (a policy's, mid-episode): the phase is read
        from the privileged state (object already held: carry it; else ``_resume_pick``)."""
        self.scene, self.steps, self.cfg = scene, steps, cfg or ExpertConfig()
        self.resume = resume
        self._final_grip = OPEN
        self._dropped = False
        self._gen = self._script()
        self.last_move: tuple[str, int, float] = ("", 0, 0.0)  # how the last _move ended: why, steps, error (m)
        self._close_steps = 0
        self.grasps: list[dict] = []  # per grasp: how its descent ended and how long the close took (diagnostics)

    def next_action(self) -> np.ndarray:
        return next(self._gen)

    # --- low level --------------------------------------------------------------------------
    def _servo(
        self,
        target: np.ndarray,
        yaw: float,
        grip: float,
        vmax: float,
        rot: np.ndarray | None = None,
        vmin: float = 0.0,
    ) -> np.ndarray:
        """One action towards ``target`` with the gripper pointing down at ``yaw`` (or at orientation ``rot``);
        a translation command shorter than ``vmin`` is stretched to it (an arrival, not an exponential creep)."""
        s, c = self.scene, self.cfg
        a_pos = np.clip(c.kp_pos * (target - s.eef_pos()), -vmax, vmax)
        norm = float(np.linalg.norm(a_pos))
        if 0.0 < norm < vmin:
            a_pos = a_pos * (vmin / norm)
        goal = down_rotation(yaw) if rot is None else rot
        rotvec = Rotation.from_matrix(goal @ s.eef_rot().T).as_rotvec()
        a_rot = np.clip(c.kp_rot * rotvec, -0.5, 0.5)
        return np.concatenate([a_pos, a_rot, [grip]])

    def _move(
        self, target, yaw, grip, vmax=None, tol=0.006, max_steps=120, rot=None, stall=0.03, vmin=0.0, stall_steps=10
    ) -> Iterator[np.ndarray]:
        """Servo to ``target`` until within ``tol``, stalled within ``stall`` of it (contact, joint limit) or
        out of steps. Stalled: moved less than 0.2 mm per step over the last ``stall_steps`` steps. ``rot``: a full
        orientation to hold instead of pointing down at ``yaw``; ``vmin``: see ``_servo``."""
        vmax = vmax or self.cfg.vmax
        history: list[np.ndarray] = []
        for _ in range(max_steps):
            pos = self.scene.eef_pos()
            err = np.linalg.norm(target - pos)
            if rot is None:
                rot_err = abs(wrap_to(self.scene.eef_yaw() - yaw, 0.0, np.pi))
            else:
                rot_err = np.linalg.norm(Rotation.from_matrix(rot @ self.scene.eef_rot().T).as_rotvec())
            if err < tol and rot_err < 0.05:
                self.last_move = ("tol", len(history), float(err))
                return
            history.append(pos)
            if (
                len(history) > stall_steps
                and err < stall
                and np.linalg.norm(history[-1] - history[-1 - stall_steps]) < 0.0002 * stall_steps
            ):
                self.last_move = ("stall", len(history) - 1, float(err))
                return
            yield self._servo(target, yaw, grip, vmax, rot, vmin)
        self.last_move = ("steps", max_steps, float(np.linalg.norm(target - self.scene.eef_pos())))

    def _close(self) -> Iterator[np.ndarray]:
        """Closes the fingers in place until they stop (on the object, or shut), at most ``close_steps``:
        a fixed-length hold left the clone many identical still, closed frames labelled wait, then lift."""
        c = self.cfg
        target, yaw = self.scene.eef_pos(), self.scene.eef_yaw()
        gap = self.scene.finger_gap()
        for k in range(c.close_steps):
            self._close_steps = k + 1
            yield self._servo(target, yaw, CLOSE, c.vmax_fine)
            gap, before = self.scene.finger_gap(), gap
            if k >= 2 and abs(gap - before) < c.settled_gap:
                return

    def _hold(self, grip: float, n: int) -> Iterator[np.ndarray]:
        target, yaw = self.scene.eef_pos(), self.scene.eef_yaw()
        for _ in range(n):
            yield self._servo(target, yaw, grip, self.cfg.vmax_fine)

    # --- grasp planning ---------------------------------------------------------------------
    def _grasp(self, step: Step) -> Grasp:
        if step.rim_grasp:
            return self._bowl_grasp(step.body)
        return self._part_grasp(step.body) if step.part_grasp else self._side_grasp(step.body)

    def _collisions(self, point: np.ndarray, z: float, axis: np.ndarray, geoms: np.ndarray, fingers: np.ndarray) -> int:
        """Sample points of the open fingers (``fingers``: offsets along the finger axis) and of the hand
        (about 0.22 m long along the finger axis, from 0.05 m above the grip site) that hit ``geoms``."""
        hand = np.linspace(-0.11, 0.11, 12)
        hits = 0
        for dz, offsets, margin in (
            (0.0, fingers, 0.012),
            (0.04, fingers, 0.012),
            (0.08, hand, 0.02),
            (0.14, hand, 0.02),
        ):
            pts = np.column_stack([point + offsets[:, None] * axis, np.full(len(offsets), z + dz)])
            hits += self.scene.blocked(pts, geoms, margin)
        return hits

    def _side_grasp(self, body: int) -> Grasp:
        """Fingers across a horizontal width <= MAX_FINGER_WIDTH, the hand clear of the neighbours;
        the grasp may shift along the object (perpendicular to the fingers) to find clearance."""
        s = self.scene
        return self._across(s.corners(body), s.obstacles(exclude={s.root(body)}))[0]

    def _part_grasp(self, body: int) -> Grasp:
        """An object too wide to grasp whole, by a part that fits between the fingers (a moka pot's handle):
        of the parts at least ``PART_MIN_HEIGHT`` tall, the grasp whose fingers and hand clear the neighbours and
        the object's other parts best."""
        s = self.scene
        own, others = s.geoms(body), s.obstacles(exclude={s.root(body)})
        boxes = s.geom_boxes(own)
        com = s.d.subtree_com[s.root(body)][:2]
        best, best_cost = None, np.inf
        for i in np.flatnonzero(boxes[:, 1, 2] - boxes[:, 0, 2] >= PART_MIN_HEIGHT):
            lo, hi = boxes[i]
            # the fingertips stay above the object's own surfaces under the fingers (a lid under its knob)
            near = np.all((boxes[:, 0, :2] < hi[:2] + 0.04) & (boxes[:, 1, :2] > lo[:2] - 0.04), axis=1)
            under = near & (boxes[:, 1, 2] < hi[2] - 0.01)
            z_min = boxes[under, 1, 2].max() + 0.014 if under.any() else -np.inf
            grasp, cost = self._across(s.corners_of(own[i : i + 1]), np.concatenate([others, np.delete(own, i)]), z_min)
            if grasp is None:
                continue
            # held off its centre of mass, it swings about the finger axis (the pads barely resist twisting)
            cost += 20.0 * float(np.linalg.norm(grasp.point[:2] - com))
            if cost < best_cost:
                best, best_cost = grasp, cost
        return best

    def _across(self, corners: np.ndarray, geoms: np.ndarray, z_min: float = -np.inf) -> tuple[Grasp, float]:
        """The cheapest grasp across the points ``corners`` (turning the hand, shifting, collisions with ``geoms``),
        at least ``z_min`` high (and 5 mm below their top)."""
        s, c = self.scene, self.cfg
        lo, hi = corners.min(0), corners.max(0)
        z = min(max(hi[2] - 0.04, 0.5 * (lo[2] + hi[2]), z_min), hi[2] - 0.005)
        yaw_now = s.eef_yaw()
        best, best_cost = None, np.inf
        for yaw in np.deg2rad(np.arange(0.0, 180.0, c.yaw_step_deg)):
            axis = np.array([np.cos(yaw), np.sin(yaw)])
            across = np.array([-axis[1], axis[0]])
            proj, along = corners[:, :2] @ axis, corners[:, :2] @ across
            width = np.ptp(proj)
            mid = 0.5 * (proj.max() + proj.min()) * axis
            fingers = np.array([-0.5 * width - 0.03, -0.5 * width - 0.01, 0.5 * width + 0.01, 0.5 * width + 0.03])
            dyaw = abs(wrap_to(yaw, yaw_now) - yaw_now)
            for shift in (0.0, -0.015, 0.015, -0.03, 0.03):
                if shift and abs(shift) > 0.5 * np.ptp(along) - 0.012:
                    continue
                point = mid + (0.5 * (along.max() + along.min()) + shift) * across
                cost = dyaw + 2.0 * abs(shift) + (100.0 + width if width > MAX_FINGER_WIDTH else 0.0)
                cost += 10.0 * self._collisions(point, z, axis, geoms, fingers)
                if cost < best_cost:
                    best, best_cost = Grasp(np.array([point[0], point[1], z]), wrap_to(yaw, yaw_now)), cost
        return best, best_cost

    def _bowl_grasp(self, body: int) -> Grasp:
        """Rim grasp (bowls, mugs): fingers across the wall, finger axis radial, clear of other objects.

        The rim circle is taken in the bowl's own frame, so a tilted bowl (resting on a ramekin) gets
        the true height of each rim point, and points whose outward direction is far from horizontal
        are avoided.
        """
        s, c = self.scene, self.cfg
        rot, origin = s.d.xmat[body].reshape(3, 3), s.pos(body)
        local = (s.corners(body) - origin) @ rot  # corners in the bowl's frame
        llo, lhi = local.min(0), local.max(0)
        extent = lhi[:2] - llo[:2]
        if abs(extent[0] - extent[1]) < 0.01:  # round (a bowl): the box centre is the rim centre
            centre, radius = 0.5 * (llo[:2] + lhi[:2]), 0.25 * extent.sum() - 0.004
        else:  # a handle sticks out (a mug): origin at the bottom centre, radius from the other side
            centre, radius = np.zeros(2), np.abs(local[:, :2]).max(0).min() - 0.004
        geoms = s.obstacles(exclude={s.root(body)})
        yaw_now = s.eef_yaw()
        best, best_cost = None, np.inf
        fingers = np.linspace(-0.02, 0.05, 8)
        for th in np.deg2rad(np.arange(0.0, 360.0, c.yaw_step_deg)):
            rim = origin + rot @ np.array([*(centre + radius * np.array([np.cos(th), np.sin(th)])), lhi[2]])
            out = rot @ np.array([np.cos(th), np.sin(th), 0.0])  # outward wall normal in the world
            radial = out[:2] / np.linalg.norm(out[:2])
            point, z = rim[:2], rim[2] - c.rim_depth
            cost = max(np.linalg.norm(point - s.base_xy) - c.reach_soft_limit, 0.0) * 20.0
            cost += 50.0 * max(abs(out[2]) - 0.25, 0.0)
            cost += 10.0 * self._collisions(point, z, radial, geoms, fingers)
            yaw = wrap_to(float(np.arctan2(radial[1], radial[0])), yaw_now)
            cost += 0.1 * abs(yaw - yaw_now) + 0.5 * np.linalg.norm(point - s.base_xy)
            if cost < best_cost:
                best, best_cost = Grasp(np.array([point[0], point[1], z]), yaw), cost
        return best

    # --- script -----------------------------------------------------------------------------
    def _along(self, exclude: int, a_xy: np.ndarray, b_xy: np.ndarray, reach: float) -> list[tuple[float, float]]:
        """(t, top) of every obstacle box (object ``exclude`` aside) within ``reach`` of the segment from a to b
        (beyond its half-diagonal): t in [0, 1], where along the segment it is nearest, and its top's height."""
        s = self.scene
        seg = b_xy - a_xy
        out = []
        for lo, hi in s.geom_boxes(s.obstacles(exclude={s.root(exclude)})):
            mid = 0.5 * (lo[:2] + hi[:2])
            t = float(np.clip(np.dot(mid - a_xy, seg) / max(np.dot(seg, seg), 1e-9), 0.0, 1.0))
            if np.linalg.norm(mid - (a_xy + t * seg)) < 0.5 * np.linalg.norm(hi[:2] - lo[:2]) + reach:
                out.append((t, float(hi[2])))
        return out

    def _safe_z(self, held: int, a_xy: np.ndarray, b_xy: np.ndarray) -> float:
        """Height the held object's bottom must keep on the way from a to b."""
        return max([0.0] + [top for _, top in self._along(held, a_xy, b_xy, 0.08)]) + self.cfg.clearance

    def _leave(self, goal_xy: np.ndarray) -> Iterator[np.ndarray]:
        """From above what the hand just filled (a basket, its liner over the rim), rises clear of everything
        under the hand and leaves horizontally: the straight way down to the next object caught the rim."""
        s = self.scene
        start = s.eef_pos()
        boxes = s.geom_boxes(s.obstacles(exclude=set()))
        under = np.all((boxes[:, 0, :2] - 0.03 <= start[:2]) & (start[:2] <= boxes[:, 1, :2] + 0.03), axis=1)
        if not under.any():
            return
        z = max(start[2], boxes[under, 1, 2].max() + 0.10)
        yield from self._move(np.array([*start[:2], z]), s.eef_yaw(), OPEN, tol=0.01, max_steps=40)
        yield from self._move(np.array([*goal_xy, z]), s.eef_yaw(), OPEN, tol=0.015, max_steps=100)

    def _approach(self, target: np.ndarray, yaw: float, exclude: int) -> Iterator[np.ndarray]:
        """Takes the open hand towards ``target`` (above a grasp) over what stands in the way: where the straight
        path passes less than ``clearance`` above an obstacle's top (within 6 cm of the path, object ``exclude``
        aside), it rises to that height first and crosses level; the straight diagonal clipped a milk carton
        standing beside the LIBERO-10 cream cheese and laid it onto it."""
        c = self.cfg
        start = self.scene.eef_pos()
        tops = [
            top
            for t, top in self._along(exclude, start[:2], target[:2], 0.06)
            if top + c.clearance > start[2] + t * (target[2] - start[2])
        ]
        if not tops:
            return
        top = max(tops)
        z = max(top + c.clearance, target[2])
        if start[2] < z:
            yield from self._move(np.array([*start[:2], z]), yaw, OPEN, tol=0.01, max_steps=40)
        yield from self._move(np.array([*target[:2], z]), yaw, OPEN, tol=0.015, max_steps=100)

    def _pick(self, step: Step, after_place: bool = False, direct: bool = False) -> Iterator[np.ndarray]:
        """Hover above the grasp, descend, close, lift; regrasp when the object did not rise. ``direct``:
        the first attempt descends from where the hand is (already above the grasp: a resumed policy's)."""
        s, c = self.scene, self.cfg
        if after_place:
            yield from self._leave(self._grasp(step).point[:2])
        for attempt in range(c.max_regrasps):
            g = self._grasp(step)
            if not (direct and attempt == 0):
                yield from self._approach(g.point + [0, 0, c.hover], g.yaw, step.body)
                yield from self._move(g.point + [0, 0, c.hover], g.yaw, OPEN, tol=0.01)
                g = self._grasp(step)  # re-plan from the current pose: objects may still be settling
                yield from self._move(g.point + [0, 0, c.hover], g.yaw, OPEN, tol=0.008, max_steps=40)
            yield from self._move(
                g.point,
                g.yaw,
                OPEN,
                vmax=c.vmax_fine,
                tol=c.grasp_tol,
                max_steps=80,
                vmin=c.descent_vmin,
                stall_steps=c.descent_stall_steps,
            )
            why, n, err = self.last_move
            closing = len(self.grasps)
            self.grasps.append({"descent": why, "descent_steps": n, "descent_error_mm": round(1e3 * err, 1)})
            yield from self._close()
            self.grasps[closing]["close_steps"] = self._close_steps
            z0 = s.pos(step.body)[2]
            yield from self._move(s.eef_pos() + [0, 0, 0.06], g.yaw, CLOSE, vmax=c.vmax_fine, tol=0.01, max_steps=40)
            # held: it rose with the hand and the fingers did not close on nothing (gap about 0.002)
            if s.pos(step.body)[2] - z0 > 0.02 and s.finger_gap() > 0.003:
                return
            yield from self._hold(OPEN, 10)
            yield from self._move(s.eef_pos() + [0, 0, 0.06], s.eef_yaw(), OPEN, tol=0.01, max_steps=30)

    def _held(self, body: int, offset: np.ndarray) -> bool:
        s = self.scene
        lo, _ = s.box(body)
        return bool(np.linalg.norm(s.eef_pos() - np.array([*s.pos(body)[:2], lo[2]]) - offset) < 0.03)

    def _place(self, step: Step) -> Iterator[np.ndarray]:
        """Carries and releases the held object; ``self._dropped`` is set if it slipped on the way."""
        s, c = self.scene, self.cfg
        self._dropped = False
        yaw = s.eef_yaw()
        target = step.place(s, step.body)
        lo, _ = s.box(step.body)
        offset = s.eef_pos() - np.array([*s.pos(step.body)[:2], lo[2]])  # eef relative to object bottom-centre
        if target.xy is None:  # lift-only task: keep holding
            self._final_grip = CLOSE
            yield from self._move(
                s.eef_pos() + [0, 0, c.lift - 0.06], yaw, CLOSE, vmax=c.vmax_fine, tol=0.01, max_steps=60
            )
            return
        start_xy = s.pos(step.body)[:2]
        first_xy = target.xy if target.via_xy is None else target.via_xy
        bottom = max(self._safe_z(step.body, start_xy, first_xy), target.bottom_z, lo[2] + c.lift - 0.06)
        up = s.eef_pos()
        up[2] = bottom + offset[2]
        above = np.array([*(first_xy + offset[:2]), bottom + offset[2]])
        release = np.array([*(target.xy + offset[:2]), target.bottom_z + offset[2]])
        waypoints = [(up, c.vmax_fine, 0.015, 60), (above, c.vmax, 0.01, 150)]
        if target.via_xy is not None:
            for xy in (target.via_xy, target.xy):
                waypoints.append(
                    (np.array([*(xy + offset[:2]), target.via_bottom_z + offset[2]]), c.vmax_fine, 0.006, 80)
                )
        waypoints.append((release, c.vmax_fine, 0.006, 80))
        for goal, vmax, tol, n in waypoints:
            yield from self._move(goal, yaw, CLOSE, vmax=vmax, tol=tol, max_steps=n)
            if not self._held(step.body, offset) and not self.scene.env.is_success():
                self._dropped = True
                yield from self._hold(OPEN, 10)
                return
        yield from self._hold(OPEN, target.release_open_steps)
        yield from self._move(s.eef_pos() + [0, 0, 0.10], yaw, OPEN, tol=0.01, max_steps=40)

    def holding(self, body: int) -> bool:
        """Both finger pads on the object and the fingers not shut on nothing."""
        s = self.scene
        return s.grasped(s.root(body)) and s.finger_gap() > 0.003

    def _resume_pick(self, step: Step) -> Iterator[np.ndarray]:
        """Picks from the policy's state, not holding the object. The first actions are DAgger's labels of
        that state, so they go on towards the grasp: no wait with the hand open and still (the policy's
        own stall, which an 8-step hold taught back) and no retreat from a hand already above the grasp.
        Fingers shut or half shut open first, in place, only as long as that takes (whatever they touch
        is let go); a hand inside the approach corridor (within ``corridor`` of the grasp in xy, between
        the grasp and hover height) descends straight onto it; a hand below hover height elsewhere rises
        straight up to it before moving over (it may be beside an obstacle); a higher one moves over."""
        s, c = self.scene, self.cfg
        for _ in range(8):
            if s.finger_gap() >= c.open_gap:
                break
            yield from self._hold(OPEN, 1)
        g, pos = self._grasp(step), s.eef_pos()
        above = np.linalg.norm(pos[:2] - g.point[:2]) < c.corridor
        in_corridor = above and g.point[2] - 0.01 < pos[2] < g.point[2] + c.hover + 0.03
        if not in_corridor and pos[2] < g.point[2] + c.hover:
            yield from self._move(np.array([*pos[:2], g.point[2] + c.hover]), s.eef_yaw(), OPEN, tol=0.01, max_steps=30)
        yield from self._pick(step, direct=in_corridor)

    def _settle(self, max_steps: int = 60) -> Iterator[np.ndarray]:
        """Waits, hand open and still, until no object is falling or sliding (planning on objects in the
        air put the fingers where a carton then landed)."""
        for _ in range(max_steps):
            if not self.scene.unsettled():
                return
            yield from self._hold(OPEN, 1)

    def _script(self) -> Iterator[np.ndarray]:
        if not self.resume:
            yield from self._settle()
        for i, step in enumerate(self.steps):
            if not isinstance(step, Step):  # a fixture primitive (policies.expert.fixtures)
                yield from step.run(self)
                continue
            for attempt in range(self.cfg.max_regrasps):
                if self.resume and i == 0 and attempt == 0 and self.holding(step.body):
                    pass  # the policy already holds it: carry it on
                elif self.resume and i == 0 and attempt == 0:
                    yield from self._resume_pick(step)
                else:
                    after_place = i > 0 and attempt == 0 and isinstance(self.steps[i - 1], Step)
                    yield from self._pick(step, after_place=after_place)
                yield from self._place(step)
                if not self._dropped:
                    break
                yield from self._move(
                    self.scene.eef_pos() + [0, 0, 0.08], self.scene.eef_yaw(), OPEN, tol=0.01, max_steps=30
                )
        while True:
            yield from self._hold(self._final_grip, 1)
