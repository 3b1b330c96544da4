"""Pose goals must name their frame (ros/planner/goals.py pose_goal_from_msg, no DDS needed).

A PoseStamped with an empty ``header.frame_id`` used to be taken as a goal in
``path_frame_id``; it is refused with the counted reason ``goal_pose_no_frame``.
"""

import pytest

try:
    from geometry_msgs.msg import PoseStamped

    from jepa_world_model.ros.common.rejects import InputError
    from jepa_world_model.ros.planner.goals import pose_goal_from_msg
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

pytestmark = pytest.mark.ros


def pose_msg(frame):
    """A goal at (1.0, 0.5) with identity heading in ``frame``."""
    msg = PoseStamped()
    msg.header.frame_id = frame
    msg.pose.position.x, msg.pose.position.y = 1.0, 0.5
    msg.pose.orientation.w = 1.0
    return msg


@pytest.mark.parametrize('path_frame_id', ['odom', ''])
def test_empty_goal_frame_is_refused_with_a_counted_reason(path_frame_id):
    with pytest.raises(InputError, match='empty header.frame_id') as err:
        pose_goal_from_msg(pose_msg(''), True, path_frame_id, 0.0)
    assert err.value.reason == 'goal_pose_no_frame'


def test_goal_in_path_frame_is_accepted_and_other_frames_refused():
    goal = pose_goal_from_msg(pose_msg('odom'), True, 'odom', 0.0)
    assert goal.kind == 'pose'
    with pytest.raises(InputError) as err:
        pose_goal_from_msg(pose_msg('map'), True, 'odom', 0.0)
    assert err.value.reason == 'goal_pose_wrong_frame'
    with pytest.raises(InputError) as err:   # no pose output: that reason comes first
        pose_goal_from_msg(pose_msg(''), False, 'odom', 0.0)
    assert err.value.reason == 'goal_pose_unsupported'
