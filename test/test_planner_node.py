"""planner_node over real DDS: lifecycle, limited recommendations, safety stops, parameters.

The node under test runs in this process on its own rclpy context, spun by a
single-threaded executor in a background thread (test/ros_graph.py). A feeder node publishes
camera images and joint states through DDS, as a camera driver and joint_state_broadcaster
would, sends goals and collects the node's outputs. The model is a tiny random checkpoint
(joints joint_a/joint_b, 2-D joint-velocity action, no pose output). Every wait is bounded.
"""

import math
import os
import re
import threading
import time

import numpy as np
import pytest
import torch
import yaml

try:
    from diagnostic_msgs.msg import DiagnosticStatus
    from geometry_msgs.msg import PoseStamped, Twist, TwistStamped, Vector3Stamped
    from nav_msgs.msg import OccupancyGrid, Odometry, Path
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile
    from sensor_msgs.msg import Image, JointState, LaserScan
    from std_msgs.msg import Float32, Float64MultiArray, String
    from std_srvs.srv import SetBool, Trigger
    from trajectory_msgs.msg import JointTrajectory

    from jepa_world_model.ros.common.image_conversion import rgb_to_image_msg
    from jepa_world_model.ros.planner.node import PlannerNode
    from jepa_world_model.ros.planner.parameters import PARAMS
    from ros_feeders import callbacks_do_not_raise, graph_fixture, one_thread  # noqa: F401
    from ros_feeders import configure_fails, FeederNode, JOINTS, save_tiny, stamp_key
    from ros_feeders import start_node
    from ros_graph import wait_for
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

from dds_marks import IN_PROCESS_NODE_MARKS
from package_layout import _path

pytestmark = IN_PROCESS_NODE_MARKS

WHEELS = ['wheel_left', 'wheel_right']
RATE = 10.0          # plan_rate_hz of every node here
EPS = 1e-9
OUTPUTS = {'joint_trajectory': (JointTrajectory, 'recommended_joint_trajectory'),
           'cmd_vel': (TwistStamped, 'recommended_cmd_vel'),
           'twist': (Twist, 'recommended_cmd_vel'),
           'float64_multi_array': (Float64MultiArray, 'recommended_commands')}


def joint_positions(t):
    """Where the feeder's joints are at time t (s): slow, within +-0.3 rad."""
    return [0.3 * math.sin(0.5 * t), 0.2 * math.cos(0.5 * t)]


def command_values(msg):
    """The first command of any output message as a numpy vector."""
    if isinstance(msg, JointTrajectory):
        return np.asarray(msg.points[0].velocities)
    if isinstance(msg, TwistStamped):
        msg = msg.twist
    if isinstance(msg, Twist):
        return np.array([msg.linear.x, msg.angular.z])
    return np.asarray(msg.data)


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    """A tiny random arm-like model: joints joint_a/joint_b, action = their velocities."""
    return save_tiny(tmp_path_factory, 'planner', 'tiny', 3)


@pytest.fixture(scope='module')
def risky_ckpt(tmp_path_factory):
    """The arm-like model with a (random) collision risk probe and 3 dynamics members."""
    return save_tiny(tmp_path_factory, 'planner', 'risky', 3, risk_labels=['collision'],
                     dynamics_ensemble_size=3)


@pytest.fixture(scope='module')
def base_ckpt(tmp_path_factory):
    """A mobile-base-like model: wheel velocities and the odometry pose in s."""
    return save_tiny(tmp_path_factory, 'planner', 'base', 3, joint_names=list(WHEELS),
                     use_joint_position=False, pose_in_state=True)


@pytest.fixture(scope='module')
def base_scan_ckpt(tmp_path_factory):
    """The mobile-base-like model with a range read-out on the frame's patch tokens
    (4 sectors, for the clearance term)."""
    return save_tiny(tmp_path_factory, 'planner', 'base_scan', 3, joint_names=list(WHEELS),
                     use_joint_position=False, pose_in_state=True, scan_sectors=4,
                     scan_source='tokens')


