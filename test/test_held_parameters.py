"""Parameters that apply at the next configure/activate are held, not applied, while configured.

Found in review of issue #11: setting ``output`` from ``cmd_vel`` to ``joint_trajectory`` on an
active planner was accepted and applied to the live settings at once, while the publisher made
at configure still carried Twist. Every tick, and the final zero command of deactivate, then
tried to publish a JointTrajectory on the Twist publisher (TypeError): the robot kept the last
non-zero command. Such values are now held (``HeldParameters``) until the transition they
belong to; the parameter itself reads the new value, as ``ros2 param get`` users expect.
"""

import pytest

try:
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from jepa_world_model.ros.common.parameter_table import HeldParameters
    from jepa_world_model.ros.planner.node import PlannerNode
    from jepa_world_model.ros.planner.parameters import PARAMS, PlannerSettings
    from ros_feeders import graph_fixture, one_thread, save_tiny  # noqa: F401
    from ros_graph import callbacks_do_not_raise, wait_for  # noqa: F401
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

pytestmark = pytest.mark.ros

TOPIC = '/held/planner_node/recommended_cmd_vel'
SUCCESS = TransitionCallbackReturn.SUCCESS if 'TransitionCallbackReturn' in dir() else None


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    """A tiny random model with a 2-D action (linear.x, angular.z as a Twist)."""
    return save_tiny(tmp_path_factory, 'held', 'tiny', 1)


def test_held_values_wait_for_their_transition():
    """configure values wait while configured and apply at configure; activate values at
    activate; runtime values apply now and replace a held value of the same name."""
    held = HeldParameters(PARAMS)
    base = PlannerSettings()
    updates = {'output': 'cmd_vel', 'plan_rate_hz': 5.0, 'num_samples': 64}
    assert held.split(updates, 'unconfigured') == (updates, {})
    now, later = held.split(updates, 'active')
    assert now == {'num_samples': 64}
    assert later == {'output': 'cmd_vel', 'plan_rate_hz': 5.0}
    held.hold(now, later)
    assert held.requested(base).output == 'cmd_vel'
    activated = held.release(base, 'activate')
    assert activated.plan_rate_hz == 5.0 and activated.output == base.output
    assert held.held == {'output': 'cmd_vel'}
    assert held.release(base, 'configure').output == 'cmd_vel' and held.held == {}
    held.hold({}, {'output': 'cmd_vel'})
    held.hold({'output': 'joint_trajectory'}, {})     # set again while unconfigured
    assert held.held == {}


def test_an_output_change_while_active_keeps_commands_and_the_final_zero(graph, ckpt):
    """An active cmd_vel planner accepts output:=joint_trajectory for the next configure,
    keeps publishing Twist, and its deactivate still sends the zero Twist."""
    node = PlannerNode(context=graph.context, namespace='/held', parameter_overrides=[
        Parameter('model_path', value=str(ckpt)), Parameter('output', value='cmd_vel')])
    listener = rclpy.create_node('held_listener', context=graph.context)
    received = []
    listener.create_subscription(Twist, TOPIC, received.append, 10)
    graph.executor.add_node(listener)
    try:
        assert node.trigger_configure() == SUCCESS
        assert node.trigger_activate() == SUCCESS
        assert wait_for(lambda: listener.count_publishers(TOPIC), 5.0)
        result = node.set_parameters([Parameter('output', value='joint_trajectory')])[0]
        assert result.successful, result.reason
        assert node.get_parameter('output').value == 'joint_trajectory'
        assert node.settings.output == 'cmd_vel'       # in effect until the next configure
        received.clear()
        assert node.trigger_deactivate() == SUCCESS
        assert wait_for(lambda: received, 5.0), 'no final command after deactivate'
        last = received[-1]
        assert (last.linear.x, last.angular.z) == (0.0, 0.0)
        assert node.trigger_cleanup() == SUCCESS
        assert node.trigger_configure() == SUCCESS
        assert node.settings.output == 'joint_trajectory'
    finally:
        graph.retire(listener)
        listener.destroy_node()
        node.destroy_node()
