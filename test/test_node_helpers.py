"""Tests of world_model_node's helpers that need no ROS graph.

* core (pure): the joint-state sync buffer, window statistics, rate meter, counters;
* ros layer (message classes only, no node): action extraction, parameter validation,
  diagnostics rules, and the message <-> array glue. These are marked ``ros`` because they
  import message packages.
"""

import math
import os

import numpy as np
import pytest
import yaml

from jepa_world_model.core.runtime.input_rules import clock_was_reset
from jepa_world_model.core.runtime.streams import (Counters, JointStateBuffer, RateMeter,
                                                   SyncError, WindowStats)

try:
    from diagnostic_msgs.msg import DiagnosticStatus
    from geometry_msgs.msg import Twist, TwistStamped
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray, Header
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    from jepa_world_model.ros.world_model import action_sources as acts
    from jepa_world_model.ros.common import node_diagnostics as diag
    from jepa_world_model.ros.common import node_io
    from jepa_world_model.ros.common import images as camera_io
    from jepa_world_model.ros.common import state_inputs
    from jepa_world_model.ros.common.rejects import InputError
    from jepa_world_model.ros.common.topic_qos import DEPRECATED_QOS_PARAMETERS
    from jepa_world_model.ros.world_model import parameters as params
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image

    from jepa_world_model.ros.common.image_conversion import (image_msg_to_rgb, resize_for_model,
                                                              rgb_to_compressed_msg,
                                                              rgb_to_image_msg)
except ImportError:   # the tests that need these are marked ros and skipped by conftest
    pass

ros = pytest.mark.ros
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------- joint-state sync buffer

def filled_buffer(**kwargs):
    """Buffer with positions q(t) = (t, -2t) sampled every 10 ms for t in [0, 0.1]."""
    buf = JointStateBuffer(2, **kwargs)
    for i in range(11):
        t = 0.01 * i
        assert buf.push(t, np.array([t, -2 * t]), np.array([1.0, -2.0])) == 'ok'
    return buf


def test_buffer_exact_and_interpolated_samples():
    """At a stored stamp the sample is exact; between two it is their linear blend."""
    buf = filled_buffer(max_skew=0.02)
    exact = buf.sample(0.05)
    assert exact.skew == 0.0 and not exact.interpolated
    np.testing.assert_allclose(exact.position, [0.05, -0.1], rtol=1e-6)
    mid = buf.sample(0.053)
    assert mid.interpolated and mid.skew == pytest.approx(0.003)
    np.testing.assert_allclose(mid.position, [0.053, -0.106], rtol=1e-5)
    np.testing.assert_allclose(mid.velocity, [1.0, -2.0])


def test_buffer_nearest_mode_and_skew_limits():
    """Nearest mode picks the closer sample; beyond the newest/oldest sample skew counts."""
    buf = filled_buffer(max_skew=0.02, interpolate=False)
    np.testing.assert_allclose(buf.sample(0.056).position, [0.06, -0.12], rtol=1e-6)
    late = buf.sample(0.115)
    assert late.skew == pytest.approx(0.015) and not late.interpolated
    with pytest.raises(SyncError) as info:
        buf.sample(0.2)
    assert info.value.reason == 'skew' and info.value.skew == pytest.approx(0.1)
    assert 'limit 20.0 ms' in str(info.value)
    assert buf.sample(0.2, max_skew=0.5).skew == pytest.approx(0.1)
    with pytest.raises(SyncError) as info:
        JointStateBuffer(2).sample(1.0)
    assert info.value.reason == 'no_joint_state'


def test_buffer_rejects_duplicates_and_out_of_order():
    """Equal or older stamps are refused and counted; the history stays monotonic."""
    buf = filled_buffer()
    assert buf.push(0.1, np.zeros(2)) == 'duplicate'
    assert buf.push(0.05, np.zeros(2)) == 'out_of_order'
    assert (buf.accepted, buf.duplicates, buf.out_of_order) == (11, 1, 1)
    assert len(buf) == 11 and buf.latest_stamp == pytest.approx(0.1)


