"""Forward kinematics of the simulated arm and the overhead camera's projection (no rclpy).

The demo draws predicted joint angles into camera frames: joints -> link and end-effector
positions (MuJoCo's own kinematics of ``sim/assets/arm.xml``, so drawing and simulator
never disagree) -> pixels (the pinhole ``camera_intrinsics()`` of the fixed overhead
camera, which looks straight down: image right is world +x, image up is world +y).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ...sim.robots import make_robot

__all__ = ['ArmKinematics']

#: Bodies whose origins are the joints of the drawn skeleton, then the end-effector site.
_CHAIN = ('link1', 'link2', 'link3')
_EE_SITE = 'ee'


class ArmKinematics:
    """Joint angles -> skeleton points and pixels, plus the facts the demo policy needs.

    Creating it compiles the arm model but never renders (no GL context is made).
    """

    def __init__(self, image_size: int = 64) -> None:
        """Load the arm of :mod:`jepa_world_model.sim` at camera size ``image_size``."""
        import mujoco   # the simulator's dependency; imported here to keep imports light
        self._mujoco = mujoco
        robot = make_robot('arm', image_size=image_size)
        try:
            self.model = robot.model
            self.joint_names = tuple(robot.joint_names)
            self.joint_limits = np.array(robot.joint_limits, float)
            self.action_low = np.array(robot.action_low, float)
            self.action_high = np.array(robot.action_high, float)
            self.intrinsics = robot.camera_intrinsics()
            self.dt = robot.dt
        finally:
            robot.close()
        self.data = mujoco.MjData(self.model)
        self._qadr = np.array([self.model.joint(n).qposadr[0] for n in self.joint_names])
        self._bodies = [self.model.body(n).id for n in _CHAIN]
        self._site = self.model.site(_EE_SITE).id
        cam = self.model.camera('overhead').id
        self.camera_pos = self.model.cam_pos[cam].copy()
        self.obstacle_xy = self.model.geom('obstacle').pos[:2].copy()
        self.obstacle_half = self.model.geom('obstacle').size[:2].copy()
        self.image_size = int(image_size)

    def link_lengths(self) -> Tuple[float, float, float]:
        """Distances joint1 -> joint2 -> joint3 -> end-effector [m] (planar arm)."""
        pts = self.skeleton(np.zeros((1, len(self.joint_names))))[0]
        return tuple(float(np.linalg.norm(pts[i + 1, :2] - pts[i, :2])) for i in range(3))

    def skeleton(self, q: np.ndarray) -> np.ndarray:
        """[N, J] joint angles -> [N, 4, 3] world points: joint1, joint2, joint3, tip."""
        q = np.atleast_2d(np.asarray(q, float))
        out = np.zeros((len(q), len(self._bodies) + 1, 3))
        for i, row in enumerate(q):
            if not np.all(np.isfinite(row)):
                out[i] = np.nan
                continue
            self.data.qpos[self._qadr] = row
            self._mujoco.mj_kinematics(self.model, self.data)
            out[i, :-1] = self.data.xpos[self._bodies]
            out[i, -1] = self.data.site_xpos[self._site]
        return out

    def end_effector(self, q: np.ndarray) -> np.ndarray:
        """[N, J] joint angles -> [N, 3] end-effector positions [m]."""
        return self.skeleton(q)[:, -1]

    def project(self, points: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """[..., 3] world points -> [..., 2] pixel (u right, v down), times ``scale``.

        Continuous pixel coordinates: (0, 0) is the top-left corner of the image, so a
        frame upscaled by ``scale`` uses ``scale`` times these coordinates.
        """
        fx, fy, cx, cy, _, _ = self.intrinsics
        points = np.asarray(points, float)
        rel = points - self.camera_pos
        depth = -rel[..., 2]   # the camera looks down -z
        u = cx + fx * rel[..., 0] / depth
        v = cy - fy * rel[..., 1] / depth
        return np.stack([u, v], axis=-1) * scale
