"""Frames the ROS way (issue #15 item 10): core/planning/frames.py (planar transforms, the
parameter fallback) and ros/common/tf_frames.py (TfFrames over an object with
tf2_ros.Buffer's methods), the pose-goal and map transforms into the path frame, and the
commands' frame_id. No DDS: tf2_ros has no wheel here, so a fake buffer stands in for it.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from jepa_world_model.core.model.state_layout import planar_pose
from jepa_world_model.core.planning.frames import FrameLookupError, ParameterFrames, Planar

try:
    from geometry_msgs.msg import PoseStamped, TransformStamped
    from nav_msgs.msg import OccupancyGrid
    from std_msgs.msg import Header

    from jepa_world_model.ros.common.tf_frames import make_frames, TfFrames
    from jepa_world_model.ros.planner.goals import pose_goal_from_msg
    from jepa_world_model.ros.planner.map_input import map_from_msg
    from jepa_world_model.ros.planner.outputs import command_msg
    from jepa_world_model.ros.planner.parameters import command_limits, PlannerSettings
    from jepa_world_model.ros.common.rejects import InputError
except ImportError:   # the ROS tests need these; they are marked ros and skipped by conftest
    pass


# -- planar transforms (pure) ---------------------------------------------------------------

def test_a_planar_transform_moves_points_and_poses_and_inverts():
    t = Planar(1.0, 2.0, math.pi / 2)
    np.testing.assert_allclose(t.apply(np.array([[1.0, 0.0], [0.0, 1.0]])),
                               [[1.0, 3.0], [0.0, 2.0]], atol=1e-12)
    assert t.apply_pose(1.0, 0.0, 0.0) == pytest.approx((1.0, 3.0, math.pi / 2))
    back = t.then(t.inverse())
    assert back.as_tuple() == pytest.approx((0.0, 0.0, 0.0), abs=1e-12)
    # a -> b then b -> c is a -> c.
    u = Planar(-0.5, 0.25, -0.3)
    p = np.array([[0.7, -1.1]])
    np.testing.assert_allclose(t.then(u).apply(p), u.apply(t.apply(p)), atol=1e-12)
    # The yaw TF transforms and poses are read with (state_layout.planar_pose).
    rotation = SimpleNamespace(x=0.0, y=0.0, z=math.sin(0.4), w=math.cos(0.4))
    assert planar_pose(SimpleNamespace(x=0.0, y=0.0), rotation)[2] == pytest.approx(0.8)


def test_without_tf_the_parameters_apply_and_other_frames_are_refused():
    frames = ParameterFrames((0.2, 0.0, math.pi))
    assert frames.scan_mount('base_link', 'laser').as_tuple() == (0.2, 0.0, math.pi)
    assert frames.into('odom', 'odom') == Planar() and frames.into('odom', '') == Planar()
    with pytest.raises(FrameLookupError, match="no transform from 'map' into 'odom'"):
        frames.into('odom', 'map')


# -- TfFrames over a buffer with tf2_ros.Buffer's methods -------------------------------------

class LookupException(Exception):
    """Stands for tf2_ros.LookupException."""


class FakeBuffer:
    """``can_transform`` / ``lookup_transform(target, source, time, timeout=)`` as
    tf2_ros.Buffer has them, over a dict of known (target, source) -> (x, y, yaw)."""

    def __init__(self, known, raises=False):
        self.known, self.raises, self.calls = dict(known), raises, []

    def can_transform(self, target, source, time, timeout=None):
        self.calls.append(('can', target, source, timeout.nanoseconds))
        return (target, source) in self.known or self.raises

    def lookup_transform(self, target, source, time, timeout=None):
        self.calls.append(('lookup', target, source, timeout.nanoseconds))
        if self.raises:
            raise LookupException(f'"{source}" passed to lookupTransform does not exist')
        x, y, yaw = self.known[(target, source)]
        msg = TransformStamped()
        msg.header.frame_id, msg.child_frame_id = target, source
        msg.transform.translation.x, msg.transform.translation.y = x, y
        msg.transform.rotation.z, msg.transform.rotation.w = math.sin(yaw / 2), math.cos(yaw / 2)
        return msg


@pytest.mark.ros
def test_tf_gives_the_scanner_mount_and_the_map_transform():
    warnings = []
    buffer = FakeBuffer({('base_link', 'laser'): (0.3, -0.1, 0.5),
                         ('odom', 'map'): (2.0, -1.0, 0.0)})
    frames = TfFrames(buffer, lambda: (9.0, 9.0, 0.0), warnings.append, (LookupException,))
    assert frames.scan_mount('base_link', 'laser').as_tuple() == pytest.approx((0.3, -0.1, 0.5))
    assert frames.into('odom', 'map').as_tuple() == pytest.approx((2.0, -1.0, 0.0))
    assert warnings == []
    # Lookups never wait (they run in callbacks) and ask for target <- source.
    assert ('lookup', 'base_link', 'laser', 0) in buffer.calls


@pytest.mark.ros
def test_an_unknown_or_failing_lookup_falls_back_or_refuses_with_a_throttled_warning():
    warnings = []
    frames = TfFrames(FakeBuffer({}), lambda: (0.2, 0.0, 0.1), warnings.append,
                      (LookupException,), throttle_s=60.0)
    for _ in range(3):
        assert frames.scan_mount('base_link', 'laser').as_tuple() == (0.2, 0.0, 0.1)
    assert len(warnings) == 1 and 'scan_mount parameter' in warnings[0]
    with pytest.raises(FrameLookupError, match='publishing map -> odom'):
        frames.into('odom', 'map')
    assert len(warnings) == 2
    raising = TfFrames(FakeBuffer({}, raises=True), lambda: (0.0, 0.0, 0.0), warnings.append,
                       (LookupException,))
    with pytest.raises(FrameLookupError, match='does not exist'):   # caught, never raised raw
        raising.into('odom', 'map')
    assert raising.scan_mount('base_link', 'laser') == Planar()


@pytest.mark.ros
def test_without_tf2_ros_no_listener_is_made():
    try:
        import tf2_ros  # noqa: F401
    except ImportError:
        assert make_frames(object(), lambda: (0.0, 0.0, 0.0), print) == (None, None)
    else:
        pytest.skip('tf2_ros is importable here')


# -- goals and maps in map --------------------------------------------------------------------

def pose_msg(frame, x, y, yaw):
    msg = PoseStamped()
    msg.header.frame_id = frame
    msg.pose.position.x, msg.pose.position.y = x, y
    msg.pose.orientation.z, msg.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
    return msg


@pytest.mark.ros
def test_a_goal_in_map_is_transformed_into_odom_when_map_to_odom_is_known():
    # odom <- map: rotate 90 degrees, then shift (1, 0).
    frames = TfFrames(FakeBuffer({('odom', 'map'): (1.0, 0.0, math.pi / 2)}),
                      lambda: (0.0, 0.0, 0.0), print, (LookupException,))
    goal = pose_goal_from_msg(pose_msg('map', 2.0, 0.0, 0.0), True, 'odom', 1.0,
                              frames=frames)
    np.testing.assert_allclose(goal.target[:2], [1.0, 2.0], atol=1e-9)
    assert goal.target[2] == pytest.approx(math.pi / 2)
    # Unknown transform (no TF, or TF without map -> odom): refused with the reason.
    with pytest.raises(InputError) as err:
        pose_goal_from_msg(pose_msg('map', 2.0, 0.0, 0.0), True, 'odom', 1.0,
                           frames=TfFrames(FakeBuffer({}), lambda: (0, 0, 0), print))
    assert err.value.reason == 'goal_pose_wrong_frame' and 'map -> odom' in str(err.value)
    with pytest.raises(InputError, match='tf2_ros is not available'):
        pose_goal_from_msg(pose_msg('map', 2.0, 0.0, 0.0), True, 'odom', 1.0)


def grid(frame='map', origin=(-5.0, -4.0)):
    msg = OccupancyGrid()
    msg.header.frame_id = frame
    msg.info.width, msg.info.height, msg.info.resolution = 4, 3, 0.5
    msg.info.origin.position.x, msg.info.origin.position.y = origin
    msg.info.origin.orientation.w = 1.0
    msg.data = [0] * 12
    return msg


@pytest.mark.ros
def test_a_map_in_map_is_placed_in_odom_by_tf_rotated_or_not():
    frames = TfFrames(FakeBuffer({('odom', 'map'): (0.5, -0.25, 0.0)}), lambda: (0, 0, 0),
                      print)
    static = map_from_msg(grid(), 'odom', frames)
    assert static.origin == pytest.approx((-5.0, -4.0)) and static.frame_id == 'map'
    assert static.placement.apply(np.array([static.origin]))[0] == pytest.approx((-4.5, -4.25))
    rotating = TfFrames(FakeBuffer({('odom', 'map'): (0.5, -0.25, 0.1)}), lambda: (0, 0, 0),
                        print)
    assert map_from_msg(grid(), 'odom', rotating).placement.as_tuple() == \
        pytest.approx((0.5, -0.25, 0.1))   # test_rotated_maps.py: what the planner does with it
    with pytest.raises(InputError) as err:
        map_from_msg(grid(), 'odom')
    assert err.value.reason == 'map_wrong_frame'


# -- output headers ---------------------------------------------------------------------------

@pytest.mark.ros
@pytest.mark.parametrize('output', ['cmd_vel', 'joint_trajectory'])
def test_commands_carry_the_base_frame_not_the_camera_frame(output):
    s = PlannerSettings().with_updates({'output': output, 'use_twist_stamped': True,
                                        'base_frame_id': 'base_footprint'})
    image = Header(frame_id='camera_optical_frame')
    image.stamp.sec = 42
    a = np.array([0.1, -0.2]) if output == 'cmd_vel' else np.array([0.1, -0.2, 0.0])
    out = command_msg(s, ['joint1', 'joint2', 'joint3'], command_limits(s, a.size), image, a,
                      a[None, :], None if output == 'cmd_vel' else np.zeros(3))
    assert out.msg.header.frame_id == 'base_footprint' and out.msg.header.stamp.sec == 42


@pytest.mark.ros
def test_the_simulator_publishes_the_static_rep105_frames():
    pytest.importorskip('tf2_msgs.msg')   # sim_node publishes /tf_static only with tf2_msgs
    from jepa_world_model.ros.sim_outputs import SCAN_FRAME, static_transforms
    msg = static_transforms(Header().stamp)
    edges = {(t.header.frame_id, t.child_frame_id): t.transform for t in msg.transforms}
    assert set(edges) == {('map', 'odom'), ('base_link', SCAN_FRAME)}
    assert all(t.rotation.w == 1.0 and t.translation.x == 0.0 for t in edges.values())


def test_a_scan_with_a_mount_from_tf_places_its_points_by_it():
    """obstacle_points uses the scan's own mount (TF) over the scan_mount parameter."""
    import torch
    from jepa_world_model.core.planning.observation import (obstacle_points, Observation,
                                                            ScanReading)
    scan = ScanReading(0.0, np.array([1.0], np.float32), 0.0, 0.1, 0.0, 5.0)
    obs = Observation(torch.zeros(1, 3, 8, 8), None, np.zeros(0), np.zeros(3), scan)
    z = torch.zeros(4)
    by_parameter = obstacle_points(None, z, obs, (0.5, 0.0, 0.0)).numpy()
    by_tf = obstacle_points(None, z, obs._replace(scan=scan._replace(mount=(0.0, 0.2, 0.0))),
                            (0.5, 0.0, 0.0)).numpy()
    np.testing.assert_allclose(by_parameter, [[1.5, 0.0]], atol=1e-6)
    np.testing.assert_allclose(by_tf, [[1.0, 0.2]], atol=1e-6)
