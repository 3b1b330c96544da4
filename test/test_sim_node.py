"""sim_node over real DDS: topics a real robot would publish, commands, bad input, shutdown.

The node under test runs in this process on its own rclpy context, spun by an executor
in a background thread (test/ros_graph.py) together with a probe node that subscribes
and publishes through DDS like any other ROS 2 process would. One test starts the real
entry point in a subprocess. Each test has its own namespace; every wait is bounded.
"""

import math
import os
import time

import numpy as np
import pytest

try:
    from builtin_interfaces.msg import Duration
    from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
    from nav_msgs.msg import OccupancyGrid, Odometry
    import rclpy
    from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CameraInfo, Image, JointState, LaserScan
    from std_msgs.msg import Bool, Float64MultiArray, String
    from std_srvs.srv import Trigger
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    from rclpy.exceptions import ParameterException

    from jepa_world_model.ros.sim_node import SimNode, SimParameterError
    from ros_graph import callbacks_do_not_raise, graph_fixture  # noqa: F401 - fixtures
    from ros_graph import wait_for
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

from dds_marks import IN_PROCESS_NODE_MARKS
from entry_point_process import EntryPoint, run_to_end

pytestmark = IN_PROCESS_NODE_MARKS

TIMEOUT = 10.0
ARM_JOINTS = ['joint1', 'joint2', 'joint3']