class Feeder(FeederNode):
    """Streams images (20 Hz) and joint states (100 Hz); sends goals; collects outputs."""

    def __init__(self, graph, ns, output='joint_trajectory', joints=JOINTS):
        mtype, topic = OUTPUTS[output]
        super().__init__(graph, ns, 'planner_node', {
            'cmd': (mtype, topic), 'cost': (Float32, 'plan_cost'),
            'path': (Path, 'planned_path'), 'figures': (Vector3Stamped, 'plan_figures')},
            depth=100)
        self.joints = list(joints)
        pub = self.node.create_publisher
        self.goal_joint_pub = pub(JointState, 'planner_node/goal_joint_state', 10)
        self.goal_pose_pub = pub(PoseStamped, 'planner_node/goal_pose', 10)
        self.goal_image_pub = pub(Image, 'planner_node/goal_image', 10)
        self.odom_pub = pub(Odometry, 'odom', qos_profile_sensor_data)
        self.out['status'] = []
        self.node.create_subscription(String, 'planner_node/status',
                                      lambda m: self.out['status'].append(m.data), self.reliable)
        self.scan_pub = pub(LaserScan, 'scan', qos_profile_sensor_data)
        self.image_keys = []
        self.images_on, self.joints_on = threading.Event(), threading.Event()
        self.scans_on = threading.Event()
        self.start_loop()

    def _loop(self):
        rng = np.random.default_rng(0)
        tick = 0
        while not self._closed.is_set():
            now = self.node.get_clock().now()
            t = now.nanoseconds * 1e-9
            if self.joints_on.is_set():
                msg = JointState(name=['extra'] + self.joints[::-1])   # any order
                msg.header.stamp = now.to_msg()
                q = joint_positions(t)
                msg.position, msg.velocity = [0.0, q[1], q[0]], [0.0, 0.0, 0.0]
                self.joint_pub.publish(msg)
                odom = Odometry()
                odom.header.stamp, odom.header.frame_id = msg.header.stamp, 'odom'
                odom.pose.pose.position.x, odom.pose.pose.orientation.w = 0.1 * t % 1.0, 1.0
                self.odom_pub.publish(odom)
            if self.images_on.is_set() and tick % 5 == 0:
                img = rgb_to_image_msg(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8), 'bgr8')
                img.header.stamp, img.header.frame_id = now.to_msg(), 'camera_optical'
                self.image_pub.publish(img)
                self.image_keys.append(stamp_key(img.header.stamp))
                if self.scans_on.is_set():
                    self.scan_pub.publish(scan_msg(img.header.stamp))
            tick += 1
            time.sleep(0.01)

    def start(self):
        """Stream joint states, then images; wait until goals can reach the node."""
        self.joints_on.set()
        time.sleep(0.1)
        self.images_on.set()
        # Goals are single reliable messages: one sent before discovery matched is lost.
        assert wait_for(lambda: all(p.get_subscription_count() > 0 for p in (
            self.goal_joint_pub, self.goal_pose_pub, self.goal_image_pub)))

    def goal_joints(self, positions_by_name):
        """Publish a goal JointState (names in the given order)."""
        msg = JointState(name=list(positions_by_name))
        msg.position = [float(v) for v in positions_by_name.values()]
        self.goal_joint_pub.publish(msg)


def make_node(graph, ckpt, ns, activate=True, **overrides):
    """A PlannerNode in ``ns`` with small, fast planner settings, added to the executor."""
    values = dict(model_path=str(ckpt), num_samples=32, num_elites=4, num_iterations=2,
                  horizon=4, plan_rate_hz=RATE, stale_timeout=1.0, max_skew=0.2,
                  max_plan_time=0.5, diagnostics_period=0.2, log_throttle_period=0.2)
    values.update(overrides)
    return start_node(graph, PlannerNode, ns, values, activate)


def close_node(graph, node):
    """Deactivate (one zero command, timer gone), remove from the executor, free it."""
    if node.lifecycle_state == 'active':
        node.trigger_deactivate()
    graph.retire(node)
    node.destroy_node()


