"""Both nodes driven from another process, as a lifecycle manager and ``ros2 param`` do.

Each node runs its real entry point in a child process (test/lifecycle_driver.py); this
process is the client: lifecycle_msgs ChangeState/GetState, rcl_interfaces parameter
services, and a stream of camera images and joint states. What is checked:

* the lifecycle and parameter services answer (planner_node once replaced rclpy's list of
  services, so none of them was ever served);
* a transition that is not valid in the current state is refused (success false) and the
  node stays up and keeps working (rclpy 7.1 raised out of the service callback and the
  process exited 1);
* a SetParameters request is one batch: one bad value and nothing of it changes;
* every way out of ``active`` leaves a zero command as the last one the robot received:
  deactivate, ``enabled`` false, shutdown, SIGTERM, SIGINT (inherited as ignored, as in CI),
  a transition that raises (error processing) and an exception that ends the spin.

The child processes start together when the module starts (their start-up dominates the run
time); a test that ends its process takes it, so a rerun gets a fresh one.
"""

import signal

import pytest

try:
    from lifecycle_msgs.msg import Transition
    from nav_msgs.msg import OccupancyGrid
    from rcl_interfaces.msg import Parameter as ParameterMsg, ParameterValue
    from rcl_interfaces.srv import DescribeParameters, GetParameters, ListParameters
    from rcl_interfaces.srv import SetParameters, SetParametersAtomically
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from process_client import CALL_TIMEOUT, ProcessClient, UP_TIMEOUT
    from ros_feeders import save_tiny
    from ros_graph import callbacks_do_not_raise, graph_fixture, wait_for  # noqa: F401

    T = Transition
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

from dds_marks import CHILD_PROCESS_MARKS
from lifecycle_driver import NodeProcess

pytestmark = CHILD_PROCESS_MARKS

COMMON = dict(num_threads=1, diagnostics_period=0.5, log_throttle_period=1.0)
WM = dict(COMMON, action_fields="['linear.x','angular.z']", stale_timeout=2.0,
          stall_error_timeout=4.0)
PLANNER = dict(COMMON, output='cmd_vel', num_samples=32, num_elites=4, num_iterations=2,
               horizon=4, plan_rate_hz=10.0, stale_timeout=1.0, max_skew=0.2,
               max_plan_time=0.5)
# key: (node, autostart, driver flags)
PROCESSES = {'wm': ('world_model_node', False, ()),
             'planner': ('planner_node', False, ()),
             'planner_exits': ('planner_node', True, ()),
             'planner_sigterm': ('planner_node', True, ()),
             'planner_sigint': ('planner_node', True, ('--sigint-ignored',)),
             'planner_raises': ('planner_node', True, ('--inject-faults',))}


class Client(ProcessClient):
    """This process's side of one node: its services, inputs, goals, outputs and the map."""

    def __init__(self, graph, proc):
        super().__init__(graph, proc, 'client', planner=proc.node, world_model=proc.node)
        self.name = proc.node
        self.map_pub = self.node.create_publisher(OccupancyGrid, 'map', QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL))

    def call(self, srv_type, service, request, timeout=CALL_TIMEOUT):
        """Call ``<node>/<service>`` and return the response (fails on a timeout)."""
        return self.call_service(srv_type, f'{self.name}/{service}', request, timeout)

    def wait_up(self):
        """Wait until the child started and serves get_state; its state."""
        return self.lifecycle_state(self.name, UP_TIMEOUT)

    def state(self):
        """The node's lifecycle state label, through get_state."""
        return self.lifecycle_state(self.name)

    def change(self, transition):
        """Request ``transition`` (an id, or a label string); the response's success."""
        return self.request_transition(self.name, transition)

    def set(self, atomically=False, **values):
        """Set ``values`` in one request; the list of results (one for atomically)."""
        msgs = [Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]
        if atomically:
            return [self.call(SetParametersAtomically, 'set_parameters_atomically',
                              SetParametersAtomically.Request(parameters=msgs)).result]
        return self.call(SetParameters, 'set_parameters',
                         SetParameters.Request(parameters=msgs)).results

    def get(self, *names):
        """``{name: value}`` through get_parameters."""
        values = self.call(GetParameters, 'get_parameters',
                           GetParameters.Request(names=list(names))).values
        return {n: Parameter.from_parameter_msg(ParameterMsg(name=n, value=v)).value
                for n, v in zip(names, values)}


