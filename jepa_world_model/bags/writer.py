"""Write robot recordings as rosbag2 (MCAP or sqlite3) with standard ROS 2 Jazzy messages.

Only standard types are written, so ``ros2 bag info`` and ``ros2 bag play`` on a robot read
the bags without this package:

* ``sensor_msgs/msg/Image`` (rgb8) on the image topic,
* ``sensor_msgs/msg/JointState`` (positions, velocities) on the joint-state topic,
* the action as ``std_msgs/msg/Float64MultiArray`` (arms, the gantry) or
  ``geometry_msgs/msg/Twist`` / ``TwistStamped`` (mobile bases),
* optional ``nav_msgs/msg/Odometry`` and ``std_msgs/msg/Bool`` contact and collision flags.

Every message is stamped with the recording time of its frame: ``header.stamp`` and the bag's
receive time are the same ns value unless a caller passes ``log_time_ns``. A step's image,
joint state and command share one stamp: the command is the one chosen on seeing that frame,
which is exactly what the reader's "latest command at or before the frame" rule picks up.
Messages are built with rosbags' own Jazzy typestore, so nothing here imports ROS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.typesys import get_typestore, Stores

from ..core.config import BagConfig
from ..core.training.data import Episode
from .errors import BagWriteError

__all__ = ['BagWriteError', 'RecorderTopics', 'BagRecorder', 'ACTION_TYPES', 'TWIST_FIELDS',
           'STORAGES', 'typestore']

#: rosbag2 metadata version 9 is what Jazzy's rosbag2 writes (QoS profiles as a YAML list).
BAG_VERSION = 9
STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
ACTION_TYPES = {'float64_multi_array': 'std_msgs/msg/Float64MultiArray',
                'twist': 'geometry_msgs/msg/Twist',
                'twist_stamped': 'geometry_msgs/msg/TwistStamped'}
TWIST_FIELDS = tuple(f'{part}.{axis}' for part in ('linear', 'angular') for axis in 'xyz')
_STORE = None


def typestore():
    """The rosbags typestore of ROS 2 Jazzy message types (built once, it takes ~0.1 s)."""
    global _STORE
    if _STORE is None:
        _STORE = get_typestore(Stores.ROS2_JAZZY)
    return _STORE


@dataclass
class RecorderTopics:
    """Topic names and the action message type of a recording ('' leaves a topic out).

    The defaults are the reader's (``core.config.BagConfig``), so a default recording trains
    with a default config.
    """

    image: str = BagConfig.image_topic
    joint_states: str = BagConfig.joint_state_topic
    action: str = BagConfig.action_topic
    action_type: str = 'float64_multi_array'   # or 'twist', 'twist_stamped'
    action_fields: List[str] = field(default_factory=list)  # twist*: Twist field per action dim
    odometry: str = ''
    contact: str = ''
    collision: str = ''
    scan: str = ''
    #: Prefix of the ground-truth object topics (``PREFIX/<name>``, geometry_msgs/PoseStamped
    #: in ``world_frame``): evaluation labels only, never read as model input.
    objects: str = ''
    world_frame: str = 'world'
    camera_frame: str = 'camera'
    base_frame: str = 'base_link'
    odom_frame: str = 'odom'

    def __post_init__(self) -> None:
        if self.action_type not in ACTION_TYPES:
            raise BagWriteError(f'unknown action_type {self.action_type!r}; choose one of '
                                f'{sorted(ACTION_TYPES)}')
        if self.action_type.startswith('twist'):
            bad = [f for f in self.action_fields if f not in TWIST_FIELDS]
            if not self.action_fields or bad or len(set(self.action_fields)) != len(
                    self.action_fields):
                raise BagWriteError(f'{self.action_type} needs distinct action_fields from '
                                    f'{list(TWIST_FIELDS)}, got {self.action_fields}')


class BagRecorder:
    """Context manager writing one rosbag2 directory.

    Args:
        path: Bag directory to create; it must not exist (rosbag2 never overwrites).
        storage: ``'mcap'`` (the Jazzy default) or ``'sqlite3'``.
        topics: Topic names and action type.
        joint_names: Names written in every JointState (model joint order).
        custom_data: Strings stored in metadata.yaml's ``custom_data`` (provenance).

    Example::

        with BagRecorder('bags/run1', joint_names=['joint_x', 'joint_y']) as rec:
            rec.write_step(stamp_ns, image, q, dq, action)
    """

    def __init__(self, path: str | Path, storage: str = 'mcap',
                 topics: Optional[RecorderTopics] = None,
                 joint_names: Sequence[str] = (),
                 custom_data: Optional[Dict[str, str]] = None) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise BagWriteError(f'{self.path} already exists; rosbag2 never overwrites, '
                                f'choose a new directory')
        if storage not in STORAGES:
            raise BagWriteError(f'unknown storage {storage!r}; choose one of {sorted(STORAGES)}')
        self.storage = storage
        self.topics = topics or RecorderTopics()
        self.joint_names = list(joint_names)
        self.counts: Dict[str, int] = {}
        self._custom = dict(custom_data or {})
        self._writer: Optional[Writer] = None
        self._connections: Dict[str, Any] = {}

    # -- lifecycle ------------------------------------------------------------------------
    def open(self) -> 'BagRecorder':
        """Create the bag directory and storage file."""
        try:
            writer = Writer(self.path, version=BAG_VERSION,
                            storage_plugin=STORAGES[self.storage])
            for key, value in self._custom.items():
                writer.set_custom_data(key, value)
            writer.open()
        except WriterError as exc:
            raise BagWriteError(f'cannot create bag {self.path}: {exc}') from exc
        self._writer = writer
        return self

    def close(self) -> None:
        """Write metadata.yaml and close; the bag is then readable by ros2 bag."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> 'BagRecorder':
        return self.open()

    def __exit__(self, *exc_info) -> None:
        # Close even after an error: what was recorded up to it stays a valid bag.
        self.close()

    # -- low level ------------------------------------------------------------------------
    def write_message(self, topic: str, msgtype: str, msg: Any, stamp_ns: int,
                      log_time_ns: Optional[int] = None) -> None:
        """Serialize ``msg`` (a rosbags typestore message) to ``topic`` at the receive time
        ``log_time_ns`` (default ``stamp_ns``)."""
        if self._writer is None:
            raise BagWriteError(f'bag {self.path} is not open; use it as a context manager')
        conn = self._connections.get(topic)
        if conn is None:
            conn = self._writer.add_connection(topic, msgtype, typestore=typestore())
            self._connections[topic] = conn
        elif conn.msgtype != msgtype:
            raise BagWriteError(f'topic {topic} holds {conn.msgtype}, not {msgtype}')
        data = typestore().serialize_cdr(msg, msgtype)
        self._writer.write(conn, int(stamp_ns if log_time_ns is None else log_time_ns), data)
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def _header(self, stamp_ns: int, frame_id: str) -> Any:
        types = typestore().types
        sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
        stamp = types['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec)
        return types['std_msgs/msg/Header'](stamp=stamp, frame_id=frame_id)

    # -- typed writers --------------------------------------------------------------------
    def write_image(self, stamp_ns: int, rgb: np.ndarray,
                    log_time_ns: Optional[int] = None) -> None:
        """An rgb8 ``sensor_msgs/msg/Image`` from uint8 [H, W, 3]."""
        rgb = np.ascontiguousarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise BagWriteError(f'image must be uint8 [H, W, 3], got {rgb.dtype} {rgb.shape}')
        h, w = rgb.shape[:2]
        msg = typestore().types['sensor_msgs/msg/Image'](
            header=self._header(stamp_ns, self.topics.camera_frame), height=h, width=w,
            encoding='rgb8', is_bigendian=0, step=3 * w, data=rgb.reshape(-1))
        self.write_message(self.topics.image, 'sensor_msgs/msg/Image', msg, stamp_ns,
                           log_time_ns)

    def write_joint_state(self, stamp_ns: int, position: Sequence[float],
                          velocity: Optional[Sequence[float]] = None,
                          names: Optional[Sequence[str]] = None,
                          log_time_ns: Optional[int] = None) -> None:
        """A ``sensor_msgs/msg/JointState``; ``names`` defaults to the recorder's joints."""
        names = list(self.joint_names if names is None else names)
        position = np.asarray(position, dtype=np.float64).reshape(-1)
        velocity = (np.zeros(0) if velocity is None
                    else np.asarray(velocity, dtype=np.float64).reshape(-1))
        if len(position) != len(names) or len(velocity) not in (0, len(names)):
            raise BagWriteError(f'joint state for {names} got {len(position)} positions and '
                                f'{len(velocity)} velocities')
        msg = typestore().types['sensor_msgs/msg/JointState'](
            header=self._header(stamp_ns, ''), name=names, position=position,
            velocity=velocity, effort=np.zeros(0))
        self.write_message(self.topics.joint_states, 'sensor_msgs/msg/JointState', msg,
                           stamp_ns, log_time_ns)

    def write_action(self, stamp_ns: int, action: Sequence[float],
                     log_time_ns: Optional[int] = None) -> None:
        """The command chosen at this stamp, as the configured action message type."""
        types = typestore().types
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        kind = self.topics.action_type
        if kind == 'float64_multi_array':
            n = len(action)
            dim = types['std_msgs/msg/MultiArrayDimension'](label='action', size=n, stride=n)
            layout = types['std_msgs/msg/MultiArrayLayout'](dim=[dim], data_offset=0)
            msg = types['std_msgs/msg/Float64MultiArray'](layout=layout, data=action)
        else:
            if len(action) != len(self.topics.action_fields):
                raise BagWriteError(f'action has {len(action)} values but action_fields are '
                                    f'{self.topics.action_fields}')
            values = {f: 0.0 for f in TWIST_FIELDS}
            values.update(zip(self.topics.action_fields, action.tolist()))
            vec = types['geometry_msgs/msg/Vector3']
            twist = types['geometry_msgs/msg/Twist'](
                linear=vec(*(values[f'linear.{a}'] for a in 'xyz')),
                angular=vec(*(values[f'angular.{a}'] for a in 'xyz')))
            msg = twist if kind == 'twist' else types['geometry_msgs/msg/TwistStamped'](
                header=self._header(stamp_ns, self.topics.base_frame), twist=twist)
        self.write_message(self.topics.action, ACTION_TYPES[kind], msg, stamp_ns, log_time_ns)

    def write_flag(self, kind: str, stamp_ns: int, value: bool,
                   log_time_ns: Optional[int] = None) -> None:
        """``std_msgs/msg/Bool`` on the contact or collision topic (``kind``); Bool has no
        header, so the receive time carries the stamp."""
        topic = {'contact': self.topics.contact, 'collision': self.topics.collision}[kind]
        if not topic:
            raise BagWriteError(f'no {kind} topic configured')
        msg = typestore().types['std_msgs/msg/Bool'](data=bool(value))
        self.write_message(topic, 'std_msgs/msg/Bool', msg, stamp_ns, log_time_ns)

    def write_odometry(self, stamp_ns: int, pose: Sequence[float],
                       twist: Sequence[float] = (0.0, 0.0, 0.0),
                       log_time_ns: Optional[int] = None) -> None:
        """``nav_msgs/msg/Odometry`` from a planar pose (x, y, yaw) and twist (vx, vy, wz)."""
        if not self.topics.odometry:
            raise BagWriteError('no odometry topic configured')
        t = typestore().types
        x, y, yaw = (float(v) for v in pose)
        vx, vy, wz = (float(v) for v in twist)
        quat = t['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=math.sin(yaw / 2),
                                                 w=math.cos(yaw / 2))
        pose_msg = t['geometry_msgs/msg/PoseWithCovariance'](
            pose=t['geometry_msgs/msg/Pose'](position=t['geometry_msgs/msg/Point'](x, y, 0.0),
                                             orientation=quat), covariance=np.zeros(36))
        vec = t['geometry_msgs/msg/Vector3']
        twist_msg = t['geometry_msgs/msg/TwistWithCovariance'](
            twist=t['geometry_msgs/msg/Twist'](linear=vec(vx, vy, 0.0),
                                               angular=vec(0.0, 0.0, wz)),
            covariance=np.zeros(36))
        msg = t['nav_msgs/msg/Odometry'](header=self._header(stamp_ns, self.topics.odom_frame),
                                         child_frame_id=self.topics.base_frame,
                                         pose=pose_msg, twist=twist_msg)
        self.write_message(self.topics.odometry, 'nav_msgs/msg/Odometry', msg, stamp_ns,
                           log_time_ns)

    def write_scan(self, stamp_ns: int, ranges: Sequence[float], range_max: float,
                   log_time_ns: Optional[int] = None) -> None:
        """A 360-degree ``sensor_msgs/msg/LaserScan`` in base_link: beam ``i`` at
        ``-pi + i * 2 pi / B``; a beam without a return reads ``range_max``."""
        if not self.topics.scan:
            raise BagWriteError('no scan topic configured')
        r = np.asarray(ranges, dtype=np.float32).reshape(-1)
        if r.size < 2 or not (math.isfinite(range_max) and range_max > 0):
            raise BagWriteError(f'scan needs >= 2 ranges and range_max > 0, got {r.size} '
                                f'ranges and range_max {range_max!r}')
        step = 2.0 * math.pi / r.size
        msg = typestore().types['sensor_msgs/msg/LaserScan'](
            header=self._header(stamp_ns, self.topics.base_frame), angle_min=-math.pi,
            angle_max=-math.pi + (r.size - 1) * step, angle_increment=step,
            time_increment=0.0, scan_time=0.0, range_min=0.0, range_max=float(range_max),
            ranges=r, intensities=np.zeros(0, dtype=np.float32))
        self.write_message(self.topics.scan, 'sensor_msgs/msg/LaserScan', msg, stamp_ns,
                           log_time_ns)

    # -- whole steps and episodes ---------------------------------------------------------
    def write_object_poses(self, stamp_ns: int, poses: Dict[str, Sequence[float]]) -> None:
        """Each object's ``(x, y, z, qw, qx, qy, qz)`` pose as a PoseStamped on
        ``objects/<name>`` in ``world_frame``."""
        if not self.topics.objects:
            raise BagWriteError('no objects topic prefix configured')
        types = typestore().types
        for name, pose in poses.items():
            p = np.asarray(pose, dtype=float).reshape(-1)
            if p.shape != (7,) or not np.all(np.isfinite(p)):
                raise BagWriteError(f'object {name!r} needs a finite (x, y, z, qw, qx, qy, qz) '
                                    f'pose, got {p.tolist()}')
            msg = types['geometry_msgs/msg/PoseStamped'](
                header=self._header(stamp_ns, self.topics.world_frame),
                pose=types['geometry_msgs/msg/Pose'](
                    position=types['geometry_msgs/msg/Point'](x=p[0], y=p[1], z=p[2]),
                    orientation=types['geometry_msgs/msg/Quaternion'](
                        w=p[3], x=p[4], y=p[5], z=p[6])))
            self.write_message(f'{self.topics.objects}/{name}', 'geometry_msgs/msg/PoseStamped',
                               msg, stamp_ns)

    def write_labels(self, stamp_ns: int, labels: Dict[str, str]) -> None:
        """Each ground-truth label (e.g. ``cube_material``) as a std_msgs/String on
        ``objects/<name>``, logged at ``stamp_ns`` (String has no header)."""
        if not self.topics.objects:
            raise BagWriteError('no objects topic prefix configured')
        string = typestore().types['std_msgs/msg/String']
        for name, text in labels.items():
            if not isinstance(text, str):
                raise BagWriteError(f'label {name!r} must be text, got {type(text).__name__}')
            self.write_message(f'{self.topics.objects}/{name}', 'std_msgs/msg/String',
                               string(data=text), stamp_ns)

    def write_step(self, stamp_ns: int, image: np.ndarray, q: Sequence[float],
                   dq: Optional[Sequence[float]], action: Sequence[float],
                   contact: Optional[bool] = None, collision: Optional[bool] = None,
                   odometry: Optional[Sequence[Sequence[float]]] = None,
                   scan: Optional[Sequence[float]] = None, scan_range_max: float = 0.0,
                   objects: Optional[Dict[str, Sequence[float]]] = None,
                   labels: Optional[Dict[str, str]] = None) -> None:
        """One frame: image, joint state, the command chosen on seeing it, optional extras.

        Flags, odometry, the range scan, object poses and ground-truth labels are written
        only when given and their topic is configured.
        """
        self.write_image(stamp_ns, image)
        self.write_joint_state(stamp_ns, q, dq)
        self.write_action(stamp_ns, action)
        for kind, value in (('contact', contact), ('collision', collision)):
            if value is not None and getattr(self.topics, kind):
                self.write_flag(kind, stamp_ns, value)
        if odometry is not None and self.topics.odometry:
            self.write_odometry(stamp_ns, *odometry)
        if scan is not None and self.topics.scan:
            self.write_scan(stamp_ns, scan, scan_range_max)
        if objects is not None and self.topics.objects:
            self.write_object_poses(stamp_ns, objects)
        if labels and self.topics.objects:
            self.write_labels(stamp_ns, labels)

    def write_episode(self, episode: Episode, start_ns: int, dt_s: float) -> int:
        """Write an :class:`Episode` (s = positions, then velocities if present) with frame t
        at ``start_ns + t * dt_s``; returns the stamp one period after the last frame.

        Extras ``contact`` / ``collision`` are written when present and configured.
        """
        n = len(self.joint_names)
        if episode.s.shape[1] not in (n, 2 * n) or n == 0:
            raise BagWriteError(f'episode s has {episode.s.shape[1]} columns; joint_names '
                                f'{self.joint_names} need {n} or {2 * n}')
        period = int(round(dt_s * 1e9))
        for t in range(len(episode)):
            s = episode.s[t]
            flags = {k: bool(episode.extras[k][t]) if k in episode.extras else None
                     for k in ('contact', 'collision')}
            self.write_step(start_ns + t * period, episode.images[t], s[:n],
                            s[n:] if len(s) == 2 * n else None, episode.a[t], **flags)
        return start_ns + len(episode) * period
