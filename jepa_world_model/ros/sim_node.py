"""``sim_node``: an embedded MuJoCo robot that looks like a real one over ROS 2.

It publishes what a camera driver, ``joint_state_broadcaster``, ``diff_drive_controller``
and a ``ros_gz_bridge`` clock bridge would, and accepts the commands their controllers
take, so the world-model and planner nodes run unchanged against it (docs/simulation.md).

Every timer tick (steady clock, ``rate_hz``) applies the newest command for one control
period (``control_period`` simulated seconds, by default ``1 / rate_hz``: real time), then
publishes ``/clock``, ``joint_states``, ``odom`` (+ ``/tf``, and ``/tf_static``: map -> odom,
base_link -> laser, REP 105) and
``scan`` (the base), ``image``, ``camera_info``, ``~/contact`` and ``~/collision``, and the
tabletop's ground-truth object poses and cube material (``/ground_truth/<name>``, for
evaluation only), all
stamped with the simulation time. The base also publishes its room's static ``map`` once,
latched (transient local), as map_server does. Commands older than ``command_timeout``
(simulated seconds) become a zero action; malformed commands are counted, logged
(throttled) and ignored.

Faster than real time: a ``control_period`` longer than ``1 / rate_hz`` runs simulated time
``control_period * rate_hz`` times faster (a fixed time scale), and ``step_on_command``
lock-steps the simulator with its controller: a command arriving after a step was published
starts the next step at once, so the tick timer only bounds how long the simulator waits for
the command (docs/simulation.md).
"""

import math
import sys
from typing import Any, List, Optional

from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import OccupancyGrid, Odometry
import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile
from rclpy.qos import ReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image, JointState, LaserScan
from std_msgs.msg import Bool, Float64MultiArray, Header
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from .common.node_main import run_node
from ..sim.robots import make_robot, SimObservation
from .common.image_conversion import rgb_to_image_msg
from .common.joint_state_conversion import arrays_to_joint_state, seconds_to_stamp
from .sim_parameters import (descriptor, PARAMETERS, SimParameterError,
                             validate_parameter)
from .sim_outputs import (GroundTruthPublisher, odometry_message, SCAN_FRAME,
                          static_transforms, TFMessage)

__all__ = ['SimNode', 'SimParameterError', 'main']

TF_QOS = QoSProfile(depth=100)          # as tf2_ros' TransformBroadcaster
# As tf2_ros' StaticTransformBroadcaster: a late listener still gets the static transforms.
TF_STATIC_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
STATE_QOS = QoSProfile(depth=10)        # joint_states/odom: reliable, like ros2_control
MAP_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)   # as map_server
MAP_RESOLUTION = 0.05                   # m per map cell
# Best effort accepts both reliable and best-effort command publishers.
COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
LOG_THROTTLE_S = 5.0


