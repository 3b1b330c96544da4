"""planner.launch.py brought up for two namespaced robots side by side, over real DDS.

launch_ros cannot be installed here (no ros-jazzy-launch* wheels on PyPI), so this test
plays launch: launch_plan.py derives from the launch file's source which processes it
starts, with which ``--ros-args`` (node name, namespace, parameter files, launch_ros's
override file, remappings), and whether its lifecycle_autostart() events drive them. The
test starts exactly those processes and answers like launch_ros's LifecycleNode: emit
configure once change_state is served, emit activate on the ``configuring -> inactive``
transition event. Then it checks through the nodes' own services that:

* every node reaches ``active`` (lifecycle_msgs/srv/GetState);
* each robot took its own parameter files under its namespace (robot2 gets copies with
  other values; rcl_interfaces/srv/GetParameters);
* SIGINT stops every process, and none is left.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

try:
    from lifecycle_msgs.msg import Transition, TransitionEvent
    from lifecycle_msgs.srv import ChangeState, GetState
    from rcl_interfaces.srv import GetParameters
    import rclpy

    from ros_graph import callbacks_do_not_raise, graph_fixture, wait_for  # noqa: F401
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

from launch_plan import launch_plan
from package_layout import _console_scripts, _path, evaluate_setup_py, REPO_ROOT

# Four processes loading torch and a model on a shared 2-core machine: one more try for a
# timing flake; a real fault fails both.
pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.flaky(reruns=1, reruns_delay=2)]

LAUNCH_FILE = _path('launch', 'planner.launch.py')
ROBOTS = ('robot1', 'robot2')
ACTIVE_TIMEOUT_S = 40.0      # all four processes start at once and load their models
STOP_TIMEOUT_S = 15.0
# robot2's copies of the parameter files change these (file -> parameter, new value).
ROBOT2_CHANGES = {'planner.yaml': ('horizon', 6), 'world_model.yaml': ('horizon', 7)}


def _robot2_params(tmp_path):
    """Copies of config/ros/planner.yaml and config/ros/world_model.yaml with ROBOT2_CHANGES,
    under the shipped files' own top-level keys (a namespace must not make them miss)."""
    paths = {}
    for filename, (name, value) in ROBOT2_CHANGES.items():
        with open(_path('config', 'ros', filename), encoding='utf-8') as handle:
            data = yaml.safe_load(handle)
        (section,) = data.values()
        assert section['ros__parameters'][name] != value, 'pick a value the file lacks'
        section['ros__parameters'][name] = value
        paths[filename] = str(tmp_path / ('robot2_' + filename))
        with open(paths[filename], 'w', encoding='utf-8') as handle:
            yaml.safe_dump(data, handle)
    return paths


def _file_value(path, name):
    with open(path, encoding='utf-8') as handle:
        (section,) = yaml.safe_load(handle).values()
    return section['ros__parameters'][name]


class _LaunchLifecycle:
    """launch_ros's part for one node of lifecycle_autostart(): configure as soon as
    change_state is served, activate on the configuring -> inactive transition event."""

    def __init__(self, client_node, full_name):
        self.change = client_node.create_client(ChangeState, full_name + '/change_state')
        self.get = client_node.create_client(GetState, full_name + '/get_state')
        self.events = client_node.create_subscription(
            TransitionEvent, full_name + '/transition_event', self._on_event, 10)
        self.configured = False

    def _on_event(self, msg):
        if msg.start_state.label == 'configuring' and msg.goal_state.label == 'inactive':
            self.change.call_async(ChangeState.Request(
                transition=Transition(id=Transition.TRANSITION_ACTIVATE)))

    def step(self):
        """Emit configure once the service is there (launch_ros waits for it too)."""
        if not self.configured and self.change.service_is_ready():
            self.change.call_async(ChangeState.Request(
                transition=Transition(id=Transition.TRANSITION_CONFIGURE)))
            self.configured = True


def _call(client, request, timeout=10.0):
    if not client.wait_for_service(timeout_sec=timeout):
        return None
    future = client.call_async(request)
    return future.result() if wait_for(future.done, timeout) else None


def _state(lifecycle):
    response = _call(lifecycle.get, GetState.Request(), timeout=2.0)
    return response.current_state.label if response else None


