"""The mobile base's room and overhead camera as plain numbers (no rclpy, no rendering).

The demo's base driver plans in this room, and the animation draws poses into the camera
image with :meth:`BaseRoom.project`. The values come from ``sim/assets/mobile_base.xml``
through :class:`~jepa_world_model.sim.robots.MobileBaseSim` (:meth:`BaseRoom.from_sim`):
the camera hangs at (0, 0, 6 m) and looks straight down (image right = world +x, image up =
world +y) with ``fovy`` 31.5 deg, so a point at height z maps to
``u = cx + f x / (6 - z)``, ``v = cy - f y / (6 - z)`` with ``f = (size / 2) / tan(fovy / 2)``.
On rendered frames the centre of the robot's disc (blue and yellow pixels) lies within
0.2 px of the projection of its pose at the disc's top (z = 0.12 m).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Sequence, Tuple

import numpy as np

__all__ = ['BaseRoom', 'DISC_TOP_Z', 'wrap_angle']

#: Height [m] of the top of the robot's disc (body at 0.06 m, half height 0.06 m).
DISC_TOP_Z = 0.12


def wrap_angle(angle):
    """Angle(s) in [-pi, pi)."""
    return (np.asarray(angle, float) + math.pi) % (2.0 * math.pi) - math.pi


@dataclass
class BaseRoom:
    """Walls, furniture and camera of the simulated room.

    Attributes:
        half_extent: The inner wall faces are at +-half_extent [m] in x and y.
        obstacles: [K, 3] furniture as circles (x, y, radius) [m] (boxes circumscribed).
        robot_radius: Radius of the robot's disc [m].
        camera_pos: (x, y, z) of the overhead camera [m].
        intrinsics: Pinhole ``(fx, fy, cx, cy, width, height)`` of the square image.
        action_low, action_high: Bounds of ``(v, w)``.
    """

    half_extent: float
    obstacles: np.ndarray
    robot_radius: float
    camera_pos: np.ndarray
    intrinsics: Tuple[float, float, float, float, int, int]
    action_low: np.ndarray
    action_high: np.ndarray

    @classmethod
    def from_sim(cls, image_size: int = 64) -> 'BaseRoom':
        """Read everything from the simulator's model (compiles it; renders nothing)."""
        from ...sim.robots import make_robot
        robot = make_robot('mobile_base', image_size=image_size)
        try:
            cam = robot.model.camera('overhead').id
            return cls(half_extent=float(robot.ROOM_HALF_EXTENT),
                       obstacles=np.array(robot.obstacle_circles, float),
                       robot_radius=float(robot.ROBOT_RADIUS),
                       camera_pos=robot.model.cam_pos[cam].copy(),
                       intrinsics=tuple(robot.camera_intrinsics()),
                       action_low=np.array(robot.action_low, float),
                       action_high=np.array(robot.action_high, float))
        finally:
            robot.close()

    @property
    def image_size(self) -> int:
        """Side of the square camera image [px]."""
        return int(self.intrinsics[4])

    def is_free(self, xy: Sequence[float], clearance: float) -> bool:
        """Whether a disc of radius ``clearance`` at ``xy`` touches no wall or furniture."""
        x, y = float(xy[0]), float(xy[1])
        if max(abs(x), abs(y)) > self.half_extent - clearance:
            return False
        dist = np.hypot(self.obstacles[:, 0] - x, self.obstacles[:, 1] - y)
        return bool(np.all(dist > self.obstacles[:, 2] + clearance))

    def segment_free(self, start: Sequence[float], end: Sequence[float],
                     clearance: float) -> bool:
        """Whether such a disc can move straight from ``start`` to ``end`` (5 cm checks)."""
        start, end = np.asarray(start, float), np.asarray(end, float)
        steps = max(2, int(np.linalg.norm(end - start) / 0.05) + 1)
        return all(self.is_free(start + s * (end - start), clearance)
                   for s in np.linspace(0.0, 1.0, steps))

    def project(self, xy: np.ndarray, scale: float = 1.0, z: float = DISC_TOP_Z
                ) -> np.ndarray:
        """[..., >=2] world (x, y) at height ``z`` -> [..., 2] pixels (u right, v down).

        Continuous coordinates: (0, 0) is the top-left corner of the image, so a frame
        upscaled ``scale`` times uses ``scale`` times these coordinates.
        """
        fx, fy, cx, cy, _, _ = self.intrinsics
        xy = np.asarray(xy, float)
        depth = self.camera_pos[2] - z
        u = cx + fx * (xy[..., 0] - self.camera_pos[0]) / depth
        v = cy - fy * (xy[..., 1] - self.camera_pos[1]) / depth
        return np.stack([u, v], axis=-1) * scale
