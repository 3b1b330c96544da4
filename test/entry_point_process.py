"""A node's real entry point (``python -m <module> --ros-args ...``) in a child process.

Not a test module, and it imports no rclpy, as ``ros2 run`` would start the node: the
``if __name__ == '__main__'`` path, the ROS arguments and the exit code on Ctrl-C are what
the entry-point tests of sim_node and world_model_node check. (test/lifecycle_driver.py runs
a node's ``main`` instead, with output to a file, for longer runs.) Every wait is bounded.
"""

import os
import signal
import subprocess
import sys

from package_layout import REPO_ROOT

INTERRUPT_TIMEOUT_S = 15.0
KILL_TIMEOUT_S = 5.0


def _env():
    """os.environ with the repository first on PYTHONPATH and unbuffered output."""
    return dict(os.environ, PYTHONUNBUFFERED='1', PYTHONPATH=os.pathsep.join(
        p for p in (REPO_ROOT, os.environ.get('PYTHONPATH')) if p))


def _command(module, ros_args):
    return [sys.executable, '-m', module, '--ros-args', *ros_args]


class EntryPoint:
    """``python -m module --ros-args *ros_args`` running, its output piped (a short run: the
    pipe is read only at :meth:`interrupt`)."""

    def __init__(self, module, ros_args):
        self.proc = subprocess.Popen(_command(module, ros_args), cwd=REPO_ROOT, env=_env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)

    def interrupt(self):
        """Ctrl-C (SIGINT) if it still runs, then wait; SIGKILL if it does not end in time.
        ``(exit code, everything it printed)``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            output, _ = self.proc.communicate(timeout=INTERRUPT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output, _ = self.proc.communicate(timeout=KILL_TIMEOUT_S)
        return self.proc.returncode, output


def run_to_end(module, ros_args, timeout=30.0):
    """Run ``python -m module --ros-args *ros_args`` until it exits by itself (bounded by
    ``timeout`` seconds); the CompletedProcess, output captured as text."""
    return subprocess.run(_command(module, ros_args), cwd=REPO_ROOT, env=_env(),
                          capture_output=True, text=True, timeout=timeout)
