"""Turns a task's goal into steps for ``PickPlaceExpert``: pick-and-places and fixture primitives."""

from __future__ import annotations

from collections.abc import Callable

import mujoco
import numpy as np

from envs.base import SimEnv
from envs.libero import LiberoEnv
from envs.robosuite import RobosuiteEnv
from policies.expert.fixtures import Joint, SlideDrawer, TurnKnob, drawer_place
from policies.expert.pick_place import MAX_FINGER_WIDTH, PART_MIN_HEIGHT, Place, Step
from policies.expert.push import Push
from policies.expert.scene import Scene


class UnsupportedTask(Exception):
    """The scripted expert has no strategy for this task's goal."""


PlaceFn = Callable[[Scene, int], Place]


def _on_surface(xy_fn: Callable[[Scene], np.ndarray], margin: float = 0.015) -> PlaceFn:
    def place(scene: Scene, held: int) -> Place:
        xy = xy_fn(scene)
        return Place(xy, scene.surface_z(xy, exclude=held) + margin)

    return place


def _on_region(site: int, half: np.ndarray, fixture: int, shift: np.ndarray, margin: float = 0.015) -> PlaceFn:
    """On a region (``half``: its half-size in xy) of the table or of ``fixture``: at its centre moved by
    ``shift`` (its share of a region that several objects go to), or, where something already stands
    there, at the spot inside the region whose footprint clears the other objects most."""

    def place(scene: Scene, held: int) -> Place:
        spot = scene.d.site_xpos[site][:2] + shift
        xy = free_spot(scene, held, spot, half, {scene.root(held), fixture}, region=scene.d.site_xpos[site][:2])
        return Place(xy, scene.surface_z(xy, exclude=held) + margin)

    return place


def region_shares(scene: Scene, bodies: list[int], half: np.ndarray) -> list[np.ndarray]:
    """Where in a region each of ``bodies`` goes, relative to its centre: side by side along the axis (x or y)
    on which their footprints (as they stand now; the hand does not turn them) add up to less, spread over 60%
    of the region's half-width. One body: the centre."""
    if len(bodies) < 2:
        return [np.zeros(2)] * len(bodies)
    widths = np.array([np.ptp(scene.corners(b)[:, :2], axis=0) for b in bodies]).sum(0)
    axis = int(np.argmin(widths))
    out = []
    for u in np.linspace(-1.0, 1.0, len(bodies)):
        shift = np.zeros(2)
        shift[axis] = 0.6 * half[axis] * u
        out.append(shift)
    return out


def free_spot(
    scene: Scene,
    held: int,
    centre: np.ndarray,
    half: np.ndarray,
    exclude: set[int],
    clear: float = 0.01,
    region: np.ndarray | None = None,
) -> np.ndarray:
    """Where to put ``held``'s origin: at ``centre`` if its footprint clears every other object by ``clear``, else
    at the point of a grid over ``region`` +- ``half`` (default: centred on ``centre``) that clears them most (up
    to 2 cm), the nearest to ``centre`` of such."""
    lo, hi = scene.box(held)
    origin = scene.pos(held)[:2]
    boxes = scene.geom_boxes(scene.obstacles(exclude))

    def clearance(xy: np.ndarray) -> float:
        if not len(boxes):
            return np.inf
        f_lo, f_hi = xy + lo[:2] - origin, xy + hi[:2] - origin
        gaps = np.maximum(boxes[:, 0, :2] - f_hi, f_lo - boxes[:, 1, :2]).max(axis=1)  # < 0: overlapping
        return float(gaps.min())

    if clearance(centre) >= clear:
        return centre
    span = np.maximum(half - 0.005, 0.0)
    middle = centre if region is None else region
    grid = [middle + span * [u, v] for u in np.linspace(-1, 1, 9) for v in np.linspace(-1, 1, 9)]
    scores = [10.0 * min(clearance(xy), 0.02) - np.linalg.norm(xy - centre) for xy in grid]
    return grid[int(np.argmax(scores))]


