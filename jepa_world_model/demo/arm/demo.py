"""The arm variant of the demo (``jepa-world-model demo``, the default robot).

:mod:`~jepa_world_model.demo.run_demo` runs the processes and the common analysis (joint
predictions, surprise); what the arm adds is its driver: :class:`~.nodes.DriverNode` with
:class:`~.policy.DemoArmPolicy` (random reaches, and every fourth one into the obstacle
block). Its animation is :func:`~.overlay.animation_frames`.
"""

from __future__ import annotations

from typing import Any, Sequence

from .kinematics import ArmKinematics
from .policy import DemoArmPolicy

__all__ = ['OBSTACLE_EVERY', 'make_nodes']

#: Every this many reaches, the driver aims at the obstacle block (the collisions the
#: surprise is measured around).
OBSTACLE_EVERY = 4


def make_nodes(kin: ArmKinematics, joints: Sequence[str], namespace: str, seed: int,
               context: Any):
    """``(driver, recorder)`` for the arm (imports rclpy: call after ensure_ros_libraries)."""
    from ..recorder import RecorderNode
    from .nodes import DriverNode
    policy = DemoArmPolicy(kin.joint_limits, kin.action_low, kin.action_high,
                           kin.obstacle_xy, kin.link_lengths(), seed=seed,
                           obstacle_every=OBSTACLE_EVERY)
    return (DriverNode(policy, list(joints), namespace, context=context),
            RecorderNode(list(joints), namespace, context=context))
