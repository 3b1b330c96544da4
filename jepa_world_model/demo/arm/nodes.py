"""The arm demo's driver node: one joint velocity command per joint state.

Import only after :func:`~jepa_world_model.ros_env.ensure_ros_libraries`; the recorder
both robots share is :class:`~jepa_world_model.demo.recorder.RecorderNode`.
"""

from __future__ import annotations

from typing import Any, Callable, List

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray

from ..recorder import RELIABLE

__all__ = ['DriverNode']


class DriverNode(Node):
    """Sends one velocity command per received joint state: ``policy(q, collision)``.

    Commands go out at the simulator's control rate because each joint state is one
    simulator step. The latest ``~/collision`` flag tells the policy when it hit the block.
    """

    def __init__(self, policy: Callable[[np.ndarray, bool], np.ndarray],
                 joint_names: List[str], namespace: str, **kwargs: Any) -> None:
        """Publish ``commands``; read ``joint_states`` and ``sim_node/collision``."""
        super().__init__('demo_driver', namespace=namespace, **kwargs)
        self.policy, self.joint_names = policy, list(joint_names)
        self.enabled = True
        self.sent = 0
        self._collision = False
        self._pub = self.create_publisher(Float64MultiArray, 'commands', 10)
        self.create_subscription(JointState, 'joint_states', self._on_joint_state, RELIABLE)
        self.create_subscription(Bool, 'sim_node/collision', self._on_collision, RELIABLE)

    def _on_collision(self, msg: Bool) -> None:
        self._collision = bool(msg.data)

    def _on_joint_state(self, msg: JointState) -> None:
        if not self.enabled:
            return
        order = [list(msg.name).index(n) for n in self.joint_names if n in msg.name]
        if len(order) != len(self.joint_names):
            return
        q = np.asarray(msg.position, float)[order]
        action = self.policy(q, self._collision)
        self._pub.publish(Float64MultiArray(data=[float(v) for v in action]))
        self.sent += 1

    def stop(self) -> None:
        """Stop driving and command zero velocity (the simulator would time out anyway)."""
        self.enabled = False
        self._pub.publish(Float64MultiArray(data=[0.0] * len(self.joint_names)))
