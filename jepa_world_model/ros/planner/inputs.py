"""What ``planner_node`` plans from: the newest camera frame with its joint state and pose.

:class:`PlannerInputs` is the planner's use of the input layer both nodes share
(:mod:`..common`): the newest raw or compressed frame (:class:`~..common.images.CameraInput`),
the joint-state and, for models with the pose in their state, odometry histories
(:class:`~..common.state_inputs.StateInputs`: one pose format, odometry interpolated at the
image stamp like the joints), plus the newest range scan (for the obstacle term).
:meth:`PlannerInputs.observe` pairs the frame with the joint state (and pose) at its stamp and
turns them into model inputs, or raises :class:`~..common.rejects.InputError` with the counter
name of what is missing, stale, unreadable or unsynchronised (the node stops on it).

One message must not stop the node or block the valid ones after it: joint states and
odometry stamped more than ``max_future_stamp`` ahead of the node clock, or holding values
beyond ``max_abs_input``, are refused (``*_stamp_in_future``, ``*_out_of_range``); images
above ``max_image_pixels`` are refused before decoding (``image_too_large``); scans longer
than ``max_scan_beams`` are min-pooled to that many returns; a scan without information (all
NaN) drops the scan in use, so the obstacle term stops the robot (``scan_stale``) instead of
reading free space.

Threads: every callback of the node is in its default, mutually exclusive group, so the
subscriptions, goal callbacks and the plan timer never run concurrently.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, NamedTuple, Optional, Sequence

import numpy as np
from std_msgs.msg import Header
import torch

from ...core.runtime.inference import WorldModelRuntime
from ...core.runtime.input_rules import stale_problem
from ...core.planning.observation import Observation, ScanReading
from ...core.planning.scan import pool_beams, scan_has_information
from ...core.runtime.streams import Counters, RateMeter, SyncError
from ..common.images import CameraInput, frame_to_model_rgb
from ..common.rejects import InputError
from ..common.state_inputs import StateInputs
from ..common.joint_state_conversion import stamp_to_seconds

__all__ = ['StampedObservation', 'PlannerInputs', 'scan_from_msg']


class StampedObservation(NamedTuple):
    """A synchronised observation and the header (stamp, frame) of its image."""

    header: Header
    observation: Observation


def scan_from_msg(msg: Any, max_beams: Optional[int] = None) -> ScanReading:
    """A LaserScan as a :class:`ScanReading`, min-pooled to at most ``max_beams`` returns
    (:func:`~...core.planning.scan.pool_beams`; None: as it is).

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
    """Newest frame, joint-state and odometry histories, newest scan; synchronised
    observations.

    Args:
        joint_names: The model's joints, in model order (none: no joint state is needed).
        with_pose: Keep odometry (models with the pose in their state).
        settings: Returns the node's current settings (``stale_timeout``, ``max_skew``,
            ``resize_mode``...); read on each call, so parameter changes apply at once.
        counters: Event counters shared with the node.
        reject: Counts (and logs, throttled) a rejected input: ``reject(reason, message)``.
        now: Node clock in seconds (ROS time: follows /clock with use_sim_time).
    """

    def __init__(self, joint_names: Sequence[str], with_pose: bool,
                 settings: Callable[[], Any], counters: Counters,
                 reject: Callable[[str, str], None], now: Callable[[], float]) -> None:
        self.joint_names = tuple(joint_names)
        self._settings, self._counters, self._reject, self._now = settings, counters, reject, now
        self.camera = CameraInput(counters)
        self.states = StateInputs(self.joint_names, with_pose, settings, now, counters, reject)
        self.scan: Optional[ScanReading] = None
        self._last_stamp: Optional[float] = None
        # TfFrames where tf2_ros imports (ros/common/tf_frames.py): the scanner's mount then
        # comes from TF (base_frame_id <- the scan's frame_id), else from scan_mount.
        self.frames: Optional[Any] = None

    # -- subscription callbacks ------------------------------------------------------------
    def on_image(self, msg: Any) -> None:
        """Keep the newest frame, raw or compressed (the timer takes the newest)."""
        self.camera.on_image(msg)

    def on_joint_state(self, msg: Any) -> None:
        """Validate a JointState and add it to the joint history."""
        self.states.on_joint_state(msg)

    def on_odometry(self, msg: Any) -> None:
        """Validate a nav_msgs/Odometry and add its planar pose to the odometry history."""
        self.states.on_odometry(msg)

    def on_scan(self, msg: Any) -> None:
        """Keep the newest valid LaserScan, pooled to ``max_scan_beams`` returns; count (and
        keep the old one on) a malformed one. A scan that sees nothing drops the old one:
        what was there may have moved, and no information must not read as free space."""
        try:
            scan = scan_from_msg(msg, self._settings().max_scan_beams)
            if self.frames is not None:
                mount = self.frames.scan_mount(self._settings().base_frame_id,
                                               msg.header.frame_id)
                scan = scan._replace(mount=mount.as_tuple())
            self.scan = scan
        except InputError as exc:
            if exc.reason == 'scan_no_information':
                self.scan = None
            return self._reject(exc.reason, str(exc))
        self._counters.add('scans_received')

    # -- for the plan timer and the stop command --------------------------------------------
    def rates(self) -> Dict[str, RateMeter]:
        """Arrival rates of the camera (``image``) and the accepted joint states."""
        return {'image': self.camera.rate, 'joint_states': self.states.joint_rate}

    @property
    def frame_id(self) -> str:
        """frame_id of the newest image ('' before the first one)."""
        frame = self.camera.newest
        return frame.msg.header.frame_id if frame is not None else ''

    def newest_q(self) -> Optional[np.ndarray]:
        """Model-ordered positions [J] of the newest joint state, or None before the first."""
        return self.states.sync.newest_q()

    def observe(self, runtime: WorldModelRuntime,
                require_new: bool) -> Optional[StampedObservation]:
        """Newest synchronised observation; None if ``require_new`` and no new frame.

        Raises:
            InputError: Missing, stale, unreadable or unsynchronised inputs; ``reason`` is
                the counter name.
        """
        s, frame, now, sync = self._settings(), self.camera.newest, self._now(), self.states.sync
        if frame is None:
            raise InputError('no_image', 'no image received yet')
        image = frame.msg
        stamp = stamp_to_seconds(image.header.stamp)
        problem = stale_problem(stamp, now, s.stale_timeout)
        if problem:
            raise InputError('image_stale', problem)
        newest = sync.joints.latest_stamp
        if self.joint_names and (newest is None or now - newest > s.stale_timeout):
            raise InputError('joint_states_stale', 'no joint state within stale_timeout '
                             f'{s.stale_timeout} s')
        if require_new:
            # A frame republished with the same stamp is not new either.
            if self.camera.take() is None or stamp == self._last_stamp:
                self._counters.add('no_new_image')
                return None
            self._last_stamp = stamp   # consumed even if unusable: one stop per bad frame
        rgb = frame_to_model_rgb(image, runtime.image_size, s.resize_mode, s.max_image_pixels)
        try:
            joints = sync.joints_at(stamp, s.max_skew) if self.joint_names else None
            pose = sync.pose_at(stamp, s.max_skew) if runtime.needs_pose else None
        except SyncError as exc:
            raise InputError(f'sync_{exc.reason}', str(exc)) from None
        scan = None
        if (s.obstacle_weight > 0 or s.agent_weight > 0) and runtime.has_pose:
            # The obstacle and agent terms need the scene as the scanner saw it around this
            # frame.
            if self.scan is None or abs(self.scan.stamp - stamp) > s.stale_timeout:
                raise InputError('scan_stale', 'obstacle_weight or agent_weight is set and no '
                                 'scan within '
                                 f'stale_timeout {s.stale_timeout} s of the image')
            scan = self.scan
        elif s.people_cost_to_go_every > 0 and self.scan is not None \
                and abs(self.scan.stamp - stamp) <= s.stale_timeout:
            scan = self.scan   # optional: without one the map's last cost-to-go stays
        q = joints.position if joints is not None else np.zeros(0)
        dq = joints.velocity if joints is not None else None
        state = runtime.make_state(q, dq, pose)
        s_t = (torch.from_numpy(state).to(runtime.device, runtime.dtype)[None]
               if runtime.config.state_dim else None)
        header = Header(stamp=image.header.stamp, frame_id=image.header.frame_id)
        return StampedObservation(header, Observation(runtime.preprocess(rgb), s_t, q, pose,
                                                      scan, stamp))
