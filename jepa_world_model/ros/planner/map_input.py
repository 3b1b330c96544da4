"""The static map of ``planner_node``: nav_msgs/OccupancyGrid in, a checked map out.

``planner_node`` subscribes to ``map`` with map_server's QoS (reliable, transient local, so
a map published once before the node started still arrives). With ``use_map`` set, the
planning controller scores a pose goal by the path length on the map
(:mod:`~...core.planning.static_map`) instead of the straight-line distance. A malformed map
is counted and ignored (the old one stays); the planner works without a map as before.
A map in another frame (``map``) keeps its grid and carries its placement in the path frame
(TF's ``odom <- map``, rotated or not: AMCL's is); the planner re-places it when
localisation moves ``map`` (:mod:`~...core.planning.relocation`).
"""

from __future__ import annotations

import math
from typing import Optional

from nav_msgs.msg import OccupancyGrid
import numpy as np

from ...core.planning.frames import FrameLookupError, FrameSource, ParameterFrames, Planar
from ...core.planning.static_map import StaticMap
from ..common.rejects import InputError

__all__ = ['map_from_msg', 'MAX_CELLS']

#: Largest map (cells) the planner builds a field for: the cost-to-go is built in a
#: callback, so a huge map would stall the plan timer.
MAX_CELLS = 250_000


def map_from_msg(msg: OccupancyGrid, path_frame_id: str,
                 frames: Optional[FrameSource] = None) -> StaticMap:
    """Validate an OccupancyGrid; raises :class:`InputError` (``map_*`` reasons).

    A map in another frame than ``path_frame_id`` (map_server's ``map``) is placed in it by
    ``frames`` (TF's ``odom <- map`` when the map arrives, rotated or not): the grid stays
    in its frame and the planner reads it through the placement. Without ``frames``, or
    while the transform is unknown, the map is refused (``map_wrong_frame``).
    """
    info = msg.info
    width, height, res = int(info.width), int(info.height), float(info.resolution)
    frame = msg.header.frame_id
    into = Planar()
    if frame and path_frame_id and frame != path_frame_id:
        try:
            into = (frames or ParameterFrames()).into(path_frame_id, frame)
        except FrameLookupError as exc:
            raise InputError('map_wrong_frame', f'map frame {frame!r} is not path_frame_id '
                             f'{path_frame_id!r}: {exc}') from None
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
        raise InputError('map_invalid', 'rotated map origins (info.origin.orientation) are '
                         'not supported')
    origin = (float(info.origin.position.x), float(info.origin.position.y))
    if not all(math.isfinite(v) for v in origin):
        raise InputError('map_invalid', f'map origin is not finite: {origin}')
    occupancy = np.asarray(msg.data, dtype=np.int8).reshape(height, width).copy()
    return StaticMap(occupancy, res, origin, frame or path_frame_id, into)