@pytest.fixture
def rig(graph, ckpt, request):
    """An active node, a streaming feeder and a joint goal, in a namespace per test."""
    # The tail keeps the parameter id: every case gets its own namespace.
    ns = '/t_' + re.sub(r'\W', '_', request.node.name)[-40:]
    params = dict(getattr(request, 'param', {}))
    model = request.getfixturevalue(params.pop('ckpt', 'ckpt'))
    joints, goal = params.pop('joints', JOINTS), params.pop('goal', None)
    topic = params.pop('topic', params.get('output', 'joint_trajectory'))
    node = make_node(graph, model, ns, **params)
    feeder = Feeder(graph, ns, topic, joints)
    try:
        feeder.start()
        assert wait_for(lambda: node.counters.get('images_received') > 0)
        if goal is None:
            feeder.goal_joints({'joint_b': -0.5, 'joint_a': 0.5})
        else:
            feeder.goal_pose_pub.publish(goal())
        assert wait_for(lambda: len(feeder.out['cmd']) >= 2), node.counters.snapshot()
        yield node, feeder
    finally:
        feeder.close()
        close_node(graph, node)


def test_bad_checkpoint_fails_configure_then_a_full_lifecycle(graph, ckpt, tmp_path):
    """Missing or mismatched checkpoints: FAILURE with the reason; then the full walk."""
    node = make_node(graph, ckpt, '/lc', activate=False,
                     model_path=str(tmp_path / 'missing.safetensors'))
    try:
        configure_fails(node)
        status = node.diagnostics().status[0]
        assert status.level == DiagnosticStatus.ERROR and 'not found' in status.message
        assert node.set_parameters([Parameter('model_path', value=str(ckpt)),
                                    Parameter('velocity_max', value=[1.0, 1.0, 1.0])])[0] \
            .successful
        configure_fails(node)
        assert 'does not fit' in node.diagnostics().status[0].message
        node.set_parameters([Parameter('velocity_max', value=[1.0])])
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.diagnostics().status[0].level == DiagnosticStatus.OK
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        topics = {s.topic_name for s in node.subscriptions}
        assert {'/lc/image', '/lc/joint_states', '/lc/planner_node/goal_pose'} <= topics
        assert '/lc/odom' not in topics          # the model has no pose in its state
        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert '/lc/image' not in {s.topic_name for s in node.subscriptions}
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert node.runtime is None
        assert node.trigger_shutdown() == TransitionCallbackReturn.SUCCESS
    finally:
        close_node(graph, node)


def test_config_file_sets_every_parameter_and_fits_the_shipped_arm_model(graph):
    """config/ros/planner.yaml: exactly the declared parameters (but the deprecated names);
    configures the arm model."""
    with open(_path('config', 'ros', 'planner.yaml'), encoding='utf-8') as f:
        (section,) = yaml.safe_load(f).values()     # one node section, key '/**/planner_node'
        values = section['ros__parameters']
    assert set(values) == set(PARAMS) - {'velocity_min', 'velocity_max'}
    node = PlannerNode(context=graph.context, namespace='/yaml', parameter_overrides=[
        Parameter(k, value=v) for k, v in values.items()])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.runtime.joint_names == ['joint1', 'joint2', 'joint3']
        assert node.runtime.checkpoint.path.name == 'arm_tiny.safetensors'
        limits = node.controller.limits
        assert limits.has_positions and limits.position_max[0] == 2.9
    finally:
        node.destroy_node()


TIGHT = dict(velocity_min=[-0.05], velocity_max=[0.05], acceleration_max=[0.1],
             init_std=1.0)


@pytest.mark.parametrize('rig', [
    dict(TIGHT, output='joint_trajectory', joint_position_min=[-1.0, -1.0],
         joint_position_max=[1.0, 1.0]),
    dict(TIGHT, output='cmd_vel', use_twist_stamped=True),
    dict(TIGHT, output='float64_multi_array')], indirect=True,
    ids=['joint_trajectory', 'twist_stamped', 'float64'])
