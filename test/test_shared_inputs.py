"""The input layer both nodes share (issue #12 item 3): one pose format, one interpolation
rule, one frame slot, one set of intake rules, raw and compressed images for both.

* core, no ROS: :class:`PoseBuffer` interpolates odometry through (x, y, cos, sin), so a
  blend across the yaw wrap points the right way; :class:`StateSync` refuses and counts
  by the same names for joints and odometry and clears a history on a clock reset;
  :class:`FrameSlot` keeps the newest frame and reports the dropped ones;
* in process, hand-set node clock: ``world_model_node``'s :class:`FramePipeline` and
  ``planner_node``'s :class:`PlannerInputs` are built on the same classes, the planner's
  odometry is interpolated at the image stamp exactly as the world model's, and a
  compressed image reaches the planner's observation as the raw one does.
"""

import math

import numpy as np
import pytest

from jepa_world_model.core.runtime.input_rules import stale_problem
from jepa_world_model.core.runtime.state_sync import PoseBuffer, StateSync
from jepa_world_model.core.runtime.streams import Counters, FrameSlot, SyncError
from tiny_models import JOINTS, save_tiny

try:
    from nav_msgs.msg import Odometry

    from jepa_world_model.core.runtime.inference import WorldModelRuntime
    from jepa_world_model.ros.common.images import CameraInput, image_subscription
    from jepa_world_model.ros.common.state_inputs import StateInputs
    from jepa_world_model.ros.common.image_conversion import (rgb_to_compressed_msg,
                                                              rgb_to_image_msg)
    from jepa_world_model.ros.common.joint_state_conversion import seconds_to_stamp
    from jepa_world_model.ros.planner.inputs import PlannerInputs
    from jepa_world_model.ros.planner.parameters import PlannerSettings
    from test_input_limits import Clock, joint_state, make_pipeline, NOW
except ImportError:   # the ros tests are marked and skipped (or failed) by conftest
    pass

ros = pytest.mark.ros


class Limits:
    """The settings fields the intake rules read."""

    max_future_stamp, max_abs_input, stale_timeout, max_skew = 0.25, 1e5, 1.0, 0.05


# -- core ---------------------------------------------------------------------------------

def test_pose_interpolation_goes_through_the_yaw_wrap_the_short_way():
    """Yaw 3.1 then -3.1 (0.08 rad apart across +-pi): the midpoint is +-pi, not 0, which a
    blend of raw yaw would give; x and y blend linearly; nearest mode picks a sample."""
    buf = PoseBuffer(max_skew=0.1)
    assert buf.push(10.0, [0.0, 2.0, 3.1]) == 'ok'
    assert buf.push(10.1, [1.0, 4.0, -3.1]) == 'ok'
    sample = buf.sample(10.05)
    np.testing.assert_allclose(sample.pose[:2], [0.5, 3.0], atol=1e-6)
    assert abs(abs(sample.pose[2]) - math.pi) < 1e-3
    assert sample.skew == pytest.approx(0.05)
    buf.interpolate = False
    np.testing.assert_allclose(buf.sample(10.04).pose, [0.0, 2.0, 3.1], atol=1e-6)


def test_pose_buffer_names_odometry_in_its_sync_errors():
    buf = PoseBuffer(max_skew=0.02)
    with pytest.raises(SyncError, match='no odometry') as info:
        buf.sample(1.0)
    assert info.value.reason == 'odom_no_joint_state'
    buf.push(1.0, [0.0, 0.0, 0.0])
    with pytest.raises(SyncError, match='nearest odometry') as info:
        buf.sample(1.5)
    assert info.value.reason == 'odom_skew'


def test_state_sync_refuses_by_the_same_rules_and_names_for_joints_and_odometry():
    counters = Counters()
    sync = StateSync(2, True, counters, max_skew=0.05)
    now = 100.0
    assert sync.offer_joints(100.9, np.zeros(2), None, now, Limits).reason \
        == 'joint_state_stamp_in_future'
    assert sync.offer_pose(100.9, np.zeros(3), now, Limits).reason == 'odom_stamp_in_future'
    assert sync.offer_joints(99.9, np.array([1e6, 0.0]), None, now, Limits).reason \
        == 'joint_state_out_of_range'
    assert sync.offer_pose(99.9, np.array([0.0, -1e6, 0.0]), now, Limits).reason \
        == 'odom_out_of_range'
    assert sync.offer_pose(99.9, np.array([0.0, np.nan, 0.0]), now, Limits).reason \
        == 'odom_nonfinite'
    assert sync.offer_joints(99.9, np.zeros(2), None, now, Limits) is None
    assert sync.offer_pose(99.9, np.zeros(3), now, Limits) is None
    assert sync.offer_joints(99.8, np.zeros(2), None, now, Limits).reason \
        == 'joint_state_out_of_order'
    assert sync.offer_pose(99.9, np.zeros(3), now, Limits).reason == 'odom_duplicate'
    assert sync.joints.latest_stamp == sync.odom.latest_stamp == pytest.approx(99.9)
    assert counters.snapshot() == {}


