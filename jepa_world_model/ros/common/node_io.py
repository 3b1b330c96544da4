"""Array -> message glue of the nodes' outputs: standard messages only.

``trajectory_msgs/JointTrajectory``, ``nav_msgs/Path``, ``std_msgs/Float32MultiArray`` and
``builtin_interfaces/Duration``. The inputs (validated images, joint states, odometry) are
both nodes' shared input layer, :mod:`jepa_world_model.ros.common`.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Path
import numpy as np
from std_msgs.msg import Float32MultiArray, Header, MultiArrayDimension
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from .joint_state_conversion import seconds_to_stamp, stamp_to_seconds

__all__ = ['trajectory_msg', 'path_msg', 'latent_msg', 'duration_msg']


def duration_msg(seconds: float) -> Duration:
    """Seconds (>= 0) -> ``builtin_interfaces/Duration``."""
    sec = int(math.floor(seconds))
    nanosec = int(round((seconds - sec) * 1e9))
    if nanosec >= 1_000_000_000:
        sec, nanosec = sec + 1, nanosec - 1_000_000_000
    return Duration(sec=sec, nanosec=nanosec)


def trajectory_msg(header: Header, joint_names: Sequence[str],
                   positions: Optional[np.ndarray], velocities: Optional[np.ndarray],
                   step_period: float) -> JointTrajectory:
    """Predicted joint trajectory: point k (0-based) at ``(k + 1) * step_period``.

    Args:
        header: Stamp and frame of the input image.
        joint_names: J names in model order.
        positions: [H, J] predicted positions, or None (a model with velocities only).
        velocities: [H, J] predicted velocities, or None.
        step_period: Seconds per model step.

    Raises:
        ValueError: Neither positions nor velocities.
    """
    if positions is None and velocities is None:
        raise ValueError('a trajectory needs positions or velocities')
    msg = JointTrajectory()
    msg.header = header
    msg.joint_names = list(joint_names)
    points = []
    horizon = (positions if positions is not None else velocities).shape[0]
    for k in range(horizon):
        point = JointTrajectoryPoint()
        if positions is not None:
            point.positions = positions[k].astype(np.float64).tolist()
        if velocities is not None:
            point.velocities = velocities[k].astype(np.float64).tolist()
        point.time_from_start = duration_msg((k + 1) * step_period)
        points.append(point)
    msg.points = points
    return msg


def path_msg(header: Header, poses: np.ndarray, step_period: float,
             frame_id: str = '') -> Path:
    """Predicted base path: pose k at ``stamp + k * step_period`` (k = 0 is now).

    Args:
        header: Stamp and frame of the input image.
        poses: [H + 1, 3] (x, y, yaw) in metres and radians.
        step_period: Seconds per model step.
        frame_id: Overrides the image frame when not empty.
    """
    msg = Path()
    msg.header = Header(stamp=header.stamp, frame_id=frame_id or header.frame_id)
    t0 = stamp_to_seconds(header.stamp)
    out = []
    for k, (x, y, yaw) in enumerate(np.asarray(poses, dtype=np.float64)):
        pose = PoseStamped()
        pose.header = Header(stamp=seconds_to_stamp(t0 + k * step_period),
                             frame_id=msg.header.frame_id)
        pose.pose.position.x, pose.pose.position.y = float(x), float(y)
        # Planar yaw -> quaternion about z.
        pose.pose.orientation.z = math.sin(0.5 * yaw)
        pose.pose.orientation.w = math.cos(0.5 * yaw)
        out.append(pose)
    msg.poses = out
    return msg


def latent_msg(z: np.ndarray) -> Float32MultiArray:
    """[Z] latent -> Float32MultiArray with one dimension labelled ``z``."""
    msg = Float32MultiArray()
    values = np.asarray(z, dtype=np.float32).reshape(-1)
    msg.layout.dim = [MultiArrayDimension(label='z', size=values.size, stride=values.size)]
    msg.data = values.tolist()
    return msg
