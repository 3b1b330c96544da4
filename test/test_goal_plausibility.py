"""Goal messages get the max_abs_input bound the other inputs get (ros/planner/goals.py).

A joint goal of 1e30 rad or a pose goal 1e30 m away is finite, so it used to pass every
check and be planned toward. Now it is refused with a counted reason
(``goal_joint_state_out_of_range``, ``goal_pose_out_of_range``) and the old goal stays.
"""

import math

import pytest

try:
    from geometry_msgs.msg import PoseStamped
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import JointState

    from jepa_world_model.core.planning.command_limits import CommandLimits
    from jepa_world_model.ros.common.rejects import InputError
    from jepa_world_model.ros.planner.goals import (DEFAULT_MAX_ABS, joint_goal_from_msg,
                                                    pose_goal_from_msg)
    from jepa_world_model.ros.planner.node import PlannerNode
    from ros_feeders import graph_fixture, one_thread, save_tiny  # noqa: F401
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

pytestmark = pytest.mark.ros

JOINTS = ('joint_a', 'joint_b')


def joint_msg(positions, names=JOINTS):
    """A JointState goal."""
    return JointState(name=list(names), position=[float(v) for v in positions])


def pose_msg(x, y, orientation=(0.0, 0.0, 0.0, 1.0), frame='odom'):
    """A PoseStamped goal at (x, y) with quaternion (x, y, z, w) ``orientation``."""
    msg = PoseStamped()
    msg.header.frame_id = frame
    msg.pose.position.x, msg.pose.position.y = float(x), float(y)
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in orientation)
    return msg


def no_limits():
    """Velocity limits only (no joint position limits)."""
    return CommandLimits.create([-1.0], [1.0], [2.0], 2)


@pytest.mark.parametrize('positions', [(1e30, 0.0), (0.0, -1e30), (2 * DEFAULT_MAX_ABS, 0.0)])
def test_absurd_joint_goal_is_refused_with_its_own_reason(positions):
    with pytest.raises(InputError, match='max_abs_input') as err:
        joint_goal_from_msg(joint_msg(positions), JOINTS, JOINTS, no_limits())
    assert err.value.reason == 'goal_joint_state_out_of_range'


def test_joint_goal_bound_is_the_parameter_and_extra_joints_do_not_count():
    """``max_abs`` sets the bound; a joint the model does not have is not looked at."""
    goal = joint_goal_from_msg(joint_msg((0.5, -0.5)), JOINTS, JOINTS, no_limits(), 1.0)
    assert goal.target.tolist() == [0.5, -0.5]
    with pytest.raises(InputError) as err:
        joint_goal_from_msg(joint_msg((0.5, -1.5)), JOINTS, JOINTS, no_limits(), 1.0)
    assert err.value.reason == 'goal_joint_state_out_of_range'
    extra = joint_msg((0.5, -0.5, 1e30), JOINTS + ('gripper',))
    assert joint_goal_from_msg(extra, JOINTS, JOINTS, no_limits()).target.numel() == 2
    with pytest.raises(InputError) as err:   # non-finite keeps its own reason
        joint_goal_from_msg(joint_msg((math.nan, 0.0)), JOINTS, JOINTS, no_limits())
    assert err.value.reason == 'goal_joint_state_nonfinite'


@pytest.mark.parametrize('x, y, orientation', [
    (1e30, 0.0, (0.0, 0.0, 0.0, 1.0)), (0.0, -1e30, (0.0, 0.0, 0.0, 1.0)),
    (math.inf, 0.0, (0.0, 0.0, 0.0, 1.0)), (1.0, 0.0, (0.0, 0.0, math.nan, 1.0)),
    (1.0, 0.0, (0.0, 0.0, 1e30, 1.0))])
def test_absurd_pose_goal_is_refused_with_its_own_reason(x, y, orientation):
    with pytest.raises(InputError, match='max_abs_input') as err:
        pose_goal_from_msg(pose_msg(x, y, orientation), True, 'odom', 1.0)
    assert err.value.reason == 'goal_pose_out_of_range'


def test_pose_goal_within_the_bound_is_planned_toward():
    goal = pose_goal_from_msg(pose_msg(3.0, -2.0, (0.0, 0.0, 1.0, 0.0)), True, 'odom', 1.0,
                              max_abs=5.0)
    assert goal.target.tolist() == pytest.approx([3.0, -2.0, math.pi])
    with pytest.raises(InputError) as err:
        pose_goal_from_msg(pose_msg(6.0, 0.0), True, 'odom', 0.0, max_abs=5.0)
    assert err.value.reason == 'goal_pose_out_of_range'


def test_planner_node_counts_an_absurd_goal_and_keeps_the_old_one(graph, tmp_path_factory):
    """Through planner_node's goal callback: a sane joint goal is taken, a 1e30 one is
    counted under goal_joint_state_out_of_range and the sane goal stays."""
    path = save_tiny(tmp_path_factory, 'goals', 'tiny', 1)
    node = PlannerNode(context=graph.context, namespace='/goal_bound',
                       parameter_overrides=[Parameter('model_path', value=str(path))])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        node._on_goal_joint_state(joint_msg((0.2, -0.1)))
        assert node.goal is not None
        assert node.goal.target.tolist() == pytest.approx([0.2, -0.1])
        node._on_goal_joint_state(joint_msg((1e30, 0.0)))
        assert node.counters.snapshot().get('goal_joint_state_out_of_range') == 1
        assert node.goal.target.tolist() == pytest.approx([0.2, -0.1])
        # The bound is the node's max_abs_input parameter, not the default.
        assert node.set_parameters([Parameter('max_abs_input', value=5.0)])[0].successful
        node._on_goal_joint_state(joint_msg((6.0, 0.0)))
        assert node.counters.snapshot().get('goal_joint_state_out_of_range') == 2
        assert node.goal.target.tolist() == pytest.approx([0.2, -0.1])
    finally:
        node.destroy_node()