def test_a_clock_reset_clears_both_histories_and_is_counted():
    """A stamp 50 s behind the history but fresh on the (restarted) node clock."""
    counters = Counters()
    sync = StateSync(2, True, counters)
    sync.offer_joints(60.0, np.zeros(2), None, 60.0, Limits)
    sync.offer_pose(60.0, np.zeros(3), 60.0, Limits)
    assert sync.offer_joints(10.0, np.ones(2), None, 10.0, Limits) is None
    assert sync.offer_pose(10.0, np.ones(3), 10.0, Limits) is None
    assert counters.snapshot() == {'time_reset_joint_state': 1, 'time_reset_odom': 1}
    assert len(sync.joints) == len(sync.odom) == 1
    np.testing.assert_allclose(sync.newest_q(), [1.0, 1.0])


def test_interpolation_switch_applies_to_joints_and_odometry_alike():
    sync = StateSync(1, True, Counters(), max_skew=0.1)
    for t, v in ((1.0, 0.0), (1.1, 1.0)):
        sync.offer_joints(t, np.array([v]), None, 1.1, Limits)
        sync.offer_pose(t, np.array([v, 0.0, 0.0]), 1.1, Limits)
    assert sync.joints_at(1.05).position[0] == pytest.approx(0.5)
    assert sync.pose_at(1.05)[0] == pytest.approx(0.5)
    sync.set_interpolate(False)
    assert sync.joints_at(1.04).position[0] == sync.pose_at(1.04)[0] == 0.0


def test_a_node_without_odometry_ignores_poses():
    sync = StateSync(2, False, Counters())
    assert sync.offer_pose(1.0, np.zeros(3), 1.0, Limits) is None
    assert sync.odom is None and sync.pose_at(1.0) is None


def test_frame_slot_keeps_the_newest_and_reports_frames_never_taken():
    slot = FrameSlot()
    assert slot.take() is None and slot.newest is None
    assert slot.put('a') is False
    assert slot.put('b') is True          # 'a' was never taken: dropped
    assert slot.take() == 'b' and slot.take() is None
    assert slot.newest == 'b'             # still readable after the take
    assert slot.put('c') is False


def test_stale_problem_rules():
    assert stale_problem(99.8, 100.0, 0.5) is None
    assert 'old' in stale_problem(99.0, 100.0, 0.5)
    assert 'in the future' in stale_problem(101.0, 100.0, 0.5)
    assert '/clock' in stale_problem(0.0, 0.0, 0.5)


# -- both nodes, in process ---------------------------------------------------------------

@pytest.fixture(scope='module')
def pose_runtime(tmp_path_factory):
    """The tiny model with the odometry pose in its state."""
    path = save_tiny(tmp_path_factory.mktemp('shared') / 'pose.safetensors',
                     pose_in_state=True)
    return WorldModelRuntime.from_path(path)


def make_inputs(**settings):
    """PlannerInputs of a pose model at node time NOW: (inputs, counters, rejected)."""
    s, counters, rejected = PlannerSettings(**settings), Counters(), []
    inputs = PlannerInputs(JOINTS, True, lambda: s, counters,
                           lambda reason, text: rejected.append(reason), Clock())
    return inputs, counters, rejected


def odometry(t, x, yaw=0.0):
    msg = Odometry()
    msg.header.stamp = seconds_to_stamp(t)
    msg.pose.pose.position.x = float(x)
    msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = (math.sin(yaw / 2),
                                                                math.cos(yaw / 2))
    return msg


def frame(t, compressed=False):
    rgb = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    msg = rgb_to_compressed_msg(rgb, 'png') if compressed else rgb_to_image_msg(rgb, 'rgb8')
    msg.header.stamp = seconds_to_stamp(t)
    return msg