def _into(xy_fn: Callable[[Scene], np.ndarray], rim_body: int, margin: float = 0.02) -> PlaceFn:
    def place(scene: Scene, held: int) -> Place:
        return Place(xy_fn(scene), scene.box(rim_body)[1][2] + margin)

    return place


def _in_drawer(drawer, site: int) -> PlaceFn:
    return lambda scene, held: drawer_place(scene, drawer, scene.d.site_xpos[site][:2].copy(), held)


def _into_share(site: int, half: np.ndarray, rim_body: int, shift: np.ndarray, margin: float = 0.02) -> PlaceFn:
    """Into a container region that several objects go to (``half``: its half-size in xy): dropped from just
    above the rim at its share of the region (``region_shares``), or, where an object already in it is in the
    way, at the spot inside the region that clears it most. Both at the centre, the second landed on the
    first and fell out of the basket (LIBERO-10 task 0)."""

    def place(scene: Scene, held: int) -> Place:
        centre = scene.d.site_xpos[site][:2]
        xy = free_spot(scene, held, centre + shift, half, {scene.root(held), scene.root(rim_body)}, region=centre)
        # the whole footprint inside the region: at its edge, a can hung on the basket's rim
        lo, hi = scene.box(held)
        origin = scene.pos(held)[:2]
        low, high = centre - half - (lo[:2] - origin), centre + half - (hi[:2] - origin)
        xy = np.where(low <= high, np.clip(xy, low, high), centre)
        return Place(xy, scene.box(rim_body)[1][2] + margin)

    return place


def _box_centre(body: int) -> Callable[[Scene], np.ndarray]:
    def xy(scene: Scene) -> np.ndarray:
        lo, hi = scene.box(body)
        return 0.5 * (lo[:2] + hi[:2])

    return xy


def _site_xy(site: int) -> Callable[[Scene], np.ndarray]:
    return lambda scene: scene.d.site_xpos[site][:2].copy()


def _articulated(scene: Scene, body: int) -> bool:
    """Whether ``body`` or an ancestor moves on a hinge or slide joint (a drawer, a door)."""
    m = scene.m
    while body > 0:
        for j in range(m.body_jntadr[body], m.body_jntadr[body] + m.body_jntnum[body]):
            if m.jnt_type[j] in (2, 3):  # mjJNT_SLIDE, mjJNT_HINGE
                return True
        body = m.body_parentid[body]
    return False


def _too_wide(scene: Scene, body: int) -> bool:
    """No horizontal direction in which the object fits between the open fingers."""
    xy = scene.corners(body)[:, :2]
    widths = [np.ptp(xy @ np.array([np.cos(a), np.sin(a)])) for a in np.deg2rad(np.arange(0, 180, 15))]
    return min(widths) > MAX_FINGER_WIDTH


def _has_handle(scene: Scene, body: int) -> bool:
    """Whether some part of ``body`` (one collision geom) is tall enough and fits between the fingers."""
    own = scene.geoms(body)
    for g in own[np.ptp(scene.geom_boxes(own)[:, :, 2], axis=1) >= PART_MIN_HEIGHT]:
        xy = scene.corners_of(np.array([g]))[:, :2]
        if min(np.ptp(xy @ [np.cos(a), np.sin(a)]) for a in np.deg2rad(np.arange(0, 180, 15))) <= MAX_FINGER_WIDTH:
            return True
    return False


def _goal_objects(rs, region: str, kinds: tuple[str, ...] = ("on", "in")) -> list[str]:
    """The objects that the goal's ``kinds`` predicates put on or in ``region``, in goal order."""
    goal = rs.parsed_problem["goal_state"]
    return [p[1].lower() for p in goal if p[0].lower() in kinds and len(p) == 3 and p[2].lower() == region]


