"""The demo drivers' shared node: one command per state message, from a policy.

Both robots' simulators publish their state (joint states, odometry) once per step, so a
driver that answers each state message with one command commands at the simulator's
control rate. The latest ``sim_node/collision`` flag goes to the policy too, so it knows
when it hit something. What a robot's driver adds (:class:`~.arm.nodes.DriverNode`,
:class:`~.base.nodes.BaseDriverNode`) is which messages these are and how the policy's
answer becomes one: :meth:`PolicyDriverNode.command_for` and
:meth:`PolicyDriverNode.zero_command`.

Import only after :func:`~jepa_world_model.ros_env.ensure_ros_libraries`.
"""

from __future__ import annotations

from typing import Any, Optional

from rclpy.node import Node
from std_msgs.msg import Bool

from .recorder import RELIABLE

__all__ = ['PolicyDriverNode']


class PolicyDriverNode(Node):
    """Publishes ``command_for(state, collision)`` on ``command_topic`` for every message on
    ``state_topic`` until :meth:`stop`; ``sent`` counts the commands."""

    def __init__(self, namespace: str, state_type: Any, state_topic: str, command_type: Any,
                 command_topic: str, **kwargs: Any) -> None:
        """Publish ``command_topic``; read ``state_topic`` and ``sim_node/collision``."""
        super().__init__('demo_driver', namespace=namespace, **kwargs)
        self.enabled = True
        self.sent = 0
        self._collision = False
        self._pub = self.create_publisher(command_type, command_topic, 10)
        self.create_subscription(state_type, state_topic, self._on_state, RELIABLE)
        self.create_subscription(Bool, 'sim_node/collision', self._on_collision, RELIABLE)

    def command_for(self, state: Any, collision: bool) -> Optional[Any]:
        """The command message answering ``state``, or None to send nothing."""
        raise NotImplementedError

    def zero_command(self) -> Any:
        """The command message that stops the robot."""
        raise NotImplementedError

    def _on_collision(self, msg: Bool) -> None:
        self._collision = bool(msg.data)

    def _on_state(self, msg: Any) -> None:
        if not self.enabled:
            return
        command = self.command_for(msg, self._collision)
        if command is None:
            return
        self._pub.publish(command)
        self.sent += 1

    def stop(self) -> None:
        """Stop driving and command zero velocity (the simulator would time out anyway)."""
        self.enabled = False
        self._pub.publish(self.zero_command())
