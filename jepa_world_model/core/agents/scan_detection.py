"""Moving agents (people) found in a planar range scan: the returns the static map does not
explain, clustered (pure numpy, no ROS).

Pipeline per scan (:func:`detect_agents`):

1. Each beam with a return (finite, within ``[range_min, range_max)``) becomes a point in the
   odometry frame, from the base pose when the scan was taken (REP 117: +inf is no return,
   NaN no reading; both give no point).
2. Points within ``map_tolerance`` of an occupied map cell are the walls and furniture
   (:class:`StaticMask`); the rest are candidates. Without a map every point is a candidate,
   so furniture shows up as standing agents (the map is what tells a person from a table).
3. Candidates of consecutive beams closer than ``cluster_gap`` join one cluster (the scan is
   a full circle, so the last beam's cluster may join the first's). A cluster wider than
   ``max_width`` is not a person (a wall the map misses, a group): dropped.
4. A cluster's centre is its points' mean pushed ``surface_offset`` further along the
   bearing: a scanner sees the near surface of a body, whose centre lies behind it.

Limits: two people closer than ``cluster_gap`` are one detection; a person behind another is
not seen; at the simulated base's 64 beams (5.6 degrees apart) a person 0.32 m wide is hit by
one beam beyond ~3 m, so detections there are noisy and sometimes missing.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Optional, Tuple

import numpy as np

__all__ = ['DetectionSettings', 'StaticMask', 'scan_to_points', 'detect_agents']


@dataclass(frozen=True)
class DetectionSettings:
    """How returns become agent detections (lengths in metres).

    Attributes:
        map_tolerance: A return this close to an occupied map cell is static.
        cluster_gap: Largest distance between the returns of consecutive beams of one agent.
        max_width: Widest cluster (first to last return) that is still one agent.
        surface_offset: From the mean of the seen surface to the body's centre, along the
            bearing (about 0.75 x a person's radius).
    """

    map_tolerance: float = 0.15
    cluster_gap: float = 0.35
    max_width: float = 0.7
    surface_offset: float = 0.12

    def __post_init__(self) -> None:
        """Reject negative or non-finite lengths (a zero gap would split every cluster)."""
        for name in ('map_tolerance', 'cluster_gap', 'max_width', 'surface_offset'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f'DetectionSettings.{name} must be finite and >= 0, '
                                 f'got {value!r}')
        if self.cluster_gap <= 0.0 or self.max_width <= 0.0:
            raise ValueError('DetectionSettings.cluster_gap and max_width must be > 0')


class StaticMask:
    """Which points the static map explains: occupied cells grown by a tolerance.

    Args:
        occupied: ``[H, W]`` bool, row = y index (nav_msgs/OccupancyGrid layout).
        resolution: Cell size [m].
        origin: ``(x, y)`` of cell (0, 0)'s outer corner [m], in the odometry frame.
        tolerance: Growth [m]; a point within it of an occupied cell is static.
    """

    def __init__(self, occupied: np.ndarray, resolution: float, origin: Tuple[float, float],
                 tolerance: float) -> None:
        """Grow the occupied cells once (a disc of ``tolerance``), so each query is a lookup."""
        occupied = np.asarray(occupied, dtype=bool)
        if occupied.ndim != 2 or occupied.size == 0:
            raise ValueError(f'occupied must be a non-empty [H, W] grid, got {occupied.shape}')
        if not (math.isfinite(resolution) and resolution > 0.0):
            raise ValueError(f'resolution must be > 0, got {resolution!r}')
        self.occupied = occupied
        self.resolution = float(resolution)
        self.origin = (float(origin[0]), float(origin[1]))
        self.grown = _grow(occupied, int(math.ceil(tolerance / resolution)))

    def cells(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(row [N], col [N], inside [N] bool)`` of ``points [N, 2]``."""
        col = np.floor((points[:, 0] - self.origin[0]) / self.resolution).astype(np.int64)
        row = np.floor((points[:, 1] - self.origin[1]) / self.resolution).astype(np.int64)
        height, width = self.occupied.shape
        inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
        return np.clip(row, 0, height - 1), np.clip(col, 0, width - 1), inside

    def explains(self, points: np.ndarray) -> np.ndarray:
        """``[N]`` bool: within the tolerance of an occupied cell. Off the map: False (the
        map says nothing there, so the return may be an agent)."""
        row, col, inside = self.cells(np.asarray(points, dtype=np.float64).reshape(-1, 2))
        return inside & self.grown[row, col]


def _grow(occupied: np.ndarray, radius_cells: int) -> np.ndarray:
    """Binary dilation of ``occupied`` by a disc of ``radius_cells`` (shifted ORs)."""
    grown = occupied.copy()
    height, width = occupied.shape
    for dy in range(-radius_cells, radius_cells + 1):
        for dx in range(-radius_cells, radius_cells + 1):
            if (dx or dy) and dx * dx + dy * dy <= radius_cells * radius_cells:
                ys = slice(max(0, -dy), height - max(0, dy))
                yd = slice(max(0, dy), height - max(0, -dy))
                xs = slice(max(0, -dx), width - max(0, dx))
                xd = slice(max(0, dx), width - max(0, -dx))
                grown[yd, xd] |= occupied[ys, xs]
    return grown


def scan_to_points(ranges: Any, angle_min: float, angle_increment: float, range_min: float,
                   range_max: float, pose: Any) -> Tuple[np.ndarray, np.ndarray]:
    """``(points [P, 2] in the pose's frame, beam [P] indices)`` of the beams with a return.

    ``pose`` = (x, y, yaw) of the scanner in the output frame when the scan was taken.
    """
    r = np.asarray(ranges, dtype=np.float64).reshape(-1)
    x, y, yaw = (float(v) for v in pose)
    with np.errstate(invalid='ignore'):
        keep = np.isfinite(r) & (r >= range_min) & (r < range_max)
    beam = np.flatnonzero(keep)
    heading = yaw + angle_min + angle_increment * beam
    points = np.stack([x + r[beam] * np.cos(heading), y + r[beam] * np.sin(heading)], axis=-1)
    return points.reshape(-1, 2), beam


def detect_agents(ranges: Any, angle_min: float, angle_increment: float, range_min: float,
                  range_max: float, pose: Any, static: Optional[StaticMask],
                  settings: DetectionSettings = DetectionSettings()) -> np.ndarray:
    """Agent centres ``[M, 2]`` (odometry frame) in one scan; see the module docstring.

    Args:
        ranges: ``[B]`` beams of a sensor_msgs/LaserScan.
        angle_min, angle_increment: Beam ``i`` heads ``angle_min + i * angle_increment`` [rad]
            in the scanner frame.
        range_min, range_max: The scanner's valid range [m].
        pose: ``(x, y, yaw)`` of the scanner in the odometry frame at the scan's stamp.
        static: The map's static mask, or None (no map).
        settings: Thresholds.
    """
    beams = np.asarray(ranges).reshape(-1).shape[0]
    points, beam = scan_to_points(ranges, angle_min, angle_increment, range_min, range_max,
                                  pose)
    if static is not None and len(points):
        free = ~static.explains(points)
        points, beam = points[free], beam[free]
    if len(points) == 0:
        return np.zeros((0, 2))
    # A new cluster starts where consecutive candidates are far apart.
    step = np.linalg.norm(np.diff(points, axis=0), axis=1)
    starts = np.concatenate([[0], np.flatnonzero(step > settings.cluster_gap) + 1])
    labels = np.cumsum(np.isin(np.arange(len(points)), starts)) - 1
    full_circle = abs(angle_increment * beams) >= 2.0 * math.pi - 1e-3
    if (full_circle and labels[-1] > 0 and beam[0] == 0 and beam[-1] == beams - 1
            and np.linalg.norm(points[0] - points[-1]) <= settings.cluster_gap):
        labels[labels == labels[-1]] = 0   # the cluster across the scan's seam
    origin = np.array([float(pose[0]), float(pose[1])])
    centres = []
    for label in np.unique(labels):
        cluster = points[labels == label]
        width = np.linalg.norm(cluster[:, None, :] - cluster[None, :, :], axis=-1).max()
        if width > settings.max_width:
            continue
        centre = cluster.mean(axis=0)
        bearing = centre - origin
        norm = np.linalg.norm(bearing)
        if norm > 1e-9:
            centre = centre + settings.surface_offset * bearing / norm
        centres.append(centre)
    return np.array(centres).reshape(-1, 2)
