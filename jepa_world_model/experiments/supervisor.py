"""The in-process supervisor node of the closed-loop experiment.

It talks to ``sim_node`` and ``planner_node`` only through their public ROS interfaces
(namespace ``ns``):

* in: ``/clock``, ``ns/joint_states``, ``ns/odom`` (base), ``ns/sim_node/contact`` and
  ``ns/sim_node/collision``, ``ns/planner_node/status``, ``/diagnostics``, and the command
  topic the simulator executes (``ns/commands`` or ``ns/cmd_vel``), to time the planner;
* out: goals (``ns/planner_node/goal_image``, ``goal_joint_state``, ``goal_pose``), and
  commands on the simulator's command topic for the conditions it drives itself;
* services: ``ns/sim_node/reset`` and ``ns/planner_node/enable``.

``sim_node`` publishes each control tick as /clock, joint_states, odom, image, camera_info,
contact, collision, in that order; the collision flag closes a tick. When it arrives, every
joint state received since the last one becomes a :class:`Tick` (with the odometry pose of
the same stamp), so no tick is lost while the experiment loop was busy and the executor
delivered several joint states before their flags; the flags received go to the newest of
these ticks (a busy loop attributes a collision up to a few ticks late, never drops it).

Spun by the caller's single-threaded executor (rclpy 7.1's multi-threaded one starves
timers). Callbacks only store; the experiment loop reads.
"""

# First: importing jepa_world_model.ros makes rclpy importable (it may re-execute the
# interpreter), so it comes before the ROS imports below.
from ..ros.common.image_conversion import rgb_to_image_msg
from ..ros.common.joint_state_conversion import stamp_to_seconds
from ..ros.common.state_inputs import odometry_pose

from collections import deque
import time
from typing import Any, Deque, Dict, List, NamedTuple, Optional, Sequence

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry
import numpy as np
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64MultiArray, Header, String
from std_srvs.srv import SetBool, Trigger

__all__ = ['Tick', 'Supervisor']


class Tick(NamedTuple):
    """One simulator control tick as received.

    Attributes:
        stamp: Simulated time of the tick's joint state [s].
        wall: ``time.monotonic()`` when the tick closed here.
        q: [J] joint positions; dq: [J] joint velocities.
        pose: [3] odometry (x, y, yaw) or None (arm).
        contact, collision: The tick's flags.
    """

    stamp: float
    wall: float
    q: np.ndarray
    dq: np.ndarray
    pose: Optional[np.ndarray]
    contact: bool
    collision: bool


