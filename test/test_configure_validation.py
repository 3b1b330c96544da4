"""Configure checks every parameter value with the rules a runtime change gets (issue #11).

rclpy checks a value from a parameter file only for its type and declared range, so a
value such as ``sync_mode: cubic`` used to reach configure unchecked: world_model_node
configured and ran with it. Both nodes now run their whole validation at configure. The
planner also refuses joint position limits with the cmd_vel output (the output set, or the
one configured, which stays in use until the next configure): a Twist moves no joint, so
the limiter would refuse every command.

The node tests load parameter files exactly as ``--params-file`` does (node ``cli_args``)
and drive the lifecycle in process; nothing here needs DDS traffic.
"""

from dataclasses import replace
import math

import pytest
import yaml

try:
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from jepa_world_model.ros.common.node_diagnostics import assess
    from jepa_world_model.ros.world_model.parameters import NodeSettings
    from jepa_world_model.ros.world_model.parameters import validate_updates as node_validate
    from jepa_world_model.ros.planner.node import PlannerNode
    from jepa_world_model.ros.planner.parameters import PlannerFacts, PlannerSettings
    from jepa_world_model.ros.planner.parameters import validate_updates as planner_validate
    from jepa_world_model.ros.world_model.node import WorldModelNode
    from ros_feeders import graph_fixture, one_thread, save_tiny  # noqa: F401
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

pytestmark = pytest.mark.ros

FACTS = dict(action_dim=2, joint_names=('joint_a', 'joint_b'))
LIMITS = {'joint_position_min': [-1.0, -1.0], 'joint_position_max': [1.0, 1.0]}
#: Values of the right type and inside any declared range that break a rule of their own.
BAD_START_VALUES = [('sync_mode', 'cubic'), ('resize_mode', 'zoom'),
                    ('image_transport', 'theora'), ('dtype', 'float64'),
                    ('action_topic', 'cmd vel'), ('action_scale', (math.nan,)),
                    ('action_fields', ('linear.x', 'linear.w'))]


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    """A tiny random model: joints joint_a/joint_b, 2-D action."""
    return save_tiny(tmp_path_factory, 'configure', 'tiny', 1)


def params_file(tmp_path, node_name, values):
    """``--ros-args --params-file`` arguments of a file for ``node_name`` under any
    namespace, keyed as config/ keys its files."""
    path = tmp_path / f'{node_name}.yaml'
    path.write_text(yaml.safe_dump({f'/**/{node_name}': {'ros__parameters': values}}))
    return ['--ros-args', '--params-file', str(path)]


@pytest.mark.parametrize('name, value', BAD_START_VALUES)
def test_world_model_validation_checks_unchanged_values(name, value):
    """validate_updates({}, s), as configure calls it, refuses a bad value already in the
    settings, naming it; a change of another parameter is refused while it stays, and a
    batch that fixes it passes."""
    bad = replace(NodeSettings(), **{name: value})
    reason = node_validate({}, bad)
    assert reason and name in reason, reason
    assert node_validate({'horizon': 5}, bad) is not None
    assert node_validate({name: getattr(NodeSettings(), name)}, bad) is None
    assert node_validate({}, NodeSettings()) is None


def test_world_model_configure_refuses_a_bad_value_from_the_parameter_file(graph, ckpt,
                                                                           tmp_path):
    """A parameter file with ``sync_mode: cubic`` used to configure; now configure fails
    with the parameter and the rule in the diagnostics, and succeeds once it is fixed."""
    args = params_file(tmp_path, 'world_model_node', {
        'model_path': str(ckpt), 'sync_mode': 'cubic', 'action_fields': ['linear.x',
                                                                         'angular.z']})
    node = WorldModelNode(context=graph.context, namespace='/cfg_wm', cli_args=args)
    try:
        assert node.settings.sync_mode == 'cubic'     # the file was read
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert node.lifecycle_state == 'unconfigured' and node.runtime is None
        message = assess(node.health())[1]
        assert 'invalid parameters' in message and 'sync_mode' in message, message
        assert not node.set_parameters([Parameter('horizon', value=5)])[0].successful
        fixed = node.set_parameters_atomically([Parameter('sync_mode', value='nearest')])
        assert fixed.successful, fixed.reason
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    finally:
        node.release()
        node.destroy_node()


def test_planner_validation_refuses_joint_limits_with_cmd_vel():
    """Joint position limits with output cmd_vel are refused with or without a loaded
    model (they used to pass while unconfigured), and while the node still runs a
    configured cmd_vel output, even when output is being changed to a joint output."""
    cmd_vel = replace(PlannerSettings(), output='cmd_vel')
    for facts in (None, PlannerFacts(**FACTS)):
        reason = planner_validate(LIMITS, cmd_vel, facts)
        assert reason and 'cmd_vel' in reason and 'joint_position' in reason, reason
        assert planner_validate({}, cmd_vel.with_updates(LIMITS), facts) == reason
    live_twist = PlannerFacts(**FACTS, output='cmd_vel')
    pending = {'output': 'joint_trajectory', **LIMITS}
    reason = planner_validate(pending, cmd_vel, live_twist)
    assert reason and 'configured with output cmd_vel' in reason, reason
    assert planner_validate(pending, cmd_vel, None) is None   # applies at the next configure
    live_joints = PlannerFacts(**FACTS, output='joint_trajectory')
    assert planner_validate(LIMITS, PlannerSettings(), live_joints) is None
    reason = planner_validate({'output': 'cmd_vel'}, PlannerSettings().with_updates(LIMITS),
                              live_joints)
    assert reason and 'output is cmd_vel' in reason, reason


def test_planner_configure_and_changes_refuse_joint_limits_with_cmd_vel(graph, ckpt,
                                                                        tmp_path):
    """From a parameter file the combination fails configure with a clear message; set
    while unconfigured it is refused; a configured cmd_vel node refuses joint limits even
    with output already changed to joint_trajectory for the next configure."""
    args = params_file(tmp_path, 'planner_node', {
        'model_path': str(ckpt), 'output': 'cmd_vel', **LIMITS})
    node = PlannerNode(context=graph.context, namespace='/cfg_planner', cli_args=args)
    try:
        assert list(node.settings.joint_position_min) == LIMITS['joint_position_min']
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        message = node.diagnostics().status[0].message
        assert 'joint output' in message and 'cmd_vel' in message, message
        unset = [Parameter(n, Parameter.Type.DOUBLE_ARRAY, []) for n in LIMITS]
        assert node.set_parameters_atomically(unset).successful
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        limits = [Parameter(n, value=v) for n, v in LIMITS.items()]
        result = node.set_parameters_atomically(limits)
        assert not result.successful and 'cmd_vel' in result.reason
        assert node.set_parameters([Parameter('output', value='joint_trajectory')])[0].successful
        result = node.set_parameters_atomically(limits)
        assert not result.successful and 'configured with output cmd_vel' in result.reason
        assert node.settings.joint_position_min == ()
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert node.set_parameters_atomically(limits).successful
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    finally:
        node.destroy_node()