class Probe:
    """Subscribes to the simulator's outputs and publishes commands into it."""

    def __init__(self, graph, ns, stamped=False):
        self.graph = graph
        self.node = rclpy.create_node('probe', namespace=ns, context=graph.context)
        self.out = {name: [] for name in ('image', 'info', 'joints', 'odom', 'clock',
                                          'contact', 'collision', 'scan', 'map')}
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        sub, reliable = self.node.create_subscription, QoSProfile(depth=50)
        for key, mtype, topic, qos in (
                ('image', Image, 'image', qos_profile_sensor_data),
                ('info', CameraInfo, 'camera_info', qos_profile_sensor_data),
                ('joints', JointState, 'joint_states', reliable),
                ('odom', Odometry, 'odom', reliable),
                ('clock', Clock, '/clock', reliable),
                ('contact', Bool, 'sim_node/contact', reliable),
                ('collision', Bool, 'sim_node/collision', reliable),
                ('scan', LaserScan, 'scan', qos_profile_sensor_data),
                ('map', OccupancyGrid, 'map', latched)):
            sub(mtype, topic, self.out[key].append, qos)
        pub = self.node.create_publisher
        self.commands = pub(Float64MultiArray, 'commands', 10)
        self.trajectory = pub(JointTrajectory, 'joint_trajectory', 10)
        # One type per topic name in a process: Twist, or TwistStamped when ``stamped``.
        self.twist = pub(TwistStamped if stamped else Twist, 'cmd_vel', 10)
        graph.executor.add_node(self.node)

    def latest(self, key):
        """Newest message received on ``key`` (None if none yet)."""
        return self.out[key][-1] if self.out[key] else None

    def stream(self, publisher, msg, seconds, rate=20.0):
        """Publish ``msg`` repeatedly for ``seconds`` (a teleop-style command stream)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            publisher.publish(msg)
            time.sleep(1.0 / rate)

    def close(self):
        """Remove the probe node from the executor and destroy it."""
        self.graph.retire(self.node)
        self.node.destroy_node()


def start_sim(graph, ns, **params):
    """Create a SimNode in namespace ``ns`` with ``params`` and add it to the executor."""
    overrides = [rclpy.parameter.Parameter(k, value=v) for k, v in params.items()]
    node = SimNode(context=graph.context, namespace=ns, parameter_overrides=overrides)
    graph.executor.add_node(node)
    return node


def stop_sim(graph, node):
    """Remove ``node`` from the executor, close its robot and destroy it."""
    graph.retire(node)
    node.close()
    node.destroy_node()


def joints_of(msg):
    """Positions of a JointState as {name: value}."""
    return dict(zip(msg.name, msg.position))


def test_arm_topics_commands_and_bad_input(graph):
    """The arm publishes camera, joint states and clock; commands move it; junk is counted."""
    ns = f'/arm{os.getpid()}'
    node = start_sim(graph, ns, robot='arm', rate_hz=20.0, seed=3)
    probe = Probe(graph, ns)
    try:
        assert wait_for(lambda: all(len(probe.out[k]) >= 3 for k in (
            'image', 'info', 'joints', 'clock', 'contact', 'collision'))), {
                k: len(v) for k, v in probe.out.items()}
        image, info = probe.latest('image'), probe.latest('info')
        assert (image.width, image.height, image.encoding) == (64, 64, 'rgb8')
        assert image.header.frame_id == info.header.frame_id == 'camera_optical_frame'
        assert info.k[0] > 0 and info.k[2] == 32.0 and info.distortion_model == 'plumb_bob'
        joints = probe.latest('joints')
        assert list(joints.name) == ARM_JOINTS and joints.header.frame_id == 'base_link'
        clock = probe.out['clock'][-1].clock
        assert clock.sec + clock.nanosec * 1e-9 > 0.0   # simulated time, not wall time

        # forward_command_controller-style velocities: joint1 turns at ~1 rad/s.
        before = joints_of(probe.latest('joints'))
        probe.stream(probe.commands, Float64MultiArray(data=[1.0, 0.0, 0.0]), 0.8)
        after = joints_of(probe.latest('joints'))
        assert after['joint1'] - before['joint1'] > 0.3
        assert abs(after['joint2'] - before['joint2']) < 0.1
        # Stale command: within the timeout (+ delivery) the arm stops by itself.
        assert wait_for(lambda: max(abs(v) for v in probe.latest('joints').velocity) < 0.05,
                        timeout=3.0)

        # joint_trajectory with positions (any joint order): P-control toward the goal.
        goal = {'joint3': 0.5, 'joint1': 2.4, 'joint2': -0.6}   # clear of the obstacle
        point = JointTrajectoryPoint(positions=list(goal.values()),
                                     time_from_start=Duration(sec=3))
        probe.trajectory.publish(JointTrajectory(joint_names=list(goal), points=[point]))
        assert wait_for(lambda: all(abs(joints_of(probe.latest('joints'))[n] - goal[n]) < 0.1
                                    for n in goal), timeout=8.0), joints_of(
                                        probe.latest('joints'))

        # Bad commands are counted and ignored; the node keeps running.
        bad = [(probe.commands, Float64MultiArray(data=[1.0, 2.0])),
               (probe.commands, Float64MultiArray(data=[math.nan, 0.0, 0.0])),
               (probe.trajectory, JointTrajectory(
                   joint_names=['joint1', 'joint2', 'elbow'],
                   points=[JointTrajectoryPoint(velocities=[0.1, 0.1, 0.1])]))]
        for publisher, msg in bad:
            publisher.publish(msg)
        assert wait_for(lambda: node.bad_commands >= 3), node.bad_commands
        count = len(probe.out['joints'])
        assert wait_for(lambda: len(probe.out['joints']) > count + 3)
        assert not any(math.isnan(v) for v in probe.latest('joints').position)
    finally:
        probe.close()
        stop_sim(graph, node)


def test_tabletop_ground_truth_and_gripper_commands(graph):
    """The tabletop robot publishes its 4 joints (gripper included), each object's pose on
    /ground_truth/<name> in world with the joint state's stamp and the cube's material on
    /ground_truth/cube_material; a gripper velocity command closes it and a stale command
    leaves it where it is (zero velocity holds)."""
    ns = f'/tabletop{os.getpid()}'
    node = start_sim(graph, ns, robot='tabletop', rate_hz=20.0, seed=5)
    probe = Probe(graph, ns)
    poses = {name: [] for name in ('block', 'cube', 'distractor')}
    for name, received in poses.items():
        probe.node.create_subscription(PoseStamped, f'/ground_truth/{name}', received.append,
                                       QoSProfile(depth=50))
    materials = []
    probe.node.create_subscription(String, '/ground_truth/cube_material', materials.append,
                                   QoSProfile(depth=50))
    try:
        assert wait_for(lambda: len(probe.out['joints']) >= 3 and materials and all(
            len(v) >= 3 for v in poses.values())), {k: len(v) for k, v in poses.items()}
        assert {m.data for m in materials} == {node.robot.cube_material}
        joints = probe.latest('joints')
        assert list(joints.name) == ['yaw', 'reach', 'lift', 'gripper']
        cube = poses['cube'][-1]
        assert cube.header.frame_id == 'world' and 0.02 < cube.pose.position.z < 0.04
        stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in probe.out['joints']}
        assert (cube.header.stamp.sec, cube.header.stamp.nanosec) in stamps
        opening = joints_of(probe.latest('joints'))['gripper']
        probe.stream(probe.commands, Float64MultiArray(data=[0.0, 0.0, 0.0, -0.1]), 0.6)
        closed = joints_of(probe.latest('joints'))['gripper']
        assert closed < opening - 0.02, (opening, closed)
        time.sleep(1.0)   # the command goes stale: the gripper stays closed
        assert joints_of(probe.latest('joints'))['gripper'] < closed + 0.005
    finally:
        probe.close()
        stop_sim(graph, node)


@pytest.mark.parametrize('stamped', [False, True], ids=['twist', 'twist_stamped'])
def test_mobile_base_odometry_and_cmd_vel(graph, stamped):
    """cmd_vel (Twist or TwistStamped) drives the base; odom and wheel states follow."""
    ns = f'/base{os.getpid()}{int(stamped)}'
    node = start_sim(graph, ns, robot='mobile_base', rate_hz=20.0, seed=1,
                     use_twist_stamped=stamped, camera_frame='overhead_camera_optical')
    probe = Probe(graph, ns, stamped)
    try:
        assert wait_for(lambda: all(len(probe.out[k]) >= 3 for k in (
            'image', 'joints', 'odom', 'clock', 'scan')) and probe.out['map'])
        odom = probe.latest('odom')
        # The room's static map, latched (the probe subscribed after it was published), and
        # a 360-degree scan stamped like odom, every range inside the room.
        grid = probe.latest('map')
        assert grid.header.frame_id == 'odom' and grid.info.resolution == pytest.approx(0.05)
        cells = np.array(grid.data).reshape(grid.info.height, grid.info.width)
        assert set(np.unique(cells)) == {0, 100} and cells[0, 0] == 100
        scan = probe.latest('scan')
        assert scan.header.frame_id == 'laser' and len(scan.ranges) == 64   # REP 105
        assert scan.angle_min == pytest.approx(-math.pi) and 0.1 < min(scan.ranges) < 3.0
        assert (odom.header.frame_id, odom.child_frame_id) == ('odom', 'base_link')
        assert probe.latest('image').header.frame_id == 'overhead_camera_optical'
        assert list(probe.latest('joints').name) == ['wheel_left_joint', 'wheel_right_joint']
        # Turn in place (never hits anything), so the check does not depend on the room.
        twist = Twist()
        twist.angular.z = 1.0
        publisher, msg = probe.twist, TwistStamped(twist=twist) if stamped else twist
        yaw0 = 2.0 * math.atan2(odom.pose.pose.orientation.z, odom.pose.pose.orientation.w)
        probe.stream(publisher, msg, 0.6)
        odom = probe.latest('odom')
        assert odom.twist.twist.angular.z == pytest.approx(1.0, abs=0.1)
        yaw1 = 2.0 * math.atan2(odom.pose.pose.orientation.z, odom.pose.pose.orientation.w)
        assert abs(math.remainder(yaw1 - yaw0, 2 * math.pi)) > 0.2
        wheels = probe.latest('joints').velocity
        assert wheels[0] < -1.0 and wheels[1] > 1.0   # left backwards, right forwards
        assert odom.header.stamp == probe.latest('joints').header.stamp
        # NaN in a twist is rejected; the stale command then stops the base.
        twist.linear.x = math.nan
        publisher.publish(TwistStamped(twist=twist) if stamped else twist)
        assert wait_for(lambda: node.bad_commands >= 1)
        assert wait_for(lambda: abs(probe.latest('odom').twist.twist.angular.z) < 0.05,
                        timeout=3.0)
    finally:
        probe.close()
        stop_sim(graph, node)


def test_reset_service_time_and_runtime_parameters(graph):
    """~/reset starts a new episode (time never jumps back); runtime parameters validate."""
    ns = f'/reset{os.getpid()}'
    node = start_sim(graph, ns, robot='arm', rate_hz=20.0, publish_clock=False)
    probe = Probe(graph, ns)
    try:
        assert wait_for(lambda: len(probe.out['joints']) >= 3)
        before = probe.latest('joints').position
        client = probe.node.create_client(Trigger, 'sim_node/reset')
        assert client.wait_for_service(timeout_sec=TIMEOUT)
        future = client.call_async(Trigger.Request())
        assert wait_for(future.done) and future.result().success
        assert 'seed 1' in future.result().message
        count = len(probe.out['joints'])
        assert wait_for(lambda: len(probe.out['joints']) >= count + 3)
        assert not np.allclose(probe.latest('joints').position, before, atol=0.05)
        stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in probe.out['joints']]
        assert all(b > a for a, b in zip(stamps, stamps[1:]))
        # Runtime parameters: in range -> applied, out of range -> rejected.
        ok, bad = node.set_parameters([rclpy.parameter.Parameter('command_timeout', value=1.5),
                                       rclpy.parameter.Parameter('position_gain', value=-1.0)])
        assert ok.successful and not bad.successful
        assert node.command_timeout == 1.5 and node.position_gain == 2.0
        # publish_clock:=false: this node has no /clock publisher.
        clock_nodes = [(i.node_namespace, i.node_name)
                       for i in probe.node.get_publishers_info_by_topic('/clock')]
        assert (ns, 'sim_node') not in clock_nodes
    finally:
        probe.close()
        stop_sim(graph, node)


def test_lockstep_reset_sends_the_start_state_at_once_and_clock_last(graph):
    """In lock-step, ~/reset's start state goes out at once, not after the control period
    the simulator waits for a command; each step's /clock is sent after its sensor data.
    """
    ns = f'/lockreset{os.getpid()}'
    # 0.5 Hz: without a command the next step would come only after 2 s of wall time.
    node = start_sim(graph, ns, robot='arm', rate_hz=0.5, control_period=0.1,
                     step_on_command=True)
    probe = Probe(graph, ns)
    try:
        client = probe.node.create_client(Trigger, 'sim_node/reset')
        assert client.wait_for_service(timeout_sec=TIMEOUT)
        # Just after a tick: the next one is 2 s away.
        assert wait_for(lambda: len(probe.out['joints']) >= 1, timeout=5.0)
        count = len(probe.out['joints'])
        started = time.monotonic()
        future = client.call_async(Trigger.Request())
        assert wait_for(future.done) and future.result().success
        assert wait_for(lambda: len(probe.out['joints']) > count, timeout=1.5)
        assert time.monotonic() - started < 1.5
        stamp = probe.latest('joints').header.stamp
        assert wait_for(lambda: any(c.clock == stamp for c in probe.out['clock']), timeout=3.0)
        # The start state is the reset's: at rest.
        assert np.allclose(probe.latest('joints').velocity, 0.0)
        # Sent in order over one process's writers: the image of a step reaches a
        # subscriber before that step's /clock.
        images_seen = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in probe.out['image']}
        assert (stamp.sec, stamp.nanosec) in images_seen
    finally:
        probe.close()
        stop_sim(graph, node)


@pytest.mark.parametrize('params, error', [
    ({'robot': 'hexapod'}, 'robot must be one of'),
    ({'camera_frame': 'bad frame!'}, 'camera_frame'),
    ({'image_size': 4}, 'image_size'),
    ({'rate_hz': 0.0}, 'rate_hz'),
])
def test_invalid_parameters_are_rejected(graph, params, error):
    """Bad values stop construction with a clear reason."""
    overrides = [rclpy.parameter.Parameter(k, value=v) for k, v in params.items()]
    with pytest.raises((SimParameterError, ParameterException), match=error):
        SimNode(context=graph.context, namespace='/badparams', parameter_overrides=overrides)


def test_entry_point_runs_and_shuts_down_on_sigint(graph):
    """`python -m ...sim_node --ros-args ...` publishes odom and exits 0 on Ctrl-C."""
    ns = f'/proc{os.getpid()}'
    module, in_ns = 'jepa_world_model.ros.sim_node', ['-r', f'__ns:={ns}']
    proc = EntryPoint(module, in_ns + ['-p', 'robot:=mobile_base', '-p', 'publish_clock:=false'])
    probe = Probe(graph, ns)
    try:
        assert wait_for(lambda: len(probe.out['odom']) >= 2, timeout=30.0), 'no odom'
    finally:
        probe.close()
        code, output = proc.interrupt()
    assert code == 0, output
    assert 'mobile_base: 64px camera' in output and 'Traceback' not in output
    bad = run_to_end(module, in_ns + ['-p', 'robot:=tank'])
    assert bad.returncode == 2 and 'robot must be one of' in bad.stdout + bad.stderr