class Supervisor(Node):
    """Collects ticks, planner statuses and timings; publishes goals and commands."""

    def __init__(self, robot: str, namespace: str, joint_names: Sequence[str],
                 context: Any = None, simulator: str = 'sim_node') -> None:
        """``robot`` 'arm' (Float64MultiArray commands) or 'mobile_base' (Twist cmd_vel);
        ``simulator`` the name of the node that offers ``~/reset``, ``~/contact`` and
        ``~/collision`` (sim_node, or a user's robot wrapper such as examples/pusher)."""
        super().__init__('plan_eval_supervisor', context=context)
        ns = namespace.rstrip('/')
        self.robot, self.joint_names = robot, list(joint_names)
        self.ticks: Deque[Tick] = deque(maxlen=1000)
        self.statuses: List[str] = []
        self.status: Optional[str] = None
        self.response_ms: List[float] = []
        self.diagnostics: Dict[str, str] = {}
        self.recording = self.time_commands = False
        self._joints: Deque[JointState] = deque(maxlen=100)   # not yet made into ticks
        self._poses: Dict[float, np.ndarray] = {}               # odometry by stamp
        self._pose: Optional[np.ndarray] = None
        self._contact = self._collision = False
        self._clock_wall: Optional[float] = None
        base = robot == 'mobile_base'
        sub, pub = self.create_subscription, self.create_publisher
        sub(Clock, '/clock', self._on_clock, 10)
        sub(JointState, f'{ns}/joint_states', self._on_joint, 10)
        sub(Bool, f'{ns}/{simulator}/contact', self._on_contact, 10)
        sub(Bool, f'{ns}/{simulator}/collision', self._on_collision, 10)
        sub(String, f'{ns}/planner_node/status', self._on_status, 10)
        sub(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        command_type = Twist if base else Float64MultiArray
        command_topic = f'{ns}/cmd_vel' if base else f'{ns}/commands'
        sub(command_type, command_topic, self._on_command, 10)
        self._command_pub = pub(command_type, command_topic, 10)
        if base:
            sub(Odometry, f'{ns}/odom', self._on_odom, 10)
        self._goal_image_pub = pub(Image, f'{ns}/planner_node/goal_image', 1)
        self._goal_joint_pub = pub(JointState, f'{ns}/planner_node/goal_joint_state', 1)
        self._goal_pose_pub = pub(PoseStamped, f'{ns}/planner_node/goal_pose', 1)
        self.reset_client = self.create_client(Trigger, f'{ns}/{simulator}/reset')
        self.enable_client = self.create_client(SetBool, f'{ns}/planner_node/enable')

    # -- inputs --------------------------------------------------------------------------
    def _on_clock(self, msg: Clock) -> None:
        self._clock_wall = time.monotonic()

    def _on_joint(self, msg: JointState) -> None:
        self._joints.append(msg)

    def _on_odom(self, msg: Odometry) -> None:
        self._pose = odometry_pose(msg)
        self._poses[stamp_to_seconds(msg.header.stamp)] = self._pose
        while len(self._poses) > 100:
            self._poses.pop(next(iter(self._poses)))

    def _on_contact(self, msg: Bool) -> None:
        self._contact = self._contact or bool(msg.data)

    def _on_collision(self, msg: Bool) -> None:
        self._collision = self._collision or bool(msg.data)
        pending = []
        while self._joints:
            tick = self._make_tick(self._joints.popleft())
            if tick is not None:
                pending.append(tick)
        if not pending:
            return   # flags wait for the next tick
        last = pending[-1]._replace(contact=self._contact, collision=self._collision)
        self.ticks.extend(pending[:-1] + [last])
        self._contact = self._collision = False

    def _make_tick(self, joint: JointState) -> Optional[Tick]:
        stamp = stamp_to_seconds(joint.header.stamp)
        pose = self._poses.get(stamp, self._pose)
        if self.robot == 'mobile_base' and pose is None:
            return None
        names = list(joint.name)
        order = [names.index(n) for n in self.joint_names if n in names]
        if len(order) != len(self.joint_names):
            return None
        q = np.asarray(joint.position, dtype=np.float64)
        dq = np.asarray(joint.velocity, dtype=np.float64)
        return Tick(stamp=stamp, wall=time.monotonic(),
                    q=q[order] if q.size == len(names) else np.zeros(len(order)),
                    dq=dq[order] if dq.size == len(names) else np.zeros(len(order)),
                    pose=None if pose is None else pose.copy(), contact=False,
                    collision=False)

    def _on_status(self, msg: String) -> None:
        self.status = msg.data
        if self.recording:
            self.statuses.append(msg.data)

    def _on_command(self, msg: Any) -> None:
        if self.recording and self.time_commands and self._clock_wall is not None:
            self.response_ms.append((time.monotonic() - self._clock_wall) * 1e3)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.endswith('planner_node: planner'):
                self.diagnostics = {kv.key: kv.value for kv in status.values}
                self.diagnostics['_message'] = status.message

    # -- episode bookkeeping -------------------------------------------------------------
    def start_recording(self, time_commands: bool = False) -> None:
        """Forget statuses and timings; collect them from now on (command timings only
        with ``time_commands``: commands this node publishes itself are not timed)."""
        self.statuses, self.response_ms, self.recording = [], [], True
        self.time_commands = time_commands

    def stop_recording(self) -> None:
        """Stop collecting statuses and timings."""
        self.recording = False

    def take_ticks(self) -> List[Tick]:
        """The ticks received since the last call, oldest first."""
        ticks = list(self.ticks)
        self.ticks.clear()
        return ticks

    # -- outputs -------------------------------------------------------------------------
    def publish_command(self, values: Sequence[float]) -> None:
        """A joint-velocity command (arm) or a (v, w) Twist (base) to the simulator."""
        if self.robot == 'mobile_base':
            msg = Twist()
            msg.linear.x, msg.angular.z = float(values[0]), float(values[1])
        else:
            msg = Float64MultiArray(data=[float(v) for v in values])
        self._command_pub.publish(msg)

    def publish_goal_image(self, rgb: np.ndarray) -> None:
        """Goal image [S, S, 3] uint8 RGB (rgb8)."""
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id='camera_optical_frame')
        self._goal_image_pub.publish(rgb_to_image_msg(rgb, 'rgb8', header))

    def publish_goal_joint_state(self, q: Sequence[float]) -> None:
        """Goal joint positions [J] in ``joint_names`` order."""
        msg = JointState(name=list(self.joint_names), position=[float(v) for v in q])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._goal_joint_pub.publish(msg)

    def publish_goal_pose(self, xy: Sequence[float], frame_id: str = 'odom') -> None:
        """Goal position (x, y) [m] in ``frame_id``; heading identity (ignored when the
        planner's goal_yaw_weight is 0)."""
        msg = PoseStamped()
        msg.header.frame_id = frame_id
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.pose.position.x, msg.pose.position.y = float(xy[0]), float(xy[1])
        msg.pose.orientation.w = 1.0
        self._goal_pose_pub.publish(msg)