def _our_processes(marker):
    """PIDs of live processes whose command line contains ``marker``."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                cmdline = handle.read().decode('utf-8', 'replace')
            with open('/proc/%s/stat' % entry, encoding='ascii') as handle:
                zombie = handle.read().rsplit(')', 1)[1].split()[0] == 'Z'
        except OSError:              # the process ended while we looked
            continue
        if marker in cmdline and not zombie:
            pids.append(int(entry))
    return pids


def _start(process, scripts, params_dir, log_dir):
    module, function = scripts[process.executable].split(':')
    assert function == 'main', scripts[process.executable]
    env = dict(os.environ, PYTHONUNBUFFERED='1', PYTHONPATH=os.pathsep.join(
        p for p in (REPO_ROOT, os.environ.get('PYTHONPATH')) if p))
    log = open(os.path.join(log_dir, process.full_name.strip('/').replace('/', '_') + '.log'),
               'w+', encoding='utf-8')
    proc = subprocess.Popen([sys.executable, '-m', module] + process.ros_args(params_dir),
                            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def _stop(procs):
    """SIGINT every live process, wait (bounded); SIGKILL what is still there."""
    for proc, _ in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for proc, _ in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)


def _logs(procs):
    text = []
    for proc, log in procs:
        log.seek(0)
        text.append('--- %s (rc %s)\n%s' % (log.name, proc.returncode, log.read()[-3000:]))
    return '\n'.join(text)


def test_two_namespaced_robots_come_up_active_with_their_parameter_files(graph, tmp_path):
    """planner.launch.py with_world_model:=true for robot1 (shipped files) and robot2
    (its own files): all four nodes active, each with its files' values, all gone on SIGINT."""
    robot2_files = _robot2_params(tmp_path)
    plans = {
        'robot1': launch_plan(LAUNCH_FILE, namespace='robot1', with_world_model='true'),
        'robot2': launch_plan(LAUNCH_FILE, namespace='robot2', with_world_model='true',
                              params_file=robot2_files['planner.yaml'],
                              world_model_params_file=robot2_files['world_model.yaml']),
    }
    for robot, processes in plans.items():
        assert sorted(p.full_name for p in processes) == [
            '/%s/planner_node' % robot, '/%s/world_model_node' % robot]
        assert all(p.launch_drives_lifecycle for p in processes), 'autostart defaults to true'

    scripts = _console_scripts(evaluate_setup_py())
    client = rclpy.create_node('launch_stand_in', context=graph.context)
    graph.executor.add_node(client)
    procs = []
    try:
        lifecycles = {}
        for robot, processes in plans.items():
            for process in processes:
                procs.append(_start(process, scripts, str(tmp_path), str(tmp_path)))
                lifecycles[process.full_name] = (process, _LaunchLifecycle(client,
                                                                           process.full_name))

        def all_active():
            for _, lifecycle in lifecycles.values():
                lifecycle.step()
            assert all(proc.poll() is None for proc, _ in procs), _logs(procs)
            return all(_state(lc) == 'active' for _, lc in lifecycles.values())

        assert wait_for(all_active, ACTIVE_TIMEOUT_S, poll=0.5), (
            {name: _state(lc) for name, (_, lc) in lifecycles.items()}, _logs(procs))

        for full_name, (process, _) in lifecycles.items():
            # The first file; an empty model_path argument repeats it (model_path_parameters).
            params_file = next(p for p in process.parameters if isinstance(p, str))
            name = 'horizon'
            expected = _file_value(params_file, name)
            response = _call(client.create_client(GetParameters, full_name + '/get_parameters'),
                             GetParameters.Request(names=[name]))
            assert response is not None, full_name
            assert response.values[0].integer_value == expected, (full_name, params_file)
        # robot2 really took other files than robot1 (the values differ).
        assert _file_value(robot2_files['planner.yaml'], 'horizon') \
            != _file_value(_path('config', 'ros', 'planner.yaml'), 'horizon')
    finally:
        graph.retire(client)
        client.destroy_node()
        _stop(procs)
    assert [proc.returncode for proc, _ in procs] == [0] * len(procs), _logs(procs)
    assert _our_processes(str(tmp_path)) == [], 'processes left behind'
    for _, log in procs:
        log.close()
