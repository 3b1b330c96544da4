"""planner_node's range-scan input (``ros/planner/inputs.py``): LaserScan checks and the
points a plan's obstacle term gets (``core/planning/observation.py``), without a ROS graph
(message classes only, so marked ``ros``)."""

import array
import math
import time

import numpy as np
import pytest
import torch

from jepa_world_model.core.planning.observation import Observation, obstacle_points

try:
    from sensor_msgs.msg import LaserScan

    from jepa_world_model.ros.common.rejects import InputError
    from jepa_world_model.ros.planner.inputs import scan_from_msg
    # Last: on a tree without pool_beams only the tests that need it fail.
    from jepa_world_model.core.planning.scan import (laser_points, point_clearance_cost,
                                                     pool_beams, scan_has_information)
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
    return Observation(torch.zeros(1), None, np.zeros(0), pose, reading)


def test_obstacle_points_sit_at_the_odometry_pose_or_else_the_model_pose():
    """Beams at -pi and -pi/2 (1 m, 0.5 m) from a base at (1, 0) facing +x: (0, 0) and
    (1, -0.5); without odometry, at the pose the model reads from z; no scan: none."""
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
    assert obstacle_points(PoseOnly, z, observation(None, None), (0.0, 0.0, 0.0)) is None


# -- bounded scans and scans that see nothing (issue #11 item 10) ----------------------------

def long_scan(beams, near_index, near_range=0.5):
    """A 360-degree scan of ``beams`` beams, all free (+inf) but one return at
    ``near_index``; ranges set through array.array, as rclpy hands them over."""
    ranges = np.full(beams, np.inf, np.float32)
    ranges[near_index] = near_range
    msg = scan([], increment=2 * math.pi / beams, range_max=10.0)
    msg.ranges = array.array('f', ranges.tobytes())
    return msg


def test_a_300k_beam_scan_is_min_pooled_and_keeps_its_obstacle():
    """300k beams become at most 1440 returns; the one near return survives at (almost)
    its bearing; the plan's obstacle cost over it stays fast."""
    beams, index = 300_000, 123_457
    msg = long_scan(beams, index)
    start = time.perf_counter()
    reading = scan_from_msg(msg, max_beams=1440)
    assert reading.ranges.size <= 1440 and reading.ranges.min() == pytest.approx(0.5)
    near = int(np.argmin(reading.ranges))
    bearing = reading.angle_min + near * reading.angle_increment
    true_bearing = msg.angle_min + index * msg.angle_increment
    assert abs(bearing - true_bearing) <= 0.5 * reading.angle_increment + 1e-6
    points = obstacle_points(PoseOnly, torch.zeros(4),
                             observation(np.zeros(3), reading), (0.0, 0.0, 0.0))
    assert points.shape == (1, 2)
    torch.testing.assert_close(points[0], 0.5 * torch.tensor(
        [math.cos(true_bearing), math.sin(true_bearing)]), atol=5e-3, rtol=0)
    cost = point_clearance_cost(points, PoseOnly.probe_pose, 0.32, 0.1)
    assert cost(torch.zeros(128, 8, 4)).shape == (128, 8)
    assert time.perf_counter() - start < 1.0


def test_pooling_ignores_invalid_beams_and_short_scans_stay_as_they_are():
    ranges = np.array([np.nan, 0.05, 2.0, -np.inf, np.inf, 3.0, np.nan], np.float32)
    pooled, k = pool_beams(ranges, 0.1, 3)
    assert k == 3
    # NaN and too near are no reading: the last group (NaN and padding) is NaN, not free;
    # -inf is REP 117's "too close to measure": a return at range_min, the group's nearest.
    np.testing.assert_allclose(pooled, [2.0, 0.1, np.nan])
    same, k = pool_beams(ranges, 0.1, 7)
    assert k == 1 and same.size == 7
    with pytest.raises(ValueError):
        pool_beams(ranges, 0.1, 0)


@pytest.mark.parametrize('ranges', [[float('nan')] * 8, [float('nan'), 0.01, float('nan'), 0.0]],
                         ids=['all_nan', 'nan_and_too_near'])
def test_a_scan_that_sees_nothing_is_refused_not_read_as_free(ranges):
    with pytest.raises(InputError, match='sees nothing') as info:
        scan_from_msg(scan(ranges))
    assert info.value.reason == 'scan_no_information'
    reading = scan_from_msg(scan([math.inf] * 4))    # no return within range: free space
    assert np.isinf(reading.ranges).all()


# -- beams that are no reading (NaN, below range_min) and -inf, too close (issue #11) --------

def test_pooled_groups_without_a_reading_stay_no_reading_not_free_space():
    """A group of only NaN / too-near beams pools to NaN (no reading); +inf (free) only
    where the scanner said free; a return wins over both; -inf (REP 117: too close to
    measure) is a return at range_min."""
    nan, inf = np.nan, np.inf
    ranges = np.array([nan, 0.0, nan, nan, inf, 0.05, 1.5, nan, inf, -inf], np.float32)
    pooled, k = pool_beams(ranges, 0.1, 4)
    assert k == 3
    np.testing.assert_allclose(pooled, [nan, inf, 1.5, 0.1])
    # Pooling never changes whether a scan says anything, whatever its mix of beams.
    rng = np.random.default_rng(3)
    values = np.array([nan, -inf, inf, 0.0, 0.05, 0.5, 2.0], np.float32)
    for _ in range(200):
        raw = values[rng.integers(0, values.size, rng.integers(2, 40))]
        pooled, _ = pool_beams(raw, 0.1, int(rng.integers(1, 8)))
        assert scan_has_information(pooled, 0.1) == scan_has_information(raw, 0.1), raw


@pytest.mark.parametrize('max_beams', [None, 4])
def test_partly_invalid_scan_gives_points_only_where_it_measured(max_beams):
    """NaN and 0.0 beams make no obstacle point and hide none of the returns around them,
    pooled or not; a -inf beam (too close to measure) is a point at range_min (0.1 m)."""
    nan, inf = math.nan, math.inf
    ranges = [nan, -inf, 1.0, nan, inf, 0.0, nan, 2.0]
    reading = scan_from_msg(scan(ranges, increment=math.pi / 4), max_beams=max_beams)
    points = laser_points(reading.ranges, reading.angle_min, reading.angle_increment,
                          reading.range_min, reading.range_max, (0.0, 0.0, 0.0))
    distances = sorted(torch.linalg.vector_norm(points, dim=-1).tolist())
    assert distances == pytest.approx([0.1, 1.0, 2.0], abs=1e-6)


@pytest.mark.parametrize('ranges', [[-math.inf] * 6, [math.nan, -math.inf] * 3],
                         ids=['all_minus_inf', 'nan_and_minus_inf'])
def test_minus_inf_is_an_obstacle_at_the_scanner_not_no_information(ranges):
    """REP 117: -inf is a detection too close to measure. A scan of -inf (and NaN) is not
    refused as "sees nothing" (which would switch the obstacle term off next to an object);
    every -inf beam is an obstacle point at range_min, pooled or not."""
    for max_beams in (None, 2):
        reading = scan_from_msg(scan(ranges, increment=math.pi / 3), max_beams=max_beams)
        points = laser_points(reading.ranges, reading.angle_min, reading.angle_increment,
                              reading.range_min, reading.range_max, (0.0, 0.0, 0.0))
        assert points.shape[0] >= 1
        distances = torch.linalg.vector_norm(points, dim=-1)
        assert distances.tolist() == pytest.approx([0.1] * points.shape[0], abs=1e-6)
