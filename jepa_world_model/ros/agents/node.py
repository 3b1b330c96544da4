"""``agent_predictor_node``: people in the robot's scan, tracked and predicted 0.5-2 s ahead.

Subscribes to ``scan`` (sensor_msgs/LaserScan, sensor-data QoS), ``odom`` (nav_msgs/Odometry:
the base pose in the odometry frame at each scan's stamp), ``map`` (nav_msgs/OccupancyGrid,
map_server's latched QoS; in the odometry frame) and, with ``use_planned_path``,
``planned_path`` (nav_msgs/Path with per-pose stamps: the robot's plan, e.g.
``planner_node/planned_path``; without a fresh one the robot's current twist is held). Per
scan it runs :class:`~...core.agents.pipeline.AgentPipeline` and publishes, stamped with the
scan's stamp in the odometry frame (the odom message's ``frame_id``):

* ``~/tracked`` (geometry_msgs/PoseArray): the agents now, oriented along their velocity;
* ``~/predicted_<ms>ms`` (geometry_msgs/PoseArray), one topic per horizon time (500, 1000,
  1500, 2000): where they will be. Index k is the same agent in every array of one scan;
* ``~/markers`` (visualization_msgs/MarkerArray, :mod:`.markers`).

Why a PoseArray per horizon step and not a Path per agent: the number of people changes from
scan to scan, and a topic per agent cannot follow it; "where is everybody at t + h" is the
query a time-indexed cost (a costmap layer, a planner's term) makes.

A lifecycle node like ``world_model_node`` and ``planner_node`` (ros/common/
guarded_lifecycle.py): configure reads the parameters (:mod:`.parameters`), loads the
predictor and creates the publishers; activate subscribes and starts predicting; deactivate
unsubscribes and publishes empty arrays and a DELETEALL marker array, so no consumer keeps
acting on people seen before; cleanup drops the pipeline. ``autostart`` configures and
activates at start-up without a lifecycle manager. A model that cannot be loaded fails
configure with the reason (the node stays up, unconfigured).

Assumes the scanner sits at the base frame's origin (the scan's ``frame_id`` is the odom
child frame), as on the simulated base. Bad input (malformed scans, scans without odometry
near their stamp, time going backwards) is counted in :attr:`AgentPredictorNode.rejects`,
logged (throttled) and skipped; the node keeps running.
"""

from __future__ import annotations

from collections import deque
import math
import sys
from typing import Any, Deque, Dict, List, Optional, Tuple

from geometry_msgs.msg import Pose, PoseArray
from nav_msgs.msg import OccupancyGrid, Odometry, Path
import numpy as np
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile
from sensor_msgs.msg import LaserScan
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from ...core.agents.features import HORIZONS_S
from ...core.agents.pipeline import AgentPipeline, held_twist_future, path_future
from ...core.agents.predictor import AgentForecast, AgentModelError, load_predictor
from ...core.agents.scan_detection import DetectionSettings, StaticMask
from ...core.agents.tracking import TrackerSettings
from ..common.guarded_lifecycle import autostart, GuardedLifecycleNode
from ..common.node_main import run_node
from ..common.parameter_table import declare_table
from ..common.state_inputs import odometry_pose
from .markers import forecast_markers
from .parameters import AgentParameterError, PARAMS, read_settings

__all__ = ['AgentPredictorNode', 'main', 'horizon_topic']

MAP_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)   # as map_server
ODOM_KEEP = 100          # odometry samples kept (10 s at 10 Hz) to find a scan's pose
LOG_THROTTLE_S = 5.0
OCCUPIED = 50            # map cells at or above this occupancy are obstacles


def horizon_topic(seconds: float) -> str:
    """``~/predicted_<ms>ms``: the topic of horizon ``seconds``."""
    return f'~/predicted_{int(round(seconds * 1000))}ms'


def _stamp_s(stamp: Any) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def _pose(x: float, y: float, yaw: float) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y = float(x), float(y)
    pose.orientation.z, pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
    return pose