def test_buffer_validation_history_and_velocity_estimate():
    """Bad vectors raise; old samples are pruned; missing velocities are differentiated."""
    buf = JointStateBuffer(2, history=0.05)
    with pytest.raises(ValueError, match='3 values'):
        buf.push(0.0, np.zeros(3))
    with pytest.raises(ValueError, match='NaN'):
        buf.push(0.0, np.array([np.nan, 0.0]))
    buf.push(0.0, np.array([0.0, 0.0]))
    buf.push(0.01, np.array([0.02, -0.01]))            # no velocity: (dq / dt)
    np.testing.assert_allclose(buf.sample(0.01).velocity, [2.0, -1.0], rtol=1e-5)
    np.testing.assert_allclose(buf.sample(0.0).velocity, [0.0, 0.0])
    buf.push(1.0, np.zeros(2))
    assert len(buf) == 1                                  # older than 0.05 s: pruned
    buf.clear()
    assert len(buf) == 0 and buf.latest_stamp is None
    with pytest.raises(ValueError):
        JointStateBuffer(2, history=0.0)


# ------------------------------------------------------------------------- statistics

def test_window_stats():
    """p50/p99 over the window; old values fall out; empty gives NaN."""
    stats = WindowStats(window=100)
    assert math.isnan(stats.percentile(50)) and stats.summary()['count'] == 0
    for v in range(1, 101):
        stats.add(v)
    summary = stats.summary()
    assert summary['p50'] == pytest.approx(50.5) and summary['p99'] == pytest.approx(99.01)
    assert summary['max'] == 100 and summary['count'] == 100
    for _ in range(100):
        stats.add(1000.0)
    assert stats.percentile(50) == 1000.0 and stats.total == 200
    with pytest.raises(ValueError):
        WindowStats(0)


def test_rate_meter():
    """Events per second over the window; an idle window decays to zero."""
    meter = RateMeter(window=1.0)
    assert meter.rate(0.0) == 0.0 and meter.last() is None
    for i in range(11):
        meter.tick(10.0 + 0.05 * i)
    assert meter.rate(10.5) == pytest.approx(20.0)
    assert meter.last() == pytest.approx(10.5) and meter.total == 11
    assert meter.rate(20.0) == 0.0


def test_counters():
    """Counts, last messages and reset."""
    counters = Counters()
    assert counters.add('a', 'first', 1.0) == 1
    assert counters.add('a', 'second', 2.0) == 2
    counters.add('b', n=5)
    assert counters.snapshot() == {'a': 2, 'b': 5} and counters.get('c') == 0
    assert counters.last_messages() == {'a': ('second', 2.0)}
    counters.reset()
    assert counters.snapshot() == {}


# ---------------------------------------------------------------------------- actions

@ros
def test_twist_fields_and_extraction():
    """Fields are parsed and extracted in the listed order; bad lists are refused."""
    fields = acts.parse_twist_fields(['angular.z', 'linear.x'])
    twist = Twist()
    twist.linear.x, twist.angular.z = 0.5, -0.25
    np.testing.assert_allclose(acts.twist_to_action(twist, fields), [-0.25, 0.5])
    for bad in ([], ['linear.w'], ['linear.x', 'linear.x']):
        with pytest.raises(acts.ActionError):
            acts.parse_twist_fields(bad)
    twist.linear.x = float('nan')
    with pytest.raises(acts.ActionError, match='NaN'):
        acts.twist_to_action(twist, fields)


@ros
def test_array_and_trajectory_extraction():
    """Float64MultiArray length must match; JointTrajectory is reordered to model order."""
    np.testing.assert_allclose(acts.array_to_action(Float64MultiArray(data=[1.0, 2.0]), 2),
                               [1.0, 2.0])
    with pytest.raises(acts.ActionError, match='3 values'):
        acts.array_to_action(Float64MultiArray(data=[1.0, 2.0, 3.0]), 2)
    traj = JointTrajectory(joint_names=['elbow', 'extra', 'shoulder'],
                           points=[JointTrajectoryPoint(positions=[1.0, 9.0, 2.0],
                                                        velocities=[0.1, 0.9, 0.2])])
    np.testing.assert_allclose(acts.trajectory_to_action(traj, ['shoulder', 'elbow']),
                               [2.0, 1.0])
    np.testing.assert_allclose(
        acts.trajectory_to_action(traj, ['shoulder', 'elbow'], 'velocities'), [0.2, 0.1])
    with pytest.raises(acts.ActionError, match='missing joints'):
        acts.trajectory_to_action(traj, ['wrist'])
    with pytest.raises(acts.ActionError, match='no points'):
        acts.trajectory_to_action(JointTrajectory(joint_names=['a']), ['a'])