class Pool:
    """The module's child processes, started together.

    :meth:`take` hands a process out once (its test ends it); :meth:`share` lends the same
    one to tests that leave it as they found it, until a test takes it.
    """

    def __init__(self, ckpt, folder):
        self.ckpt, self.folder, self.count = ckpt, folder, 0
        self.all = []
        self.ready = {key: self._start(key) for key in PROCESSES}

    def _start(self, key):
        node, autostart, flags = PROCESSES[key]
        self.count += 1
        params = dict(WM if node == 'world_model_node' else PLANNER, model_path=self.ckpt,
                      autostart=str(autostart).lower())
        proc = NodeProcess(node, f'/lc{self.count}_{key}', params,
                           self.folder / f'{key}_{self.count}.log', flags)
        proc.key = key
        self.all.append(proc)
        return proc

    def share(self, key):
        """The process for ``key`` that is ready (started anew if it has ended)."""
        if key not in self.ready or not self.ready[key].alive():
            self.ready[key] = self._start(key)
        return self.ready[key]

    def take(self, key):
        """The ready process for ``key``; the next call starts a new one."""
        return self.ready.pop(key, None) or self._start(key)

    def close(self):
        """Stop every child (SIGTERM, bounded)."""
        for proc in self.all:
            proc.stop()


@pytest.fixture(scope='module')
def pool(tmp_path_factory):
    """Every child process of the module, started at once."""
    ckpt = save_tiny(tmp_path_factory, 'lifecycle', 'tiny', 1)
    p = Pool(ckpt, tmp_path_factory.mktemp('logs'))
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def client(graph, pool, request):
    """A client for process ``request.param``: ``(key, 'take' or 'share')``."""
    key, how = request.param
    c = Client(graph, getattr(pool, how)(key))
    try:
        yield c
    finally:
        c.close()


def refused(state):
    """What must be refused in ``state``: ids of other states' transitions, an unknown id, a
    label that is not available."""
    return {'unconfigured': [T.TRANSITION_ACTIVATE, T.TRANSITION_DEACTIVATE,
                             T.TRANSITION_CLEANUP, T.TRANSITION_INACTIVE_SHUTDOWN, 99,
                             'activate'],
            'inactive': [T.TRANSITION_CONFIGURE, T.TRANSITION_DEACTIVATE,
                         T.TRANSITION_ACTIVE_SHUTDOWN, 'configure', 'no_such_transition'],
            'active': [T.TRANSITION_CLEANUP, T.TRANSITION_CONFIGURE, T.TRANSITION_ACTIVATE,
                       T.TRANSITION_UNCONFIGURED_SHUTDOWN, 255, 'cleanup'],
            'finalized': [T.TRANSITION_CONFIGURE, T.TRANSITION_ACTIVATE,
                          T.TRANSITION_UNCONFIGURED_SHUTDOWN, 'shutdown']}[state]


def refuses_invalid(c, state):
    """Every invalid request in ``state`` is refused; the node stays up, in ``state``."""
    for transition in refused(state):
        assert not c.change(transition), f'{transition} accepted in {state}'
        assert c.proc.alive(), f'{transition} in {state} killed the node:\n{c.proc.log()}'
        assert c.state() == state


def works(c):
    """The active node does its job: predictions, or commands toward a goal."""
    if c.name == 'planner_node':
        return c.moving()
    n = len(c.trajectories)
    return wait_for(lambda: len(c.trajectories) > n + 2, CALL_TIMEOUT)


@pytest.mark.parametrize('client', [('wm', 'share'), ('planner', 'share')], indirect=True,
                         ids=['world_model_node', 'planner_node'])
def test_parameter_services_answer_and_a_batch_is_all_or_nothing(client):
    """list/describe/get/set over rcl_interfaces; one bad value rejects the whole request."""
    c = client
    assert c.wait_up() == 'unconfigured'
    names = c.call(ListParameters, 'list_parameters', ListParameters.Request()).result.names
    assert {'horizon', 'enabled', 'model_path'} <= set(names)
    described = c.call(DescribeParameters, 'describe_parameters',
                       DescribeParameters.Request(names=['horizon'])).descriptors
    assert described[0].name == 'horizon' and described[0].description
    before = c.get('horizon')['horizon']
    if c.name == 'planner_node':
        # Valid only together (num_elites <= num_samples), in an order that needs the batch.
        good, bad = dict(num_elites=40, num_samples=64), dict(horizon=6, num_elites=1000)
    else:
        good = dict(surprise_min_samples=20, surprise_window=30)
        bad = dict(horizon=6, surprise_min_samples=1000)
    assert all(r.successful for r in c.set(**good)), c.set(**good)
    assert c.get(*good) == good
    for atomically in (False, True):
        results = c.set(atomically=atomically, **bad)
        assert not any(r.successful for r in results) and results[0].reason
        assert c.get('horizon', *good) == dict(good, horizon=before)
    results = c.set(horizon=before + 1, no_such_parameter=1)    # undeclared: nothing set
    assert not any(r.successful for r in results)
    garbled = ParameterMsg(name='horizon', value=ParameterValue(type=42))   # no such type
    response = c.call(SetParameters, 'set_parameters', SetParameters.Request(parameters=[
        Parameter('horizon', value=before + 1).to_parameter_msg(), garbled]))
    assert not any(r.successful for r in response.results)
    assert c.get('horizon') == {'horizon': before}
    assert c.proc.alive() and c.state() == 'unconfigured'


