"""``pusher_node``: gymnasium's ``Pusher-v5`` arm as a ROS 2 robot.

What a real torque-controlled arm with a camera would offer, so that world_model_node and
planner_node run against it unchanged (docs/your_robot.md):

* out: ``image`` (sensor_msgs/Image rgb8 from a fixed camera, ``camera_optical_frame``),
  ``camera_info``, ``joint_states`` (the 7 arm joints, positions and velocities, as
  ``joint_state_broadcaster``), ``/clock`` (simulated time, for ``use_sim_time``),
  ``~/contact`` (the arm touches the object) and ``~/collision`` (always false; published
  last, it closes a step for the package's closed-loop supervisor);
* in: ``commands`` (std_msgs/Float64MultiArray, 7 joint torques in N·m, as a
  ``forward_effort_controller`` takes them); a command older than ``command_timeout``
  simulated seconds becomes zero torque; a malformed one is counted, logged (throttled) and
  ignored;
* ``~/reset`` (std_srvs/Trigger): the next seeded episode; the answer says ``seed N``.

Every tick of a steady timer (``rate_hz``) applies the newest command for one environment
step (0.05 simulated s) and publishes, stamped with simulated time. ``step_on_command``
lock-steps it with its controller: a command arriving after a step was published starts the
next step at once (faster than real time, same decisions), the timer then only bounds the
wait, as sim_node does (docs/simulation.md).

Run:  ``PYTHONPATH=examples/pusher python -m pusher_node --ros-args -p rate_hz:=20.0``
"""

from __future__ import annotations

import math
import sys
from typing import Any, List, Optional

# First: importing jepa_world_model.ros makes rclpy importable (it may re-execute the
# interpreter with the ROS 2 wheels' libraries), so it precedes every ROS import.
from jepa_world_model.ros.common.image_conversion import rgb_to_image_msg
from jepa_world_model.ros.common.joint_state_conversion import (arrays_to_joint_state,
                                                                seconds_to_stamp)
from jepa_world_model.ros.common.node_main import run_node

import numpy as np   # noqa: I100
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Float64MultiArray, Header
from std_srvs.srv import Trigger

from pusher_robot import PusherRobot

__all__ = ['PusherNode', 'PusherParameterError', 'main']

STATE_QOS = QoSProfile(depth=10)          # reliable, like ros2_control's broadcasters
# Best effort accepts both reliable and best-effort command publishers.
COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
LOG_THROTTLE_S = 5.0
# name: (default, description, (low, high) for numbers)
PARAMETERS = {
    'image_size': (64, 'Side of the square camera image [px]', (16, 512)),
    'rate_hz': (20.0, 'Steady-timer rate [Hz], one 0.05 s environment step per tick: 20 is '
                'real time; with step_on_command the longest wait for a command', (0.5, 200.0)),
    'step_on_command': (False, 'Lock-step: a command arriving after a step was published '
                        'starts the next step at once', None),
    'seed': (0, 'Seed of the first episode (~/reset uses seed+1, seed+2, ...)', (0, 2 ** 31 - 1)),
    'command_timeout': (0.5, 'Commands older than this [simulated s] become zero torque',
                        (0.01, 60.0)),
    'camera_frame': ('camera_optical_frame', 'frame_id of image and camera_info', None),
    'publish_clock': (True, 'Publish rosgraph_msgs/Clock on /clock (for use_sim_time)', None),
}


class PusherParameterError(ValueError):
    """A parameter value is invalid (the node does not start)."""