def test_recommendations_are_stamped_and_respect_velocity_and_acceleration(rig):
    """Image stamp/frame copied; every command within +-0.05 and changes <= 0.1 * 0.1 s."""
    node, feeder = rig
    assert wait_for(lambda: len(feeder.out['cmd']) >= 8, 10.0), node.counters.snapshot()
    msgs = list(feeder.out['cmd'])
    assert node.status == 'planning' and 'planning' in feeder.out['status']
    stops = [s for s in feeder.out['status'] if s not in ('planning', 'no_goal')]
    assert not stops, stops          # a stop is the one command free of the accel limit
    values = np.array([command_values(m) for m in msgs])
    assert np.all(np.abs(values) <= 0.05 + EPS), values
    steps = np.abs(np.diff(np.vstack([np.zeros(2), values]), axis=0))
    assert np.all(steps <= 0.1 / RATE + 1e-7), steps
    # The plan itself would have jumped further: the limiter acted.
    assert node.counters.get('limit_acceleration') > 0, node.counters.snapshot()
    assert all(math.isfinite(c.data) for c in feeder.out['cost'])
    # ~/plan_figures: the image's stamp and frame, the plan's cost in z, no risk head (x NaN).
    assert wait_for(lambda: len(feeder.out['figures']) >= 8)
    costs = {c.data for c in feeder.out['cost']}   # float32 values
    for m in feeder.out['figures'][:8]:
        assert stamp_key(m.header.stamp) in feeder.image_keys
        assert m.header.frame_id == 'camera_optical'
        assert math.isnan(m.vector.x) and float(np.float32(m.vector.z)) in costs
    if not isinstance(msgs[0], Float64MultiArray):
        for m in msgs:
            assert stamp_key(m.header.stamp) in feeder.image_keys
            # Commands are in the robot's base frame (base_frame_id), not the camera's.
            assert m.header.frame_id == 'base_link'
    if isinstance(msgs[0], JointTrajectory):
        for m in msgs:
            assert list(m.joint_names) == JOINTS and len(m.points) == 4
            pos = np.array([p.positions for p in m.points])
            vel = np.array([p.velocities for p in m.points])
            assert np.all(np.abs(pos) <= 1.0 + EPS) and np.all(np.abs(vel) <= 0.05 + EPS)
            # Later points obey the acceleration limit over each 0.1 s model step too.
            assert np.all(np.abs(np.diff(vel, axis=0)) <= 0.1 * 0.1 + 1e-7), vel
            stamp = m.header.stamp.sec + m.header.stamp.nanosec * 1e-9
            q0 = np.array(joint_positions(stamp))
            np.testing.assert_allclose(pos[0], q0 + 0.1 * vel[0], atol=0.01)
            np.testing.assert_allclose(np.diff(pos, axis=0), 0.1 * vel[1:], atol=1e-9)
            t = [p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in m.points]
            np.testing.assert_allclose(t, [0.1, 0.2, 0.3, 0.4], atol=1e-6)
    assert wait_for(lambda: any(s.level == DiagnosticStatus.OK for s in feeder.out['diag']))


def test_stale_inputs_stop_with_zero_and_recover(rig):
    """No new images: a zero command and status stale_inputs; planning resumes after."""
    node, feeder = rig
    feeder.images_on.clear()
    assert wait_for(lambda: 'stale_inputs' in feeder.out['status'], 5.0)
    assert wait_for(lambda: not command_values(feeder.out['cmd'][-1]).any(), 2.0)
    assert node.counters.get('image_stale') > 0
    assert wait_for(lambda: any(s.level == DiagnosticStatus.WARN and 'stale_inputs' in
                                s.message for s in feeder.out['diag']), 3.0)
    n = len(feeder.out['cmd'])
    feeder.images_on.set()
    assert wait_for(lambda: feeder.out['status'][-1] == 'planning', 5.0)
    assert wait_for(lambda: any(command_values(m).any() for m in feeder.out['cmd'][n:]), 3.0)


def test_disable_sends_one_zero_and_nothing_else(rig):
    """~/enable false: one zero command, status disabled, silence; true resumes."""
    node, feeder = rig
    n = len(feeder.out['cmd'])
    response = feeder.call(SetBool, 'enable', SetBool.Request(data=False))
    assert response.success and response.message == 'disabled'
    assert wait_for(lambda: feeder.out['status'] and feeder.out['status'][-1] == 'disabled')
    time.sleep(1.0)                                   # ~10 plan periods
    after = [command_values(m) for m in feeder.out['cmd'][n:]]
    zeros = [i for i, v in enumerate(after) if not v.any()]
    # In-flight plans may land before the zero, never after it.
    assert len(zeros) == 1 and zeros[0] == len(after) - 1, after
    assert node.get_parameter('enabled').value is False
    assert feeder.call(SetBool, 'enable', SetBool.Request(data=True)).success
    assert wait_for(lambda: feeder.out['status'][-1] == 'planning', 5.0)


