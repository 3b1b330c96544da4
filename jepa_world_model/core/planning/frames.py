"""Where the planner's frames come from: planar transforms between the base, the range
scanner, the odometry frame and the map (REP 105: ``map -> odom -> base_link -> laser``).

:class:`FrameSource` answers two questions the planner asks:

* :meth:`~FrameSource.scan_mount`: the pose of the scanner (``scan_frame``) in the base
  frame, for the obstacle term;
* :meth:`~FrameSource.into`: the transform that takes coordinates of a frame (a pose goal's,
  a map's, e.g. ``map``) into the planner's path frame (``odom``).

:class:`ParameterFrames` is the fallback when there is no TF (tf2_ros cannot be imported):
the scanner sits at the ``scan_mount`` parameter, and only data already in the path frame
is accepted. ``ros/common/tf_frames.py`` answers from a tf2 buffer where one exists. Pure
numpy; the transforms are planar (x, y, yaw): the planner plans on the ground plane.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Protocol, Sequence, Tuple

import numpy as np

__all__ = ['Planar', 'FrameLookupError', 'FrameSource', 'ParameterFrames']


@dataclass(frozen=True)
class Planar:
    """A planar rigid transform: rotate by ``yaw`` (rad), then translate by (x, y) (m).

    As a transform "into target from source" it maps a point p given in the source frame to
    ``R(yaw) p + (x, y)`` in the target frame (tf2's ``lookup_transform(target, source)``).
    """

    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0

    @classmethod
    def of(cls, values: Sequence[float]) -> 'Planar':
        """From ``(x, y, yaw)`` (e.g. the ``scan_mount`` parameter)."""
        x, y, yaw = (float(v) for v in values)
        return cls(x, y, yaw)

    def as_tuple(self) -> Tuple[float, float, float]:
        return (self.x, self.y, self.yaw)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """[N, 2] points in the source frame -> [N, 2] in the target frame."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return pts @ np.array([[c, s], [-s, c]]) + np.array([self.x, self.y])

    def apply_pose(self, x: float, y: float, yaw: float) -> Tuple[float, float, float]:
        """A planar pose in the source frame -> the same pose in the target frame."""
        (px, py), = self.apply(np.array([[x, y]]))
        return float(px), float(py), math.atan2(math.sin(yaw + self.yaw),
                                                math.cos(yaw + self.yaw))

    def then(self, outer: 'Planar') -> 'Planar':
        """``outer`` after ``self``: a -> b (self) composed with b -> c (outer) is a -> c."""
        x, y, yaw = outer.apply_pose(self.x, self.y, self.yaw)
        return Planar(x, y, yaw)

    def inverse(self) -> 'Planar':
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return Planar(-(c * self.x + s * self.y), s * self.x - c * self.y, -self.yaw)


class FrameLookupError(ValueError):
    """A transform the planner needs is not known; ``reason`` is the counter name."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class FrameSource(Protocol):
    """Planar transforms for the planner (see the module docstring)."""

    def scan_mount(self, base_frame: str, scan_frame: str) -> Planar:
        """The scanner's pose in the base frame (never raises: falls back to a parameter)."""

    def into(self, target_frame: str, source_frame: str) -> Planar:
        """Coordinates of ``source_frame`` -> ``target_frame``; raises
        :class:`FrameLookupError` when the transform is not known."""


@dataclass(frozen=True)
class ParameterFrames:
    """The frames without TF: the scanner at ``mount`` (x, y, yaw in the base frame,
    the ``scan_mount`` parameter), and no transform between two different frames."""

    mount: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    source_name: str = 'parameters'

    def scan_mount(self, base_frame: str, scan_frame: str) -> Planar:
        return Planar.of(self.mount)

    def into(self, target_frame: str, source_frame: str) -> Planar:
        if not source_frame or source_frame == target_frame:
            return Planar()
        raise FrameLookupError('frame_unknown', f'no transform from {source_frame!r} into '
                               f'{target_frame!r}: tf2_ros is not available here, so only '
                               f'data in {target_frame!r} is accepted')
