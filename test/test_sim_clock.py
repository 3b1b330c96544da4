"""sim_node's simulated /clock faster than real time, over real DDS.

* ``control_period`` separate from ``rate_hz``: every step advances /clock by exactly the
  control period, so time runs ``control_period * rate_hz`` times faster than wall time;
* ``step_on_command`` (lock-step): a command answering the published step starts the next
  one at once; without commands the tick timer still steps (the wait's timeout);
* a node with ``use_sim_time`` follows that clock: its ``now()`` is the newest /clock and
  its timers fire per simulated, not wall, second.

The nodes run in this process on their own rclpy context (test/ros_graph.py); only one
sim_node publishes /clock at a time (the tests run one after another).
"""

import os
import time

import numpy as np
import pytest

try:
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.qos import QoSProfile
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from jepa_world_model.ros.sim_node import SimNode, SimParameterError
    from ros_graph import callbacks_do_not_raise, graph_fixture  # noqa: F401 - fixtures
    from ros_graph import wait_for
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

from dds_marks import IN_PROCESS_NODE_MARKS

pytestmark = IN_PROCESS_NODE_MARKS


def start_sim(graph, ns, **params):
    """A SimNode (arm) in namespace ``ns`` with ``params``, spun by the graph."""
    overrides = [rclpy.parameter.Parameter(k, value=v) for k, v in params.items()]
    node = SimNode(context=graph.context, namespace=ns, parameter_overrides=overrides)
    graph.executor.add_node(node)
    return node


def stop(graph, *nodes):
    """Take ``nodes`` off the executor and destroy them (a SimNode closes its robot)."""
    for node in nodes:
        graph.retire(node)
        if isinstance(node, SimNode):
            node.close()
        node.destroy_node()


class ClockWatcher:
    """Records each /clock (simulated s) with the wall time it arrived; optionally answers
    every joint state with one velocity command, as a controller in lock-step would."""

    def __init__(self, graph, ns, answer=False):
        self.node = rclpy.create_node('clock_watcher', namespace=ns, context=graph.context)
        self.clock, self.wall = [], []
        self.answer = answer
        self.node.create_subscription(Clock, '/clock', self._on_clock, QoSProfile(depth=100))
        self.node.create_subscription(JointState, 'joint_states', self._on_joints,
                                      QoSProfile(depth=100))
        self.commands = self.node.create_publisher(Float64MultiArray, 'commands', 10)
        graph.executor.add_node(self.node)

    def _on_clock(self, msg):
        self.clock.append(msg.clock.sec + msg.clock.nanosec * 1e-9)
        self.wall.append(time.monotonic())

    def _on_joints(self, msg):
        if self.answer:
            self.commands.publish(Float64MultiArray(data=[0.2, 0.0, 0.0]))

    def rate(self):
        """(simulated s per step, simulated s per wall s) over the received clocks."""
        steps = np.diff(self.clock)
        return float(np.median(steps)), (self.clock[-1] - self.clock[0]) / (
            self.wall[-1] - self.wall[0])


def test_control_period_sets_the_clock_step_and_time_scale(graph):
    """rate_hz 20 with control_period 0.25: /clock steps 0.25 s, 5 simulated s per wall s."""
    ns = f'/scaled{os.getpid()}'
    sim = start_sim(graph, ns, robot='arm', rate_hz=20.0, control_period=0.25)
    watcher = ClockWatcher(graph, ns)
    try:
        assert wait_for(lambda: len(watcher.clock) >= 25, timeout=15.0), len(watcher.clock)
        steps = np.diff(watcher.clock)
        assert np.allclose(steps, 0.25, atol=1e-6), steps   # no step lost or doubled
        _, speed = watcher.rate()
        assert 2.5 < speed < 5.5, speed   # 5x nominal, slower if ticks are late
        assert sim.control_period == 0.25 and sim.robot.dt == 0.25
    finally:
        stop(graph, watcher.node, sim)


def test_lockstep_steps_on_each_command_and_times_out_without(graph):
    """step_on_command: answered steps come far faster than the 2 Hz tick; unanswered, the
    tick still steps at 2 Hz; every step advances /clock by control_period 0.1 s."""
    ns = f'/lockstep{os.getpid()}'
    sim = start_sim(graph, ns, robot='arm', rate_hz=2.0, control_period=0.1,
                    step_on_command=True)
    watcher = ClockWatcher(graph, ns, answer=True)
    try:
        assert wait_for(lambda: len(watcher.clock) >= 40, timeout=15.0), len(watcher.clock)
        step, speed = watcher.rate()
        assert step == pytest.approx(0.1, abs=1e-6)
        assert speed > 1.0, speed   # the 2 Hz tick alone would give 0.2 simulated s per s
        assert np.allclose(np.diff(watcher.clock), 0.1, atol=1e-6)
        watcher.answer = False   # the controller stops answering: the timeout steps
        time.sleep(0.5)          # commands in flight are taken
        count = len(watcher.clock)
        time.sleep(2.0)
        ticks = len(watcher.clock) - count
        assert 2 <= ticks <= 6, ticks   # 4 at 2 Hz; answered steps would be dozens
    finally:
        stop(graph, watcher.node, sim)


def test_node_on_sim_time_follows_the_fast_clock(graph):
    """A node with use_sim_time: now() is the newest /clock; a 0.5 s timer fires per
    simulated half second, about 5 times as often as per wall half second."""
    ns = f'/follower{os.getpid()}'
    sim = start_sim(graph, ns, robot='arm', rate_hz=20.0, control_period=0.25)
    follower = rclpy.create_node(
        'follower', namespace=ns, context=graph.context,
        parameter_overrides=[rclpy.parameter.Parameter('use_sim_time', value=True)])
    watcher = ClockWatcher(graph, ns)
    fired = []
    follower.create_timer(0.5, lambda: fired.append(
        follower.get_clock().now().nanoseconds * 1e-9))
    graph.executor.add_node(follower)
    try:
        assert wait_for(lambda: len(fired) >= 2, timeout=15.0), len(fired)
        started, first = time.monotonic(), len(fired)
        assert wait_for(lambda: len(fired) >= first + 10, timeout=15.0), len(fired)
        wall_periods = (time.monotonic() - started) / 0.5
        assert len(fired) - first > 2.0 * wall_periods, (len(fired) - first, wall_periods)
        now = follower.get_clock().now().nanoseconds * 1e-9
        assert abs(now - watcher.clock[-1]) <= 0.25 + 1e-6, (now, watcher.clock[-1])
        sim_span = fired[-1] - fired[0]
        assert sim_span == pytest.approx(0.5 * (len(fired) - 1), abs=0.5)
        assert np.all(np.diff(fired) > 0.4)   # never twice in one simulated period
    finally:
        stop(graph, follower, watcher.node, sim)


@pytest.mark.parametrize('params, error', [
    ({'control_period': 0.0005}, 'control_period must be 0'),
    ({'control_period': 20.0}, 'control_period'),
])
def test_bad_control_period_is_refused(graph, params, error):
    """A control period outside [0.001, 10] s (0 meaning 1/rate_hz) stops construction."""
    overrides = [rclpy.parameter.Parameter(k, value=v) for k, v in params.items()]
    with pytest.raises((SimParameterError, ParameterException), match=error):
        SimNode(context=graph.context, namespace='/badclock', parameter_overrides=overrides)