@pytest.mark.parametrize('rig', [{'plan_rate_hz': 0.5}], indirect=True)
def test_enable_with_a_goal_plans_at_once(rig):
    """~/enable true with a goal set: the first plan runs in the call, on the newest
    frame, not at the next plan tick (here up to 2 s away)."""
    node, feeder = rig
    n = len(feeder.out['cmd'])
    assert wait_for(lambda: len(feeder.out['cmd']) > n, 3.0)   # a tick just ran
    assert feeder.call(SetBool, 'enable', SetBool.Request(data=False)).success
    assert wait_for(lambda: feeder.out['status'][-1] == 'disabled')
    n = len(feeder.out['cmd'])
    started = time.monotonic()
    assert feeder.call(SetBool, 'enable', SetBool.Request(data=True)).success
    assert wait_for(lambda: len(feeder.out['cmd']) > n, 1.0), node.counters.snapshot()
    assert time.monotonic() - started < 1.0
    assert command_values(feeder.out['cmd'][n]).any()
    assert feeder.out['status'][-1] == 'planning' or wait_for(
        lambda: feeder.out['status'][-1] == 'planning', 1.0)


BAD_PARAMETERS = [
    ('horizon', 0), ('num_elites', 500), ('velocity_min', [2.0]), ('velocity_max', [-0.5]),
    ('velocity_max', [1.0, 1.0, 1.0]), ('acceleration_max', [0.0]), ('output', 'teleport'),
    ('method', 'gradient'), ('max_plan_time', -1.0), ('stale_timeout', float('nan')),
    ('joint_position_min', [-1.0, -1.0]), ('device', 'tpu'), ('init_std', 'wide'),
    ('action_joint_names', ['joint_a', 'joint_a']), ('max_risk', 2.0),
]


def test_invalid_parameters_are_rejected_whole(graph, ckpt):
    """Each bad value is rejected with a reason; a batch with one bad value changes nothing."""
    node = make_node(graph, ckpt, '/params')
    try:
        for name, value in BAD_PARAMETERS:
            before = getattr(node.settings, name)
            result = node.set_parameters([Parameter(name, value=value)])[0]
            assert not result.successful and result.reason, (name, value)
            assert getattr(node.settings, name) == before, name
        planner = node.controller.planner
        result = node.set_parameters_atomically([Parameter('horizon', value=6),
                                                 Parameter('velocity_min', value=[2.0])])
        assert not result.successful and node.settings.horizon == 4
        assert node.get_parameter('horizon').value == 4 and node.controller.planner is planner
        result = node.set_parameters_atomically([Parameter('horizon', value=6),
                                                 Parameter('num_samples', value=48)])
        assert result.successful and node.controller.planner.config.horizon == 6
        assert node.controller.planner.config.num_samples == 48
        assert node.set_parameters([Parameter('joint_position_min', value=[-1.0, -1.0]),
                                    Parameter('joint_position_max', value=[1.0, 1.0])])[0] \
            .successful is False                      # set one by one: each alone is invalid
        assert node.set_parameters_atomically([
            Parameter('joint_position_min', value=[-1.0, -1.0]),
            Parameter('joint_position_max', value=[1.0, 1.0])]).successful
        assert node.controller.limits.has_positions
        # plan_rate_hz applies at the next activate: until then the limiter keeps the dt of
        # the timer that runs (a larger dt would allow larger command steps).
        assert node.set_parameters([Parameter('plan_rate_hz', value=2.0)])[0].successful
        assert node._period == pytest.approx(1.0 / RATE)
    finally:
        close_node(graph, node)


