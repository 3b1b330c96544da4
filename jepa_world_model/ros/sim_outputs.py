"""Messages sim_node builds from an observation besides images and joint states: odometry and
its transform, the mobile base's static REP 105 frames, and ground-truth object poses.

Ground truth (``/ground_truth/<name>``, geometry_msgs/PoseStamped in ``world``) is what a
motion-capture system would publish in a lab, and ``/ground_truth/<label>`` (std_msgs/String,
e.g. ``cube_material``) what a lab notebook would say: for evaluation read-outs only, never an
input of world_model_node or planner_node (issue #13). Bags recorded by ``jepa-world-model record``
carry the same topics (bags/recording.py).
"""

import math
from typing import Any, Dict, Iterable, Optional, Tuple

from geometry_msgs.msg import PoseStamped, TransformStamped
from nav_msgs.msg import Odometry
import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile
from std_msgs.msg import Header, String

from ..sim.robots import SimObservation

try:  # tf2_msgs is optional (no wheel in every environment): /tf only when present.
    from tf2_msgs.msg import TFMessage
except ImportError:   # pragma: no cover - depends on the environment
    TFMessage = None

__all__ = ['GROUND_TRUTH_PREFIX', 'GroundTruthPublisher', 'odometry_message',
           'static_transforms', 'TFMessage', 'SCAN_FRAME', 'WORLD_FRAME']

#: The mobile base's scanner frame (REP 105: base_link -> laser; the simulated scanner sits
#: at the base origin, so the transform is the identity and scan_mount's default matches).
SCAN_FRAME = 'laser'
#: Topic prefix and frame of the ground-truth object poses.
GROUND_TRUTH_PREFIX = '/ground_truth'
WORLD_FRAME = 'world'
# Reliable, a few deep: an evaluation logger should not miss a pose.
GROUND_TRUTH_QOS = QoSProfile(depth=10)


def odometry_message(obs: SimObservation, stamp: Any
                     ) -> Tuple[Odometry, TransformStamped]:
    """The base's ``Odometry`` (odom -> base_link, ground truth with diff_drive_controller's
    default covariances) and the same pose as a ``TransformStamped`` for /tf."""
    x, y, yaw = (float(v) for v in obs.base_pose)
    odom = Odometry(header=Header(stamp=stamp, frame_id='odom'), child_frame_id='base_link')
    odom.pose.pose.position.x, odom.pose.pose.position.y = x, y
    odom.pose.pose.orientation.z = math.sin(0.5 * yaw)
    odom.pose.pose.orientation.w = math.cos(0.5 * yaw)
    odom.twist.twist.linear.x = float(obs.base_twist[0])
    odom.twist.twist.angular.z = float(obs.base_twist[1])
    for i, var in enumerate((0.001, 0.001, 0.001, 0.001, 0.001, 0.01)):
        odom.pose.covariance[7 * i] = odom.twist.covariance[7 * i] = var
    tf = TransformStamped(header=odom.header, child_frame_id='base_link')
    tf.transform.translation.x, tf.transform.translation.y = x, y
    tf.transform.rotation = odom.pose.pose.orientation
    return odom, tf


def static_transforms(stamp: Any) -> Any:
    """The mobile base's static REP 105 frames as a tf2_msgs/TFMessage: ``map -> odom``
    (identity: the simulated odometry is ground truth and the room's map is drawn in odom)
    and ``base_link -> laser`` (identity: the scanner sits at the base origin)."""
    transforms = []
    for parent, child in (('map', 'odom'), ('base_link', SCAN_FRAME)):
        tf = TransformStamped(header=Header(stamp=stamp, frame_id=parent),
                              child_frame_id=child)
        tf.transform.rotation.w = 1.0
        transforms.append(tf)
    return TFMessage(transforms=transforms)


class GroundTruthPublisher:
    """One PoseStamped publisher per object name and one String publisher per label name
    (``/ground_truth/<name>``)."""

    def __init__(self, node: Node, names: Iterable[str], labels: Iterable[str] = ()) -> None:
        self._pubs = {name: node.create_publisher(PoseStamped, f'{GROUND_TRUTH_PREFIX}/{name}',
                                                  GROUND_TRUTH_QOS) for name in names}
        self._label_pubs = {name: node.create_publisher(
            String, f'{GROUND_TRUTH_PREFIX}/{name}', GROUND_TRUTH_QOS) for name in labels}

    def publish(self, objects: Optional[Dict[str, np.ndarray]], stamp: Any,
                labels: Optional[Dict[str, str]] = None) -> None:
        """Publish each known object's ``(x, y, z, qw, qx, qy, qz)`` pose and each known
        label's text (String has no stamp: it is published with the poses of ``stamp``)."""
        for name, text in (labels or {}).items():
            if name in self._label_pubs:
                self._label_pubs[name].publish(String(data=str(text)))
        for name, pose in (objects or {}).items():
            if name not in self._pubs:
                continue
            msg = PoseStamped(header=Header(stamp=stamp, frame_id=WORLD_FRAME))
            p = [float(v) for v in pose]
            msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = p[:3]
            o = msg.pose.orientation
            o.w, o.x, o.y, o.z = p[3:7]
            self._pubs[name].publish(msg)
