"""The demo's in-process recorder node, for both robots (the drivers are in ``arm/`` and
``base/``).

It talks to ``sim_node`` and ``world_model_node`` over real DDS like any other ROS node;
import this module only after :func:`~jepa_world_model.ros_env.ensure_ros_libraries`.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float32, Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from ..ros.common.joint_state_conversion import stamp_to_seconds
from .analysis import Recording, stamps_from_source_times

__all__ = ['RecorderNode', 'RELIABLE', 'BEST_EFFORT', 'source_time']

# Deep queues: the recorder must not lose samples when the executor runs late on a busy
# machine. Best effort for images matches the simulator's sensor-data publisher.
RELIABLE = QoSProfile(depth=100)
BEST_EFFORT = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
#: A header-less message belongs to the reference message sent at most this long before it.
SOURCE_MATCH_S = 0.05


def source_time(info: Any) -> float:
    """Publisher-side send time [s] from rclpy's message info (reception time if absent)."""
    if isinstance(info, dict):
        for key in ('source_timestamp', 'received_timestamp'):
            if info.get(key):
                return info[key] * 1e-9
    return float('nan')


class RecorderNode(Node):
    """Collects images, joint states, predictions, surprise and the collision flags.

    Callbacks only append to lists under a lock, so they never hold up the executor; the
    conversion to arrays happens once, in :meth:`recording`.
    """

    def __init__(self, joint_names: List[str], namespace: str,
                 model_node: str = 'world_model_node', **kwargs: Any) -> None:
        """Subscribe to the simulator's and ``model_node``'s topics in ``namespace``."""
        super().__init__('demo_recorder', namespace=namespace, **kwargs)
        self.joint_names = list(joint_names)
        self._lock = threading.Lock()
        self.pred_kind = 'position'   # or 'velocity' (see Recording.pred_kind)
        self.data: Dict[str, List] = {key: [] for key in (
            'joint', 'image', 'pred', 'surprise', 'collision', 'contact', 'command')}
        sub = self.create_subscription
        sub(JointState, 'joint_states', self._on_joint_state, RELIABLE)
        sub(Image, 'image', self._on_image, BEST_EFFORT)
        sub(JointTrajectory, f'{model_node}/predicted_joint_trajectory', self._on_prediction,
            RELIABLE)
        sub(Float32, f'{model_node}/surprise', self._on_surprise, RELIABLE)
        sub(Bool, 'sim_node/collision', self._on_collision, RELIABLE)
        sub(Bool, 'sim_node/contact', self._on_contact, RELIABLE)
        sub(Float64MultiArray, 'commands', self._on_command, BEST_EFFORT)

    # Two-argument callbacks: rclpy then passes the message info with the send time.
    def _on_joint_state(self, msg: JointState, info: Any) -> None:
        names = list(msg.name)
        if not all(n in names for n in self.joint_names):
            return
        order = [names.index(n) for n in self.joint_names]
        velocity = np.asarray(msg.velocity, float)
        row = (stamp_to_seconds(msg.header.stamp), source_time(info),
               np.asarray(msg.position, float)[order],
               velocity[order] if velocity.size == len(names) else
               np.full(len(order), np.nan))
        with self._lock:
            self.data['joint'].append(row)

    def _on_image(self, msg: Image, info: Any) -> None:
        if msg.encoding != 'rgb8':
            return
        frame = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)
        frame = frame[:, :msg.width * 3].reshape(msg.height, msg.width, 3).copy()
        with self._lock:
            self.data['image'].append((stamp_to_seconds(msg.header.stamp), frame))

    def _on_prediction(self, msg: JointTrajectory, info: Any) -> None:
        names = list(msg.joint_names)
        if not msg.points or not all(n in names for n in self.joint_names):
            return
        order = [names.index(n) for n in self.joint_names]
        # Models without joint positions in s (the base) predict velocities only.
        kind = 'position' if all(len(p.positions) == len(names) for p in msg.points) else \
            'velocity'
        values = [p.positions if kind == 'position' else p.velocities for p in msg.points]
        if not all(len(v) == len(names) for v in values):
            return
        self.pred_kind = kind
        q = np.array([np.asarray(v, float)[order] for v in values])
        dts = np.array([p.time_from_start.sec + 1e-9 * p.time_from_start.nanosec
                        for p in msg.points])
        with self._lock:
            self.data['pred'].append((stamp_to_seconds(msg.header.stamp),
                                      source_time(info), q, dts))

    def _on_surprise(self, msg: Float32, info: Any) -> None:
        with self._lock:
            self.data['surprise'].append((source_time(info), float(msg.data)))

    def _on_collision(self, msg: Bool, info: Any) -> None:
        with self._lock:
            self.data['collision'].append((source_time(info), bool(msg.data)))

    def _on_contact(self, msg: Bool, info: Any) -> None:
        with self._lock:
            self.data['contact'].append((source_time(info), bool(msg.data)))

    def _on_command(self, msg: Float64MultiArray, info: Any) -> None:
        with self._lock:
            self.data['command'].append((source_time(info), np.asarray(msg.data, float)))

    def counts(self) -> Dict[str, int]:
        """Messages received so far per stream."""
        with self._lock:
            return {key: len(value) for key, value in self.data.items()}

    def latest_stamp(self, stream: str) -> Optional[float]:
        """Stamp [s] of the newest ``joint`` or ``pred`` message (None before the first)."""
        with self._lock:
            rows = self.data[stream]
            return max(r[0] for r in rows[-20:]) if rows else None

    def recording(self) -> Recording:
        """Everything received, as a :class:`~.analysis.Recording` sorted by stamp."""
        with self._lock:
            data = {key: list(value) for key, value in self.data.items()}
        joint = sorted(data['joint'], key=lambda r: r[0])
        j_t = np.array([r[0] for r in joint])
        j_src = np.array([r[1] for r in joint])
        n_joints = len(self.joint_names)
        pred = sorted(data['pred'], key=lambda r: r[0])
        horizon = max((len(r[2]) for r in pred), default=0)
        pred = [r for r in pred if len(r[2]) == horizon]   # one horizon per run
        p_t = np.array([r[0] for r in pred])
        p_src = np.array([r[1] for r in pred])
        flags = {}
        for kind in ('collision', 'contact'):
            src = np.array([r[0] for r in data[kind]])
            stamps = stamps_from_source_times(src, j_src, j_t, SOURCE_MATCH_S)
            values = np.array([r[1] for r in data[kind]], bool)
            flags[kind] = (stamps, values)
        # One flag stream's stamps index both (the simulator publishes them together).
        stamps, collision = flags['collision']
        contact_t, contact = flags['contact']
        contact_on = {t for t, v in zip(contact_t, contact) if v and np.isfinite(t)}
        keep = np.isfinite(stamps)
        order = np.argsort(stamps[keep], kind='stable')
        flag_t = stamps[keep][order]
        s_src = np.array([r[0] for r in data['surprise']])
        s_t = stamps_from_source_times(s_src, p_src, p_t, SOURCE_MATCH_S)
        s_val = np.array([r[1] for r in data['surprise']])
        s_keep = np.isfinite(s_t)
        s_order = np.argsort(s_t[s_keep], kind='stable')
        images = sorted(data['image'], key=lambda r: r[0])
        return Recording(
            joint_names=self.joint_names, joint_t=j_t,
            q=np.array([r[2] for r in joint]).reshape(-1, n_joints),
            dq=np.array([r[3] for r in joint]).reshape(-1, n_joints),
            pred_t=p_t, pred_q=(np.array([r[2] for r in pred]) if pred
                                else np.zeros((0, horizon, n_joints))),
            pred_dt=pred[0][3] if pred else np.zeros(0),
            surprise_t=s_t[s_keep][s_order], surprise=s_val[s_keep][s_order],
            flag_t=flag_t, collision=collision[keep][order],
            contact=np.array([t in contact_on for t in flag_t], bool),
            image_t=np.array([r[0] for r in images]),
            images=np.array([r[1] for r in images]) if images else None,
            joint_src=j_src, pred_src=p_src,
            command_src=np.array([r[0] for r in data['command']]),
            commands=np.array([r[1] for r in data['command']]).reshape(
                len(data['command']), -1), pred_kind=self.pred_kind)