def test_configure_refuses_bad_action_fields_and_a_search_over_max_plan_time(graph, ckpt):
    """Start-up values get the runtime checks at configure (a misspelt cmd_vel action field
    used to configure and then fail in every tick), and a search whose samples alone need
    seconds against max_plan_time 0.5 s is refused at configure and at a change, without
    running it."""
    node = make_node(graph, ckpt, '/budget', activate=False, output='cmd_vel',
                     action_fields=['linear.x', 'angualr.z'], num_samples=100000,
                     num_elites=16, horizon=50, num_iterations=3)
    try:
        configure_fails(node)
        assert 'angualr.z' in node.diagnostics().status[0].message
        assert node.set_parameters([Parameter('action_fields',
                                              value=['linear.x', 'angular.z'])])[0].successful
        started = time.monotonic()
        configure_fails(node)
        assert time.monotonic() - started < 3.0     # refused before the warm-up plan
        assert 'max_plan_time' in node.diagnostics().status[0].message
        assert node.set_parameters([Parameter('num_samples', value=64)])[0].successful
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        result = node.set_parameters([Parameter('num_samples', value=100000)])[0]
        assert not result.successful and 'max_plan_time' in result.reason
    finally:
        close_node(graph, node)


def test_rollout_model_is_checked_at_configure_and_auto_falls_back(graph, ckpt, tmp_path):
    """A named student file that is not there fails configure with the reason; ``auto``
    with no student beside the model configures with the ensemble."""
    node = make_node(graph, ckpt, '/rollout_model', activate=False,
                     rollout_model=str(tmp_path / 'missing_rollout.safetensors'))
    try:
        configure_fails(node)
        message = node.diagnostics().status[0].message
        assert 'rollout_model' in message and 'missing_rollout' in message
        assert node.set_parameters([Parameter('rollout_model', value='auto')])[0].successful
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.controller.rollout_source == 'the dynamics ensemble'
    finally:
        close_node(graph, node)


def test_bad_goals_are_counted_and_the_node_keeps_planning(rig):
    """Bad pose, joint and image goals are counted, the node keeps planning; image goals and
    ~/capture_goal replace the goal."""
    node, feeder = rig
    pose = PoseStamped()
    pose.header.frame_id = 'odom'
    pose.pose.position.x = 1.0
    feeder.goal_pose_pub.publish(pose)
    assert wait_for(lambda: node.counters.get('goal_pose_unsupported') == 1)
    feeder.goal_joints({'joint_a': float('nan'), 'joint_b': 0.0})
    assert wait_for(lambda: node.counters.get('goal_joint_state_nonfinite') == 1)
    feeder.goal_joints({'gripper': 0.1})
    assert wait_for(lambda: node.counters.get('goal_joint_state_unrelated') == 1)
    assert node.goal.kind == 'joint_state' and node.lifecycle_state == 'active'
    n = len(feeder.out['cmd'])
    assert wait_for(lambda: len(feeder.out['cmd']) > n + 2)
    assert feeder.out['status'][-1] == 'planning'
    bad = rgb_to_image_msg(np.zeros((8, 8, 3), np.uint8), 'rgb8')
    bad.encoding = 'yuv_from_mars'
    feeder.goal_image_pub.publish(bad)
    assert wait_for(lambda: node.counters.get('goal_image_bad_encoding') == 1)
    assert node.counters.get('image_bad_encoding') == 0     # camera counters untouched
    feeder.goal_image_pub.publish(rgb_to_image_msg(np.full((20, 30, 3), 90, np.uint8), 'rgb8'))
    assert wait_for(lambda: node.goal.kind == 'image')
    assert node.goal.target.numel() == node.runtime.config.image_latent_dim
    response = feeder.call(Trigger, 'capture_goal', Trigger.Request())
    assert response.success, response.message
    assert node.goal.kind == 'latent'
    values = {kv.key: kv.value for kv in node.diagnostics().status[0].values}
    assert int(values['count.goal_pose_unsupported']) == 1


@pytest.mark.parametrize('rig, status, counter', [
    (dict(max_plan_time=0.001), 'overrun', 'plan_overrun'),
    (dict(ckpt='risky_ckpt', risk_weight=1.0, max_risk=0.001), 'risk_too_high', 'plan_risk'),
    (dict(ckpt='risky_ckpt', disagreement_weight=1.0, max_disagreement=1e-9),
     'uncertainty_too_high', 'plan_uncertainty')],
    indirect=['rig'], ids=['overrun', 'risk', 'disagreement'])
