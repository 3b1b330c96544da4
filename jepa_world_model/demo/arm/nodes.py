"""The arm demo's driver node: one joint velocity command per joint state.

Import only after :func:`~jepa_world_model.ros_env.ensure_ros_libraries`; the recorder
both robots share is :class:`~jepa_world_model.demo.recorder.RecorderNode`, and the driver's
base :class:`~jepa_world_model.demo.driver.PolicyDriverNode`.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional

import numpy as np
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from ..driver import PolicyDriverNode

__all__ = ['DriverNode']


class DriverNode(PolicyDriverNode):
    """Sends one velocity command per received joint state: ``policy(q, collision)``.

    Commands go out at the simulator's control rate because each joint state is one
    simulator step. The latest ``~/collision`` flag tells the policy when it hit the block.
    """

    def __init__(self, policy: Callable[[np.ndarray, bool], np.ndarray],
                 joint_names: List[str], namespace: str, **kwargs: Any) -> None:
        """Publish ``commands``; read ``joint_states`` and ``sim_node/collision``."""
        super().__init__(namespace, JointState, 'joint_states', Float64MultiArray, 'commands',
                         **kwargs)
        self.policy, self.joint_names = policy, list(joint_names)

    def command_for(self, state: JointState, collision: bool) -> Optional[Float64MultiArray]:
        """``policy(q, collision)`` with q in ``joint_names`` order; None when a joint is
        missing from the message."""
        order = [list(state.name).index(n) for n in self.joint_names if n in state.name]
        if len(order) != len(self.joint_names):
            return None
        q = np.asarray(state.position, float)[order]
        action = self.policy(q, collision)
        return Float64MultiArray(data=[float(v) for v in action])

    def zero_command(self) -> Float64MultiArray:
        """Zero velocity for every joint."""
        return Float64MultiArray(data=[0.0] * len(self.joint_names))
