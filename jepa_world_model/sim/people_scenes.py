"""Harder scenes among people for :class:`~.robots.MobileBaseSim` (issue #14 item 4).

A scene says where the robot and the people start, where each person walks first, and
whether a person gives way to the robot. ``default`` is the original scene (two people
walking straight to random waypoints and giving way); its sampling lives in
``MobileBaseSim._randomise`` unchanged, so every earlier result replays bit for bit.

* ``crowd``: five people, all starting within the scan's range of the robot, walking to
  random waypoints and giving way.
* ``crossing``: two people shuttling back and forth across the robot's start-goal line (each
  on a segment through a point 25-80 % of the way along it, within 30 degrees of square to it).
* ``head_on``: one person starts at the far end of the robot's start-goal line and walks
  along it toward the robot (giving way as usual); a second one walks at random.
* ``stubborn``: as ``head_on``, but the person on the robot's path never gives way.

The scenes with a route (``crossing``, ``head_on``, ``stubborn``) draw the robot's goal
themselves (:attr:`ScenePlan.goal_xy`): a free position 1.4 m or more from the start with a
straight free line to it, since the people are placed along that line. Everything comes from
the simulator's seeded generator: the same seed gives the same scene.

People stay kinematic (mocap). The extra bodies (person3-person6) are parked in the XML 8 m
outside the room, beyond the scan's range and the camera's view, so one compiled model serves
every scene and the default scene's images and scans do not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any, Callable, Dict, List, Optional

import numpy as np

__all__ = ['SCENES', 'SCENE_PEOPLE', 'SceneError', 'Walker', 'ScenePlan', 'plan_scene',
           'validate_scene']

#: People in each scene (the XML has six bodies; the rest stay parked).
SCENE_PEOPLE: Dict[str, int] = {'default': 2, 'crowd': 5, 'crossing': 2, 'head_on': 2,
                                'stubborn': 2}
SCENES = tuple(SCENE_PEOPLE)
ROUTE_MIN_LENGTH = 1.4        # m, start to goal in the route scenes
PERSON_SEPARATION = 0.6       # m between start positions (as the default scene)
CROWD_SCAN_MARGIN = 0.3       # m inside the scan's range for the crowd's start positions
CROSSING_FRACTIONS = ((0.25, 0.5), (0.5, 0.8))   # where along the line each person crosses
CROSSING_MAX_SKEW = math.radians(30.0)           # from square to the line
CROSSING_HALF_LENGTH = (0.6, 1.1)                # m each side of the line
HEAD_ON_OVERSHOOT = 0.4       # m: the person may start up to this far beyond the goal
HEAD_ON_MIN_GAP = 1.0         # m between the robot and the head-on person at the start
PLAN_TRIES = 200              # whole-scene rejection-sampling bound


class SceneError(ValueError):
    """An unknown scene name, or a scene that cannot be placed."""


def validate_scene(scene: str) -> str:
    """``scene`` if it is one of :data:`SCENES`; SceneError otherwise."""
    if scene not in SCENE_PEOPLE:
        raise SceneError(f'unknown scene {scene!r}; choose one of {list(SCENES)}')
    return scene


@dataclass
class Walker:
    """One person's start.

    Attributes:
        start: ``(2,)`` start position [m].
        waypoint: ``(2,)`` first waypoint [m].
        speed: Walking speed [m/s].
        yields: Gives way to the robot (waits, then turns away).
        shuttle: ``(2,)`` the other end of a back-and-forth route (the person walks between
            ``start`` and ``waypoint`` for the whole episode), or None: random waypoints.
    """

    start: np.ndarray
    waypoint: np.ndarray
    speed: float
    yields: bool = True
    shuttle: Optional[np.ndarray] = None


@dataclass
class ScenePlan:
    """A placed scene: robot start ``robot_xy`` (2,), ``robot_yaw`` [rad], the route's goal
    ``goal_xy`` (2,) or None, and the people in body order."""

    robot_xy: np.ndarray
    robot_yaw: float
    goal_xy: Optional[np.ndarray]
    walkers: List[Walker] = field(default_factory=list)


def _random_walker(sim: Any, rng: np.random.Generator, placed: List[np.ndarray],
                   near: Optional[np.ndarray] = None, within: float = math.inf
                   ) -> Optional[Walker]:
    """A person at a free spot (``within`` m of ``near`` if given) walking to a random
    reachable waypoint; None when no spot is found."""
    clearance = sim.PERSON_RADIUS + 0.05
    for _ in range(PLAN_TRIES):
        xy = sim.sample_free(rng, clearance, tuple(placed), PERSON_SEPARATION)
        ok = sim.is_free(xy, clearance) and all(
            np.linalg.norm(xy - p) > PERSON_SEPARATION for p in placed)
        if ok and (near is None or np.linalg.norm(xy - near) <= within):
            goal = xy
            for _ in range(PLAN_TRIES):
                goal = sim.sample_free(rng, clearance)
                if sim.segment_free(xy, goal, clearance):
                    break
            return Walker(xy, goal, float(rng.uniform(*sim.PERSON_SPEED_RANGE)))
    return None


def _route(sim: Any, rng: np.random.Generator) -> Optional[ScenePlan]:
    """Robot start and a goal on a free straight line of ROUTE_MIN_LENGTH m or more."""
    start = sim.sample_free(rng, sim.ROBOT_RADIUS + 0.05)
    yaw = float(rng.uniform(-math.pi, math.pi))
    for _ in range(PLAN_TRIES):
        goal = sim.sample_free(rng, sim.ROBOT_RADIUS + 0.1)
        if (np.linalg.norm(goal - start) >= ROUTE_MIN_LENGTH
                and sim.is_free(goal, sim.ROBOT_RADIUS + 0.1)
                and sim.segment_free(start, goal, sim.ROBOT_RADIUS + 0.06)):
            return ScenePlan(start, yaw, goal)
    return None


def _crowd(sim: Any, rng: np.random.Generator) -> Optional[ScenePlan]:
    start = sim.sample_free(rng, sim.ROBOT_RADIUS + 0.05)
    plan = ScenePlan(start, float(rng.uniform(-math.pi, math.pi)), None)
    placed = [start]
    for _ in range(SCENE_PEOPLE['crowd']):
        walker = _random_walker(sim, rng, placed, start, sim.SCAN_RANGE_MAX - CROWD_SCAN_MARGIN)
        if walker is None:
            return None
        plan.walkers.append(walker)
        placed.append(walker.start)
    return plan


def _crossing(sim: Any, rng: np.random.Generator) -> Optional[ScenePlan]:
    plan = _route(sim, rng)
    if plan is None:
        return None
    line = plan.goal_xy - plan.robot_xy
    normal = np.array([-line[1], line[0]]) / np.linalg.norm(line)
    clearance = sim.PERSON_RADIUS + 0.05
    placed = [plan.robot_xy]
    for low, high in CROSSING_FRACTIONS:
        for _ in range(PLAN_TRIES):
            centre = plan.robot_xy + rng.uniform(low, high) * line
            skew = rng.uniform(-CROSSING_MAX_SKEW, CROSSING_MAX_SKEW)
            c, s = math.cos(skew), math.sin(skew)
            side = 1.0 if rng.random() < 0.5 else -1.0
            direction = side * np.array([c * normal[0] - s * normal[1],
                                         s * normal[0] + c * normal[1]])
            a = centre - rng.uniform(*CROSSING_HALF_LENGTH) * direction
            b = centre + rng.uniform(*CROSSING_HALF_LENGTH) * direction
            if (sim.segment_free(a, b, clearance)
                    and all(np.linalg.norm(a - p) > PERSON_SEPARATION for p in placed)):
                break
        else:
            return None
        speed = float(rng.uniform(*sim.PERSON_SPEED_RANGE))
        plan.walkers.append(Walker(a, b, speed, shuttle=a.copy()))
        placed.append(a)
    return plan


def _head_on(sim: Any, rng: np.random.Generator, yields: bool) -> Optional[ScenePlan]:
    plan = _route(sim, rng)
    if plan is None:
        return None
    length = float(np.linalg.norm(plan.goal_xy - plan.robot_xy))
    unit = (plan.goal_xy - plan.robot_xy) / length
    clearance = sim.PERSON_RADIUS + 0.05
    # Start as far along the line as is free (at most HEAD_ON_OVERSHOOT beyond the goal),
    # and walk through the robot's start to as far behind it as is free (at most 0.5 m).
    beyond = [s for s in length + np.linspace(rng.uniform(0.0, HEAD_ON_OVERSHOOT), 0.0, 9)
              if sim.is_free(plan.robot_xy + s * unit, clearance)]
    behind = [b for b in np.linspace(rng.uniform(0.0, 0.5), 0.0, 6)
              if sim.segment_free(plan.robot_xy, plan.robot_xy - b * unit, clearance)]
    if not beyond or not behind or beyond[0] < HEAD_ON_MIN_GAP:
        return None
    start = plan.robot_xy + beyond[0] * unit
    waypoint = plan.robot_xy - behind[0] * unit
    speed = float(rng.uniform(*sim.PERSON_SPEED_RANGE))
    plan.walkers.append(Walker(start, waypoint, speed, yields=yields))
    other = _random_walker(sim, rng, [plan.robot_xy, start])
    if other is None:
        return None
    plan.walkers.append(other)
    return plan


_PLANNERS: Dict[str, Callable[[Any, np.random.Generator], Optional[ScenePlan]]] = {
    'crowd': _crowd,
    'crossing': _crossing,
    'head_on': lambda sim, rng: _head_on(sim, rng, yields=True),
    'stubborn': lambda sim, rng: _head_on(sim, rng, yields=False),
}


def plan_scene(sim: Any, scene: str, rng: np.random.Generator) -> ScenePlan:
    """Place ``scene`` (not ``default``) in ``sim``'s room with ``rng``.

    Raises:
        SceneError: Unknown scene, ``default`` (placed by the simulator itself), or no
            placement within PLAN_TRIES tries.
    """
    if validate_scene(scene) == 'default':
        raise SceneError('the default scene is placed by MobileBaseSim itself')
    for _ in range(PLAN_TRIES):
        plan = _PLANNERS[scene](sim, rng)
        if plan is not None:
            return plan
    raise SceneError(f'scene {scene!r}: no placement within {PLAN_TRIES} tries')
