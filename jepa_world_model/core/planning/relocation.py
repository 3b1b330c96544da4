"""Goals and maps given in another frame, placed again when localisation moves that frame.

A Nav2 or RViz goal and a map_server map arrive in ``map``; the planner plans in ``odom``
(``path_frame_id``). They are placed with ``odom <- map`` as TF knew it when they arrived
(:class:`~.frames.FrameSource`). Localisation (AMCL, a SLAM node) then corrects
``map -> odom`` now and then: left where it was placed, the goal drifts away from where it
was asked for, and the map's walls away from the real ones. :func:`placement_moved` says
when a new transform moves a placed goal or map by more than :data:`RELOCATE_DISTANCE_M`
(or turns a goal's heading by more than :data:`RELOCATE_YAW_RAD`), and
:func:`replaced_goal` / :func:`replaced_map` place them again. The thresholds keep the
planner from re-placing on every small TF update (AMCL publishes at its filter's rate);
both lie far below the goal tolerances (0.1 m, 0.2 rad by default). Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math
from typing import Tuple

import numpy as np

from .frames import Planar
from .goals import Goal, pose_goal
from .static_map import StaticMap

__all__ = ['RELOCATE_DISTANCE_M', 'RELOCATE_YAW_RAD', 'PlacedPose', 'map_corners',
           'placement_moved', 'goal_moved', 'replaced_goal', 'replaced_map']

#: A placed goal or map is placed again when the new transform moves it more than this (m).
RELOCATE_DISTANCE_M = 0.02
#: ... or turns a goal's heading by more than this (rad).
RELOCATE_YAW_RAD = 0.01


@dataclass(frozen=True)
class PlacedPose:
    """A pose goal as it was given: ``pose`` (x, y, yaw) in ``frame``, placed in the
    planner's frame by ``into`` (``frame`` -> planner frame)."""

    frame: str
    pose: Tuple[float, float, float]
    into: Planar


def map_corners(static_map: StaticMap) -> np.ndarray:
    """The four outer corners of the map's grid, [4, 2] in the map's frame: the points
    that move most when the map turns."""
    h, w = static_map.occupancy.shape
    (x0, y0), size = static_map.origin, static_map.resolution
    x1, y1 = x0 + w * size, y0 + h * size
    return np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], dtype=np.float64)


def placement_moved(old: Planar, new: Planar, points: np.ndarray,
                    distance: float = RELOCATE_DISTANCE_M,
                    yaw: float = math.inf) -> bool:
    """True when ``new`` puts one of ``points`` [N, 2] (source frame) more than
    ``distance`` metres from where ``old`` put it, or turns by more than ``yaw`` rad."""
    shift = np.linalg.norm(new.apply(points) - old.apply(points), axis=-1)
    turn = abs(math.remainder(new.yaw - old.yaw, 2.0 * math.pi))
    return bool(np.any(shift > distance)) or turn > yaw


def goal_moved(goal: Goal, placed: PlacedPose, into: Planar) -> bool:
    """Whether ``into`` moves the pose goal ``goal`` (placed as ``placed``) beyond the
    thresholds; its heading counts only when the goal has one (``yaw_weight`` > 0)."""
    return placement_moved(placed.into, into, np.array([placed.pose[:2]]),
                           yaw=RELOCATE_YAW_RAD if goal.yaw_weight > 0 else math.inf)


def replaced_goal(goal: Goal, placed: PlacedPose, into: Planar) -> Goal:
    """The pose goal ``goal`` (placed as ``placed``) placed in the planner's frame by
    ``into`` instead; its heading weight is kept (a free heading stays free)."""
    x, y, yaw = into.apply_pose(*placed.pose)
    return pose_goal(x, y, yaw if goal.yaw_weight > 0 else None, goal.yaw_weight)


def replaced_map(static_map: StaticMap, into: Planar) -> StaticMap:
    """The same grid (the same occupancy array: its cost-to-go may be kept) placed by
    ``into``."""
    return replace(static_map, placement=into)
