"""What ``planner_node`` plans from: the newest camera frame with its joint state and pose.

:class:`PlannerInputs` keeps the newest image (one reference swap, nothing queued), a short
joint-state history, for models with the pose in their state an odometry history, and the
newest range scan (for the obstacle term).
:meth:`PlannerInputs.observe` pairs the frame with the joint state (and pose) at its stamp and
turns them into model inputs, or raises :class:`~.node_io.InputError` with the counter name
of what is missing, stale, unreadable or unsynchronised (the node stops on it).

One message must not stop the node or block the valid ones after it: joint states and
odometry stamped more than ``max_future_stamp`` ahead of the node clock, or holding values
beyond ``max_abs_input``, are refused (``*_stamp_in_future``, ``*_out_of_range``); images
above ``max_image_pixels`` are refused (``image_too_large``); scans longer than
``max_scan_beams`` are min-pooled to that many returns; a scan without information (all NaN)
drops the scan in use, so the obstacle term stops the robot (``scan_stale``) instead of
reading free space.

Threads: every callback of the node is in its default, mutually exclusive group, so the
subscriptions, goal callbacks and the plan timer never run concurrently and the histories
need no lock of their own.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header
import torch

from ..core.inference import WorldModelRuntime
from ..core.planning.observation import Observation, ScanReading
from ..core.scan import pool_beams, scan_has_information
from ..core.state_layout import planar_pose
from ..core.streams import Counters, JointStateBuffer, RateMeter, SyncError
from .frame_pipeline import TIME_RESET_S
from .image_conversion import check_message_pixels, ImageTooLargeError
from .joint_state_conversion import magnitude_problem, stamp_ahead_problem, stamp_to_seconds
from .node_io import clock_was_reset, image_to_model_rgb, InputError, read_model_joints

__all__ = ['StampedObservation', 'PlannerInputs', 'scan_from_msg']


class StampedObservation(NamedTuple):
    """A synchronised observation and the header (stamp, frame) of its image."""

    header: Header
    observation: Observation


def scan_from_msg(msg: Any, max_beams: Optional[int] = None) -> ScanReading:
    """A LaserScan as a :class:`ScanReading`, min-pooled to at most ``max_beams`` returns
    (:func:`~..core.scan.pool_beams`; None: as it is).

    Raises:
        InputError: ``scan_invalid``: no beams, a non-finite or zero angle increment, or
            range limits that are not 0 <= range_min < range_max;
            ``scan_no_information``: no beam is a return or free (e.g. all NaN).
    """
    ranges = np.asarray(msg.ranges, dtype=np.float32)
    geometry = (msg.angle_min, msg.angle_increment, msg.range_min, msg.range_max)
    if ranges.size == 0:
        raise InputError('scan_invalid', 'scan has no beams')
    if not all(np.isfinite(geometry)) or msg.angle_increment == 0.0:
        raise InputError('scan_invalid', f'scan angle_min/angle_increment/range_min/range_max '
                         f'{[float(v) for v in geometry]} are not usable')
    if not 0.0 <= msg.range_min < msg.range_max:
        raise InputError('scan_invalid', f'scan range_min {msg.range_min} and range_max '
                         f'{msg.range_max} do not satisfy 0 <= range_min < range_max')
    angle_min, increment, range_min, range_max = (float(v) for v in geometry)
    if not scan_has_information(ranges, range_min):
        raise InputError('scan_no_information', f'none of the {ranges.size} beams is a return '
                         f'or free (NaN or below range_min {range_min}): the scanner sees '
                         'nothing, which is not free space')
    if max_beams is not None and ranges.size > max_beams:
        ranges, k = pool_beams(ranges, range_min, max_beams)
        # Each pooled return lies at the centre of its group of k beams.
        angle_min, increment = angle_min + 0.5 * (k - 1) * increment, k * increment
    return ScanReading(stamp_to_seconds(msg.header.stamp), ranges, angle_min, increment,
                       range_min, range_max)


class PlannerInputs:
    """Newest frame, joint-state and odometry histories; synchronised observations.

    Args:
        joint_names: The model's joints, in model order (none: no joint state is needed).
        max_skew: Largest image / joint-state stamp distance (s) when the buffers are made.
        settings: Returns the node's current settings (``stale_timeout``, ``max_skew``,
            ``resize_mode``); read on each call, so parameter changes apply at once.
        counters: Event counters shared with the node.
        reject: Counts (and logs, throttled) a rejected input: ``reject(reason, message)``.
        now: Node clock in seconds (ROS time: follows /clock with use_sim_time).
        rates: The node's rate meters; ``'image'`` and ``'joint_states'`` are ticked here.
    """

    def __init__(self, joint_names: Sequence[str], max_skew: float,
                 settings: Callable[[], Any], counters: Counters,
                 reject: Callable[[str, str], None], now: Callable[[], float],
                 rates: Dict[str, RateMeter]) -> None:
        self.joint_names = tuple(joint_names)
        self._settings, self._counters, self._reject, self._now = settings, counters, reject, now
        self._rates = rates
        self.image: Optional[Image] = None
        self.joints = JointStateBuffer(len(self.joint_names), max_skew, True, 2.0)
        # Yaw is not blended: interpolating an angle across the wrap would point backwards.
        self.odom = JointStateBuffer(3, max_skew, False, 2.0)
        self.scan: Optional[ScanReading] = None
        self._last_stamp: Optional[float] = None

    # -- subscription callbacks ------------------------------------------------------------
    def on_image(self, msg: Image) -> None:
        """Keep the newest frame (one reference swap: the timer takes the newest)."""
        self._counters.add('images_received')
        self._rates['image'].tick(time.monotonic())
        self.image = msg

    def on_joint_state(self, msg: Any) -> None:
        """Validate a JointState and add it to the joint history."""
        joints = read_model_joints(msg, self.joint_names, self._reject)
        if joints is None:
            return
        stamp = stamp_to_seconds(msg.header.stamp)
        if self._accept('joint_state', stamp, ((joints[0], 'joint positions'),
                                               (joints[1], 'joint velocities'))):
            self._push(self.joints, 'joint_state', stamp, *joints)

    def on_odometry(self, msg: Any) -> None:
        """Validate a nav_msgs/Odometry and add its planar pose to the odometry history."""
        pose = planar_pose(msg.pose.pose.position, msg.pose.pose.orientation)
        if not np.isfinite(pose).all():
            return self._reject('odom_nonfinite', f'odometry pose {pose.tolist()} is not finite')
        stamp = stamp_to_seconds(msg.header.stamp)
        if self._accept('odom', stamp, ((pose[:2], 'odometry x, y'),)):
            self._push(self.odom, 'odom', stamp, pose, np.zeros(3))

    def on_scan(self, msg: Any) -> None:
        """Keep the newest valid LaserScan, pooled to ``max_scan_beams`` returns; count (and
        keep the old one on) a malformed one. A scan that sees nothing drops the old one:
        what was there may have moved, and no information must not read as free space."""
        try:
            self.scan = scan_from_msg(msg, self._settings().max_scan_beams)
        except InputError as exc:
            if exc.reason == 'scan_no_information':
                self.scan = None
            return self._reject(exc.reason, str(exc))
        self._counters.add('scans_received')

    def _accept(self, what: str, stamp: float,
                values: Tuple[Tuple[Optional[np.ndarray], str], ...]) -> bool:
        """False (after counting it) if a state message is stamped more than
        ``max_future_stamp`` ahead of the node clock or holds values beyond
        ``max_abs_input`` (``values``: (array or None, name)); such a message never enters
        the history, where it would block the valid ones after it."""
        s = self._settings()
        problem = stamp_ahead_problem(stamp, self._now(), s.max_future_stamp)
        if problem:
            self._reject(f'{what}_stamp_in_future', f'{what} {problem}')
            return False
        for array, name in values:
            problem = None if array is None else magnitude_problem(array, s.max_abs_input,
                                                                   name)
            if problem:
                self._reject(f'{what}_out_of_range', problem)
                return False
        return True

    def _push(self, buffer: JointStateBuffer, what: str, stamp: float, position: np.ndarray,
              velocity: Optional[np.ndarray]) -> None:
        newest = buffer.latest_stamp
        if clock_was_reset(newest, stamp, self._now(), self._settings().stale_timeout,
                           TIME_RESET_S):
            buffer.clear()
            self._counters.add(f'time_reset_{what}')
        result = buffer.push(stamp, position, velocity)
        if result != 'ok':
            self._reject(f'{what}_{result}', f'{what} stamp {stamp:.6f} is '
                         f'{result.replace("_", " ")} (newest {newest:.6f})')
        elif what == 'joint_state':
            self._rates['joint_states'].tick(time.monotonic())

    # -- for the plan timer and the stop command --------------------------------------------
    @property
    def frame_id(self) -> str:
        """frame_id of the newest image ('' before the first one)."""
        return self.image.header.frame_id if self.image is not None else ''

    def newest_q(self) -> Optional[np.ndarray]:
        """Model-ordered positions [J] of the newest joint state, or None before the first."""
        newest = self.joints.latest_stamp
        return self.joints.sample(newest).position if newest is not None else None

    def observe(self, runtime: WorldModelRuntime,
                require_new: bool) -> Optional[StampedObservation]:
        """Newest synchronised observation; None if ``require_new`` and no new frame.

        Raises:
            InputError: Missing, stale, unreadable or unsynchronised inputs; ``reason`` is
                the counter name.
        """
        s, image, now = self._settings(), self.image, self._now()
        if image is None:
            raise InputError('no_image', 'no image received yet')
        stamp = stamp_to_seconds(image.header.stamp)
        if now == 0.0 or abs(now - stamp) > s.stale_timeout:
            raise InputError('image_stale', f'image stamp is {now - stamp:.3f} s from the node '
                             f'clock (stale_timeout {s.stale_timeout} s)')
        newest = self.joints.latest_stamp
        if self.joint_names and (newest is None or now - newest > s.stale_timeout):
            raise InputError('joint_states_stale', 'no joint state within stale_timeout '
                             f'{s.stale_timeout} s')
        if require_new:
            if stamp == self._last_stamp:
                self._counters.add('no_new_image')
                return None
            self._last_stamp = stamp   # consumed even if unusable: one stop per bad frame
        try:
            check_message_pixels(image, False, s.max_image_pixels)
        except ImageTooLargeError as exc:
            raise InputError('image_too_large', str(exc)) from None
        rgb = image_to_model_rgb(image, False, runtime.image_size, s.resize_mode)
        try:
            joints = self.joints.sample(stamp, s.max_skew) if self.joint_names else None
            pose = self.odom.sample(stamp, s.max_skew).position if runtime.needs_pose else None
        except SyncError as exc:
            raise InputError(f'sync_{exc.reason}', str(exc)) from None
        scan = None
        if s.obstacle_weight > 0 and runtime.has_pose:
            # The obstacle term needs the scene as the scanner saw it around this frame.
            if self.scan is None or abs(self.scan.stamp - stamp) > s.stale_timeout:
                raise InputError('scan_stale', 'obstacle_weight is set and no scan within '
                                 f'stale_timeout {s.stale_timeout} s of the image')
            scan = self.scan
        q = joints.position if joints is not None else np.zeros(0)
        dq = joints.velocity if joints is not None else None
        state = runtime.make_state(q, dq, pose)
        s_t = (torch.from_numpy(state).to(runtime.device, runtime.dtype)[None]
               if runtime.config.state_dim else None)
        header = Header(stamp=image.header.stamp, frame_id=image.header.frame_id)
        return StampedObservation(header, Observation(runtime.preprocess(rgb), s_t, q, pose,
                                                      scan))