def _region_plan(scene: Scene, rs, region: str, half: np.ndarray) -> dict[str, np.ndarray]:
    """Each object that the goal puts on or in ``region``: its shift from the region's centre (``region_shares``)."""
    objs = _goal_objects(rs, region)
    return dict(zip(objs, region_shares(scene, [rs.obj_body_id[o] for o in objs], half), strict=True))


def _shared(rs, region: str) -> bool:
    """Whether the goal puts more than one object in ``region`` (a region with a size)."""
    many = len(_goal_objects(rs, region, ("in",))) > 1
    return many and getattr(rs.object_sites_dict.get(region), "size", None) is not None


def _on_table(rs, region: str) -> bool:
    """Whether ``region`` is a region of the table (not of a fixture or an object)."""
    site = rs.object_sites_dict.get(region)
    return site is not None and site.parent_name is None  # the table is the arena, not an object


def fixture_step(env, scene: Scene, kind: str, name: str, full: bool = False) -> SlideDrawer | TurnKnob:
    """The primitive for a LIBERO ``Open``/``Close``/``TurnOn`` predicate on ``name`` (a fixture, or a
    region of one: a drawer's region names the drawer's joint)."""
    rs = env._rs
    if name in rs.object_sites_dict:
        joints, parent = rs.object_sites_dict[name].joints, rs.object_sites_dict[name].parent_name
    elif name in rs.fixtures_dict or name in rs.objects_dict:
        parent = name
        joints = rs.get_object(name).joints
    else:
        raise UnsupportedTask(f"unknown fixture {name!r}")
    if len(joints) != 1:
        raise UnsupportedTask(f"{kind} {name!r}: {len(joints)} joints (one expected)")
    art = rs.get_object(parent).object_properties["articulation"]
    state = rs.object_states_dict[name]
    jid = mujoco.mj_name2id(scene.m, mujoco.mjtObj.mjOBJ_JOINT, joints[0])
    body = int(scene.m.jnt_bodyid[jid])
    if kind in ("open", "close"):
        opened, closed = float(np.mean(art["default_open_ranges"])), float(np.mean(art["default_close_ranges"]))
        goal, other = (opened, closed) if kind == "open" else (closed, opened)
        done = state.is_open if kind == "open" else state.is_close
        joint = Joint(jid, body, goal, done, toward=float(np.sign(goal - other)))
        if not joint.is_slide(scene):
            raise UnsupportedTask(f"{kind} {name!r}: hinged doors are not supported yet")
        return SlideDrawer(joint, open=kind == "open", full=full)
    if kind == "turnon":
        joint = Joint(jid, body, float(min(art["default_turnon_ranges"])) + 0.3, state.turn_on)
        return TurnKnob(joint)
    raise UnsupportedTask(f"predicate {kind} {name!r}")


