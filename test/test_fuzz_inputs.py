"""Property-based fuzzing of the input converters and the nodes' intake (issue #11, "Make it
stay fixed"): images, compressed images, joint states, odometry and laser scans.

Each converter either returns a finite value of its documented shape and dtype, or raises
its documented error (``ImageConversionError`` / ``ImageTooLargeError``,
``JointStateError``, ``InputError`` with a known reason), never anything else; a compressed
stream declaring more than ``max_pixels`` is never handed to the decoder. The intake objects
of both nodes (``FramePipeline``, ``PlannerInputs``, built without spinning a node) take any
sequence of such messages without raising, and what they pass on is finite.

Examples come from ``fuzz_messages``; the hypothesis profile (test/conftest.py) makes the
run deterministic (``ci``) or long (``HYPOTHESIS_PROFILE=thorough``).
"""

import math
import time
from unittest import mock

from hypothesis import event, example, given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import torch

from jepa_world_model.core.runtime.inference import WorldModelRuntime
from jepa_world_model.core.runtime.input_rules import magnitude_problem
from jepa_world_model.core.planning.scan import (laser_points, scan_has_information,
                                                 too_close_at_min)
from tiny_models import JOINTS, save_tiny

try:
    import cv2
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import CompressedImage, Image, JointState, LaserScan

    import fuzz_messages as fm
    from jepa_world_model.ros.common import image_conversion
    from jepa_world_model.ros.common.image_conversion import (check_message_pixels,
                                                              compressed_image_size,
                                                              compressed_msg_to_rgb,
                                                              image_msg_to_rgb,
                                                              ImageConversionError,
                                                              ImageTooLargeError, resize_for_model)
    from jepa_world_model.ros.common.images import image_to_model_rgb
    from jepa_world_model.ros.common.rejects import InputError
    from jepa_world_model.ros.common.state_inputs import joint_state_arrays
    from jepa_world_model.ros.common.joint_state_conversion import (joint_state_to_arrays,
                                                                    JointStateError)
    from jepa_world_model.ros.planner.inputs import scan_from_msg
    from test_input_limits import finite, make_inputs, make_pipeline, NOW
except ImportError:   # the tests need these; they are marked ros and skipped by conftest
    pass

pytestmark = pytest.mark.ros

IMAGE_REASONS = {'image_zero_size', 'image_bad_encoding', 'image_bad_data', 'image_decode'}
JOINT_REASONS = {'joint_state_unrelated', 'joint_state_missing_joints',
                 'joint_state_malformed', 'joint_state_nonfinite'}
