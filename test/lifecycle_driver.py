"""Runs a node's real entry point in a child process for ``test_lifecycle_services.py``.

``python test/lifecycle_driver.py NODE [--sigint-ignored] [--inject-faults] -- --ros-args ...``
calls ``main`` of ``jepa_world_model.ros.NODE`` (world_model_node, planner_node or
world_model_stack, the two in one process) with the ROS arguments, as ``ros2 run`` would,
after two optional changes:

* ``--sigint-ignored``: start with SIGINT ignored, the way a background process of a CI job
  inherits it; the node must still stop cleanly on SIGINT.
* ``--inject-faults``: in planner_node, ``on_deactivate`` raises ``RuntimeError`` before it
  does anything (rclpy then runs ``on_error``), and so does the map callback (an unexpected
  exception that ends the spin): the two exception exit paths.

:class:`NodeProcess` starts the driver with its output in a log file and stops it by
SIGTERM, every wait bounded. This file imports no rclpy at module level, so the test module
can import it where ROS 2 is missing (its tests are skipped there).
"""

import argparse
import importlib
import os
import signal
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Executable name (setup.py console script) -> the module whose ``main`` it runs.
NODES = {'world_model_node': 'jepa_world_model.ros.world_model.node',
         'planner_node': 'jepa_world_model.ros.planner.node',
         'world_model_stack': 'jepa_world_model.ros.world_model_stack'}
STOP_TIMEOUT_S = 15.0


class NodeProcess:
    """One node in a child process (``python lifecycle_driver.py ...``).

    Args:
        node: One of ``NODES``.
        ns: Namespace of the node.
        params: ``{name: value as written after -p name:=}``.
        log_path: File that receives the child's stdout and stderr.
        flags: Driver flags (``--sigint-ignored``, ``--inject-faults``).
        ros_args: More ``--ros-args`` (e.g. ``('--params-file', path)``).
    """

    def __init__(self, node, ns, params, log_path, flags=(), ros_args=()):
        self.node, self.ns, self.log_path = node, ns, str(log_path)
        cmd = [sys.executable, os.path.abspath(__file__), node, *flags, '--', '--ros-args',
               '-r', f'__ns:={ns}', *ros_args]
        for name, value in params.items():
            cmd += ['-p', f'{name}:={value}']
        env = dict(os.environ, PYTHONUNBUFFERED='1', PYTHONPATH=os.pathsep.join(
            p for p in (REPO_ROOT, os.environ.get('PYTHONPATH')) if p))
        with open(self.log_path, 'w', encoding='utf-8') as log:
            # A file, not a pipe: a pipe nobody reads blocks a child that logs a lot.
            self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT)

    def alive(self):
        """Whether the child is still running."""
        return self.proc.poll() is None

    def send(self, signum):
        """Send ``signum`` to the child if it still runs."""
        if self.alive():
            self.proc.send_signal(signum)

    def wait(self, timeout=STOP_TIMEOUT_S):
        """The exit code, or None if the child still runs after ``timeout`` seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM, then SIGKILL if it does not end in time; returns the exit code."""
        self.send(signal.SIGTERM)
        code = self.wait()
        if code is None:
            self.proc.kill()
            code = self.wait(5.0)
        return code

    def log(self):
        """What the child printed so far."""
        with open(self.log_path, encoding='utf-8', errors='replace') as log:
            return log.read()


def _fault(node, *args):
    raise RuntimeError('injected fault (lifecycle_driver --inject-faults)')


def main(argv=None):
    """Run the node's ``main`` with the ROS arguments; return its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index('--') if '--' in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('node', choices=sorted(NODES))
    parser.add_argument('--sigint-ignored', action='store_true')
    parser.add_argument('--inject-faults', action='store_true')
    args = parser.parse_args(argv[:split])
    if args.sigint_ignored:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    module = importlib.import_module(NODES[args.node])
    if args.inject_faults:
        module.PlannerNode._on_map = module.PlannerNode.on_deactivate = _fault
    return module.main(['lifecycle_driver'] + argv[split + 1:])


if __name__ == '__main__':
    sys.path.insert(0, REPO_ROOT)
    sys.exit(main())
