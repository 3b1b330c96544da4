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
import time

import pytest
import yaml

try:
    from diagnostic_msgs.msg import DiagnosticArray
    from lifecycle_msgs.msg import Transition

    from process_client import CALL_TIMEOUT, ProcessClient, RELIABLE, UP_TIMEOUT
    from ros_feeders import save_tiny
    from ros_graph import callbacks_do_not_raise, graph_fixture, wait_for  # noqa: F401
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

from dds_marks import CHILD_PROCESS_MARKS
from launch_plan import launch_plan
from lifecycle_driver import NodeProcess
from package_layout import _path

pytestmark = CHILD_PROCESS_MARKS

NODES = ('planner_node', 'world_model_node')
COMMON = dict(num_threads=1, diagnostics_period=0.5, log_throttle_period=1.0,
              stale_timeout=2.0, autostart=False)
PARAMS = {'world_model_node': dict(COMMON, action_fields=['linear.x', 'angular.z'],
                                   stall_error_timeout=4.0),
          'planner_node': dict(COMMON, output='cmd_vel', num_samples=32, num_elites=4,
                               num_iterations=2, horizon=4, plan_rate_hz=10.0, max_skew=0.2,
                               max_plan_time=0.5)}


class StackClient(ProcessClient):
    """This process's side of the stack: both nodes' lifecycle services, the inputs, the
    planner's goal and commands, the world model's predictions and /diagnostics."""

    def __init__(self, graph, proc):
        super().__init__(graph, proc, 'stack_client')
        self.diagnostics = {}
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                      RELIABLE)

    def _on_diagnostics(self, msg):
        for status in msg.status:
            for node in NODES:
                if status.name.startswith(f'{self.proc.ns.strip("/")}/{node}:'):
                    self.diagnostics[node] = {kv.key: kv.value for kv in status.values}

    def count(self, node, name):
        """``count.<name>`` of ``node``'s latest /diagnostics, or -1 before any."""
        return int(self.diagnostics.get(node, {}).get(f'count.{name}', -1))


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
        assert c.lifecycle_state(node, UP_TIMEOUT) == 'unconfigured'
    for node in NODES:
        assert c.request_transition(node, Transition.TRANSITION_CONFIGURE), c.proc.log()
        assert c.request_transition(node, Transition.TRANSITION_ACTIVATE), c.proc.log()
        assert c.lifecycle_state(node) == 'active'
    assert '(shared in this process)' in c.proc.log()

    assert c.moving(), c.proc.log()
    assert wait_for(lambda: len(c.trajectories) >= 5, CALL_TIMEOUT), c.proc.log()
    assert wait_for(lambda: sum(c.count(n, 'encode_cache_hits') for n in NODES) > 0,
                    CALL_TIMEOUT), c.diagnostics
    assert c.count('world_model_node', 'encodes') > 0, c.diagnostics   # its target passes

    c.proc.send(signal.SIGTERM)
    assert c.proc.wait() == 0, c.proc.log()
    assert c.ends_on_zero(), c.cmds[-3:]


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
    # model_path empty: its entry is the world model's file again (launch_support
    # model_path_parameters), so the files' own model_path values stay.
    assert process.parameters == [files['planner_node'], files['world_model_node'],
                                  files['world_model_node'],
                                  {'use_sim_time': False, 'autostart': True}]
    args = process.ros_args(str(tmp_path))
    assert not any(a.startswith('__node:=') for a in args), args
    proc = NodeProcess('world_model_stack', '/' + ns, {}, tmp_path / 'launched.log',
                       ros_args=args[1:])
    c = StackClient(graph, proc)
    try:
        assert wait_for(lambda: all(c.lifecycle_state(n, UP_TIMEOUT) == 'active' for n in NODES),
                        UP_TIMEOUT, poll=0.5), proc.log()
        assert wait_for(lambda: len(c.trajectories) >= 3, CALL_TIMEOUT), proc.log()
        proc.send(signal.SIGINT)
        assert proc.wait() == 0, proc.log()
    finally:
        c.close()
        proc.stop()