class AgentPredictorNode(GuardedLifecycleNode):
    """See the module docstring. All callbacks share the default (mutually exclusive) group,
    so the pipeline's state needs no lock."""

    def __init__(self, node_name: str = 'agent_predictor_node', **kwargs: Any) -> None:
        """Declare the parameters; nothing is loaded or subscribed before configure.

        Raises:
            rclpy.exceptions.ParameterException: An override out of range or of the wrong
                type.
        """
        super().__init__(node_name, **kwargs)
        declare_table(self, PARAMS)
        self.settings = read_settings(self)
        self.pipeline: Optional[AgentPipeline] = None
        self.rejects: Dict[str, int] = {}
        self.forecast: Optional[AgentForecast] = None   # the last one published
        self._pubs: Dict[str, Any] = {}
        self._subs: List[Any] = []   # not _subscriptions: that list is rclpy Node's
        self._frame = ''
        self._reset_inputs()

    def _reset_inputs(self) -> None:
        self._odom: Deque[Tuple[float, np.ndarray]] = deque(maxlen=ODOM_KEEP)
        self._path: Optional[Tuple[float, np.ndarray, np.ndarray]] = None
        self._last_scan = -math.inf

    # -- lifecycle -------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Read the parameters, load the predictor, create the publishers."""
        s = self.settings = read_settings(self)
        try:
            self.pipeline = self._make_pipeline(s)
        except AgentParameterError as exc:
            return self._fail(str(exc))
        self.rejects, self.forecast = {}, None
        self._reset_inputs()
        pub = self.create_lifecycle_publisher
        self._pubs = {'tracked': pub(PoseArray, '~/tracked', 10),
                      'markers': pub(MarkerArray, '~/markers', 10)}
        for h in HORIZONS_S:
            self._pubs[horizon_topic(h)] = pub(PoseArray, horizon_topic(h), 10)
        self._state = 'inactive'
        self.get_logger().info(
            f'configured: {"model " + s.model_path if s.model_path else "constant velocity"}'
            f', map {"on" if s.use_map else "off"}, horizons {list(HORIZONS_S)} s')
        return TransitionCallbackReturn.SUCCESS

    @staticmethod
    def _make_pipeline(s: Any) -> AgentPipeline:
        """The pipeline of settings ``s``; AgentParameterError with the reason if not."""
        try:
            predictor = load_predictor(s.model_path) if s.model_path else None
            detection = DetectionSettings(s.map_tolerance, s.cluster_gap, s.max_width,
                                          s.surface_offset)
            tracking = TrackerSettings(gate=s.gate, min_hits=s.min_hits,
                                       max_coast_s=max(s.max_coast, 1e-3))
        except (AgentModelError, ValueError) as exc:
            raise AgentParameterError(str(exc)) from None
        return AgentPipeline(detection, tracking, predictor)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe: predictions start with the next scan."""
        s, sub = self.settings, self.create_subscription
        self._subs = [sub(LaserScan, 'scan', self._on_scan, qos_profile_sensor_data),
                      sub(Odometry, 'odom', self._on_odom, qos_profile_sensor_data)]
        if s.use_map:
            self._subs.append(sub(OccupancyGrid, 'map', self._on_map, MAP_QOS))
        if s.use_planned_path:
            self._subs.append(sub(Path, 'planned_path', self._on_path, 10))
        self._state = 'active'
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe, drop the tracks and publish an empty forecast (empty arrays, markers
        deleted) while the publishers are still active."""
        self._unsubscribe()
        self.pipeline.tracker.reset()
        self._reset_inputs()
        self.publish(_no_agents(), Header(stamp=self.get_clock().now().to_msg(),
                                          frame_id=self._frame))
        self.forecast = None
        self._state = 'inactive'
        return super().on_deactivate(state)

    def _unsubscribe(self) -> None:
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []

    def release(self) -> None:
        """Drop the subscriptions, publishers and pipeline (idempotent)."""
        self._unsubscribe()
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs, self.pipeline, self.forecast = {}, None, None

    # -- inputs -----------------------------------------------------------------------------
    def _reject(self, reason: str, text: str) -> None:
        self.rejects[reason] = self.rejects.get(reason, 0) + 1
        self.get_logger().warning(f'{reason} ({self.rejects[reason]}x): {text}',
                                  throttle_duration_sec=LOG_THROTTLE_S)

    def _on_odom(self, msg: Odometry) -> None:
        t = msg.twist.twist
        values = np.append(odometry_pose(msg), [t.linear.x, t.angular.z])
        if not np.all(np.isfinite(values)):
            self._reject('odom_invalid', 'odometry with non-finite values')
            return
        stamp = _stamp_s(msg.header.stamp)
        if self._odom and stamp <= self._odom[-1][0]:
            if stamp < self._odom[-1][0] - 1.0:   # time jumped back (bag loop, sim reset)
                self._odom.clear()
                self.pipeline.tracker.reset()
                self._last_scan = -math.inf
            else:
                return
        self._frame = msg.header.frame_id
        self._odom.append((stamp, values))

    def _on_map(self, msg: OccupancyGrid) -> None:
        info = msg.info
        width, height, res = int(info.width), int(info.height), float(info.resolution)
        if width < 1 or height < 1 or len(msg.data) != width * height or not res > 0:
            self._reject('map_invalid', f'map of {width} x {height} cells, {len(msg.data)} '
                         f'values, resolution {res}')
            return
        occupied = np.asarray(msg.data, dtype=np.int16).reshape(height, width) >= OCCUPIED
        origin = (float(info.origin.position.x), float(info.origin.position.y))
        self.pipeline.set_map(StaticMask(occupied, res, origin,
                                         self.settings.map_tolerance))

    def _on_path(self, msg: Path) -> None:
        times = np.array([_stamp_s(p.header.stamp) for p in msg.poses])
        xy = np.array([[p.pose.position.x, p.pose.position.y] for p in msg.poses])
        if len(times) == 0 or np.any(np.diff(times) <= 0) or not np.all(np.isfinite(xy)):
            self._reject('path_invalid', 'planned_path needs poses with increasing stamps')
            return
        self._path = (_stamp_s(msg.header.stamp), times, xy.reshape(-1, 2))

    def pose_at(self, stamp: float) -> Optional[np.ndarray]:
        """``(x, y, yaw, v, w)`` of the base at ``stamp`` from the odometry kept (linear
        between the samples around it, else the nearest within ``max_odom_gap``), or None."""
        if not self._odom:
            return None
        times = np.array([t for t, _ in self._odom])
        values = np.array([v for _, v in self._odom])
        after = int(np.searchsorted(times, stamp))
        if 0 < after < len(times):
            t0, t1 = times[after - 1], times[after]
            if t1 - t0 <= 2 * self.settings.max_odom_gap:
                a = (stamp - t0) / (t1 - t0)
                out = values[after - 1] + a * (values[after] - values[after - 1])
                dyaw = math.remainder(values[after][2] - values[after - 1][2], 2 * math.pi)
                out[2] = values[after - 1][2] + a * dyaw
                return out
        nearest = int(np.argmin(np.abs(times - stamp)))
        if abs(times[nearest] - stamp) <= self.settings.max_odom_gap:
            return values[nearest].copy()
        return None

    # -- per scan ---------------------------------------------------------------------------
    def _on_scan(self, msg: LaserScan) -> None:
        stamp = _stamp_s(msg.header.stamp)
        beams = len(msg.ranges)
        if not (0 < beams <= self.settings.max_beams and math.isfinite(msg.angle_min)
                and math.isfinite(msg.angle_increment) and msg.angle_increment != 0.0
                and math.isfinite(msg.range_max) and msg.range_max > max(msg.range_min, 0.0)):
            self._reject('scan_invalid', f'{beams} beams, angle_increment '
                         f'{msg.angle_increment}, range [{msg.range_min}, {msg.range_max}]')
            return
        if stamp <= self._last_scan:
            self._reject('scan_time_backwards', f'scan at {stamp:.3f} s after one at '
                         f'{self._last_scan:.3f} s')
            return
        state = self.pose_at(stamp)
        if state is None:
            self._reject('scan_without_odom', f'no odometry within '
                         f'{self.settings.max_odom_gap} s of the scan at {stamp:.3f} s')
            return
        pose, (v, w) = state[:3], state[3:]
        tracks = self.pipeline.observe(msg.ranges, msg.angle_min, msg.angle_increment,
                                       max(msg.range_min, 0.0), msg.range_max, pose, stamp)
        self._last_scan = stamp
        velocity = v * np.array([math.cos(pose[2]), math.sin(pose[2])])
        forecast = self.pipeline.forecast(tracks, pose, velocity,
                                          self._robot_future(stamp, pose, v, w))
        self.publish(forecast, Header(stamp=msg.header.stamp, frame_id=self._frame))

    def _robot_future(self, stamp: float, pose: np.ndarray, v: float, w: float) -> np.ndarray:
        """``[H, 2]`` where the robot will be: its plan when fresh, else its twist held."""
        if self._path is not None and stamp - self._path[0] <= self.settings.max_path_age:
            return path_future(self._path[1], self._path[2], stamp)
        return held_twist_future(pose, v, w)

    def publish(self, forecast: AgentForecast, header: Header) -> None:
        """Publish ``forecast``: tracked and per-horizon PoseArrays and the markers."""
        self.forecast = forecast
        velocity = (forecast.positions[:, 0] - forecast.now) if len(forecast.now) else None
        poses: List[Pose] = []
        for k, (x, y) in enumerate(forecast.now):
            poses.append(_pose(x, y, math.atan2(velocity[k, 1], velocity[k, 0])))
        self._pubs['tracked'].publish(PoseArray(header=header, poses=poses))
        for j, h in enumerate(HORIZONS_S):
            step = []
            for k in range(len(forecast.now)):
                before = forecast.now[k] if j == 0 else forecast.positions[k, j - 1]
                d = forecast.positions[k, j] - before
                step.append(_pose(*forecast.positions[k, j], math.atan2(d[1], d[0])))
            self._pubs[horizon_topic(h)].publish(PoseArray(header=header, poses=step))
        self._pubs['markers'].publish(forecast_markers(forecast, header,
                                                       self.settings.marker_lifetime))


def _no_agents() -> AgentForecast:
    """A forecast of nobody: what the node publishes when it stops predicting."""
    h = len(HORIZONS_S)
    return AgentForecast(np.zeros(0, np.int64), np.asarray(HORIZONS_S), np.zeros((0, 2)),
                         np.zeros((0, h, 2)), np.zeros((0, h)))


def main(args: Optional[List[str]] = None) -> int:
    """Entry point of ``ros2 run jepa_world_model agent_predictor_node``."""
    return run_node('agent_predictor_node', AgentPredictorNode, args, start=autostart,
                    parameter_errors=(AgentParameterError,))


if __name__ == '__main__':
    sys.exit(main())
