"""planner_node's goal path: a goal message that repeats the current goal changes nothing
(no "new ... goal" log, the warm start stays), a changed goal still does, and a goal of
another kind replaces the current one with a throttled warning that names it (issue #15).

The node is configured in this process and its goal callbacks are called directly, as the
executor would call them; logs are read from the captured stderr (rcutils writes there).
"""

import numpy as np
import pytest

try:
    from geometry_msgs.msg import PoseStamped
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import JointState

    from jepa_world_model.ros.common.image_conversion import rgb_to_image_msg
    from jepa_world_model.ros.planner import callbacks
    from jepa_world_model.ros.planner.goal_repeats import REPEAT_TOLERANCE
    from jepa_world_model.ros.planner.node import PlannerNode
    from ros_feeders import graph_fixture, one_thread, save_tiny  # noqa: F401
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

pytestmark = pytest.mark.ros

JOINTS = ('joint_a', 'joint_b')


def joint_msg(positions, stamp_s=0):
    msg = JointState(name=list(JOINTS), position=[float(v) for v in positions])
    msg.header.stamp.sec = stamp_s
    return msg


def image_msg(level, stamp_s=0):
    msg = rgb_to_image_msg(np.full((24, 24, 3), level, np.uint8), 'rgb8')
    msg.header.stamp.sec = stamp_s
    return msg


def pose_msg(x, y, stamp_s=0):
    msg = PoseStamped()
    msg.header.frame_id = 'odom'
    msg.header.stamp.sec = stamp_s
    msg.pose.position.x, msg.pose.position.y = float(x), float(y)
    msg.pose.orientation.w = 1.0
    return msg


@pytest.fixture
def configured(graph, tmp_path_factory, request):
    """A configured PlannerNode on a tiny model; ``request.param``: save_tiny overrides."""
    overrides = dict(getattr(request, 'param', {}))
    path = save_tiny(tmp_path_factory, 'repeats', 'tiny', 1, **overrides)
    node = PlannerNode(context=graph.context, namespace='/goal_repeats',
                       parameter_overrides=[Parameter('model_path', value=str(path)),
                                            Parameter('log_throttle_period', value=60.0)])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        yield node
    finally:
        node.destroy_node()


def count_resets(node):
    """Count the calls that drop the planner's warm start from now on."""
    planner, calls = node.controller.planner, []
    original = planner.reset

    def reset():
        calls.append(1)
        original()
    planner.reset = reset
    return calls


def test_a_repeated_joint_goal_changes_nothing_and_a_changed_one_does(configured, capfd):
    node = configured
    node._on_goal_joint_state(joint_msg((0.2, -0.1)))
    first = node.goal
    resets = count_resets(node)
    for k in range(9):      # re-published at 10 Hz, new stamps, numbers within tolerance
        node._on_goal_joint_state(joint_msg((0.2 + REPEAT_TOLERANCE / 4, -0.1), stamp_s=k))
    assert node.goal is first and resets == []
    counts = node.counters.snapshot()
    assert counts.get('goals') == 1 and counts.get('goals_repeated') == 9
    node._on_goal_joint_state(joint_msg((0.2 + 1e-3, -0.1)))
    assert node.goal is not first and node.goal.target[0].item() == pytest.approx(0.201)
    assert resets == [1] and node.counters.snapshot().get('goals') == 2
    assert capfd.readouterr().err.count('new joint_state goal from goal_joint_state') == 2


def test_a_repeated_image_goal_is_not_encoded_again(configured, capfd, monkeypatch):
    """Same bytes (another stamp): a repeat, recognised before encoding; other bytes: new."""
    node, encoded = configured, []
    real = callbacks.image_goal_from_msg

    def counting(*args, **kwargs):
        encoded.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(callbacks, 'image_goal_from_msg', counting)
    node._on_goal_image(image_msg(90))
    first = node.goal
    resets = count_resets(node)
    for k in range(5):
        node._on_goal_image(image_msg(90, stamp_s=k + 1))
    assert node.goal is first and resets == [] and encoded == [1]
    assert node.counters.snapshot().get('goals_repeated') == 5
    node._on_goal_image(image_msg(91))
    assert node.goal is not first and resets == [1] and encoded == [1, 1]
    assert capfd.readouterr().err.count('new image goal from goal_image') == 2


@pytest.mark.parametrize('configured', [dict(pose_probe=True)], indirect=True)
def test_a_repeated_pose_goal_changes_nothing(configured):
    node = configured
    node._on_goal_pose(pose_msg(1.0, 0.5))
    first = node.goal
    assert first is not None and first.kind == 'pose'
    resets = count_resets(node)
    node._on_goal_pose(pose_msg(1.0, 0.5, stamp_s=3))
    assert node.goal is first and resets == []
    node._on_goal_pose(pose_msg(1.0, 0.6))
    assert node.goal is not first and resets == [1]


def test_goals_of_two_kinds_the_latest_wins_with_one_warning_per_period(configured, capfd):
    """A joint goal, then image and joint goals alternating (two publishers): each switch
    is a new goal, counted; the warning names the replaced kind once per period (60 s)."""
    node = configured
    node._on_goal_joint_state(joint_msg((0.2, -0.1)))
    for _ in range(3):
        node._on_goal_image(image_msg(90))
        assert node.goal.kind == 'image'
        node._on_goal_joint_state(joint_msg((0.2, -0.1)))
        assert node.goal.kind == 'joint_state'
    err = capfd.readouterr().err
    assert node.counters.snapshot().get('goal_kind_changes') == 6
    warnings = [line for line in err.splitlines() if 'the latest goal wins' in line]
    assert len(warnings) == 1, err
    assert 'new image goal from goal_image replaces the joint_state goal from ' \
        'goal_joint_state' in warnings[0] and warnings[0].startswith('[WARN]')


def test_capture_always_sets_a_new_goal(configured):
    """~/capture_goal is an explicit request: never taken for a repeat (the ledger is
    skipped), even when the view is unchanged."""
    node = configured
    node._on_goal_joint_state(joint_msg((0.2, -0.1)))
    calls = []
    assert node._set_goal(lambda: calls.append(1) or node.goal, 'capture_goal',
                          repeatable=False) is None
    assert calls == [1] and node.counters.snapshot().get('goals') == 2
    assert not node.counters.snapshot().get('goals_repeated')
