"""agent_predictor_node over real DDS: scans of a walking blob in, stamped predictions out;
driven through its lifecycle (configure, activate, deactivate) like the other nodes' tests.

The node runs in this process on its own rclpy context (test/ros_graph.py) next to a probe
node that publishes odometry, the room's map and analytic scans (test/scan_scenes.py) and
subscribes to the node's outputs through DDS. Each test has its own namespace; every wait is
bounded.
"""

import math
import os

import numpy as np
import pytest

try:
    from geometry_msgs.msg import PoseArray
    from nav_msgs.msg import OccupancyGrid, Odometry
    import rclpy
    from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile
    from sensor_msgs.msg import LaserScan
    from visualization_msgs.msg import MarkerArray

    from rclpy.lifecycle import TransitionCallbackReturn
    from visualization_msgs.msg import Marker

    from jepa_world_model.ros.agents.node import AgentPredictorNode, horizon_topic
    from ros_graph import callbacks_do_not_raise, graph_fixture  # noqa: F401 - fixtures
    from ros_graph import wait_for
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

from dds_marks import IN_PROCESS_NODE_MARKS
from scan_scenes import ANGLE_MIN, BEAMS, cast, HALF, INCREMENT, RADIUS

pytestmark = IN_PROCESS_NODE_MARKS

TIMEOUT = 10.0
SPEED = 0.5   # m/s along +x


def stamp(seconds):
    from builtin_interfaces.msg import Time
    return Time(sec=int(seconds), nanosec=int(round((seconds % 1) * 1e9)))


def room_map():
    resolution, border = 0.05, 0.25
    n = int(2 * (HALF + border) / resolution)
    centres = -(HALF + border) + (np.arange(n) + 0.5) * resolution
    x, y = np.meshgrid(centres, centres)
    grid = OccupancyGrid()
    grid.header.frame_id = 'odom'
    grid.info.width = grid.info.height = n
    grid.info.resolution = resolution
    grid.info.origin.position.x = grid.info.origin.position.y = -(HALF + border)
    grid.info.origin.orientation.w = 1.0
    grid.data = np.where((np.abs(x) > HALF) | (np.abs(y) > HALF), 100, 0).astype(
        np.int8).reshape(-1).tolist()
    return grid


class Probe:
    """Publishes odom, map and scans; collects the node's outputs."""

    def __init__(self, graph, ns):
        self.graph = graph
        self.node = rclpy.create_node('probe', namespace=ns, context=graph.context)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.scan = self.node.create_publisher(LaserScan, 'scan', qos_profile_sensor_data)
        self.odom = self.node.create_publisher(Odometry, 'odom', 10)
        self.map = self.node.create_publisher(OccupancyGrid, 'map', latched)
        self.out = {'tracked': [], 'final': [], 'markers': []}
        sub = self.node.create_subscription
        sub(PoseArray, 'agent_predictor_node/tracked', self.out['tracked'].append, 50)
        sub(PoseArray, 'agent_predictor_node/' + horizon_topic(2.0)[2:],
            self.out['final'].append, 50)
        sub(MarkerArray, 'agent_predictor_node/markers', self.out['markers'].append, 50)
        graph.executor.add_node(self.node)

    def send(self, t, person_xy, robot=(0.0, 0.0, 0.0), beams=None):
        odom = Odometry()
        odom.header.stamp = stamp(t)
        odom.header.frame_id, odom.child_frame_id = 'odom', 'base_link'
        odom.pose.pose.position.x, odom.pose.pose.position.y = robot[0], robot[1]
        odom.pose.pose.orientation.z = math.sin(robot[2] / 2)
        odom.pose.pose.orientation.w = math.cos(robot[2] / 2)
        self.odom.publish(odom)
        scan = LaserScan(angle_min=ANGLE_MIN, angle_increment=INCREMENT, range_min=0.05,
                         range_max=10.0)
        scan.header.stamp = stamp(t)
        scan.header.frame_id = 'base_link'
        ranges = cast(robot, [(person_xy[0], person_xy[1], RADIUS)]) if beams is None \
            else beams
        scan.ranges = np.asarray(ranges, dtype=np.float32).tolist()
        self.scan.publish(scan)

    def close(self):
        self.graph.retire(self.node)
        self.node.destroy_node()


def start_node(graph, ns, **params):
    """The node, configured and activated (as a lifecycle manager or autostart would)."""
    overrides = [rclpy.parameter.Parameter(k, value=v) for k, v in params.items()]
    node = AgentPredictorNode(context=graph.context, namespace=ns,
                              parameter_overrides=overrides)
    assert node.lifecycle_state == 'unconfigured' and node.pipeline is None
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    graph.executor.add_node(node)
    return node


def stop_node(graph, node):
    graph.retire(node)
    node.destroy_node()


def walk(probe, t0, steps, start_x, bad_every=0):
    """Scans of a person walking along y = 1 at SPEED, 10 Hz (no sleeping: the stamps carry
    the time); returns the last stamp and position."""
    import time
    t, x = t0, start_x
    for k in range(steps):
        t, x = t0 + 0.1 * k, start_x + SPEED * 0.1 * k
        probe.send(t, (x, 1.0))
        time.sleep(0.03)   # let DDS deliver in order without flooding the queues
    return t, x