def test_safety_stops_publish_zero_and_say_why(rig, status, counter):
    """Slow plans, risky plans and uncertain plans: zero commands, status and diagnostics."""
    node, feeder = rig
    assert wait_for(lambda: feeder.out['status'] and feeder.out['status'][-1] == status)
    assert node.counters.get(counter) > 0 and node.counters.get(f'stop_{status}') > 0
    cmds = [command_values(m) for m in feeder.out['cmd']]
    assert cmds and not any(v.any() for v in cmds), 'a stopped planner recommended motion'
    assert wait_for(lambda: any(s.level == DiagnosticStatus.WARN and status in s.message
                                for s in feeder.out['diag']), 3.0)
    if status == 'risk_too_high':   # the figures that stopped it are published
        assert wait_for(lambda: feeder.out['figures'])
        assert all(m.vector.x > 0.001 for m in feeder.out['figures'])


def goal_pose_msg(frame='odom'):
    """A pose goal 1 m ahead, facing left."""
    msg = PoseStamped()
    msg.header.frame_id = frame
    msg.pose.position.x, msg.pose.position.y = 1.0, 0.5
    msg.pose.orientation.z, msg.pose.orientation.w = math.sin(0.25 * math.pi), \
        math.cos(0.25 * math.pi)
    return msg


@pytest.mark.parametrize('rig', [dict(
    ckpt='base_ckpt', joints=WHEELS, goal=goal_pose_msg, output='cmd_vel', topic='twist',
    goal_yaw_weight=0.5, action_fields=['linear.x', 'angular.z'], velocity_min=[-0.3],
    velocity_max=[0.3])], indirect=True, ids=['mobile_base'])
def test_mobile_base_plans_to_a_pose_goal_with_odometry_and_a_planned_path(rig):
    """Pose in state: odom subscribed, goal_pose planned, Twist out, planned_path in odom."""
    node, feeder = rig
    assert node.get_namespace() + '/odom' in {s.topic_name for s in node.subscriptions}
    assert node.goal.kind == 'pose' and node.goal.yaw_weight == 0.5
    assert wait_for(lambda: len(feeder.out['path']) >= 3 and len(feeder.out['cmd']) >= 3)
    for m in feeder.out['cmd']:
        v = command_values(m)
        assert np.all(np.abs(v) <= 0.3 + EPS) and m.linear.y == m.angular.x == 0.0
    for path in feeder.out['path']:
        assert path.header.frame_id == 'odom' and len(path.poses) == 5
        assert stamp_key(path.header.stamp) in feeder.image_keys
    feeder.goal_pose_pub.publish(goal_pose_msg('map'))
    assert wait_for(lambda: node.counters.get('goal_pose_wrong_frame') == 1)
    assert feeder.out['status'][-1] == 'planning'


def scan_msg(stamp, range_min=0.05, range_max=3.0):
    """A 16-beam 360-degree scan: 2 m all round but 0.4 m straight ahead."""
    msg = LaserScan()
    msg.header.stamp, msg.header.frame_id = stamp, 'base_scan'
    msg.angle_min, msg.angle_increment = -math.pi, 2 * math.pi / 16
    msg.angle_max = msg.angle_min + 15 * msg.angle_increment
    msg.range_min, msg.range_max = range_min, range_max
    msg.ranges = [2.0] * 16
    msg.ranges[8] = 0.4
    return msg


@pytest.mark.parametrize('rig', [dict(
    ckpt='base_ckpt', joints=WHEELS, goal=goal_pose_msg, output='cmd_vel', topic='twist',
    obstacle_weight=10.0, scan_mount=[0.1, 0.0, 0.0], action_fields=['linear.x', 'angular.z'],
    velocity_min=[-0.3], velocity_max=[0.3])], indirect=True, ids=['obstacles'])
