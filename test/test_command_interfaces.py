"""Command semantics named as such (issue #15 item 4): ``command_interface`` (velocity,
effort, position), the outputs and limits each allows, the units logs and docs use, the
interface ``inspect`` reads from a command topic, and ``command_min``/``command_max`` with
the deprecated ``velocity_min``/``velocity_max`` still accepted."""

import pytest

from jepa_world_model.core.planning.command_interfaces import (guess_interface,
                                                               interface_problem, unit_of)

try:
    from jepa_world_model.ros.planner.parameters import (command_bounds, command_limits,
                                                         deprecated_limit_names,
                                                         PlannerFacts, PlannerSettings,
                                                         validate_updates)
except ImportError:   # the ROS tests need these; they are marked ros and skipped by conftest
    pass

JOINTS = ('shoulder', 'elbow')


@pytest.mark.parametrize('topic, msg_type, field, expected', [
    ('/forward_effort_controller/commands', 'std_msgs/msg/Float64MultiArray', '', 'effort'),
    ('/arm/joint_torque_commands', 'std_msgs/msg/Float64MultiArray', '', 'effort'),
    ('/forward_position_controller/commands', 'std_msgs/msg/Float64MultiArray', '',
     'position'),
    ('/velocity_controller/commands', 'std_msgs/msg/Float64MultiArray', '', 'velocity'),
    ('/cmd_vel', 'geometry_msgs/msg/TwistStamped', '', 'velocity'),
    ('/arm_controller/joint_trajectory', 'trajectory_msgs/msg/JointTrajectory', 'positions',
     'position'),
    ('/commands', 'std_msgs/msg/Float64MultiArray', '', None),
    ('/position_and_effort/commands', 'std_msgs/msg/Float64MultiArray', '', None),
])
def test_the_interface_is_read_from_the_command_topic_where_it_tells(
        topic, msg_type, field, expected):
    assert guess_interface(topic, msg_type, field) == expected


def test_units_follow_the_interface():
    assert unit_of('velocity') == 'rad/s (m/s)'
    assert unit_of('effort') == 'N m (N)'
    assert unit_of('position') == 'rad (m)'


@pytest.mark.parametrize('interface, output, limits, problem', [
    ('velocity', 'joint_trajectory', True, None),
    ('velocity', 'cmd_vel', False, None),
    ('effort', 'float64_multi_array', False, None),
    ('position', 'float64_multi_array', False, None),
    ('effort', 'joint_trajectory', False, 'cannot go out as output joint_trajectory'),
    ('effort', 'cmd_vel', False, 'a Twist carries velocities'),
    ('position', 'joint_trajectory', False, 'cannot go out'),
    ('effort', 'float64_multi_array', True, 'leave them unset'),
    ('torque', 'float64_multi_array', False, 'unknown command_interface'),
])
def test_each_interface_goes_out_only_as_what_carries_it(interface, output, limits, problem):
    reason = interface_problem(interface, output, limits)
    assert (reason is None) if problem is None else (problem in reason)


# -- planner_node parameters ----------------------------------------------------------------

def facts(dim=2):
    return PlannerFacts(action_dim=dim, joint_names=JOINTS)


@pytest.mark.ros
def test_command_min_max_bound_the_commands():
    s = PlannerSettings().with_updates({'command_min': [-4.0], 'command_max': [5.0]})
    assert validate_updates({}, s, facts()) is None
    limits = command_limits(s, 2)
    assert list(limits.velocity_min) == [-4.0, -4.0] and list(limits.velocity_max) == [5.0, 5.0]
    assert deprecated_limit_names(s) == []


@pytest.mark.ros
def test_the_deprecated_names_still_work_and_are_reported():
    """An existing parameter file with velocity_min/max keeps its limits (and is warned)."""
    old = PlannerSettings().with_updates({'velocity_min': [-0.3], 'velocity_max': [0.4]})
    assert validate_updates({}, old, facts()) is None
    assert command_bounds(old) == ((-0.3,), (0.4,))
    assert list(command_limits(old, 2).velocity_max) == [0.4, 0.4]
    assert deprecated_limit_names(old) == ['velocity_min', 'velocity_max']
    # Both names with different values: refused, the reason names the one to keep.
    both = {'velocity_max': [0.4], 'command_max': [2.0]}
    assert 'set command_max only' in validate_updates(both, PlannerSettings(), facts())
    # The same value under both names is no conflict.
    assert validate_updates({'velocity_max': [2.0], 'command_max': [2.0]},
                            PlannerSettings(), facts()) is None
    # Inverted deprecated limits are refused like inverted new ones.
    assert validate_updates({'velocity_min': [2.0]}, PlannerSettings(), facts())


@pytest.mark.ros
def test_effort_commands_go_out_as_float64_multi_array_without_position_limits():
    effort = {'command_interface': 'effort', 'output': 'float64_multi_array',
              'command_min': [-2.5], 'command_max': [2.5]}
    assert validate_updates(effort, PlannerSettings(), facts()) is None
    assert 'cannot go out as output joint_trajectory' in validate_updates(
        dict(effort, output='joint_trajectory'), PlannerSettings(), facts())
    assert 'leave them unset' in validate_updates(
        dict(effort, joint_position_min=[-1.0, -1.0], joint_position_max=[1.0, 1.0]),
        PlannerSettings(), facts())