class SimNode(Node):
    """Runs a :mod:`jepa_world_model.sim` robot and exposes it like a real robot.

    All callbacks are in the node's default (mutually exclusive) callback group, so the
    tick, the command callbacks and ``~/reset`` never run concurrently, even under a
    multi-threaded executor: the command state needs no lock.
    """

    def __init__(self, node_name: str = 'sim_node', **kwargs: Any) -> None:
        """Declare and validate parameters, create the robot, topics and the tick timer.

        Raises:
            SimParameterError: An invalid parameter value.
            rclpy.exceptions.ParameterException: An override out of range or of bad type.
        """
        super().__init__(node_name, **kwargs)
        self.robot = None
        try:
            self._setup()
        except Exception:   # leave nothing behind in the context, then report
            if self.robot is not None:
                self.robot.close()
            self.destroy_node()
            raise

    def _setup(self) -> None:
        for name, spec in PARAMETERS.items():
            self.declare_parameter(name, spec[0], descriptor(name))
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        for name, value in p.items():
            reason = validate_parameter(name, value)
            if reason:
                raise SimParameterError(reason)
        self.command_timeout, self.position_gain = p['command_timeout'], p['position_gain']
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.camera_frame = p['camera_frame']
        self.control_period = p['control_period'] or 1.0 / p['rate_hz']
        self.step_on_command = p['step_on_command']
        self.robot = make_robot(p['robot'], image_size=p['image_size'],
                                control_dt=self.control_period, scene=p['scene'])
        self.seed, self.episode = p['seed'], 0
        self.bad_commands = 0
        self._time_offset = 0.0     # keeps published time monotonic across ~/reset
        self._velocity: Optional[np.ndarray] = None
        self._velocity_time = -math.inf
        self._goal: Optional[np.ndarray] = None
        self._goal_deadline = -math.inf
        self._obs = self.robot.reset(self.seed)   # renders once: fails early without GL
        self._camera_info = self._make_camera_info()
        self._create_interfaces(p)
        # Steady (wall) clock: the node is the time source, so it must not wait on /clock.
        self._timer = self.create_timer(1.0 / p['rate_hz'], self._tick,
                                        clock=Clock(clock_type=ClockType.STEADY_TIME))
        scale = self.control_period * p['rate_hz']
        pacing = '' if scale == 1.0 and not self.step_on_command else (
            f' (control period {self.control_period:g} s: {scale:g}x real time'
            + (', lock-stepped with its commands)' if self.step_on_command else ')'))
        self.get_logger().info(
            f'{self.robot.name}: {self.robot.image_size}px camera, {p["rate_hz"]:g} Hz{pacing}, '
            f'joints {list(self.robot.joint_names)}, actions {list(self.robot.action_names)}')

    # ------------------------------------------------------------------ set-up

    def _create_interfaces(self, p: dict) -> None:
        pub = self.create_publisher
        self._clock_pub = pub(ClockMsg, '/clock', 10) if p['publish_clock'] else None
        self._image_pub = pub(Image, 'image', qos_profile_sensor_data)
        self._info_pub = pub(CameraInfo, 'camera_info', qos_profile_sensor_data)
        self._joint_pub = pub(JointState, 'joint_states', STATE_QOS)
        self._contact_pub = pub(Bool, '~/contact', STATE_QOS)
        self._collision_pub = pub(Bool, '~/collision', STATE_QOS)
        self._ground_truth = GroundTruthPublisher(self, (self._obs.objects or {}).keys(),
                                                  (self._obs.labels or {}).keys())
        self._odom_pub = self._tf_pub = self._scan_pub = self._map_pub = None
        self._tf_static_pub = None
        sub = self.create_subscription
        if self.robot.name == 'mobile_base':
            self._odom_pub = pub(Odometry, 'odom', STATE_QOS)
            self._scan_pub = pub(LaserScan, 'scan', qos_profile_sensor_data)
            self._map_pub = pub(OccupancyGrid, 'map', MAP_QOS)
            self._map_pub.publish(self._make_map())
            if TFMessage is not None:
                self._tf_pub = pub(TFMessage, '/tf', TF_QOS)
                self._tf_static_pub = pub(TFMessage, '/tf_static', TF_STATIC_QOS)
                self._tf_static_pub.publish(static_transforms(seconds_to_stamp(self.sim_time)))
            else:
                self.get_logger().info('tf2_msgs is not importable: odom -> base_link is '
                                       'published on odom only, not on /tf', once=True)
            stamped = p['use_twist_stamped']
            sub(TwistStamped if stamped else Twist, 'cmd_vel',
                self._on_twist_stamped if stamped else self._on_twist, COMMAND_QOS)
        else:
            sub(JointTrajectory, 'joint_trajectory', self._on_trajectory, COMMAND_QOS)
            sub(Float64MultiArray, 'commands', self._on_commands, COMMAND_QOS)
        self.create_service(Trigger, '~/reset', self._on_reset)

    def _make_map(self) -> OccupancyGrid:
        """The room's walls and furniture (100) and free floor (0), in the odom frame."""
        occupied, origin = self.robot.occupancy_grid(MAP_RESOLUTION)
        grid = OccupancyGrid(header=Header(stamp=seconds_to_stamp(self.sim_time),
                                           frame_id='odom'))
        grid.info.resolution = MAP_RESOLUTION
        grid.info.height, grid.info.width = (int(n) for n in occupied.shape)
        grid.info.origin.position.x, grid.info.origin.position.y = (float(v) for v in origin)
        grid.info.origin.orientation.w = 1.0
        grid.data = np.where(occupied, 100, 0).astype(np.int8).reshape(-1).tolist()
        return grid

    def _publish_scan(self, obs: SimObservation, stamp: Any) -> None:
        robot = self.robot
        angles = robot.scan_angles()
        scan = LaserScan(header=Header(stamp=stamp, frame_id=SCAN_FRAME),
                         angle_min=float(angles[0]), angle_max=float(angles[-1]),
                         angle_increment=float(angles[1] - angles[0]),
                         range_min=0.0, range_max=float(robot.SCAN_RANGE_MAX))
        scan.ranges = obs.scan.astype(np.float32).tolist()
        self._scan_pub.publish(scan)

    def _make_camera_info(self) -> CameraInfo:
        fx, fy, cx, cy, width, height = self.robot.camera_intrinsics()
        info = CameraInfo(width=int(width), height=int(height), distortion_model='plumb_bob')
        info.d = [0.0] * 5
        info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
        return info

    def _on_set_parameters(self, params: List[Any]) -> SetParametersResult:
        for param in params:
            reason = validate_parameter(param.name, param.value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
        for param in params:
            if param.name in ('command_timeout', 'position_gain'):
                setattr(self, param.name, float(param.value))
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ commands

    @property
    def sim_time(self) -> float:
        """Simulated time of the current state [s] (monotonic across resets)."""
        return self._time_offset + self._obs.time

    def _reject(self, kind: str, reason: str) -> None:
        self.bad_commands += 1
        self.get_logger().warning(f'ignored {kind}: {reason} ({self.bad_commands} bad '
                                  'commands so far)', throttle_duration_sec=LOG_THROTTLE_S)

    def _set_velocity(self, values: np.ndarray) -> None:
        self._velocity, self._velocity_time = values, self.sim_time
        self._goal = None   # the newest command wins
        self._command_taken()

    def _command_taken(self) -> None:
        """Lock-step: the controller has answered the published step, so the next step runs
        now instead of at the next tick (which only bounds the wait)."""
        if self.step_on_command:
            self._tick()

    def _on_twist(self, msg: Twist) -> None:
        values = np.array([msg.linear.x, msg.linear.y, msg.linear.z,
                           msg.angular.x, msg.angular.y, msg.angular.z])
        if not np.all(np.isfinite(values)):
            self._reject('cmd_vel', f'non-finite values {values.tolist()}')
            return
        # A diff-drive base uses linear.x and angular.z only, like diff_drive_controller.
        self._set_velocity(values[[0, 5]])

    def _on_twist_stamped(self, msg: TwistStamped) -> None:
        self._on_twist(msg.twist)

    def _on_commands(self, msg: Float64MultiArray) -> None:
        values = np.asarray(msg.data, dtype=np.float64)
        joints = len(self.robot.joint_names)
        if values.shape != (joints,):
            self._reject('commands', f'{values.size} values for {joints} joints '
                         f'{list(self.robot.joint_names)}')
        elif not np.all(np.isfinite(values)):
            self._reject('commands', f'non-finite values {values.tolist()}')
        else:
            self._set_velocity(values)

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        names = list(msg.joint_names)
        if not msg.points:   # as joint_trajectory_controller: empty cancels the goal
            self._goal = self._velocity = None
            self._command_taken()
            return
        known = list(self.robot.joint_names)
        if sorted(names) != sorted(known):
            self._reject('joint_trajectory', f'joint_names {names} must list each of {known}')
            return
        order = [names.index(name) for name in known]
        point = msg.points[0]
        velocities, positions = np.asarray(point.velocities), np.asarray(point.positions)
        if velocities.size == len(names):
            values, is_goal = velocities[order], False
        elif positions.size == len(names):
            values, is_goal = positions[order], True
        else:
            self._reject('joint_trajectory', 'the first point needs one velocity or one '
                         f'position per joint, got {velocities.size} and {positions.size}')
            return
        if not np.all(np.isfinite(values)):
            self._reject('joint_trajectory', f'non-finite values {values.tolist()}')
        elif not is_goal:
            self._set_velocity(values)
        else:
            # Position goals stay active for their time_from_start plus the timeout.
            duration = point.time_from_start.sec + point.time_from_start.nanosec * 1e-9
            self._velocity, self._goal = None, values
            self._goal_deadline = self.sim_time + max(0.0, duration) + self.command_timeout
            self._command_taken()

    def current_action(self) -> np.ndarray:
        """The action for the next tick: fresh command, active position goal, else zero."""
        now = self.sim_time
        if self._velocity is not None and now - self._velocity_time <= self.command_timeout:
            return self._velocity.copy()
        if self._goal is not None and now <= self._goal_deadline:
            return self.position_gain * (self._goal - self._obs.q)
        return np.zeros(self.robot.action_dim)

    # ------------------------------------------------------------------ tick

    def _tick(self) -> None:
        """One step: the current action for one control period, then every output."""
        self._obs = self.robot.step(self.current_action())
        self.publish(self._obs)
        if self.step_on_command:   # the wait for the next command starts now
            self._timer.reset()

    def publish(self, obs: SimObservation) -> None:
        """Publish one observation on every output topic, stamped with simulated time."""
        stamp = seconds_to_stamp(self.sim_time)
        self._joint_pub.publish(arrays_to_joint_state(
            self.robot.joint_names, obs.q, obs.dq, Header(stamp=stamp, frame_id='base_link')))
        if self._odom_pub is not None:
            self._publish_odometry(obs, stamp)
        if self._scan_pub is not None and obs.scan is not None:
            self._publish_scan(obs, stamp)
        camera_header = Header(stamp=stamp, frame_id=self.camera_frame)
        self._image_pub.publish(rgb_to_image_msg(obs.image, 'rgb8', camera_header))
        self._camera_info.header = camera_header
        self._info_pub.publish(self._camera_info)
        self._contact_pub.publish(Bool(data=obs.contact))
        self._collision_pub.publish(Bool(data=obs.collision))
        self._ground_truth.publish(obs.objects, stamp, obs.labels)
        if self._clock_pub is not None:
            # Last: a node whose timers run on /clock wakes for this step with the step's
            # sensor data already sent, not a control period before it (a planner that
            # ticked first found no new image and skipped the step).
            self._clock_pub.publish(ClockMsg(clock=stamp))

    def _publish_odometry(self, obs: SimObservation, stamp: Any) -> None:
        odom, tf = odometry_message(obs, stamp)
        self._odom_pub.publish(odom)
        if self._tf_pub is not None:
            self._tf_pub.publish(TFMessage(transforms=[tf]))

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Any:
        self.episode += 1
        self._time_offset = self.sim_time + self.robot.dt
        self._goal = self._velocity = None
        self._obs = self.robot.reset(self.seed + self.episode)
        # The start state goes out at once, as its own step in time: a supervisor or
        # planner waiting for it need not wait for the next tick (in lock-step that tick
        # would come only after a control period without a command).
        self.publish(self._obs)
        if self.step_on_command:
            self._timer.reset()
        response.success = True
        response.message = f'episode {self.episode}, seed {self.seed + self.episode}'
        return response

    def close(self) -> None:
        """Stop the timer and free the renderer (call before destroy_node)."""
        self.destroy_timer(self._timer)
        self.robot.close()


def main(args: Optional[List[str]] = None) -> int:
    """Entry point of ``ros2 run jepa_world_model sim_node``; always shuts down."""
    return run_node('sim_node', SimNode, args, release=SimNode.close,
                    parameter_errors=(SimParameterError,))


if __name__ == '__main__':
    sys.exit(main())