@pytest.mark.parametrize('client', [('wm', 'take'), ('planner', 'take')], indirect=True,
                         ids=['world_model_node', 'planner_node'])
def test_lifecycle_walk_and_invalid_requests_are_refused(client):
    """configure, activate, deactivate, cleanup, shutdown through ChangeState; every invalid
    request on the way is refused and the node keeps answering and working."""
    c = client
    assert c.wait_up() == 'unconfigured'
    refuses_invalid(c, 'unconfigured')
    assert c.change(T.TRANSITION_CONFIGURE) and c.state() == 'inactive'
    refuses_invalid(c, 'inactive')
    assert c.change(T.TRANSITION_ACTIVATE) and c.state() == 'active'
    refuses_invalid(c, 'active')
    assert works(c), c.proc.log()
    assert c.change('deactivate') and c.state() == 'inactive'
    assert c.change(T.TRANSITION_CLEANUP) and c.state() == 'unconfigured'
    assert c.change(T.TRANSITION_CONFIGURE) and c.change(T.TRANSITION_ACTIVATE)
    assert works(c), c.proc.log()
    assert c.change('shutdown') and c.state() == 'finalized'
    refuses_invalid(c, 'finalized')
    assert c.get('enabled') == {'enabled': True}
    assert c.proc.stop() == 0, c.proc.log()


@pytest.mark.parametrize('client', [('planner_exits', 'take')], indirect=True,
                         ids=['planner_node'])
def test_leaving_active_by_deactivate_disable_or_shutdown_ends_on_zero(client):
    """Deactivate, ``enabled`` false through set_parameters, shutdown from active: the last
    command received is zero each time."""
    c = client
    assert c.wait_up() == 'active'
    assert c.moving(), c.proc.log()
    assert c.change(T.TRANSITION_DEACTIVATE) and c.ends_on_zero(), c.cmds[-3:]
    assert c.change(T.TRANSITION_ACTIVATE) and c.moving()
    assert c.set(enabled=False)[0].successful and c.ends_on_zero(), c.cmds[-3:]
    assert c.set(enabled=True)[0].successful and c.moving()
    assert c.change(T.TRANSITION_ACTIVE_SHUTDOWN) and c.ends_on_zero(), c.cmds[-3:]
    assert c.state() == 'finalized' and c.proc.stop() == 0


@pytest.mark.parametrize('client', [(k, 'take') for k in (
    'planner_sigterm', 'planner_sigint', 'planner_raises')], indirect=True,
    ids=['sigterm', 'sigint_inherited_ignored', 'exception'])
def test_process_end_sends_a_final_zero(client):
    """SIGTERM, SIGINT (inherited as ignored) or an exception out of a callback while active
    and moving: the process ends and the last command received is zero. With faults, first
    a deactivate that raises: error processing sends the zero and the node is unconfigured."""
    c = client
    assert c.wait_up() == 'active'
    assert c.moving(), c.proc.log()
    if c.proc.key == 'planner_raises':
        assert not c.change(T.TRANSITION_DEACTIVATE) and c.state() == 'unconfigured'
        assert c.ends_on_zero(), c.cmds[-3:]
        assert c.change(T.TRANSITION_CONFIGURE) and c.change(T.TRANSITION_ACTIVATE)
        assert c.moving(), c.proc.log()
        c.map_pub.publish(OccupancyGrid())
        expected = 1
    else:
        c.proc.send(signal.SIGTERM if c.proc.key == 'planner_sigterm' else signal.SIGINT)
        expected = 0
    code = c.proc.wait()
    assert code == expected, c.proc.log()
    assert c.ends_on_zero(), (c.cmds[-3:], c.proc.log())