SCAN_REASONS = {'scan_invalid', 'scan_no_information'}
#: Examples of the tests that run the model on each one (a fraction of the profile's).
MODEL_EXAMPLES = max(10, settings.default.max_examples // 3)


def near_now():
    """Stamps around the node clock: these reach the checks after the freshness test."""
    return st.floats(NOW - 0.3, NOW + 0.3).map(fm.seconds_to_stamp)


# -- raw and compressed images -------------------------------------------------------------

@given(fm.image_msgs())
@example(Image(height=2, width=2, encoding='mono16', step=5, data=bytes(10)))
def test_raw_images_convert_to_rgb_or_raise_conversion_error(msg):
    try:
        rgb = image_msg_to_rgb(msg)
    except ImageConversionError:
        event('refused')
        return
    event('converted')
    assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    assert rgb.shape == (msg.height, msg.width, 3)


RESIZE_MODES = ['center_crop', 'stretch']


@given(fm.image_msgs(), st.sampled_from([1, 8, 32]), st.sampled_from(RESIZE_MODES))
def test_model_input_is_square_rgb_and_the_fast_path_agrees_with_the_checked_one(
        msg, size, mode):
    """image_to_model_rgb (a fast path for 8-bit encodings) gives what the checked path
    gives, or refuses under an image_* reason exactly when the checked path refuses."""
    try:
        checked = resize_for_model(image_msg_to_rgb(msg), size, mode)
    except ImageConversionError:
        checked = None
    try:
        out = image_to_model_rgb(msg, False, size, mode)
    except InputError as exc:
        assert exc.reason in IMAGE_REASONS and checked is None
        return
    assert out.shape == (size, size, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, checked)


@given(fm.image_msgs(), st.integers(1, 2 ** 31 - 1))
def test_raw_image_pixel_limit_refuses_exactly_above_max_pixels(msg, max_pixels):
    too_large = msg.width * msg.height > max_pixels
    try:
        check_message_pixels(msg, False, max_pixels)
    except ImageTooLargeError:
        assert too_large
        return
    assert not too_large


@given(fm.compressed_msgs(), st.sampled_from([1, 64, 144, 4096, 2 ** 20]))
def test_compressed_images_decode_within_max_pixels_or_are_refused_before_decoding(
        msg, max_pixels):
    """A stream is decoded only when its header declares a PNG/JPEG of at most
    ``max_pixels``; the result has the declared number of pixels."""
    declared = compressed_image_size(msg.data)
    allowed = declared is not None and 0 < declared[0] * declared[1] <= max_pixels
    with mock.patch.object(image_conversion.cv2, 'imdecode', wraps=cv2.imdecode) as decode:
        try:
            rgb = compressed_msg_to_rgb(msg, max_pixels)
        except ImageTooLargeError:
            assert declared is not None and declared[0] * declared[1] > max_pixels
            rgb = None
        except ImageConversionError:
            rgb = None
        assert decode.called <= allowed, f'decoded a stream declaring {declared}'
    event('decoded' if rgb is not None else 'refused')
    if rgb is not None:
        w, h = declared
        assert rgb.dtype == np.uint8 and rgb.shape[2] == 3
        assert rgb.shape[:2] in ((h, w), (w, h))   # (w, h): EXIF rotation


@given(fm.compressed_msgs(), st.integers(1, 2 ** 31 - 1))
def test_compressed_pixel_check_raises_only_too_large(msg, max_pixels):
    declared = compressed_image_size(msg.data)
    try:
        check_message_pixels(msg, True, max_pixels)
    except ImageTooLargeError:
        assert declared[0] * declared[1] > max_pixels
        return
    assert declared is None or declared[0] * declared[1] <= max_pixels


# -- joint states ----------------------------------------------------------------------------

@given(fm.joint_state_msgs(JOINTS))
def test_joint_states_give_finite_model_ordered_arrays_or_joint_state_error(msg):
    try:
        position, velocity = joint_state_to_arrays(msg, JOINTS)
    except JointStateError:
        event('refused')
        return
    event('converted')
    index = [list(msg.name).index(j) for j in JOINTS]
    for out, field in ((position, msg.position), (velocity, msg.velocity)):
        assert out.dtype == np.float32 and out.shape == (len(JOINTS),)
        assert np.isfinite(out).all()
        expected = np.asarray(field, np.float64)[index] if len(field) else np.zeros(2)
        np.testing.assert_array_equal(out, expected.astype(np.float32))


@given(fm.joint_state_msgs(JOINTS))
def test_joint_state_input_errors_name_a_known_reason(msg):
    try:
        joint_state_arrays(msg, JOINTS)
    except InputError as exc:
        assert exc.reason in JOINT_REASONS and str(exc)


@given(st.lists(fm.floats64(), max_size=5), st.floats(1e-3, 1e12))
@example([1e5 + 1.0], 1e5)
@example([float('nan')], 1e12)
def test_magnitude_problem_is_reported_exactly_beyond_max_abs_input(values, limit):
    arr = np.asarray(values, dtype=np.float64)
    refused = magnitude_problem(arr, limit, 'values') is not None
    assert refused == (not (np.abs(arr) <= limit).all())


# -- laser scans -----------------------------------------------------------------------------

def _usable_geometry(msg):
    values = (msg.angle_min, msg.angle_increment, msg.range_min, msg.range_max)
    return (np.isfinite(values).all() and msg.angle_increment != 0.0
            and 0.0 <= msg.range_min < msg.range_max)


@given(fm.scan_msgs(), st.sampled_from([None, 1, 7, 100, 1440]))
@example(LaserScan(angle_min=0.0, angle_increment=3e38, range_min=0.0, range_max=10.0,
                   ranges=[1.0, 1.0, 1.0]), None)
@example(LaserScan(angle_min=0.0, angle_increment=0.125, range_min=0.0, range_max=1.0,
                   ranges=[3.0, 1.0, 0.05, -math.inf]), None)
@example(LaserScan(angle_min=0.0, angle_increment=0.125, range_min=0.0, range_max=1.0,
                   ranges=[-math.inf]), None)
def test_scans_are_bounded_finite_readings_or_input_errors(msg, max_beams):
    """A scan is refused (scan_invalid / scan_no_information), or read with finite geometry,
    at most max_beams returns, its nearest return kept, and finite obstacle points."""
    # -inf is REP 117's "too close to measure": a return at range_min.
    with np.errstate(invalid='ignore'):
        ranges = too_close_at_min(msg.ranges, msg.range_min)
    try:
        reading = scan_from_msg(msg, max_beams)
    except InputError as exc:
        event(exc.reason)
        assert exc.reason in SCAN_REASONS
        if exc.reason == 'scan_no_information':
            assert _usable_geometry(msg) and not (ranges >= msg.range_min).any()
        return
    event('read' if max_beams is None or ranges.size <= max_beams else 'read, pooled')
    assert _usable_geometry(msg) and ranges.size > 0
    assert np.isfinite([reading.angle_min, reading.angle_increment, reading.range_min,
                        reading.range_max]).all()
    assert reading.ranges.dtype == np.float32
    assert max_beams is None or reading.ranges.size <= max_beams
    assert scan_has_information(reading.ranges, reading.range_min)
    valid = ranges[ranges >= msg.range_min]
    # An unpooled reading keeps -inf as it came (laser_points reads it as range_min).
    read = too_close_at_min(reading.ranges, reading.range_min)
    kept = read[read >= reading.range_min]
    assert kept.min() == valid.min()        # min-pooling never loses the nearest return
    points = laser_points(reading.ranges, reading.angle_min, reading.angle_increment,
                          reading.range_min, reading.range_max, (0.5, -0.5, 1.0))
    assert points.ndim == 2 and points.shape[1] == 2 and torch.isfinite(points).all()


@given(st.integers(1, 3000), st.sampled_from([None, 10]))
def test_an_all_nan_scan_is_no_information(beams, max_beams):
    msg = LaserScan(angle_min=-3.0, angle_increment=0.01, range_min=0.1, range_max=10.0)
    msg.ranges = [float('nan')] * beams
    with pytest.raises(InputError) as info:
        scan_from_msg(msg, max_beams)
    assert info.value.reason == 'scan_no_information'


# -- the nodes' intake, without a node -------------------------------------------------------

@pytest.fixture(scope='module', params=['pose_probe', 'pose_in_state'])
def runtime(request, tmp_path_factory):
    """The tiny model with a pose probe, or with the odometry pose in its state (then
    frames need odometry too)."""
    path = save_tiny(tmp_path_factory.mktemp('fuzz') / 'tiny.safetensors',
                     **{request.param: True})
    return WorldModelRuntime.from_path(path)


@st.composite
def valid_compressed(draw, stamp):
    """A well-formed small PNG or JPEG message."""
    codec = draw(st.sampled_from(['png', 'jpeg']))
    rgb = np.random.default_rng(draw(st.integers(0, 999))).integers(
        0, 256, (draw(st.integers(1, 40)), draw(st.integers(1, 40)), 3), dtype=np.uint8)
    msg = image_conversion.rgb_to_compressed_msg(rgb, codec)
    msg.header.stamp = draw(stamp)
    return msg


@st.composite
def valid_state(draw):
    """A joint state and an odometry message just before the node clock, finite values."""
    t = NOW - draw(st.floats(0.0, 0.04))
    joints = JointState(name=list(JOINTS), position=draw(st.lists(
        st.floats(-3.0, 3.0), min_size=2, max_size=2)))
    joints.header.stamp = fm.seconds_to_stamp(t)
    odom = Odometry()
    odom.header.stamp = fm.seconds_to_stamp(t)
    odom.pose.pose.position.x, odom.pose.pose.position.y = draw(st.floats(-5.0, 5.0)), 0.5
    odom.pose.pose.orientation.w = 1.0
    return [joints, odom]


def intake_messages(noise_images, good_image):
    """Hostile messages around (maybe) a valid joint state, odometry and image, so that
    frames reach the model too: ``noise, [state], noise, [image], noise``."""
    noise = st.lists(st.one_of(
        noise_images, fm.joint_state_msgs(JOINTS, stamp=near_now()),
        fm.joint_state_msgs(JOINTS), fm.odometry_msgs(stamp=near_now()), fm.twist_msgs(),
        fm.scan_msgs(stamp=near_now())), max_size=4)
    state = st.one_of(valid_state(), st.just([]))
    image = st.one_of(good_image.map(lambda msg: [msg]), st.just([]))
    return st.tuples(noise, state, noise, image, noise).map(lambda parts: sum(parts, []))


def deliver(intake, messages):
    """Hand each message to the callback its topic would call."""
    handlers = {Image: intake.on_image, CompressedImage: intake.on_image,
                JointState: intake.on_joint_state, Odometry: intake.on_odometry,
                Twist: getattr(intake, 'on_action', None),
                LaserScan: getattr(intake, 'on_scan', None)}
    for msg in messages:
        handler = handlers[type(msg)]
        if handler is not None:
            handler(msg)


@settings(max_examples=MODEL_EXAMPLES)
@given(st.sampled_from(['raw', 'compressed']), st.data())
def test_world_model_intake_never_raises_and_predicts_only_finite_values(
        runtime, transport, data):
    """FramePipeline callbacks take anything; process() returns None (counted under a
    reason) or a finite result, never raises."""
    fresh = st.just(fm.seconds_to_stamp(NOW))
    messages = (intake_messages(fm.image_msgs(stamp=near_now()), fm.valid_images(fresh))
                if transport == 'raw' else
                intake_messages(fm.compressed_msgs(stamp=near_now()), valid_compressed(fresh)))
    p = make_pipeline(runtime, image_transport=transport, max_image_pixels=4096)
    deliver(p, data.draw(messages))
    frame = p.take_frame()
    out = p.process(*frame) if frame is not None else None
    event('predicted' if out is not None else 'no prediction')
    if out is not None:
        assert finite(out[1]) and np.isfinite(out[1].surprise_raw or 0.0)
    assert 'inference_error' not in p.counters.snapshot()
    current = p.action.current(NOW)
    assert current.shape == (2,) and np.isfinite(current).all()


@settings(max_examples=MODEL_EXAMPLES)
@given(st.data(), st.booleans())
def test_planner_intake_never_raises_and_observes_only_finite_values(
        runtime, data, obstacles):
    """PlannerInputs callbacks take anything; observe() raises only InputError (the node
    stops on it) or returns an observation whose every value is finite."""
    inputs, rejected = make_inputs(max_image_pixels=4096, max_scan_beams=64,
                                   obstacle_weight=1.0 if obstacles else 0.0)
    messages = intake_messages(fm.image_msgs(stamp=near_now()),
                               fm.valid_images(st.just(fm.seconds_to_stamp(NOW))))
    deliver(inputs, data.draw(messages))
    start = time.perf_counter()
    try:
        stamped = inputs.observe(runtime, require_new=True)
    except InputError as exc:
        assert exc.reason and str(exc)
        event(f'refused: {exc.reason}')
        return
    assert time.perf_counter() - start < 5.0
    event('observed' if stamped is not None else 'no new image')
    if stamped is None:
        return
    # (header, Observation) since the planner refactor; the observation itself before it.
    obs = getattr(stamped, 'observation', stamped)
    assert torch.isfinite(obs.o).all() and (obs.s is None or torch.isfinite(obs.s).all())
    assert np.isfinite(obs.q).all() and (obs.pose is None or np.isfinite(obs.pose).all())
    if obs.scan is not None:
        assert obs.scan.ranges.size <= 64