def libero_steps(env: LiberoEnv, scene: Scene) -> list:
    """One step per predicate of the BDDL goal, in order: ``On``/``In`` a pick-and-place, ``Open``/``Close``
    a drawer, ``TurnOn`` a knob (``policies.expert.fixtures``). A target inside a closed drawer or
    cabinet that no earlier step opens, and objects too wide to grasp that are not bowls or mugs
    (grasped by the rim), are unsupported."""
    rs = env._rs
    steps: list = []
    shares: dict[str, dict[str, np.ndarray]] = {}
    for pred in rs.parsed_problem["goal_state"]:
        kind, *args = [a.lower() for a in pred]
        if kind in ("open", "close", "turnon") and len(args) == 1:
            steps.append(fixture_step(env, scene, kind, args[0]))
            continue
        if kind not in ("on", "in") or len(args) != 2:
            raise UnsupportedTask(f"predicate {pred} (only On/In of a movable object, Open/Close, TurnOn)")
        obj, target = args
        if obj not in rs.objects_dict:
            raise UnsupportedTask(f"{obj!r} is not a movable object")
        body = rs.obj_body_id[obj]
        rim_grasp = "bowl" in obj or "mug" in obj
        part_grasp = not rim_grasp and _too_wide(scene, body)
        if part_grasp and kind == "on" and _on_table(rs, target):  # slid over the table: pushed
            state, region = rs.object_states_dict[obj], rs.object_states_dict[target]
            steps.append(Push(body, _site_xy(scene.site(target)), lambda r=region, o=state: r.check_ontop(o)))
            continue
        if part_grasp and not _has_handle(scene, body):
            raise UnsupportedTask(
                f"{obj!r} is too wide to grasp, has no part to grasp it by, and {target!r} is not a table region"
            )
        if target in rs.obj_body_id:
            tbody = rs.obj_body_id[target]
            xy_fn = _box_centre(tbody)
            rim = tbody
        else:
            site = scene.site(target)
            if site < 0:
                raise UnsupportedTask(f"unknown target {target!r}")
            site_body = int(scene.m.site_bodyid[site])
            rim = scene.root(site_body)
            xy_fn = _site_xy(site)
            if _articulated(scene, site_body):
                drawer = next(
                    (st for st in steps if getattr(st, "open", False) and scene.in_subtree(site_body, st.joint.body)),
                    None,
                )
                if drawer is None:  # open the drawer first, all the way: the object must clear what is above it
                    drawer = fixture_step(env, scene, "open", target, full=True)
                    steps.append(drawer)
                # lowered onto the drawer's floor (dropped from its walls, a bowl lands tilted)
                steps.append(Step(body, _in_drawer(drawer, site), rim_grasp=rim_grasp, part_grasp=part_grasp))
                continue
        if kind == "on" and target not in rs.obj_body_id:
            region = rs.object_sites_dict.get(target)
            half = np.asarray(getattr(region, "size", [0.02, 0.02])[:2], dtype=float)
            parent = rs.get_object(region.parent_name) if region is not None and region.parent_name else None
            fixture = scene.root(rs.obj_body_id[region.parent_name]) if parent is not None else -1
            share = shares.setdefault(target, _region_plan(scene, rs, target, half))[obj]
            place = _on_region(scene.site(target), half, fixture, share)
        elif kind == "in" and target not in rs.obj_body_id and _shared(rs, target):
            half = np.asarray(rs.object_sites_dict[target].size[:2], dtype=float)
            share = shares.setdefault(target, _region_plan(scene, rs, target, half))[obj]
            place = _into_share(scene.site(target), half, rim, share)
        else:
            place = _on_surface(xy_fn) if kind == "on" else _into(xy_fn, rim)
        steps.append(Step(body, place, rim_grasp=rim_grasp, part_grasp=part_grasp))
    # closing comes last: "put the bowl in the drawer and close it" is written Close first
    return [st for st in steps if not _closes(st)] + [st for st in steps if _closes(st)]


def _closes(step) -> bool:
    return getattr(step, "open", None) is False


def robosuite_steps(env: RobosuiteEnv, scene: Scene) -> list[Step]:
    rs = env._rs
    if env.task == "Lift":
        return [Step(rs.cube_body_id, lambda s, h: Place(None))]
    if env.task == "Stack":
        return [Step(rs.cubeA_body_id, _on_surface(_box_centre(rs.cubeB_body_id), margin=0.01))]
    if env.task == "PickPlaceCan":
        # The quadrant's centre is at the edge of the arm's reach: aim at its point nearest the robot.
        centre = rs.target_bin_placements[rs.object_to_id["can"]][:2]
        half = np.array(rs.bin_size[:2]) / 4 - 0.045
        target = np.clip(scene.base_xy, centre - half, centre + half)
        return [Step(rs.obj_body_id["Can"], _on_surface(lambda s: target, margin=0.06))]
    raise UnsupportedTask(env.task)


def plan_steps(env: SimEnv, scene: Scene) -> list[Step]:
    if isinstance(env, LiberoEnv):
        return libero_steps(env, scene)
    if isinstance(env, RobosuiteEnv):
        return robosuite_steps(env, scene)
    raise UnsupportedTask(type(env).__name__)
