"""The lifecycle and diagnostics bookkeeping both nodes share (issue #12 item 3).

:class:`GuardedLifecycleNode` holds the state name, the failed configure (reason kept for
``/diagnostics``, everything released), the releasing transitions, the node clock and the
``/diagnostics`` timer; :class:`RejectionTally` counts the inputs rejected per diagnostics
period. Neither node keeps a copy of its own.
"""

import pytest

try:
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from jepa_world_model.ros.world_model.frame_pipeline import (
        NOT_REJECTIONS as WORLD_MODEL_EVENTS)
    from jepa_world_model.ros.common.guarded_lifecycle import GuardedLifecycleNode
    from jepa_world_model.ros.common.node_diagnostics import RejectionTally
    from jepa_world_model.ros.planner.node import PlannerNode
    from jepa_world_model.ros.world_model.node import WorldModelNode
    from ros_feeders import graph_fixture  # noqa: F401
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

pytestmark = pytest.mark.ros

SHARED = ('_fail', '_release_to', '_now', '_start_diagnostics', 'lifecycle_state')


def test_rejection_tally_counts_inputs_not_events_once_per_period():
    tally = RejectionTally(('images_received', 'plans'), ('stop_', 'time_reset_'))
    counts = {'images_received': 40, 'plans': 9, 'stop_overrun': 2,
              'time_reset_odom': 1, 'image_stale': 3, 'joint_state_duplicate': 1}
    assert tally.total(counts) == 4
    assert tally.since_last(counts) == 4
    assert tally.since_last(counts) == 0                     # nothing new this period
    assert tally.since_last(dict(counts, image_stale=5)) == 2
    # configure resets the counters: never a negative count of rejections
    assert tally.since_last({'image_stale': 1}) == 1


def test_world_model_events_are_not_rejections():
    tally = RejectionTally(WORLD_MODEL_EVENTS)
    events = {name: 7 for name in WORLD_MODEL_EVENTS}
    assert 'time_reset_joint_state' in events and 'dropped_frames' in events
    assert tally.since_last(events) == 0
    assert tally.since_last(dict(events, sync_skew=2)) == 2


@pytest.mark.parametrize('node_class', ['WorldModelNode', 'PlannerNode'])
def test_both_nodes_use_the_shared_lifecycle_bookkeeping(node_class):
    """No node (or its bases below GuardedLifecycleNode) redefines the shared helpers."""
    cls = {'WorldModelNode': WorldModelNode, 'PlannerNode': PlannerNode}[node_class]
    for klass in cls.__mro__[:cls.__mro__.index(GuardedLifecycleNode)]:
        assert not set(SHARED) & set(vars(klass)), klass


@pytest.mark.parametrize('node_class', ['WorldModelNode', 'PlannerNode'])
def test_a_failed_configure_is_reported_and_releases(graph, tmp_path, node_class):
    """A missing checkpoint: FAILURE, the reason kept as config_error, release() ran, the
    node is still unconfigured and can release again (idempotent)."""
    cls = {'WorldModelNode': WorldModelNode, 'PlannerNode': PlannerNode}[node_class]
    node = cls(f'fail_{node_class.lower()}', context=graph.context, parameter_overrides=[
        Parameter('model_path', value=str(tmp_path / 'none.safetensors'))])
    released = []
    original = node.release
    node.release = lambda: (released.append(True), original())
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert node.lifecycle_state == 'unconfigured' and released
        assert 'cannot load checkpoint' in node._config_error
        assert node._release_to('unconfigured') == TransitionCallbackReturn.SUCCESS
        assert node.runtime is None
    finally:
        node.destroy_node()