@ros
def test_joint_delta_and_scale():
    """joint_delta = q(t) - q(t - period), scaled; scales broadcast or match A."""
    buf = filled_buffer(max_skew=0.02)
    np.testing.assert_allclose(acts.joint_delta_action(buf, 0.1, 0.05), [0.05, -0.1],
                               rtol=1e-5)
    with pytest.raises(acts.ActionError, match='unavailable'):
        acts.joint_delta_action(buf, 0.1, 0.5)
    np.testing.assert_allclose(acts.scale_vector([], 3), [1, 1, 1])
    np.testing.assert_allclose(acts.scale_vector([2.0], 3), [2, 2, 2])
    np.testing.assert_allclose(acts.scale_vector([1.0, 2.0, 3.0], 3), [1, 2, 3])
    with pytest.raises(acts.ActionError):
        acts.scale_vector([1.0, 2.0], 3)
    source = acts.ActionSource.create('joint_delta', 2, [], [], ['a', 'b'], 'positions',
                                      [10.0], 0.5)
    np.testing.assert_allclose(source.current(0.0, buf, 0.1, 0.05), [0.5, -1.0], rtol=1e-5)


@ros
def test_action_source_commands_timeout_and_zero():
    """Commands are scaled, expire after the timeout (zero), and sources are validated."""
    source = acts.ActionSource.create('twist_stamped', 2, ['linear.x', 'angular.z'], [],
                                      ['a', 'b'], 'positions', [2.0, 1.0], 0.5)
    assert source.message_type is TwistStamped and source.default_topic == 'cmd_vel'
    np.testing.assert_array_equal(source.current(10.0), [0.0, 0.0])   # nothing received
    msg = TwistStamped()
    msg.twist.linear.x, msg.twist.angular.z = 0.25, 0.5
    source.on_message(msg, 10.0)
    np.testing.assert_allclose(source.current(10.4), [0.5, 0.5])
    np.testing.assert_array_equal(source.current(10.6), [0.0, 0.0])    # stale -> stop
    assert source.age(10.6) == pytest.approx(0.6)
    zero = acts.ActionSource.create('zero', 3, [], [], ['a'], 'positions', [1.0], 0.5)
    assert zero.message_type is None and zero.current(0.0).tolist() == [0, 0, 0]
    traj = acts.ActionSource.create('joint_trajectory', 2, [], [], ['a', 'b'], 'velocities',
                                    [1.0], 0.5)
    assert traj.joint_names == ['a', 'b']
    for args in (('twist', 2, ['linear.x'], [], ['a', 'b']),
                 ('joint_trajectory', 2, [], ['a'], ['a', 'b']),
                 ('joint_delta', 3, [], [], ['a', 'b']),
                 ('teleport', 2, [], [], ['a', 'b'])):
        with pytest.raises(acts.ActionError):
            acts.ActionSource.create(*args, 'positions', [1.0], 0.5)


# ------------------------------------------------------------------------- parameters

BAD_VALUES = [
    ('horizon', 0), ('horizon', 'ten'), ('horizon', 2.5), ('max_skew', -0.1),
    ('max_skew', float('nan')), ('stale_timeout', 0.0), ('image_transport', 'theora'),
    ('device', 'tpu'), ('device', 'cuda:x'), ('dtype', 'int8'), ('sync_mode', 'cubic'),
    ('action_source', 'telepathy'), ('action_fields', ['linear.w']),
    ('action_fields', ['linear.x', 'linear.x']), ('action_fields', []),
    ('action_scale', []), ('action_scale', [float('inf')]), ('image_reliability', 'maybe'),
    ('action_topic', 'bad topic'), ('publish_latent', 1), ('action_joint_names', ['a', 'a']),
    ('surprise_window', 0), ('no_such_parameter', 1),
]


