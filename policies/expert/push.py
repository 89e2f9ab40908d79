"""Expert primitive for an object too wide to grasp that the goal only moves over the table: push it.

The open fingers, spread across the push, touch the object at two points, so a round object does not
slip off sideways. A dish (a floor below its rim: a plate) is pushed from inside: the fingertips go
down onto its floor and push its rim from within, so the hand stays over the object, inside the arm's
reach, and cannot ride up a wall. Anything else is pushed from behind. Every step re-aims the hand on
the line from the object's centre to the target, so the push steers back when the object turns or drifts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from policies.expert.fixtures import FINGER_REACH
from policies.expert.pick_place import OPEN, PickPlaceExpert
from policies.expert.scene import Scene, wrap_to

FINGER_SPREAD = 0.04  # each open finger this far from the hand's centre line
DISH_DEPTH = 0.006  # a floor at least this far below the object's top at its centre makes it a dish


@dataclass
class Push:
    """Push free object ``body`` over the table until its centre is within ``tol`` of ``target(scene)`` (xy);
    nothing if ``done()`` (the goal's own predicate) already holds."""

    body: int
    target: Callable[[Scene], np.ndarray]
    done: Callable[[], bool]
    tol: float = 0.01
    lead: float = 0.04  # how far past the contact the hand is aimed (the push's speed, with the servo's gain)
    height: float = -0.01  # fingertips aimed this far above the surface they slide on (below: pressed onto it)
    max_steps: int = 200
    max_approaches: int = 3

    def centre(self, scene: Scene) -> np.ndarray:
        lo, hi = scene.box(self.body)
        return 0.5 * (lo[:2] + hi[:2])

    def radius(self, scene: Scene, direction: np.ndarray) -> float:
        return 0.5 * float(np.ptp(scene.corners(self.body)[:, :2] @ direction))

    def floor(self, scene: Scene) -> float | None:
        """The height of a dish's floor at its centre; None if the object has no floor below its rim."""
        top = scene.box(self.body)[1][2]
        z = scene.surface_z(self.centre(scene))
        return z if top - z > DISH_DEPTH else None

    def run(self, ex: PickPlaceExpert) -> Iterator[np.ndarray]:
        s, c = ex.scene, ex.cfg
        first = True
        if self.done():
            return
        for _ in range(self.max_approaches):
            if self._error(s) < self.tol:
                return
            d = self._direction(s)
            floor = self.floor(s)
            inside = floor is not None
            if inside:  # the fingers just behind the centre, well inside the rim
                start, z = self.centre(s) - 0.02 * d, floor + self.height + FINGER_REACH
            else:
                start = self.centre(s) - (self._behind(s, d) + 0.03) * d
                z = s.box(self.body)[0][2] + self.height + FINGER_REACH
            yaw = wrap_to(float(np.arctan2(d[1], d[0])) + np.pi / 2, s.eef_yaw())
            # from afar over everything near (8 cm); again, just over the object's top
            over = z + 0.08 if first else s.box(self.body)[1][2] + 0.015 + FINGER_REACH
            first = False
            yield from ex._move(np.array([*start, over]), yaw, OPEN, tol=0.01, max_steps=120)
            yield from ex._move(np.array([*start, z]), yaw, OPEN, vmax=c.vmax_fine, tol=0.004, max_steps=60, vmin=0.15)
            yield from self._push(ex, z, inside)
            up = s.box(self.body)[1][2] + 0.015 + FINGER_REACH
            yield from ex._move(np.array([*s.eef_pos()[:2], up]), s.eef_yaw(), OPEN, tol=0.01, max_steps=30)

    def _behind(self, s: Scene, d: np.ndarray) -> float:
        """How far behind the centre a hand pushing from outside meets the object: for a disc, where the open
        fingers (one ``FINGER_SPREAD`` to each side) touch it."""
        r = self.radius(s, d)
        return float(np.sqrt(max(r**2 - FINGER_SPREAD**2, 0.0)))

    def _error(self, s: Scene) -> float:
        return float(np.linalg.norm(self.target(s) - self.centre(s)))

    def _direction(self, s: Scene) -> np.ndarray:
        d = self.target(s) - self.centre(s)
        return d / max(np.linalg.norm(d), 1e-9)

    def _push(self, ex: PickPlaceExpert, z: float, inside: bool) -> Iterator[np.ndarray]:
        """Steers the hand towards the target against the object; stops at the target, when the hand has come
        off the line through the object's centre (re-approach), or out of steps."""
        s, c = ex.scene, ex.cfg
        for _ in range(self.max_steps):
            err = self._error(s)
            if err < self.tol:  # on to the target's centre, not just over the region's edge
                return
            d = self._direction(s)
            hand = s.eef_pos()[:2] - self.centre(s)
            off_line = abs(hand @ np.array([-d[1], d[0]]))
            r = self.radius(s, d)
            lost = hand @ d > r if inside else hand @ d > 0
            if off_line > 0.03 or lost:
                return
            # inside: the rim ahead is met at most a radius past the centre; outside: the back, ``_behind`` before it
            contact = r if inside else -self._behind(s, d)
            goal = self.centre(s) + (contact + min(self.lead, err)) * d
            yaw = wrap_to(float(np.arctan2(d[1], d[0])) + np.pi / 2, s.eef_yaw())
            yield ex._servo(np.array([*goal, z]), yaw, OPEN, c.vmax_fine)
