"""``world_model_stack``: planner_node and world_model_node in one process, driven from another.

The stack runs its real entry point in a child process (test/lifecycle_driver.py) with one
parameter file keyed by node name, both nodes on the same checkpoint. This process is the
lifecycle manager and the robot: it configures and activates both nodes through their own
``change_state`` services, streams random camera frames and joint states, sends the planner
a goal, and then checks that

* both nodes work (predicted trajectories, non-zero commands toward the goal);
* they share the model: the second to configure says so, and the encode cache served a pass
  one node ran to the other (``count.encode_cache_hits`` > 0: every frame is new and no
  node asks for the same pass twice, so a hit can only come from the other node);
* SIGTERM ends the process with exit code 0, and the last command received is zero.

A second test starts the process as launch/world_model_stack.launch.py would (launch_plan.py
derives the ``--ros-args`` from its source): one process, no node name, both parameter files,
and with ``autostart`` (the default) both nodes make themselves active.
"""

import signal
import threading
import time

import pytest
import yaml

try:
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import Twist
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    import rclpy
    from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image, JointState
    from trajectory_msgs.msg import JointTrajectory

    from ros_feeders import JOINTS, save_tiny, stream_joints_and_images
    from ros_graph import callbacks_do_not_raise, graph_fixture, wait_for  # noqa: F401

    RELIABLE = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

from launch_plan import launch_plan
from lifecycle_driver import NodeProcess
from package_layout import _path

pytestmark = [pytest.mark.ros, pytest.mark.dds_timing,
              pytest.mark.flaky(reruns=1, reruns_delay=1)]

UP_TIMEOUT = 60.0       # the child imports torch and rclpy on a busy machine
CALL_TIMEOUT = 20.0
NODES = ('planner_node', 'world_model_node')
COMMON = dict(num_threads=1, diagnostics_period=0.5, log_throttle_period=1.0,
              stale_timeout=2.0, autostart=False)
PARAMS = {'world_model_node': dict(COMMON, action_fields=['linear.x', 'angular.z'],
                                   stall_error_timeout=4.0),
          'planner_node': dict(COMMON, output='cmd_vel', num_samples=32, num_elites=4,
                               num_iterations=2, horizon=4, plan_rate_hz=10.0, max_skew=0.2,
                               max_plan_time=0.5)}


class StackClient:
    """This process's side of the stack: both nodes' lifecycle services, the inputs, the
    planner's goal and commands, the world model's predictions and /diagnostics."""

    def __init__(self, graph, proc):
        self.proc = proc
        self.node = rclpy.create_node('stack_client', namespace=proc.ns, context=graph.context)
        self.cmds, self.trajectories, self.diagnostics = [], [], {}
        self._clients = {}
        sub, pub = self.node.create_subscription, self.node.create_publisher
        sub(Twist, 'planner_node/recommended_cmd_vel', self.cmds.append, RELIABLE)
        sub(JointTrajectory, 'world_model_node/predicted_joint_trajectory',
            self.trajectories.append, RELIABLE)
        sub(DiagnosticArray, '/diagnostics', self._on_diagnostics, RELIABLE)
        self.image_pub = pub(Image, 'image', qos_profile_sensor_data)
        self.joint_pub = pub(JointState, 'joint_states', qos_profile_sensor_data)
        self.goal_pub = pub(JointState, 'planner_node/goal_joint_state', 10)
        graph.executor.add_node(self.node)
        self.graph = graph
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._stream, daemon=True)
        self._thread.start()

    def _on_diagnostics(self, msg):
        for status in msg.status:
            for node in NODES:
                if status.name.startswith(f'{self.proc.ns.strip("/")}/{node}:'):
                    self.diagnostics[node] = {kv.key: kv.value for kv in status.values}

    def _stream(self):
        stream_joints_and_images(self.node, self.joint_pub, self.image_pub, self._closed)

    def call(self, node, srv_type, service, request, timeout=CALL_TIMEOUT):
        """Call ``<node>/<service>``; the response (fails on a timeout)."""
        key = (node, service)
        if key not in self._clients:
            self._clients[key] = self.node.create_client(srv_type, f'{node}/{service}')
        client = self._clients[key]
        assert client.wait_for_service(timeout_sec=timeout), \
            f'{node}/{service} is not served\n{self.proc.log()}'
        future = client.call_async(request)
        wait_for(lambda: future.done() or not self.proc.alive(), timeout)
        assert future.done(), f'{node}/{service}: no response\n{self.proc.log()}'
        return future.result()

    def state(self, node, timeout=CALL_TIMEOUT):
        """``node``'s lifecycle state label."""
        return self.call(node, GetState, 'get_state', GetState.Request(),
                         timeout).current_state.label

    def change(self, node, transition_id):
        """Request a transition of ``node``; its success."""
        return self.call(node, ChangeState, 'change_state', ChangeState.Request(
            transition=Transition(id=transition_id))).success

    def count(self, node, name):
        """``count.<name>`` of ``node``'s latest /diagnostics, or -1 before any."""
        return int(self.diagnostics.get(node, {}).get(f'count.{name}', -1))

    def close(self):
        """Stop streaming and destroy the client node."""
        self._closed.set()
        self._thread.join(timeout=2.0)
        self.graph.retire(self.node)
        self.node.destroy_node()


