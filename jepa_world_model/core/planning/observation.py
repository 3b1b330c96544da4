"""What the planning controller plans from: one synchronised observation, and its scan.

An :class:`Observation` is the model input of one frame (``o`` image, ``s`` proprioception)
with the measurements the controller prefers over probes of the latent for the goal check
(``q`` joint positions, ``pose`` odometry) and, for the obstacle term, the newest range
scan. How the frame and the measurements were paired (stamps, interpolation) is the
caller's business: ``planner_node``'s inputs, or a simulator in the offline harnesses.
Pure PyTorch/numpy, no ROS.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional, Tuple

import numpy as np
from torch import Tensor

from .people_cost_to_go import PeopleCostToGo
from .scan import laser_points

__all__ = ['ScanReading', 'Observation', 'ObservationError', 'check_observation',
           'obstacle_points', 'plan_obstacles', 'encode_frame']


class ScanReading(NamedTuple):
    """One planar range scan (sensor_msgs/LaserScan's fields): ``ranges`` [B], beam ``i`` at
    ``angle_min + i * angle_increment`` in the scanner frame, and its stamp (s). ``mount``:
    the scanner's pose (x, y, yaw) in the base frame where TF gave it (core/planning/
    frames.py), else None (the controller's ``scan_mount`` applies)."""

    stamp: float
    ranges: np.ndarray
    angle_min: float
    angle_increment: float
    range_min: float
    range_max: float
    mount: Optional[Tuple[float, float, float]] = None


class Observation(NamedTuple):
    """A synchronised observation.

    Attributes:
        o: [1, 3, S, S] the preprocessed camera frame (``WorldModelRuntime.preprocess``).
        s: [1, state_dim] proprioception (``WorldModelRuntime.make_state``), or None for
            models without a state.
        q: [J] measured joint positions in model joint order; size 0 without joints.
        pose: [3] measured planar pose (x, y, yaw) from odometry, or None.
        scan: The newest range scan (the obstacle and agent terms need it), or None.
        stamp: The frame's stamp [s], or None (the agent term then takes the frame to be
            at the scan's stamp).
    """

    o: Tensor
    s: Optional[Tensor]
    q: np.ndarray
    pose: Optional[np.ndarray]
    scan: Optional[ScanReading] = None
    stamp: Optional[float] = None


class ObservationError(ValueError):
    """An observation does not fit the model (shapes, sizes, non-finite measurements)."""


def check_observation(obs: Observation, image_size: int, state_dim: int,
                      joints: int) -> None:
    """Raise :class:`ObservationError` unless ``obs`` fits a model with images of
    ``image_size`` pixels, ``state_dim`` state values and ``joints`` joints."""
    shape = tuple(getattr(obs.o, 'shape', ()))
    if shape != (1, 3, image_size, image_size):
        raise ObservationError(f'o must be [1, 3, {image_size}, {image_size}], got {shape}')
    if state_dim:
        got = tuple(getattr(obs.s, 'shape', ())) if obs.s is not None else None
        if got != (1, state_dim):
            raise ObservationError(f's must be [1, {state_dim}], got {got}')
    q = np.asarray(obs.q)
    if q.ndim != 1 or q.size not in (0, joints) or not np.isfinite(q).all():
        raise ObservationError(f'q must hold 0 or {joints} finite joint positions, got '
                               f'{q.tolist()}')
    if obs.pose is not None:
        pose = np.asarray(obs.pose, dtype=np.float64)
        if pose.shape != (3,) or not np.isfinite(pose).all():
            raise ObservationError(f'pose must be 3 finite values (x, y, yaw), got '
                                   f'{pose.tolist()}')


def obstacle_points(model: Any, z: Tensor, obs: Observation, mount: Any) -> Optional[Tensor]:
    """The returns of ``obs.scan`` as points [P, 2] in the odometry frame, or None without a
    scan.

    The scan is placed at the odometry pose of the frame (models with the pose in their
    state) or else at the pose the model reads from ``z`` [Z]; ``mount`` (x, y, yaw) is the
    scanner in the base frame, unless the scan carries its own (from TF).
    """
    scan = obs.scan
    if scan is None:
        return None
    mount = scan.mount if scan.mount is not None else mount
    pose = obs.pose if obs.pose is not None else model.probe_pose(z).float().cpu().numpy()
    return laser_points(scan.ranges, scan.angle_min, scan.angle_increment, scan.range_min,
                        scan.range_max, pose, mount).to(z.device, z.dtype)


def plan_obstacles(model: Any, z: Tensor, obs: Observation, mount: Any, needed: bool,
                   navigation: Any) -> Optional[Tensor]:
    """The scan's returns [P, 2] (:func:`obstacle_points`) when the obstacle term
    (``needed``) or a map cost-to-go that marks people
    (:class:`~.people_cost_to_go.PeopleCostToGo`) takes them, else None; such a
    ``navigation`` is given them (it rebuilds at its own cadence)."""
    people = navigation if isinstance(navigation, PeopleCostToGo) else None
    if not needed and people is None:
        return None
    points = obstacle_points(model, z, obs, mount)
    if people is not None:   # without a scan its last rebuild stays
        people.observe(points)
    return points


def encode_frame(encoder: Any, goal: Any, objective: Any, obs: Observation
                 ) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
    """``(z [Z], reading or None, scene [C] or None)`` of the frame, in one encoder pass.

    The reading is the image goal's (``Goal.reading``): goal links [L, 3] for models with
    ``kinematics``, else joint positions [J].

    Image goals with a head reading are judged and aimed in joint units (goals.py): the
    reading of the current frame comes from the same encoder pass as z. A clearance term on
    a scene read-out (``objective.needs_scene``) reads the frame's scene the same way.
    ``encoder``: the runtime's encoder (``encode``, ``encode_with_image_joints``,
    ``encode_with_scene``).
    """
    if goal.kind == 'image' and goal.links is not None and np.size(obs.q):
        z, links = encoder.encode_with_image_links(obs.o, obs.s)
        return z[0], links[0], None
    if goal.kind == 'image' and goal.joints is not None and np.size(obs.q):
        z, q_image = encoder.encode_with_image_joints(obs.o, obs.s)
        return z[0], q_image[0], None
    if objective.needs_scene:
        z, scene = encoder.encode_with_scene(obs.o, obs.s)
        return z[0], None, scene[0]
    return encoder.encode(obs.o, obs.s)[0], None, None