def test_obstacle_term_plans_on_the_scan_and_stops_without_one(rig):
    """With obstacle_weight, a pose goal is planned only with a fresh scan: without one
    the node publishes zero and says stale_inputs (scan_stale); with scans it plans with
    the 'obstacles' term; a bad scan is counted and planning goes on; a scan_mount that is
    not (x, y, yaw) is rejected."""
    node, feeder = rig
    assert node.get_namespace() + '/scan' in {s.topic_name for s in node.subscriptions}
    assert wait_for(lambda: node.counters.get('scan_stale') >= 2), node.counters.snapshot()
    assert feeder.out['status'][-1] == 'stale_inputs'
    assert all(not np.any(command_values(m)) for m in feeder.out['cmd'])
    feeder.scans_on.set()
    assert wait_for(lambda: feeder.out['status'][-1] == 'planning'), node.counters.snapshot()
    assert set(node.controller.objective.terms) == {'goal', 'obstacles'}
    assert node.counters.get('scans_received') > 0 and node.counters.get('internal_error') == 0
    feeder.scan_pub.publish(scan_msg(feeder.now(), range_min=2.0, range_max=1.0))
    assert wait_for(lambda: node.counters.get('scan_invalid') == 1)
    count = node.counters.get('plans')
    assert wait_for(lambda: node.counters.get('plans') > count + 2)
    result = node.set_parameters([Parameter('scan_mount', value=[0.1, 0.0])])[0]
    assert not result.successful and 'scan_mount' in result.reason
    node.set_parameters([Parameter('obstacle_weight', value=0.0)])
    assert node.controller.objective.terms == ('goal',)


def room_map(width=40, resolution=0.1, data=None):
    """A 4 m x 4 m map around the odom origin with a wall across x = 0.5 m, y < 1 m."""
    grid = OccupancyGrid()
    grid.header.frame_id = 'odom'
    grid.info.resolution, grid.info.width, grid.info.height = resolution, width, width
    grid.info.origin.position.x = grid.info.origin.position.y = -2.0
    grid.info.origin.orientation.w = 1.0
    cells = np.zeros((width, width), dtype=np.int8)
    cells[:30, 25] = 100
    grid.data = cells.reshape(-1).tolist() if data is None else data
    return grid


def test_mobile_base_plans_on_the_map_with_the_clearance_term(graph, base_scan_ckpt):
    """A latched map (published before the node subscribed) turns the pose goal's cost into
    the path length around the wall; the clearance term and action repeat plan too; a bad
    map is counted and the good one stays."""
    ns = f'/map{os.getpid()}'
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    feeder = Feeder(graph, ns, 'twist', WHEELS)
    map_pub = feeder.node.create_publisher(OccupancyGrid, 'map', latched)
    map_pub.publish(room_map())
    node = make_node(graph, base_scan_ckpt, ns, output='cmd_vel', clearance_weight=5.0,
                     action_repeat=2, map_inflation=0.2, velocity_min=[-0.3],
                     velocity_max=[0.3], action_fields=['linear.x', 'angular.z'])
    try:
        feeder.start()
        assert wait_for(lambda: node.counters.get('maps') == 1)
        feeder.goal_pose_pub.publish(goal_pose_msg())      # (1.0, 0.5): behind the wall
        assert wait_for(lambda: len(feeder.out['cmd']) >= 3), node.counters.snapshot()
        assert set(node.controller.objective.terms) == {'goal', 'clearance'}
        assert node.controller.objective.needs_scene and node.counters.get('internal_error') == 0
        field = node.controller.navigation
        assert field is not None
        # From the odom origin the way to the goal leads around the wall's end (y = 1 m).
        start = field.distance(torch.tensor([0.0, 0.5]))
        assert float(start) > 1.5 * math.hypot(1.0, 0.0)
        assert wait_for(lambda: len(feeder.out['path']) >= 2)
        assert len(feeder.out['path'][-1].poses) == 5       # horizon 4 + the start
        map_pub.publish(room_map(data=[0] * 10))            # wrong size
        assert wait_for(lambda: node.counters.get('map_invalid') == 1)
        assert node.controller.navigation is field
        assert node.static_map.occupancy.shape == (40, 40)
        # The same goal re-published: a repeat (goal_repeats.py), nothing rebuilt.
        feeder.goal_pose_pub.publish(goal_pose_msg())
        assert wait_for(lambda: node.counters.get('goals_repeated') == 1)
        assert node.counters.get('goals') == 1 and node.controller.navigation is field
        node.set_parameters([Parameter('use_map', value=False)])
        assert node.controller.navigation is None and feeder.out['status'][-1] == 'planning'
    finally:
        feeder.close()
        close_node(graph, node)