@ros
@pytest.mark.parametrize('name, value', BAD_VALUES)
def test_validate_value_rejects(name, value):
    """Every kind of bad value gets a reason that names the parameter."""
    reason = params.validate_value(name, value)
    assert reason and name in reason


@ros
def test_validate_updates_cross_checks():
    """Batch checks: cross-parameter rules and checks against the loaded model."""
    current = params.NodeSettings()
    assert params.validate_updates({'horizon': 20, 'max_skew': 0.1}, current) is None
    assert 'surprise_min_samples' in params.validate_updates(
        {'surprise_window': 10, 'surprise_min_samples': 20}, current)
    assert 'stall_error_timeout' in params.validate_updates({'stale_timeout': 10.0}, current)
    model = params.ModelFacts(action_dim=3, joint_names=('a', 'b'))
    assert 'action_fields' in params.validate_updates({}, current, model)
    assert 'action_scale' in params.validate_updates(
        {'action_fields': ['linear.x', 'linear.y', 'angular.z'], 'action_scale': [1.0, 2.0]},
        current, model)
    assert 'joint_delta' in params.validate_updates({'action_source': 'joint_delta'},
                                                    current, model)
    assert params.validate_updates(
        {'action_source': 'joint_trajectory', 'action_joint_names': ['a', 'b', 'c']},
        current, model) is None


@ros
def test_parameter_table_matches_settings_and_yaml():
    """PARAMS, NodeSettings and config/ros/world_model.yaml describe the same parameters."""
    names = set(params.PARAMS)
    assert names == set(params.settings_names())
    path = os.path.join(REPO_ROOT, 'config', 'ros', 'world_model.yaml')
    with open(path, encoding='utf-8') as handle:
        (section,) = yaml.safe_load(handle).values()   # one node section ('/**/world_model_node')
        yaml_params = section['ros__parameters']
    assert set(yaml_params) <= names
    # Commented out: the unset ones (no default) and the deprecated QoS parameters
    # (qos_overrides replace them).
    unset = {name for name, spec in params.PARAMS.items() if spec.default is None}
    assert 'action_joint_names' in unset
    assert names - set(yaml_params) == unset | set(DEPRECATED_QOS_PARAMETERS)
    defaults = params.NodeSettings()
    for name, value in yaml_params.items():
        assert params.validate_value(name, value) is None, name
        expected = getattr(defaults, name)
        assert (tuple(value) if isinstance(value, list) else value) == expected, name
    for name, spec in params.PARAMS.items():
        if spec.default is not None:
            assert params.validate_value(name, spec.default) is None, name


@ros
def test_descriptors_carry_ranges_and_read_only():
    """Ranged parameters have integer/float ranges; startup parameters are read-only."""
    horizon = params.descriptor('horizon')
    assert horizon.integer_range[0].from_value == 1 and horizon.integer_range[0].to_value == 200
    skew = params.descriptor('max_skew')
    assert skew.floating_point_range[0].to_value == 10.0
    assert params.descriptor('diagnostics_period').read_only
    assert 'one of: raw, compressed' in params.descriptor('image_transport').description


# ------------------------------------------------------------------------ diagnostics

def snapshot(**kwargs):
    """An active, predicting node's snapshot with overrides."""
    values = dict(node_name='/ns/world_model_node', lifecycle_state='active',
                  since_prediction=0.05, since_received={'image': 0.03, 'joint_states': 0.01},
                  stale_timeout=0.5, stall_error_timeout=5.0, topics={'image': '/ns/image'})
    values.update(kwargs)
    return diag.HealthSnapshot(**values)


