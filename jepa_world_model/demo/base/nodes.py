"""The base demo's in-process ROS 2 nodes: a ``cmd_vel`` driver and a recorder with odometry.

Import only after :func:`~jepa_world_model.ros_env.ensure_ros_libraries`. The
recorder both robots share (:class:`~jepa_world_model.demo.recorder.RecorderNode`) records
images, wheel joint states, predicted wheel trajectories, surprise and the collision flags;
:class:`BaseRecorderNode` adds ``odom``, ``~/predicted_path`` and the ``cmd_vel`` commands.
"""

from __future__ import annotations

import math
from typing import Any, Callable, List

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry, Path
import numpy as np

from ...ros.common.joint_state_conversion import stamp_to_seconds
from ..driver import PolicyDriverNode
from ..recorder import BEST_EFFORT, RecorderNode, RELIABLE, source_time
from .analysis import PathRecording

__all__ = ['BaseDriverNode', 'BaseRecorderNode', 'yaw_of']


def yaw_of(orientation: Any) -> float:
    """Yaw [rad] of a planar quaternion (rotation about z only)."""
    return 2.0 * math.atan2(orientation.z, orientation.w)


def _odometry(msg: Odometry) -> tuple:
    p, t = msg.pose.pose, msg.twist.twist
    return ((p.position.x, p.position.y, yaw_of(p.orientation)),
            (t.linear.x, t.angular.z))


class BaseDriverNode(PolicyDriverNode):
    """Sends one ``cmd_vel`` Twist per odometry message: ``policy(pose, twist, collision)``.

    The simulator publishes odometry once per step, so commands go out at its control
    rate, as the arm driver's do per joint state.
    """

    def __init__(self, policy: Callable[..., np.ndarray], namespace: str,
                 **kwargs: Any) -> None:
        """Publish ``cmd_vel`` (geometry_msgs/Twist); read ``odom`` and the collision flag."""
        super().__init__(namespace, Odometry, 'odom', Twist, 'cmd_vel', **kwargs)
        self.policy = policy

    def command_for(self, state: Odometry, collision: bool) -> Twist:
        """``policy(pose, twist, collision)`` as a Twist (linear.x, angular.z)."""
        pose, twist = _odometry(state)
        v, w = self.policy(pose, twist, collision)
        out = Twist()
        out.linear.x, out.angular.z = float(v), float(w)
        return out

    def zero_command(self) -> Twist:
        """A zero Twist."""
        return Twist()


class BaseRecorderNode(RecorderNode):
    """The shared :class:`~jepa_world_model.demo.recorder.RecorderNode` plus odometry,
    predicted paths and ``cmd_vel``."""

    def __init__(self, joint_names: List[str], namespace: str,
                 model_node: str = 'world_model_node', **kwargs: Any) -> None:
        """Subscribe to everything the arm recorder does, and the base's topics."""
        super().__init__(joint_names, namespace, model_node, **kwargs)
        self.data.update({'odom': [], 'path': []})
        self.create_subscription(Odometry, 'odom', self._on_odom, RELIABLE)
        self.create_subscription(Path, f'{model_node}/predicted_path', self._on_path, RELIABLE)
        self.create_subscription(Twist, 'cmd_vel', self._on_twist, BEST_EFFORT)

    def _on_odom(self, msg: Odometry) -> None:
        pose, twist = _odometry(msg)
        with self._lock:
            self.data['odom'].append((stamp_to_seconds(msg.header.stamp), pose, twist))

    def _on_path(self, msg: Path) -> None:
        if not msg.poses:
            return
        t0 = stamp_to_seconds(msg.header.stamp)
        dts = [stamp_to_seconds(p.header.stamp) - t0 for p in msg.poses]
        poses = [(p.pose.position.x, p.pose.position.y, yaw_of(p.pose.orientation))
                 for p in msg.poses]
        with self._lock:
            self.data['path'].append((t0, np.array(poses, float), np.array(dts, float)))

    def _on_twist(self, msg: Twist, info: Any) -> None:
        # The driver's commands, for the replay of which command the node used.
        with self._lock:
            self.data['command'].append((source_time(info),
                                         np.array([msg.linear.x, msg.angular.z], float)))

    def path_recording(self) -> PathRecording:
        """Odometry and predicted paths as a :class:`~.analysis.PathRecording`."""
        with self._lock:
            odom = sorted(self.data['odom'], key=lambda r: r[0])
            paths = sorted(self.data['path'], key=lambda r: r[0])
        size = max((len(r[1]) for r in paths), default=1)
        paths = [r for r in paths if len(r[1]) == size]   # one horizon per run
        return PathRecording(
            odom_t=np.array([r[0] for r in odom]),
            odom_pose=np.array([r[1] for r in odom], float).reshape(-1, 3),
            odom_twist=np.array([r[2] for r in odom], float).reshape(-1, 2),
            path_t=np.array([r[0] for r in paths]),
            path_pose=(np.array([r[1] for r in paths]) if paths
                       else np.zeros((0, size, 3))),
            path_dt=np.round(paths[0][2], 9) if paths else np.zeros(size))
