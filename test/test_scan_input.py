"""planner_node's range-scan input (``ros/planner_inputs.py``): LaserScan checks and the
points a plan's obstacle term gets, without a ROS graph (message classes only, so marked
``ros``)."""

import math

import numpy as np
import pytest
import torch

try:
    from sensor_msgs.msg import LaserScan

    from jepa_world_model.ros.node_io import InputError
    from jepa_world_model.ros.planner_inputs import Observation, scan_from_msg
    from jepa_world_model.ros.planner_step import obstacle_points, PlanStop
except ImportError:   # the tests need these; they are marked ros and skipped by conftest
    pass

pytestmark = pytest.mark.ros


def scan(ranges, angle_min=-math.pi, increment=math.pi / 2, range_min=0.1, range_max=3.0):
    msg = LaserScan()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 500_000_000
    msg.angle_min, msg.angle_increment = angle_min, increment
    msg.range_min, msg.range_max = range_min, range_max
    msg.ranges = [float(r) for r in ranges]
    return msg


def test_a_laser_scan_is_read_with_its_stamp_and_geometry():
    reading = scan_from_msg(scan([1.0, float('inf'), 0.5, 2.0]))
    assert reading.stamp == 12.5 and reading.ranges.dtype == np.float32
    assert (reading.angle_min, reading.range_min, reading.range_max) == (-math.pi, 0.1, 3.0)
    np.testing.assert_allclose(reading.ranges, [1.0, np.inf, 0.5, 2.0])


@pytest.mark.parametrize('msg_args, text', [
    (dict(ranges=[]), 'no beams'),
    (dict(ranges=[1.0], increment=float('nan')), 'not usable'),
    (dict(ranges=[1.0], increment=0.0), 'not usable'),
    (dict(ranges=[1.0], range_min=2.0, range_max=1.0), 'range_min'),
    (dict(ranges=[1.0], range_min=-0.1), 'range_min'),
], ids=['empty', 'nan_increment', 'zero_increment', 'inverted', 'negative_min'])
def test_unusable_scans_are_refused_with_a_reason(msg_args, text):
    with pytest.raises(InputError, match=text) as info:
        scan_from_msg(scan(**msg_args))
    assert info.value.reason == 'scan_invalid'


class PoseOnly:
    """A model stand-in whose pose output is z[:3]."""

    @staticmethod
    def probe_pose(z):
        return z[..., :3]


def observation(pose, reading):
    return Observation(None, np.zeros(0), pose, torch.zeros(1), None, reading)


def test_obstacle_points_sit_at_the_odometry_pose_or_else_the_model_pose():
    """Beams at -pi and -pi/2 (1 m, 0.5 m) from a base at (1, 0) facing +x: (0, 0) and
    (1, -0.5); without odometry, at the pose the model reads from z; no scan: a stop."""
    reading = scan_from_msg(scan([1.0, 0.5, 5.0, 0.05]))   # 5.0 and 0.05: out of range
    z = torch.zeros(4)
    pts = obstacle_points(PoseOnly, z, observation(np.array([1.0, 0.0, 0.0]), reading),
                          (0.0, 0.0, 0.0))
    torch.testing.assert_close(pts, torch.tensor([[0.0, 0.0], [1.0, -0.5]]),
                               atol=1e-6, rtol=0)
    z[1] = 2.0                                                   # model pose (0, 2, 0)
    pts = obstacle_points(PoseOnly, z, observation(None, reading), (0.0, 0.0, 0.0))
    torch.testing.assert_close(pts, torch.tensor([[-1.0, 2.0], [0.0, 1.5]]),
                               atol=1e-6, rtol=0)
    with pytest.raises(PlanStop) as info:
        obstacle_points(PoseOnly, z, observation(None, None), (0.0, 0.0, 0.0))
    assert info.value.reason == 'scan_stale' and info.value.status == 'stale_inputs'
