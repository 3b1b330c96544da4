"""The static map of ``planner_node``: nav_msgs/OccupancyGrid in, a goal's cost-to-go out.

``planner_node`` subscribes to ``map`` with map_server's QoS (reliable, transient local, so
a map published once before the node started still arrives). With ``use_map`` set, a pose
goal is scored by the path length on the map (:class:`~..core.navigation.NavigationField`)
instead of the straight-line distance. The field is built once per goal, map and setting,
not per plan. A malformed map is counted and ignored (the old one stays); the planner works
without a map as before.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Optional, Tuple

from nav_msgs.msg import OccupancyGrid
import numpy as np

from ..core.goals import Goal
from ..core.navigation import NavigationField
from .node_io import InputError

__all__ = ['StaticMap', 'map_from_msg', 'navigation_for']

#: Largest map (cells) the planner builds a field for: the Dijkstra pass is Python, and it
#: runs in a callback, so a huge map would stall the plan timer.
MAX_CELLS = 250_000


@dataclass(frozen=True)
class StaticMap:
    """An occupancy grid as the planner uses it.

    Attributes:
        occupancy: ``[H, W]`` int8 cell values (-1 unknown, 0-100 occupancy), row 0 at the
            origin's y.
        resolution: Cell size [m].
        origin: ``(x, y)`` [m] of cell (0, 0)'s outer corner, in ``frame_id``.
        frame_id: The map's frame.
    """

    occupancy: np.ndarray
    resolution: float
    origin: Tuple[float, float]
    frame_id: str


def map_from_msg(msg: OccupancyGrid, path_frame_id: str) -> StaticMap:
    """Validate an OccupancyGrid; raises :class:`InputError` (``map_*`` reasons)."""
    info = msg.info
    width, height, res = int(info.width), int(info.height), float(info.resolution)
    frame = msg.header.frame_id
    if frame and path_frame_id and frame != path_frame_id:
        raise InputError('map_wrong_frame', f'map frame {frame!r} is not path_frame_id '
                         f'{path_frame_id!r} (no TF lookup here)')
    if width < 2 or height < 2 or width * height > MAX_CELLS:
        raise InputError('map_invalid', f'map of {width} x {height} cells; need 2 to '
                         f'{MAX_CELLS} cells per map')
    if not (math.isfinite(res) and res > 0):
        raise InputError('map_invalid', f'map resolution must be > 0, got {res!r}')
    if len(msg.data) != width * height:
        raise InputError('map_invalid', f'map data has {len(msg.data)} cells, '
                         f'width x height is {width * height}')
    q = info.origin.orientation
    if abs(q.x) > 1e-6 or abs(q.y) > 1e-6 or abs(q.z) > 1e-6:
        raise InputError('map_invalid', 'rotated map origins are not supported')
    origin = (float(info.origin.position.x), float(info.origin.position.y))
    if not all(math.isfinite(v) for v in origin):
        raise InputError('map_invalid', f'map origin is not finite: {origin}')
    occupancy = np.asarray(msg.data, dtype=np.int8).reshape(height, width).copy()
    return StaticMap(occupancy, res, origin, frame)


def navigation_for(goal: Optional[Goal], static_map: Optional[StaticMap],
                   settings: Any) -> Optional[NavigationField]:
    """The cost-to-go for a pose goal on the map, or None (no map, ``use_map`` off, another
    goal kind). Raises :class:`InputError` (``map_goal_outside``) for a goal off the map."""
    if goal is None or goal.kind != 'pose' or static_map is None or not settings.use_map:
        return None
    occupied = static_map.occupancy >= int(settings.map_occupied_threshold)
    try:
        return NavigationField(occupied, static_map.resolution, static_map.origin,
                               goal.target[:2].tolist(), settings.map_inflation)
    except ValueError as exc:
        raise InputError('map_goal_outside', str(exc)) from None
