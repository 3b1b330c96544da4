"""Nodes as child processes: environment, ``--ros-args`` and bounded, certain shutdown.

Used by ``jepa-world-model demo`` and ``plan-eval``; no rclpy here. Each node runs as
``python -m jepa_world_model.ros.<node> --ros-args ...`` in its own session, so a Ctrl-C in
the terminal reaches only the parent (the demo or the experiment), which then stops the
children in order: SIGINT (the nodes' clean shutdown), then SIGTERM, then SIGKILL, each wait
bounded. On Linux the children also get SIGTERM if the parent itself dies.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
import random
import signal
import subprocess
import sys
from typing import Dict, List, Mapping, MutableMapping, Optional

__all__ = ['child_environment', 'join_domain', 'ros_arguments', 'NodeProcess']

#: ROS_DOMAIN_ID range that is safe on Linux (higher IDs reach the ephemeral port range).
DOMAIN_RANGE = (1, 101)
_PR_SET_PDEATHSIG = 1


def child_environment(base: Mapping[str, str], rng: Optional[random.Random] = None
                      ) -> Dict[str, str]:
    """The environment for the child processes, derived from ``base``.

    * ``ROS_DOMAIN_ID``: kept when set, else random, so two runs (or a run and a robot)
      on one network do not exchange messages;
    * discovery limited to this host unless the user chose otherwise;
    * one thread for torch/OpenMP (the nodes share a small CPU with each other and the
      simulator's renderer; more threads only contend);
    * ``MUJOCO_GL=egl`` (headless rendering) unless set.
    """
    env = dict(base)
    if not env.get('ROS_DOMAIN_ID'):
        env['ROS_DOMAIN_ID'] = str((rng or random.SystemRandom()).randint(*DOMAIN_RANGE))
    if not env.get('ROS_LOCALHOST_ONLY'):
        env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    for key in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        env.setdefault(key, '1')
    env.setdefault('MUJOCO_GL', 'egl')
    env['PYTHONUNBUFFERED'] = '1'   # complete logs even when a child is killed
    return env


def join_domain(env: Mapping[str, str], target: MutableMapping[str, str]) -> None:
    """Put ``target`` (this process's ``os.environ``) on the DDS domain and discovery scope
    of the children's ``env``, so its own nodes talk to them."""
    for key in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE'):
        if key in env:
            target[key] = env[key]


def _ros_value(value: object) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return repr(value)   # always has a decimal point: ROS 2 rejects ints for doubles
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(_ros_value(v) for v in value) + ']'   # a YAML list
    return str(value)


def ros_arguments(namespace: str, params: Mapping[str, object],
                  remaps: Optional[Mapping[str, str]] = None) -> List[str]:
    """``--ros-args -r __ns:=NS [-r from:=to ...] -p name:=value ...``."""
    args = ['--ros-args', '-r', f'__ns:={namespace}']
    for src, dst in (remaps or {}).items():
        args += ['-r', f'{src}:={dst}']
    for name, value in params.items():
        args += ['-p', f'{name}:={_ros_value(value)}']
    return args


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the parent dies (Linux only)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    except (OSError, AttributeError):
        pass   # not Linux: the parent's own cleanup still stops the child


class NodeProcess:
    """One node in a child process; output goes to ``log_path``."""

    def __init__(self, name: str, module: str, ros_args: List[str], env: Mapping[str, str],
                 log_path: Path) -> None:
        """Start ``python -m module ros_args`` now."""
        self.name, self.log_path = name, Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, 'wb')
        self.argv = [sys.executable, '-m', module] + list(ros_args)
        self.proc = subprocess.Popen(
            self.argv, env=dict(env), stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith('linux') else None)

    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines of its output (for error messages)."""
        try:
            text = self.log_path.read_text(errors='replace')
        except OSError:
            return ''
        return '\n'.join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 5.0) -> Optional[int]:
        """SIGINT, then SIGTERM, then SIGKILL, each waiting up to ``timeout`` s; the exit code."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                continue
        self._log.close()
        return self.proc.poll()
