"""Tests for jepa_world_model.ros.common.joint_state_conversion (no ROS graph needed)."""

import math

from builtin_interfaces.msg import Time
import numpy as np
import pytest
from sensor_msgs.msg import JointState
from std_msgs.msg import Header

from jepa_world_model.ros.common.joint_state_conversion import (
    arrays_to_joint_state, joint_state_to_arrays, JointStateError, MissingJointsError,
    seconds_to_stamp, stamp_to_seconds)

ARM = ['shoulder', 'elbow', 'wrist']


def _js(names, position, velocity=()):
    return JointState(name=list(names), position=list(position), velocity=list(velocity))


# ------------------------------------------------------------------ extraction

def test_same_order_values_and_dtype():
    pos, vel = joint_state_to_arrays(_js(ARM, [0.1, 0.2, 0.3], [1.0, 2.0, 3.0]), ARM)
    assert pos.dtype == np.float32 and vel.dtype == np.float32
    assert pos.shape == (3,) and vel.shape == (3,)
    np.testing.assert_allclose(pos, [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(vel, [1.0, 2.0, 3.0])


def test_reordering():
    msg = _js(['wrist', 'shoulder', 'elbow'], [3.0, 1.0, 2.0], [-3.0, -1.0, -2.0])
    pos, vel = joint_state_to_arrays(msg, ARM)
    np.testing.assert_array_equal(pos, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(vel, [-1.0, -2.0, -3.0])


def test_requested_order_is_respected():
    msg = _js(ARM, [1.0, 2.0, 3.0])
    pos, _ = joint_state_to_arrays(msg, ['wrist', 'shoulder'])
    np.testing.assert_array_equal(pos, [3.0, 1.0])


def test_extra_joints_ignored():
    msg = _js(['gripper', 'elbow', 'base', 'shoulder', 'wrist'],
              [9.0, 2.0, 8.0, 1.0, 3.0], [90.0, 20.0, 80.0, 10.0, 30.0])
    pos, vel = joint_state_to_arrays(msg, ARM)
    np.testing.assert_array_equal(pos, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(vel, [10.0, 20.0, 30.0])


def test_nan_in_extra_joint_is_ignored():
    msg = _js(ARM + ['camera_pan'], [1.0, 2.0, 3.0, math.nan], [0.0, 0.0, 0.0, math.inf])
    pos, _ = joint_state_to_arrays(msg, ARM)
    np.testing.assert_array_equal(pos, [1.0, 2.0, 3.0])


def test_empty_velocity_gives_zeros():
    pos, vel = joint_state_to_arrays(_js(ARM, [1.0, 2.0, 3.0]), ARM)
    np.testing.assert_array_equal(pos, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(vel, np.zeros(3, np.float32))
    assert vel.dtype == np.float32


def test_effort_is_not_checked():
    msg = _js(ARM, [1.0, 2.0, 3.0])
    msg.effort = [1.0]  # wrong length, but effort is not used
    pos, _ = joint_state_to_arrays(msg, ARM)
    np.testing.assert_array_equal(pos, [1.0, 2.0, 3.0])


def test_outputs_are_independent_of_message():
    msg = _js(ARM, [1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    pos, vel = joint_state_to_arrays(msg, ARM)
    pos[:] = 0
    vel[:] = 0
    assert list(msg.position) == [1.0, 2.0, 3.0]
    assert list(msg.velocity) == [4.0, 5.0, 6.0]


def test_empty_request_gives_empty_arrays():
    pos, vel = joint_state_to_arrays(_js(ARM, [1.0, 2.0, 3.0]), [])
    assert pos.shape == (0,) and vel.shape == (0,)


# ------------------------------------------------------------------ errors

def test_missing_joints():
    msg = _js(['elbow', 'gripper'], [1.0, 2.0])
    with pytest.raises(MissingJointsError) as info:
        joint_state_to_arrays(msg, ARM)
    assert info.value.missing == ['shoulder', 'wrist']
    assert 'shoulder' in str(info.value) and 'wrist' in str(info.value)
    assert isinstance(info.value, JointStateError)
    assert isinstance(info.value, ValueError)


def test_missing_joints_on_empty_message():
    with pytest.raises(MissingJointsError) as info:
        joint_state_to_arrays(JointState(), ARM)
    assert info.value.missing == ARM


def test_position_length_mismatch():
    with pytest.raises(JointStateError, match='3 names but 2 positions'):
        joint_state_to_arrays(_js(ARM, [1.0, 2.0]), ARM)


def test_velocity_length_mismatch():
    with pytest.raises(JointStateError, match='3 names but 2 velocities'):
        joint_state_to_arrays(_js(ARM, [1.0, 2.0, 3.0], [1.0, 2.0]), ARM)


def test_empty_position_with_names_is_an_error():
    with pytest.raises(JointStateError, match='positions'):
        joint_state_to_arrays(_js(ARM, []), ARM)


@pytest.mark.parametrize('bad', [math.nan, math.inf, -math.inf, 1e300])
def test_non_finite_position(bad):
    msg = _js(ARM, [1.0, bad, 3.0])
    with pytest.raises(JointStateError, match=r"position.*\['elbow'\]"):
        joint_state_to_arrays(msg, ARM)


def test_non_finite_velocity():
    msg = _js(ARM, [1.0, 2.0, 3.0], [0.0, 0.0, math.nan])
    with pytest.raises(JointStateError, match=r"velocity.*\['wrist'\]"):
        joint_state_to_arrays(msg, ARM)


def test_duplicate_names_in_message():
    msg = _js(['shoulder', 'elbow', 'shoulder', 'wrist'], [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(JointStateError, match="duplicate.*'shoulder'"):
        joint_state_to_arrays(msg, ARM)


def test_duplicate_names_in_request():
    with pytest.raises(JointStateError, match='duplicate'):
        joint_state_to_arrays(_js(ARM, [1.0, 2.0, 3.0]), ['elbow', 'elbow'])


def test_string_instead_of_name_list():
    with pytest.raises(JointStateError, match='single string'):
        joint_state_to_arrays(_js(ARM, [1.0, 2.0, 3.0]), 'elbow')


# ------------------------------------------------------------------ building messages

def test_arrays_to_joint_state_round_trip():
    header = Header(frame_id='base')
    msg = arrays_to_joint_state(ARM, np.array([0.5, -0.5, 1.5], np.float32),
                                [0.1, 0.2, 0.3], header=header)
    assert isinstance(msg, JointState)
    assert list(msg.name) == ARM and msg.header.frame_id == 'base'
    assert len(msg.effort) == 0
    pos, vel = joint_state_to_arrays(msg, list(reversed(ARM)))
    np.testing.assert_array_equal(pos, [1.5, -0.5, 0.5])
    np.testing.assert_allclose(vel, [0.3, 0.2, 0.1], rtol=1e-6)


def test_arrays_to_joint_state_without_velocity():
    msg = arrays_to_joint_state(ARM, [1, 2, 3])
    assert list(msg.position) == [1.0, 2.0, 3.0]
    assert len(msg.velocity) == 0


@pytest.mark.parametrize('position,velocity,match', [
    ([1.0, 2.0], None, 'position has shape'),
    ([[1.0, 2.0, 3.0]], None, 'position has shape'),
    ([1.0, 2.0, 3.0], [1.0], 'velocity has shape'),
])
def test_arrays_to_joint_state_shape_errors(position, velocity, match):
    with pytest.raises(JointStateError, match=match):
        arrays_to_joint_state(ARM, position, velocity)


def test_arrays_to_joint_state_duplicate_names():
    with pytest.raises(JointStateError, match='duplicate'):
        arrays_to_joint_state(['a', 'a'], [1.0, 2.0])


# ------------------------------------------------------------------ stamps

def test_stamp_to_seconds():
    assert stamp_to_seconds(Time(sec=12, nanosec=500_000_000)) == pytest.approx(12.5)
    assert stamp_to_seconds(Time()) == 0.0
    assert stamp_to_seconds(Header().stamp) == 0.0
    assert stamp_to_seconds(Time(sec=1_700_000_000, nanosec=1)) == pytest.approx(
        1_700_000_000 + 1e-9, abs=1e-6)


@pytest.mark.parametrize('t,sec,nanosec', [
    (0.0, 0, 0), (12.5, 12, 500_000_000), (3.000000001, 3, 1),
    (-0.25, -1, 750_000_000), (1.9999999999, 2, 0), (1_700_000_000.25, 1_700_000_000,
                                                     250_000_000)])
def test_seconds_to_stamp(t, sec, nanosec):
    stamp = seconds_to_stamp(t)
    assert isinstance(stamp, Time)
    assert (stamp.sec, stamp.nanosec) == (sec, nanosec)
    assert 0 <= stamp.nanosec < 1_000_000_000


@pytest.mark.parametrize('t', [0.123456789, 42.0, 1e6 + 0.5, -3.75])
def test_stamp_round_trip(t):
    assert stamp_to_seconds(seconds_to_stamp(t)) == pytest.approx(t, abs=1e-9)


@pytest.mark.parametrize('t', [math.nan, math.inf, -math.inf, 2.0 ** 31, -2.0 ** 31 - 1])
def test_seconds_to_stamp_rejects_bad_values(t):
    with pytest.raises(ValueError):
        seconds_to_stamp(t)


# ------------------------------------------------------------------ intake checks

def test_stamp_ahead_problem_only_past_the_limit_and_only_with_a_running_clock():
    from jepa_world_model.core.runtime.input_rules import stamp_ahead_problem
    assert stamp_ahead_problem(100.2, 100.0, 0.25) is None
    assert stamp_ahead_problem(90.0, 100.0, 0.25) is None          # old: not this check's
    assert '0.900 s ahead' in stamp_ahead_problem(100.9, 100.0, 0.25)
    assert stamp_ahead_problem(100.9, 0.0, 0.25) is None           # sim time, no /clock yet


def test_magnitude_problem_names_the_values_beyond_the_limit():
    from jepa_world_model.core.runtime.input_rules import magnitude_problem
    assert magnitude_problem([0.0, -1e5, 3.0], 1e5, 'q') is None
    text = magnitude_problem(np.array([0.0, 1e30, np.nan], np.float32), 1e5, 'q')
    assert text.startswith('q ') and 'index [1, 2]' in text and 'max_abs_input' in text
