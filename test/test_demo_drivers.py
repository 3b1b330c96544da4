"""The demo drivers (demo/driver.py and each robot's): one command per state message, from
the policy, with the latest collision flag; nothing once stopped but the zero command.

The callbacks are called directly (no DDS traffic): what is measured is what each driver
sends for a given message, caught by a stand-in for its publisher.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.ros


class SentCommands:
    """Stands in for the driver's publisher: keeps what it is given."""

    def __init__(self):
        self.messages = []

    def publish(self, msg):
        self.messages.append(msg)


def joint_state(names, positions):
    from sensor_msgs.msg import JointState
    return JointState(name=list(names), position=list(positions))


def test_arm_driver_sends_the_policy_command_per_joint_state(rclpy_context):
    from std_msgs.msg import Bool

    from jepa_world_model.demo.arm.nodes import DriverNode
    seen = []

    def policy(q, collision):
        seen.append((q.copy(), collision))
        return q * 2.0

    node = DriverNode(policy, ['joint1', 'joint2'], 'demo_test', context=rclpy_context)
    try:
        node._pub = sent = SentCommands()
        # Joints out of order and an extra one: q follows joint_names.
        node._on_state(joint_state(['joint2', 'other', 'joint1'], [0.2, 9.0, 0.1]))
        node._on_collision(Bool(data=True))
        node._on_state(joint_state(['joint1', 'joint2'], [0.3, 0.4]))
        node._on_state(joint_state(['joint1'], [0.5]))   # joint2 missing: nothing sent
        assert [list(m.data) for m in sent.messages] == [[0.2, 0.4], [0.6, 0.8]]
        assert [c for _, c in seen] == [False, True] and node.sent == 2
        np.testing.assert_allclose(seen[0][0], [0.1, 0.2])
        node.stop()
        node._on_state(joint_state(['joint1', 'joint2'], [0.3, 0.4]))
        assert [list(m.data) for m in sent.messages[2:]] == [[0.0, 0.0]] and node.sent == 2
    finally:
        node.destroy_node()


def test_base_driver_turns_odometry_into_a_twist(rclpy_context):
    from nav_msgs.msg import Odometry

    from jepa_world_model.demo.base.nodes import BaseDriverNode
    seen = []

    def policy(pose, twist, collision):
        seen.append((pose, twist, collision))
        return np.array([0.25, -0.5])

    node = BaseDriverNode(policy, 'demo_test', context=rclpy_context)
    try:
        node._pub = sent = SentCommands()
        odom = Odometry()
        odom.pose.pose.position.x, odom.pose.pose.position.y = 1.0, -2.0
        odom.pose.pose.orientation.z, odom.pose.pose.orientation.w = np.sin(0.3), np.cos(0.3)
        odom.twist.twist.linear.x, odom.twist.twist.angular.z = 0.1, 0.2
        node._on_state(odom)
        pose, twist, collision = seen[0]
        np.testing.assert_allclose(pose, [1.0, -2.0, 0.6])
        assert tuple(twist) == (0.1, 0.2) and collision is False
        out = sent.messages[0]
        assert (out.linear.x, out.angular.z) == (0.25, -0.5) and node.sent == 1
        node.stop()
        node._on_state(odom)
        zero = sent.messages[1]
        assert len(sent.messages) == 2 and (zero.linear.x, zero.angular.z) == (0.0, 0.0)
    finally:
        node.destroy_node()
