"""A static occupancy map, and the cost-to-go a pose goal gets on it.

With a map (and ``use_map``), a pose goal is scored by the path length on the map
(:class:`~.navigation.NavigationField`) instead of the straight-line distance. The
controller builds the field once per goal, map and map setting, not per plan. Where the
map comes from (``nav_msgs/OccupancyGrid`` in ``planner_node``, the simulator's room in
the offline harnesses) is the caller's business. A map in another frame than the planner's
(map_server's ``map``, the planner in ``odom``) keeps its grid and carries its ``placement``;
when localisation moves ``map`` in ``odom``, only the placement changes, and a goal given in
the map's frame keeps the cost-to-go already built (:meth:`NavigationField.placed`). Pure
numpy, no ROS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

import numpy as np

from .frames import Planar
from .goals import Goal, GoalError
from .navigation import NavigationField
from .people_cost_to_go import PeopleCostToGo

__all__ = ['StaticMap', 'MapGoalError', 'navigation_for']


@dataclass(frozen=True)
class StaticMap:
    """An occupancy grid as the planner uses it.

    Attributes:
        occupancy: ``[H, W]`` int8 cell values (-1 unknown, 0-100 occupancy), row 0 at the
            origin's y.
        resolution: Cell size [m].
        origin: ``(x, y)`` [m] of cell (0, 0)'s outer corner, in ``frame_id``.
        frame_id: The map's frame.
        placement: ``frame_id`` -> the planner's frame (identity: the map is in it).
    """

    occupancy: np.ndarray
    resolution: float
    origin: Tuple[float, float]
    frame_id: str
    placement: Planar = field(default_factory=Planar)


class MapGoalError(GoalError):
    """A pose goal lies outside the map (``reason``: the counter name)."""

    reason = 'map_goal_outside'


def navigation_for(goal: Optional[Goal], static_map: Optional[StaticMap],
                   settings: Any, previous: Optional[Tuple[Optional[StaticMap], Any]] = None
                   ) -> Optional[Any]:
    """The cost-to-go for a pose goal on the map, or None (no map, ``settings.use_map``
    off, another goal kind); ``settings.map_occupied_threshold`` and
    ``settings.map_inflation`` say which cells are obstacles and how far paths keep away.
    With ``settings.people_cost_to_go_every`` > 0 the field is a
    :class:`~.people_cost_to_go.PeopleCostToGo` over it (the caller feeds it the scan), its
    people's band ``map_inflation - terms.clearance_margin`` (the robot's radius).

    ``previous``: ``(map, field)`` built under the same settings. When ``static_map`` is
    that map's grid (the same occupancy array) re-placed, and the goal sits where it did on
    the grid, the old cost-to-go is re-placed instead of built again (a new one takes a while on a
    large map).

    Raises:
        MapGoalError: The goal lies outside the map.
    """
    if goal is None or goal.kind != 'pose' or static_map is None or not settings.use_map:
        return None
    goal_xy = goal.target[:2].tolist()
    old_map, old_field = previous if previous is not None else (None, None)
    if isinstance(old_field, PeopleCostToGo):   # re-placed: the people are seen anew
        old_field = old_field.static
    occupied = static_map.occupancy >= int(settings.map_occupied_threshold)
    field = None
    if old_field is not None and old_map is not None \
            and old_map.occupancy is static_map.occupancy:
        field = old_field.placed(static_map.placement, goal_xy)
    if field is None:
        try:
            field = NavigationField(occupied, static_map.resolution, static_map.origin,
                                    goal_xy, settings.map_inflation,
                                    placement=static_map.placement)
        except ValueError as exc:
            raise MapGoalError(str(exc)) from None
    every = settings.people_cost_to_go_every
    if not every:
        return field
    # The map's inflation is the robot's radius plus the margin the obstacle term keeps
    # from people itself: the people's band is the radius alone.
    band = max(0.0, settings.map_inflation - settings.terms.clearance_margin)
    return PeopleCostToGo(field, occupied, settings.map_inflation, every, people_band=band)
