"""What a command means: the ros2_control command interface the action drives.

``command_interface`` (planner_node; written by ``jepa-world-model inspect``) names it, so
limits, logs and docs speak its units:

* ``velocity``: joint velocities (rad/s, m/s for prismatic joints) or a base Twist (m/s,
  rad/s); forward velocity controllers, diff_drive_controller, Nav2. The planner's joint
  trajectory output integrates it into positions, and joint position limits bound it.
* ``effort``: joint torques (N m) or forces (N); ``effort_controllers/
  JointGroupEffortController`` (``forward_effort_controller``), std_msgs/Float64MultiArray.
* ``position``: joint position set-points (rad, m);
  ``position_controllers/JointGroupPositionController``, Float64MultiArray.

Pure Python; the checks return a reason string or None.
"""

from __future__ import annotations

import re
from typing import Optional

__all__ = ['COMMAND_INTERFACES', 'UNITS', 'RATE_UNITS', 'unit_of', 'interface_problem',
           'guess_interface']

COMMAND_INTERFACES = ('velocity', 'effort', 'position')
#: interface -> (unit of a revolute joint / base rotation, unit of a prismatic joint / base
#: translation)
UNITS = {'velocity': ('rad/s', 'm/s'), 'effort': ('N m', 'N'), 'position': ('rad', 'm')}
#: interface -> unit of its change per second (``acceleration_max``).
RATE_UNITS = {'velocity': 'rad/s^2 (m/s^2)', 'effort': 'N m/s (N/s)', 'position': 'rad/s (m/s)'}
#: Outputs each interface can go out as (planner_node ``output``).
_OUTPUTS = {'velocity': ('cmd_vel', 'joint_trajectory', 'float64_multi_array'),
            'effort': ('float64_multi_array',),
            'position': ('float64_multi_array',)}


def unit_of(interface: str) -> str:
    """``'rad/s (m/s)'``-style unit text of ``interface`` for logs and docs."""
    rotary, linear = UNITS[interface]
    return f'{rotary} ({linear})'


def interface_problem(interface: str, output: str, position_limits: bool) -> Optional[str]:
    """Why ``interface`` cannot go out as ``output`` (with joint position limits set or
    not), or None.

    The joint-trajectory output and the joint position limiter integrate the command as a
    velocity over the plan period; a Twist is a velocity. An effort or a position set-point
    has neither meaning, so they go out as Float64MultiArray (forward controllers) without
    the position limiter (the controller and the hardware interface enforce the joint
    limits; an effort command's effect on position depends on the dynamics).
    """
    if interface not in COMMAND_INTERFACES:
        return f'unknown command_interface {interface!r}; use one of {list(COMMAND_INTERFACES)}'
    if output not in _OUTPUTS[interface]:
        return (f'command_interface {interface} cannot go out as output {output}: a '
                f'{"Twist" if output == "cmd_vel" else "joint trajectory"} carries velocities; '
                f'use output float64_multi_array (a forward {interface} controller)')
    if position_limits and interface != 'velocity':
        return (f'joint_position_min/max bound velocity commands (integrated over the plan '
                f'period); with command_interface {interface} leave them unset: the '
                f'{interface} controller and the hardware enforce the joint limits')
    return None


_WORDS = {'effort': ('effort', 'torque', 'force'), 'position': ('position',),
          'velocity': ('velocity', 'cmd_vel', 'twist')}


def guess_interface(topic: str, msg_type: str, trajectory_field: str = '') -> Optional[str]:
    """The interface a recorded command stream drives, when its type or names tell, else
    None: a Twist is a velocity; a JointTrajectory's field says it; a Float64MultiArray on a
    controller topic named for its interface (``/forward_effort_controller/commands``,
    ``/joint_torque_commands``, ``/velocity_controller/commands``) says it there.
    """
    if 'Twist' in msg_type:
        return 'velocity'
    if 'JointTrajectory' in msg_type and trajectory_field in ('positions', 'velocities'):
        return 'position' if trajectory_field == 'positions' else 'velocity'
    words = set(re.split(r'[^a-z]+', topic.lower())) | {topic.lower().strip('/')}
    found = [name for name, keys in _WORDS.items()
             if any(k in words or any(w.startswith(k) for w in words) for k in keys)]
    return found[0] if len(found) == 1 else None