class PusherNode(Node):
    """Steps a :class:`PusherRobot` and exposes it like a real arm.

    All callbacks share the node's default (mutually exclusive) callback group, so the tick,
    the command callback and ``~/reset`` never run concurrently: no lock is needed.
    """

    def __init__(self, node_name: str = 'pusher_node', **kwargs: Any) -> None:
        """Declare parameters, make the robot (renders once: fails early without GL).

        Raises:
            PusherParameterError: An invalid parameter value.
        """
        super().__init__(node_name, **kwargs)
        for name, (default, text, bounds) in PARAMETERS.items():
            desc = ParameterDescriptor(description=text, read_only=True)
            if bounds and isinstance(default, float):
                desc.floating_point_range = [FloatingPointRange(
                    from_value=float(bounds[0]), to_value=float(bounds[1]), step=0.0)]
            self.declare_parameter(name, default, desc)
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        for name in ('image_size', 'seed'):
            low, high = PARAMETERS[name][2]
            if not low <= p[name] <= high:
                raise PusherParameterError(f'{name} must be in [{low}, {high}], got {p[name]}')
        self.robot = PusherRobot(p['image_size'])
        self.seed, self.episode = p['seed'], 0
        self.step_on_command = p['step_on_command']
        self.command_timeout = p['command_timeout']
        self.camera_frame = p['camera_frame']
        self.bad_commands = 0
        self._command: Optional[np.ndarray] = None
        self._command_time = -math.inf
        self._time_offset = 0.0     # keeps published time monotonic across ~/reset
        self._obs = self.robot.reset(self.seed)
        pub = self.create_publisher
        self._clock_pub = pub(ClockMsg, '/clock', 10) if p['publish_clock'] else None
        self._image_pub = pub(Image, 'image', qos_profile_sensor_data)
        self._info_pub = pub(CameraInfo, 'camera_info', qos_profile_sensor_data)
        self._joint_pub = pub(JointState, 'joint_states', STATE_QOS)
        self._contact_pub = pub(Bool, '~/contact', STATE_QOS)
        self._collision_pub = pub(Bool, '~/collision', STATE_QOS)
        self.create_subscription(Float64MultiArray, 'commands', self._on_commands,
                                 COMMAND_QOS)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self._camera_info = self._make_camera_info()
        # Steady (wall) clock: the node is the time source, it must not wait on /clock.
        self._tick_timer = self.create_timer(1.0 / p['rate_hz'], self._tick,
                                             clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(
            f'Pusher-v5: {p["image_size"]}px camera, {p["rate_hz"]:g} Hz ticks of '
            f'{self.robot.dt:g} s' + (', lock-stepped with its commands'
                                      if self.step_on_command else '')
            + f'; joints {self.robot.joint_names}; effort commands on '
            f'{self.resolve_topic_name("commands")}')

    @property
    def sim_time(self) -> float:
        """Simulated time of the current state [s] (monotonic across resets)."""
        return self._time_offset + self._obs.time

    def _make_camera_info(self) -> CameraInfo:
        """A pinhole model of the free camera (MuJoCo's default 45 degree vertical fov)."""
        size = float(self.robot.image_size)
        fovy = math.radians(float(self.robot.model.vis.global_.fovy))
        focal = 0.5 * size / math.tan(0.5 * fovy)
        info = CameraInfo(width=int(size), height=int(size), distortion_model='plumb_bob')
        info.d = [0.0] * 5
        info.k = [focal, 0.0, size / 2, 0.0, focal, size / 2, 0.0, 0.0, 1.0]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [focal, 0.0, size / 2, 0.0, 0.0, focal, size / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
        return info

    def _on_commands(self, msg: Float64MultiArray) -> None:
        values = np.asarray(msg.data, dtype=np.float64)
        joints = len(self.robot.joint_names)
        if values.shape != (joints,) or not np.all(np.isfinite(values)):
            self.bad_commands += 1
            self.get_logger().warning(
                f'ignored commands: need {joints} finite torques for {self.robot.joint_names}, '
                f'got {values.tolist()} ({self.bad_commands} bad commands so far)',
                throttle_duration_sec=LOG_THROTTLE_S)
            return
        self._command, self._command_time = values, self.sim_time
        if self.step_on_command:   # the controller answered the published step
            self._tick()

    def current_action(self) -> np.ndarray:
        """[7] torques for the next step: the fresh command, else zero."""
        if self._command is not None and \
                self.sim_time - self._command_time <= self.command_timeout:
            return self._command.copy()
        return np.zeros(len(self.robot.joint_names))

    def _tick(self) -> None:
        self._obs = self.robot.step(self.current_action())
        self.publish(self._obs)
        if self.step_on_command:   # the wait for the next command starts now
            self._tick_timer.reset()

    def publish(self, obs: Any) -> None:
        """Every output of one step, stamped with simulated time; ~/collision last."""
        stamp = seconds_to_stamp(self.sim_time)
        if self._clock_pub is not None:   # first, so sim-time consumers see time advance
            self._clock_pub.publish(ClockMsg(clock=stamp))
        self._joint_pub.publish(arrays_to_joint_state(
            self.robot.joint_names, obs.q, obs.dq, Header(stamp=stamp, frame_id='base_link')))
        header = Header(stamp=stamp, frame_id=self.camera_frame)
        self._image_pub.publish(rgb_to_image_msg(obs.image, 'rgb8', header))
        self._camera_info.header = header
        self._info_pub.publish(self._camera_info)
        self._contact_pub.publish(Bool(data=bool(obs.contact)))
        self._collision_pub.publish(Bool(data=bool(obs.collision)))

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Any:
        self.episode += 1
        self._time_offset = self.sim_time + self.robot.dt
        self._command = None
        self._obs = self.robot.reset(self.seed + self.episode)
        response.success = True
        response.message = f'episode {self.episode}, seed {self.seed + self.episode}'
        return response

    def close(self) -> None:
        """Stop the timer and free the renderer (call before destroy_node)."""
        self.destroy_timer(self._tick_timer)
        self.robot.close()


def main(args: Optional[List[str]] = None) -> int:
    """Entry point: spin until SIGINT/SIGTERM; 2 on an invalid parameter."""
    return run_node('pusher_node', PusherNode, args, release=PusherNode.close,
                    parameter_errors=(PusherParameterError,))


if __name__ == '__main__':
    sys.exit(main())