def is_moving(msg):
    """Whether a Twist command is non-zero."""
    return any(abs(v) > 0.0 for v in (msg.linear.x, msg.linear.y, msg.angular.z))


def params_file(folder, ckpt, node, values):
    """A parameter file for ``node`` (keyed ``/**/<node>``) on ``ckpt``; its path."""
    path = folder / f'{node}.yaml'
    path.write_text(yaml.safe_dump({f'/**/{node}': {'ros__parameters': dict(
        values, model_path=str(ckpt))}}))
    return str(path)


@pytest.fixture
def stack(graph, tmp_path_factory, tmp_path):
    """The stack process on the tiny checkpoint (one parameter file per node, the nodes'
    own autostart off), and a client for it."""
    ckpt = save_tiny(tmp_path_factory, 'stack', 'tiny', 1)
    files = [params_file(tmp_path, ckpt, node, values) for node, values in PARAMS.items()]
    proc = NodeProcess('world_model_stack', f'/stack{time.monotonic_ns() % 10**6}', {},
                       tmp_path / 'stack.log',
                       ros_args=[arg for f in files for arg in ('--params-file', f)])
    client = StackClient(graph, proc)
    try:
        yield client
    finally:
        client.close()
        proc.stop()


def test_both_nodes_come_up_share_one_encode_per_frame_and_sigterm_ends_on_zero(stack):
    """Configure and activate both nodes from another process; both work on one model with
    shared encoder passes; SIGTERM: exit 0 and the last command received is zero."""
    c = stack
    for node in NODES:
        assert c.state(node, UP_TIMEOUT) == 'unconfigured'
    for node in NODES:
        assert c.change(node, Transition.TRANSITION_CONFIGURE), c.proc.log()
        assert c.change(node, Transition.TRANSITION_ACTIVATE), c.proc.log()
        assert c.state(node) == 'active'
    assert '(shared in this process)' in c.proc.log()

    assert wait_for(lambda: c.goal_pub.get_subscription_count() > 0, CALL_TIMEOUT)
    c.goal_pub.publish(JointState(name=list(JOINTS), position=[0.6, -0.6]))
    assert wait_for(lambda: any(is_moving(m) for m in c.cmds), CALL_TIMEOUT), c.proc.log()
    assert wait_for(lambda: len(c.trajectories) >= 5, CALL_TIMEOUT), c.proc.log()
    assert wait_for(lambda: sum(c.count(n, 'encode_cache_hits') for n in NODES) > 0,
                    CALL_TIMEOUT), c.diagnostics
    assert c.count('world_model_node', 'encodes') > 0, c.diagnostics   # its target passes

    c.proc.send(signal.SIGTERM)
    assert c.proc.wait() == 0, c.proc.log()

    def quiet():
        n = len(c.cmds)
        time.sleep(0.5)
        return len(c.cmds) == n
    assert wait_for(quiet, 5.0)
    assert c.cmds and not is_moving(c.cmds[-1]), c.cmds[-3:]


def test_the_launch_file_starts_one_process_whose_nodes_start_themselves(graph, tmp_path,
                                                                         tmp_path_factory):
    """world_model_stack.launch.py: one unnamed world_model_stack process with both
    parameter files, autostart passed to both nodes; started that way, both become active
    and work without a lifecycle call from outside, and SIGINT ends the process with 0."""
    ckpt = save_tiny(tmp_path_factory, 'stack_launch', 'tiny', 1)
    files = {node: params_file(tmp_path, ckpt, node, {k: v for k, v in values.items()
                                                      if k != 'autostart'})
             for node, values in PARAMS.items()}
    ns = f'launched{time.monotonic_ns() % 10**6}'
    (process,) = launch_plan(_path('launch', 'world_model_stack.launch.py'), namespace=ns,
                             params_file=files['planner_node'],
                             world_model_params_file=files['world_model_node'])
    assert (process.executable, process.name, process.lifecycle) == (
        'world_model_stack', None, False)
    assert process.parameters == [files['planner_node'], files['world_model_node'],
                                  {'use_sim_time': False, 'autostart': True}]
    args = process.ros_args(str(tmp_path))
    assert not any(a.startswith('__node:=') for a in args), args
    proc = NodeProcess('world_model_stack', '/' + ns, {}, tmp_path / 'launched.log',
                       ros_args=args[1:])
    c = StackClient(graph, proc)
    try:
        assert wait_for(lambda: all(c.state(n, UP_TIMEOUT) == 'active' for n in NODES),
                        UP_TIMEOUT, poll=0.5), proc.log()
        assert wait_for(lambda: len(c.trajectories) >= 3, CALL_TIMEOUT), proc.log()
        proc.send(signal.SIGINT)
        assert proc.wait() == 0, proc.log()
    finally:
        c.close()
        proc.stop()