@ros
def test_both_nodes_read_inputs_through_the_same_classes(pose_runtime):
    pipeline = make_pipeline(pose_runtime)
    inputs = make_inputs()[0]
    for intake in (pipeline, inputs):
        assert type(intake.states) is StateInputs and type(intake.camera) is CameraInput
        assert type(intake.states.sync) is StateSync
    assert pipeline.states.sync.odom is not None          # the model needs the pose


@ros
def test_the_planner_interpolates_odometry_at_the_image_stamp_like_the_world_model(
        pose_runtime):
    """Odometry at NOW-0.04 (x 0, yaw 3.0) and NOW (x 1, yaw -3.0), image at NOW-0.01:
    both nodes pair the frame with x 0.75 and a yaw blended the short way across the wrap
    (near -pi; a blend of raw yaw would give -1.5); the planner used to take the nearest
    sample (x 1, yaw -3.0)."""
    pipeline = make_pipeline(pose_runtime, max_skew=0.05)
    inputs, _, rejected = make_inputs(max_skew=0.05)
    for intake in (pipeline, inputs):
        intake.on_joint_state(joint_state(NOW - 0.02))
        intake.on_odometry(odometry(NOW - 0.04, 0.0, 3.0))
        intake.on_odometry(odometry(NOW, 1.0, -3.0))
    inputs.on_image(frame(NOW - 0.01))
    pose = inputs.observe(pose_runtime, require_new=True).observation.pose
    assert rejected == []
    np.testing.assert_allclose(pose[:2], [0.75, 0.0], atol=1e-5)
    expected_yaw = math.atan2(0.25 * math.sin(3.0) + 0.75 * math.sin(-3.0),
                              0.25 * math.cos(3.0) + 0.75 * math.cos(-3.0))
    assert pose[2] == pytest.approx(expected_yaw, abs=1e-5) and pose[2] < -3.0
    np.testing.assert_allclose(pipeline.states.sync.pose_at(NOW - 0.01, 0.05), pose,
                               atol=1e-6)


@ros
def test_a_compressed_image_reaches_the_planner_observation_as_the_raw_one(pose_runtime):
    """The same PNG frame raw and compressed gives the same model input; the planner's
    subscription follows image_transport like world_model_node's."""
    observations = []
    for compressed in (False, True):
        inputs, _, rejected = make_inputs()
        inputs.on_joint_state(joint_state(NOW - 0.01))
        inputs.on_odometry(odometry(NOW - 0.01, 0.0))
        inputs.on_image(frame(NOW, compressed))
        observations.append(inputs.observe(pose_runtime, require_new=True).observation)
        assert rejected == [] and inputs.camera.rate.total == 1
    assert observations[0].o.shape == (1, 3, 32, 32)
    assert np.array_equal(observations[0].o.numpy(), observations[1].o.numpy())
    assert image_subscription('compressed')[1] == 'image/compressed'
    assert image_subscription('raw')[1] == 'image'
    with pytest.raises(ValueError, match='image_transport'):
        image_subscription('theora')


@ros
def test_the_planner_counts_frames_no_tick_took(pose_runtime):
    inputs, counters, _ = make_inputs()
    inputs.on_joint_state(joint_state(NOW - 0.01))
    inputs.on_odometry(odometry(NOW - 0.01, 0.0))
    for t in (NOW - 0.02, NOW - 0.01, NOW):
        inputs.on_image(frame(t))
    assert counters.get('dropped_frames') == 2 and counters.get('images_received') == 3
    assert inputs.observe(pose_runtime, require_new=True) is not None
    assert inputs.observe(pose_runtime, require_new=True) is None     # nothing new
    assert counters.get('no_new_image') == 1


@ros
def test_camera_input_keeps_context_and_arrival():
    camera = CameraInput(Counters())
    camera.on_image('msg', context='cmd')
    taken = camera.take()
    assert taken.msg == 'msg' and taken.context == 'cmd'
    assert taken.arrival == camera.last_arrival


@ros
def test_clock_and_rates_are_the_callers_node_clock():
    """StateInputs reads the node clock it is given: a joint state 0.9 s ahead of it is
    refused, the same stamp once the clock has moved on is accepted and counted in the
    joint-state rate."""
    clock, rejected = Clock(NOW), []
    states = StateInputs(JOINTS, False, lambda: Limits, clock, Counters(),
                         lambda reason, text: rejected.append(reason))
    states.on_joint_state(joint_state(NOW + 0.9))
    clock.t = NOW + 0.9
    states.on_joint_state(joint_state(NOW + 0.9))
    assert rejected == ['joint_state_stamp_in_future']
    assert states.joint_rate.total == 1 and 'joint_states' in states.arrivals
