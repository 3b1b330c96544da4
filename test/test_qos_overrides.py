"""QoS of world_model_node and planner_node through ROS 2's standard overrides (issue #15
item 9): ``qos_overrides.<topic>.<subscription|publisher>.<history|depth|reliability>``.

Each test starts a node in this process with overrides as parameter-file values would give
them, then reads the QoS twice: from the entity the node created, and as a second node sees
it through DDS discovery (``get_*_info_by_topic``), which is what decides whether a
publisher and a subscriber match. The deprecated world_model_node parameters are checked
too: still honoured, with a warning that names their replacement, and overridden by the
standard parameter. Every wait is bounded.
"""

import pytest

try:
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import ReliabilityPolicy

    from jepa_world_model.ros.planner.node import PlannerNode
    from jepa_world_model.ros.world_model.node import WorldModelNode
    from ros_feeders import callbacks_do_not_raise, graph_fixture, one_thread  # noqa: F401
    from ros_feeders import save_tiny, start_node
    from ros_graph import wait_for
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

from dds_marks import IN_PROCESS_NODE_MARKS

pytestmark = IN_PROCESS_NODE_MARKS

TIMEOUT = 10.0


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    """The shared tiny random model (joints joint_a/joint_b, 2-D action)."""
    return save_tiny(tmp_path_factory, 'qos', 'tiny', 3)


@pytest.fixture
def observer(graph):
    """A plain node that reads the graph (discovery), as ``ros2 topic info -v`` does."""
    node = Node('qos_observer', context=graph.context)
    try:
        yield node
    finally:
        node.destroy_node()


def _override(topic, kind, policy, value):
    return {f'qos_overrides.{topic}.{kind}.{policy}': value}


def _entity(entities, topic):
    found = [e for e in entities if e.topic_name == topic]
    assert len(found) == 1, [e.topic_name for e in entities]
    return found[0]


def _discovered_qos(observer, topic, kind, node_name):
    """The QoS ``node_name``'s endpoint on ``topic`` has, as discovery reports it."""
    info = (observer.get_subscriptions_info_by_topic if kind == 'subscription'
            else observer.get_publishers_info_by_topic)

    def endpoint():
        return [e for e in info(topic) if e.node_name == node_name]

    found = wait_for(endpoint, TIMEOUT)
    assert found, f'{node_name} has no {kind} on {topic} in the graph'
    return found[0].qos_profile


def _close(graph, node):
    if node.lifecycle_state == 'active':
        node.trigger_deactivate()
    graph.retire(node)
    if hasattr(node, 'release'):
        node.release()
    node.destroy_node()


def test_world_model_node_subscriptions_follow_qos_overrides(graph, ckpt, observer):
    """Overrides change exactly the topic they name; defaults elsewhere; survive reactivation."""
    ns = '/qos_wm'
    values = dict(model_path=str(ckpt), action_fields=['linear.x', 'angular.z'])
    values.update(_override(f'{ns}/joint_states', 'subscription', 'reliability', 'reliable'))
    values.update(_override(f'{ns}/joint_states', 'subscription', 'depth', 7))
    values.update(_override(f'{ns}/world_model_node/surprise', 'publisher', 'depth', 2))
    node = start_node(graph, WorldModelNode, ns, values)
    try:
        for _ in range(2):   # the second pass: deactivate/activate re-creates the entities
            joints = _entity(node.subscriptions, f'{ns}/joint_states').qos_profile
            assert (joints.reliability, joints.depth) == (ReliabilityPolicy.RELIABLE, 7)
            image = _entity(node.subscriptions, f'{ns}/image').qos_profile
            assert (image.reliability, image.depth) == (ReliabilityPolicy.BEST_EFFORT, 1)
            seen = _discovered_qos(observer, f'{ns}/joint_states', 'subscription',
                                   'world_model_node')
            assert seen.reliability == ReliabilityPolicy.RELIABLE
            seen = _discovered_qos(observer, f'{ns}/image', 'subscription', 'world_model_node')
            assert seen.reliability == ReliabilityPolicy.BEST_EFFORT
            surprise = _entity(node.publishers, f'{ns}/world_model_node/surprise').qos_profile
            assert surprise.depth == 2
            trajectory = _entity(node.publishers,
                                 f'{ns}/world_model_node/predicted_joint_trajectory')
            assert trajectory.qos_profile.depth == 5
            assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
            assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        name = f'qos_overrides.{ns}/joint_states.subscription.depth'
        assert node.get_parameter(name).value == 7
        assert node.describe_parameter(name).read_only
        assert not node.set_parameters_atomically(
            [Parameter(name, value=3)]).successful
    finally:
        _close(graph, node)


def test_deprecated_qos_parameters_still_apply_with_a_warning(graph, ckpt, monkeypatch):
    """image_qos_depth/image_reliability set the default (warned once, naming the standard
    parameter); a standard override of the same policy wins over them."""
    ns = '/qos_old'
    warnings = []
    values = dict(model_path=str(ckpt), action_fields=['linear.x', 'angular.z'],
                  image_qos_depth=4, image_reliability='reliable')
    values.update(_override(f'{ns}/image', 'subscription', 'depth', 6))
    node = start_node(graph, WorldModelNode, ns, values, activate=False)
    try:
        logger = node.get_logger()
        monkeypatch.setattr(type(logger), 'warning',
                            lambda self, text, **kwargs: warnings.append(text))
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        for _ in range(2):
            assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
            image = _entity(node.subscriptions, f'{ns}/image').qos_profile
            assert image.reliability == ReliabilityPolicy.RELIABLE   # deprecated parameter
            assert image.depth == 6                                   # standard override wins
            assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        deprecated = [w for w in warnings if 'deprecated' in w]
        assert len(deprecated) == 2, warnings   # two parameters, each warned once
        assert any(f'qos_overrides.{ns}/image.subscription.reliability' in w
                   for w in deprecated), deprecated
        assert any(f'qos_overrides.{ns}/image.subscription.depth' in w
                   for w in deprecated), deprecated
    finally:
        _close(graph, node)


def test_planner_node_inputs_and_outputs_follow_qos_overrides(graph, ckpt, observer):
    """planner_node: an input subscription and an output publisher, overridden by name."""
    ns = '/qos_planner'
    values = dict(model_path=str(ckpt), num_samples=8, num_elites=2, num_iterations=1,
                  horizon=2)
    values.update(_override(f'{ns}/image', 'subscription', 'reliability', 'reliable'))
    values.update(_override(f'{ns}/planner_node/status', 'publisher', 'depth', 3))
    node = start_node(graph, PlannerNode, ns, values)
    try:
        image = _entity(node.subscriptions, f'{ns}/image').qos_profile
        assert (image.reliability, image.depth) == (ReliabilityPolicy.RELIABLE, 1)
        joints = _entity(node.subscriptions, f'{ns}/joint_states').qos_profile
        assert (joints.reliability, joints.depth) == (ReliabilityPolicy.BEST_EFFORT, 10)
        status = _entity(node.publishers, f'{ns}/planner_node/status').qos_profile
        assert (status.reliability, status.depth) == (ReliabilityPolicy.RELIABLE, 3)
        seen = _discovered_qos(observer, f'{ns}/image', 'subscription', 'planner_node')
        assert seen.reliability == ReliabilityPolicy.RELIABLE
    finally:
        _close(graph, node)