def test_a_walking_blob_is_tracked_and_predicted_with_the_scan_stamp(graph):
    ns = f'/agents{os.getpid()}'
    node = start_node(graph, ns)
    probe = Probe(graph, ns)
    try:
        probe.map.publish(room_map())
        assert wait_for(lambda: node.pipeline.static is not None, TIMEOUT)
        last_t, last_x = walk(probe, 100.0, 20, -1.5)
        assert wait_for(lambda: any(
            len(m.poses) == 1 and abs(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9
                                      - last_t) < 1e-6 for m in probe.out['final']), TIMEOUT), \
            (len(probe.out['final']), node.rejects)
        final = next(m for m in probe.out['final'] if abs(
            m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 - last_t) < 1e-6)
        assert final.header.frame_id == 'odom'
        predicted = final.poses[0].position
        # Constant velocity (no model): 2 s at 0.5 m/s ahead of the last position.
        assert predicted.x == pytest.approx(last_x + 2.0 * SPEED, abs=0.15)
        assert predicted.y == pytest.approx(1.0, abs=0.1)
        assert abs(final.poses[0].orientation.z) < 0.2    # heading along +x
        tracked = [m for m in probe.out['tracked'] if m.poses]
        assert tracked and tracked[-1].poses[0].position.x == pytest.approx(last_x, abs=0.1)
        ns_seen = {m.ns for array in probe.out['markers'] for m in array.markers}
        assert {'agents', 'agent_paths', 'agent_regions', 'agent_ids'} <= ns_seen
        # Deactivate: empty arrays and a marker array that deletes everything go out, the
        # tracks are dropped and scans are no longer taken.
        count = len(probe.out['final'])
        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert node.lifecycle_state == 'inactive'
        assert wait_for(lambda: any(not m.poses for m in probe.out['final'][count:]) and any(
            m.markers and all(x.action == Marker.DELETEALL for x in m.markers)
            for m in probe.out['markers']), TIMEOUT)
        assert not node.pipeline.tracker.tracks
        walk(probe, 110.0, 5, -1.5)
        assert all(not m.poses for m in probe.out['final'][count:])
        # Activated again, it predicts again from fresh tracks.
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        walk(probe, 120.0, 15, -1.5)
        assert wait_for(lambda: any(m.poses for m in probe.out['final'][count:]), TIMEOUT)
    finally:
        probe.close()
        stop_node(graph, node)


def test_bad_scans_are_counted_and_the_node_keeps_predicting(graph):
    ns = f'/agents_bad{os.getpid()}'
    node = start_node(graph, ns, use_map=False)
    probe = Probe(graph, ns)
    try:
        # Not one beam, then a scan whose stamp has no odometry near it.
        probe.send(50.0, (1.0, 1.0), beams=[])
        scan = LaserScan(angle_min=ANGLE_MIN, angle_increment=INCREMENT, range_min=0.05,
                         range_max=10.0, ranges=[1.0] * BEAMS)
        scan.header.stamp = stamp(80.0)
        probe.scan.publish(scan)
        assert wait_for(lambda: node.rejects.get('scan_invalid', 0) >= 1 and
                        node.rejects.get('scan_without_odom', 0) >= 1, TIMEOUT), node.rejects
        last_t, _ = walk(probe, 100.0, 12, -1.0)
        assert wait_for(lambda: any(m.poses for m in probe.out['final']), TIMEOUT)
    finally:
        probe.close()
        stop_node(graph, node)


def test_a_model_file_that_cannot_be_used_fails_configure_with_the_reason(graph, tmp_path):
    bad = tmp_path / 'not_a_model.safetensors'
    bad.write_bytes(b'junk')
    node = AgentPredictorNode(context=graph.context, namespace='/agents_model',
                              parameter_overrides=[rclpy.parameter.Parameter(
                                  'model_path', value=str(bad))])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert node.lifecycle_state == 'unconfigured' and node.pipeline is None
        assert 'agent predictor' in node._config_error
        # A usable setting then configures (constant velocity).
        node.set_parameters([rclpy.parameter.Parameter('model_path', value='')])
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    finally:
        node.destroy_node()


def test_the_shipped_predictor_runs_in_the_node(graph):
    model = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         'models', 'mobile_base_agents.safetensors')
    ns = f'/agents_model{os.getpid()}'
    node = start_node(graph, ns, model_path=model)
    probe = Probe(graph, ns)
    try:
        probe.map.publish(room_map())
        assert wait_for(lambda: node.pipeline.static is not None, TIMEOUT)
        last_t, last_x = walk(probe, 200.0, 15, -1.5)
        assert wait_for(lambda: node.forecast is not None and len(node.forecast.now) == 1,
                        TIMEOUT), node.rejects
        assert wait_for(lambda: any(m.poses for m in probe.out['final']), TIMEOUT)
        forecast = node.forecast
        assert np.all(np.isfinite(forecast.positions)) and np.all(forecast.spread > 0)
        # Walking along +x in open space: the learned forecast moves on in +x.
        assert forecast.positions[0, -1, 0] > forecast.now[0, 0] + 0.2
        assert np.all(np.diff(forecast.spread[0]) > 0)
    finally:
        probe.close()
        stop_node(graph, node)
