"""sim_node's parameters: one table (default, description, read-only, range), the
descriptors rclpy declares from it, and the checks rclpy's ranges cannot express.

The table is the only place a sim_node parameter is declared; docs/simulation.md lists
them. Needs rclpy's message types only, no node.
"""

import re
from typing import Any, Optional

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from ..sim.people_scenes import SCENES
from ..sim.robots import ROBOTS

__all__ = ['PARAMETERS', 'SimParameterError', 'descriptor', 'validate_parameter',
           'MIN_CONTROL_PERIOD']

MIN_CONTROL_PERIOD = 0.001              # s, the simulator's smallest control_dt
_FRAME_RE = re.compile(r'^[A-Za-z_][\w/]*$')
# (default, description, read_only, (low, high) or None)
PARAMETERS = {
    'robot': ('arm', "Robot: 'arm' (3-DoF planar arm), 'mobile_base' (diff drive) or "
              "'tabletop' (arm with gripper, block and cube; poses on /ground_truth)", True,
              None),
    'scene': ('default', f'mobile_base people: one of {list(SCENES)} (sim/people_scenes.py)',
              True, None),
    'image_size': (64, 'Side of the square camera image [px]', True, (16, 512)),
    'rate_hz': (10.0, 'Tick rate [Hz] of the steady (wall) timer, one step per tick; with '
                'step_on_command the longest wait for a command (1/rate_hz s)', True,
                (0.5, 100.0)),
    'control_period': (0.0, 'Simulated seconds per step; 0: 1/rate_hz (real time). Time runs '
                       'control_period * rate_hz times faster than real time', True,
                       (0.0, 10.0)),
    'step_on_command': (False, 'Lock-step: a command arriving after a step was published '
                        'starts the next step at once (the tick timer is then a timeout)',
                        True, None),
    'seed': (0, 'Seed of the first episode (~/reset uses seed+1, seed+2, ...)', True,
             (0, 2 ** 31 - 1)),
    'use_twist_stamped': (False, 'cmd_vel is geometry_msgs/TwistStamped, not Twist', True,
                          None),
    'camera_frame': ('camera_optical_frame', 'frame_id of image and camera_info', True, None),
    'publish_clock': (True, 'Publish rosgraph_msgs/Clock on /clock (for use_sim_time)', True,
                      None),
    'command_timeout': (0.5, 'Commands older than this [simulated s] become a zero action',
                        False, (0.01, 60.0)),
    'position_gain': (2.0, 'P gain [1/s] toward JointTrajectory positions', False,
                      (0.1, 50.0)),
}


class SimParameterError(ValueError):
    """A parameter value is invalid (the node does not start)."""


def descriptor(name: str) -> ParameterDescriptor:
    """The rclpy descriptor of ``name``: its description, read-only flag and range."""
    default, text, read_only, bounds = PARAMETERS[name]
    desc = ParameterDescriptor(description=text, read_only=read_only)
    if bounds and isinstance(default, int) and not isinstance(default, bool):
        desc.integer_range = [IntegerRange(from_value=bounds[0], to_value=bounds[1], step=0)]
    elif bounds:
        desc.floating_point_range = [FloatingPointRange(
            from_value=float(bounds[0]), to_value=float(bounds[1]), step=0.0)]
    return desc


def validate_parameter(name: str, value: Any) -> Optional[str]:
    """Reason why ``value`` is invalid for ``name`` (ranges are checked by rclpy), or None."""
    if name == 'robot' and value not in ROBOTS:
        return f'robot must be one of {sorted(ROBOTS)}, got {value!r}'
    if name == 'scene' and value not in SCENES:
        return f'scene must be one of {list(SCENES)}, got {value!r}'
    if name == 'control_period' and value != 0.0 and value < MIN_CONTROL_PERIOD:
        return (f'control_period must be 0 (1/rate_hz) or at least {MIN_CONTROL_PERIOD} s, '
                f'got {value}')
    if name == 'camera_frame' and not _FRAME_RE.match(value):
        return f'camera_frame must be a frame name like camera_optical_frame, got {value!r}'
    return None
