"""One bag's messages decoded into per-topic streams of stamps and values.

The reader (bags/reader.py) makes one pass over a bag and hands each message to the
decoder of its kind below; what it keeps is a :class:`MessageStreams` in bag order, which
the reader then sorts, de-duplicates and aligns into episodes. Decoding rules that are
about one message (its time, its command vector, which beams of a scan count) live here;
rules that relate topics to each other (pairing, gaps, actions) live in the reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..core.model.state_layout import planar_pose
from ..core.planning.scan import too_close_at_min
from .errors import BagDatasetError
from .images import decode_image, ImageDecodeError, resize_square
from .read_report import ReadReport

__all__ = ['MessageStreams', 'JOINT_STATE_TYPE', 'ARRAY_TYPES', 'COMMAND_TYPES', 'flag_name',
           'message_stamp_ns', 'command_vector', 'odometry_pose', 'add_image',
           'add_joint_state', 'add_scan']

log = logging.getLogger(__name__)
JOINT_STATE_TYPE = 'sensor_msgs/msg/JointState'
ARRAY_TYPES = ('std_msgs/msg/Float64MultiArray', 'std_msgs/msg/Float32MultiArray')
COMMAND_TYPES = ARRAY_TYPES + ('geometry_msgs/msg/Twist', 'geometry_msgs/msg/TwistStamped')

#: joint-name tuple of a JointState -> indices of the model's joints in it (None: some
#: joint is missing). Built once per distinct name list.
JointIndexCache = Dict[Tuple[str, ...], Optional[np.ndarray]]


@dataclass
class MessageStreams:
    """Messages of one bag, as stamps (int ns) and values, in bag order."""

    image_t: List[int] = field(default_factory=list)
    images: List[np.ndarray] = field(default_factory=list)
    joint_t: List[int] = field(default_factory=list)
    q: List[np.ndarray] = field(default_factory=list)
    dq: List[np.ndarray] = field(default_factory=list)
    cmd_t: List[int] = field(default_factory=list)
    cmds: List[np.ndarray] = field(default_factory=list)
    pose_t: List[int] = field(default_factory=list)
    poses: List[np.ndarray] = field(default_factory=list)
    flags: Dict[str, Tuple[List[int], List[float]]] = field(default_factory=dict)
    scan_t: List[int] = field(default_factory=list)
    scans: List[np.ndarray] = field(default_factory=list)


def flag_name(topic: str) -> str:
    """Episode extra name of a Bool topic: its last segment ('/sim/collision' -> 'collision')."""
    return topic.rstrip('/').rsplit('/', 1)[-1]


def message_stamp_ns(msg: Any, log_ns: int, source: str) -> int:
    """A message's time in ns: its non-zero ``header.stamp`` (``source`` 'header'), else the
    bag's receive time ``log_ns``."""
    header = getattr(msg, 'header', None) if source == 'header' else None
    if header is not None:
        ns = int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)
        if ns > 0:      # an unset stamp is 0: fall back to the receive time
            return ns
    return int(log_ns)


def command_vector(msg: Any, msgtype: str, fields: Sequence[str]) -> np.ndarray:
    """The command vector [A]: all data of an array message, or the listed Twist fields."""
    if msgtype in ARRAY_TYPES:
        return np.asarray(msg.data, dtype=np.float64).reshape(-1)
    twist = msg.twist if msgtype.endswith('TwistStamped') else msg
    parts = [f.split('.') for f in fields]
    return np.array([getattr(getattr(twist, p), a) for p, a in parts], dtype=np.float64)


def odometry_pose(msg: Any) -> np.ndarray:
    """(x, y, yaw) of an Odometry message; yaw from the orientation quaternion."""
    return planar_pose(msg.pose.pose.position, msg.pose.pose.orientation)


def add_scan(streams: MessageStreams, msg: Any, stamp: int, path: Path) -> None:
    """Ranges of a LaserScan as training labels. REP 117: -inf (too close to measure) counts
    as range_min; other readings outside [range_min, range_max] (+inf no return, NaN) count as
    range_max. Every scan of a bag must have the same number of beams."""
    top = float(msg.range_max)
    ranges = too_close_at_min(msg.ranges, float(msg.range_min))
    if not (math.isfinite(top) and top > 0) or ranges.size == 0:
        raise BagDatasetError(f'{path}: LaserScan with {ranges.size} ranges and range_max '
                              f'{top!r}; need ranges and a finite range_max > 0')
    if streams.scans and ranges.size != streams.scans[0].size:
        raise BagDatasetError(f'{path}: LaserScan beam count changed from '
                              f'{streams.scans[0].size} to {ranges.size}')
    bad = ~np.isfinite(ranges) | (ranges < float(msg.range_min)) | (ranges > top)
    streams.scans.append(np.where(bad, top, ranges).astype(np.float32))
    streams.scan_t.append(stamp)


def add_image(streams: MessageStreams, msg: Any, msgtype: str, stamp: int, image_size: int,
              resize_mode: str, report: ReadReport) -> None:
    """Decode an image message and keep it resized to ``image_size`` square; a frame that
    does not decode is counted and skipped."""
    report.images_read += 1
    try:
        rgb = decode_image(msg, msgtype)
    except ImageDecodeError as exc:
        report.decode_failures += 1
        log.debug('skipping image at %d ns: %s', stamp, exc)
        return
    # Resize while reading: keeping full-resolution frames of a long bag would not fit memory.
    streams.images.append(resize_square(rgb, image_size, resize_mode))
    streams.image_t.append(stamp)


def add_joint_state(streams: MessageStreams, msg: Any, stamp: int, joint_names: List[str],
                    use_velocity: bool, cache: JointIndexCache, report: ReadReport) -> None:
    """Keep the model's joints of a JointState (in ``joint_names`` order); a message lacking
    one of them, or velocities when ``use_velocity``, is counted as incomplete and skipped."""
    report.joint_states_read += 1
    names = tuple(msg.name)
    if names not in cache:
        where = {n: i for i, n in enumerate(names)}
        cache[names] = (np.array([where[j] for j in joint_names])
                        if all(j in where for j in joint_names) else None)
    idx = cache[names]
    position, velocity = np.asarray(msg.position), np.asarray(msg.velocity)
    usable = (idx is not None and len(position) == len(names)
              and (not use_velocity or len(velocity) == len(names)))
    if not usable:
        report.joint_states_incomplete += 1
        return
    streams.joint_t.append(stamp)
    streams.q.append(position[idx].astype(np.float64))
    streams.dq.append(velocity[idx].astype(np.float64) if use_velocity else np.zeros(0))