@ros
def test_diagnostic_levels():
    """OK while predicting or idle; WARN when paused or rejecting; ERROR when stalled."""
    assert diag.assess(snapshot()) == (diag.OK, 'predicting')
    assert diag.assess(snapshot(lifecycle_state='inactive'))[0] == diag.OK
    assert diag.assess(snapshot(enabled=False))[0] == diag.OK
    level, message = diag.assess(snapshot(lifecycle_state='unconfigured',
                                          config_error='checkpoint not found: /x'))
    assert level == diag.ERROR and 'checkpoint not found' in message
    level, message = diag.assess(snapshot(rejected_in_period=2,
                                          last_problem=('image_bad_data', 'too short', 0.1)))
    assert level == diag.WARN and 'too short' in message
    level, message = diag.assess(snapshot(
        since_prediction=1.0, last_problem=('joint_state_missing_joints', 'lacks joint_b', 0.2)))
    assert level == diag.WARN and 'lacks joint_b' in message
    level, message = diag.assess(snapshot(since_prediction=6.0, since_received={}))
    assert level == diag.ERROR and 'no image received on /ns/image' in message
    level, message = diag.assess(snapshot(since_prediction=1.0,
                                          since_received={'image': 0.9, 'joint_states': 0.0}))
    assert level == diag.WARN and 'no new image' in message


@ros
def test_diagnostic_array_contents():
    """One status named after the node, with flattened key/values."""
    h = snapshot(model={'name': 'tiny', 'parameters': '123', 'device': 'cpu'},
                 counters={'image_bad_data': 2}, latency_ms={'p50': 4.0, 'p99': float('nan')},
                 last_problem=('image_bad_data', 'too short', 0.5))
    msg = diag.build_diagnostic_array(h, Header().stamp)
    status = msg.status[0]
    assert status.name == 'ns/world_model_node: world model' and status.hardware_id == 'cpu'
    values = {kv.key: kv.value for kv in status.values}
    assert values['model.parameters'] == '123' and values['count.image_bad_data'] == '2'
    assert values['latency_ms.p50'] == '4.000' and values['latency_ms.p99'] == 'nan'
    assert values['lifecycle_state'] == 'active' and 'too short' in values['last_problem']
    assert status.level in (DiagnosticStatus.OK, DiagnosticStatus.WARN)


# ------------------------------------------------------------------------ node I/O glue

@ros
@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', 'mono16'])
def test_images_of_any_encoding_and_size_reach_model_size(encoding):
    """Every supported encoding at any resolution becomes the RGB model input.

    The node's fast path (crop and resize before the channel shuffle) must give exactly
    what the reference converter plus ``resize_for_model`` give, also for a message that
    went through DDS serialisation (``data`` is then an ``array.array``).
    """
    rng = np.random.default_rng(1)
    for height, width in ((37, 53), (480, 640), (32, 32), (90, 20)):
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        msg = deserialize_message(serialize_message(rgb_to_image_msg(rgb, encoding)), Image)
        for mode in ('center_crop', 'stretch'):
            out = camera_io.image_to_model_rgb(msg, False, 32, mode)
            assert out.shape == (32, 32, 3) and out.dtype == np.uint8
            expected = resize_for_model(image_msg_to_rgb(msg), 32, mode)
            np.testing.assert_array_equal(out, expected)


@ros
def test_compressed_images_and_image_errors():
    """JPEG/PNG decode; each malformed image gets its own reason."""
    rgb = np.full((24, 40, 3), 120, np.uint8)
    for fmt in ('jpeg', 'png'):
        out = camera_io.image_to_model_rgb(rgb_to_compressed_msg(rgb, fmt), True, 16,
                                           'stretch')
        assert out.shape == (16, 16, 3)
    short = rgb_to_image_msg(rgb, 'rgb8')
    short.data = short.data[:100]
    weird = rgb_to_image_msg(rgb, 'rgb8')
    weird.encoding = 'yuv_from_mars'
    empty = rgb_to_image_msg(rgb, 'rgb8')
    empty.width = 0
    corrupt = rgb_to_compressed_msg(rgb, 'jpeg')
    corrupt.data = b'\xff\xd8 definitely not a jpeg'
    for msg, compressed, reason in ((short, False, 'image_bad_data'),
                                    (weird, False, 'image_bad_encoding'),
                                    (empty, False, 'image_zero_size'),
                                    (corrupt, True, 'image_decode')):
        with pytest.raises(InputError) as info:
            camera_io.image_to_model_rgb(msg, compressed, 16, 'stretch')
        assert info.value.reason == reason


@ros
def test_joint_state_reasons():
    """Reordering, optional velocities and one reason per kind of bad joint state."""
    msg = JointState(name=['x', 'b', 'a'], position=[9.0, 2.0, 1.0])
    pos, vel = state_inputs.joint_state_arrays(msg, ['a', 'b'])
    np.testing.assert_allclose(pos, [1.0, 2.0])
    assert vel is None
    msg.velocity = [0.0, 0.2, 0.1]
    np.testing.assert_allclose(state_inputs.joint_state_arrays(msg, ['a', 'b'])[1], [0.1, 0.2])
    cases = [
        (JointState(name=['a'], position=[1.0]), 'joint_state_missing_joints'),
        (JointState(name=['gripper'], position=[1.0]), 'joint_state_unrelated'),
        (JointState(name=['a', 'b'], position=[1.0]), 'joint_state_malformed'),
        (JointState(name=['a', 'b'], position=[1.0, 2.0], velocity=[1.0]),
         'joint_state_malformed'),
        (JointState(name=['a', 'b'], position=[float('nan'), 2.0]), 'joint_state_nonfinite'),
        (JointState(name=['a', 'b'], position=[1.0, float('inf')]), 'joint_state_nonfinite'),
    ]
    for bad, reason in cases:
        with pytest.raises(InputError) as info:
            state_inputs.joint_state_arrays(bad, ['a', 'b'])
        assert info.value.reason == reason, bad
    # read_model_joints: the same reasons reported, unrelated messages skipped silently.
    rejected = []
    for bad, reason in cases:
        assert state_inputs.read_model_joints(bad, ['a', 'b'],
                                              lambda r, text: rejected.append(r)) is None
    assert rejected == [r for _, r in cases if r != 'joint_state_unrelated']
    pos, _ = state_inputs.read_model_joints(msg, ['a', 'b'],
                                            lambda r, text: rejected.append(r))
    np.testing.assert_allclose(pos, [1.0, 2.0])


def test_clock_reset_needs_a_jump_back_that_is_fresh_on_the_node_clock():
    assert not clock_was_reset(None, 0.0, 0.0, 0.5, 1.0)          # empty history
    assert not clock_was_reset(10.0, 9.5, 9.5, 0.5, 1.0)          # small step back
    assert clock_was_reset(10.0, 0.2, 0.3, 0.5, 1.0)              # restart: fresh stamp
    assert not clock_was_reset(10.0, 0.2, 10.0, 0.5, 1.0)         # just an old message


@ros
def test_output_messages():
    """Trajectory timing, path poses/orientation and the latent layout."""
    header = Header(frame_id='camera')
    header.stamp.sec, header.stamp.nanosec = 100, 950_000_000
    positions = np.arange(6, dtype=np.float32).reshape(3, 2)
    traj = node_io.trajectory_msg(header, ['a', 'b'], positions, positions * 0.5, 0.1)
    assert traj.header.frame_id == 'camera' and traj.joint_names == ['a', 'b']
    assert [p.positions.tolist() for p in traj.points] == positions.tolist()
    assert traj.points[2].velocities.tolist() == [2.0, 2.5]
    assert [(p.time_from_start.sec, p.time_from_start.nanosec) for p in traj.points] == [
        (0, 100_000_000), (0, 200_000_000), (0, 300_000_000)]
    poses = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, math.pi / 2]])
    path = node_io.path_msg(header, poses, 0.1, frame_id='odom')
    assert path.header.frame_id == 'odom' and len(path.poses) == 2
    second = path.poses[1]
    assert (second.header.stamp.sec, second.header.stamp.nanosec) == (101, 50_000_000)
    assert second.pose.position.y == 2.0
    assert second.pose.orientation.z == pytest.approx(math.sqrt(0.5))
    latent = node_io.latent_msg(np.arange(5))
    assert latent.layout.dim[0].label == 'z' and latent.layout.dim[0].size == 5
    assert list(latent.data) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert node_io.duration_msg(1.9999999999).sec == 2
