"""What a rosbag2 recording holds, measured before training on it (``jepa-world-model
inspect``): every topic's type, count, rate and gaps; the camera; the joints with their
ranges (flagging joints that look continuous); the command topic with its fields and ranges;
the camera <-> joint-state skew and the delay from each frame to the command that follows it,
with the ``action_alignment`` that delay calls for.

Stamps follow the reader's rule (``bags/reader.py``: non-zero ``header.stamp``, else the
receive time) for the camera, the joint states and the commands; other topics are timed by
their receive time and never deserialized (custom message types need no definitions).
Pure numpy + rosbags; ``bags/starter_config.py`` turns the result into a training config and
planner parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from rosbags.rosbag2 import Reader

from .errors import BagDatasetError
from .images import decode_image, IMAGE_TYPES, ImageDecodeError
from .message_streams import (ARRAY_TYPES, COMMAND_TYPES, command_vector, JOINT_STATE_TYPE,
                              message_stamp_ns)
from .reader import _BAG_ERRORS, expand_bag_paths
from .command_timing import command_delays, frame_skews, recommend_alignment, timing_summary
from .time_alignment import split_at_gaps
from .writer import TWIST_FIELDS, typestore

__all__ = ['BagInspection', 'TopicStats', 'JointStats', 'CommandStats', 'inspect_bags']

#: An interval this many times the median one counts as a gap (dropped messages).
GAP_FACTOR = 3.0
#: Intervals longer than this split episodes (``data.bag.max_gap_s``'s default).
PAUSE_S = 0.5
#: Command types without a header: always timed by their receive time.
HEADERLESS_TYPES = ARRAY_TYPES + ('geometry_msgs/msg/Twist',)


@dataclass
class TopicStats:
    """Counts and timing of one topic over all bags (intervals never span two bags)."""

    topic: str
    type: str
    count: int = 0
    rate_hz: float = 0.0              # 1 / median interval
    median_interval_s: float = 0.0
    max_interval_s: float = 0.0
    gaps: int = 0                     # > GAP_FACTOR x median, <= PAUSE_S (dropped messages)
    pauses: int = 0                   # intervals > PAUSE_S (new episodes)
    out_of_order: int = 0
    timed_by: str = 'receive'         # 'header' (reader's rule) or 'receive'


@dataclass
class JointStats:
    """Range of one joint over the recording (positions rad or m)."""

    name: str
    position_min: float
    position_max: float
    wraps: int                        # consecutive samples more than pi apart
    continuous: bool                  # range > 2 pi, or wraps: a URDF continuous joint
    velocity_abs_max: float = 0.0
    effort_abs_max: float = 0.0


@dataclass
class CommandStats:
    """The command topic: its fields and per-dimension range."""

    topic: str
    type: str
    width: int
    fields: List[str]                 # Twist: the fields ever non-zero; arrays: data[i]
    minimum: List[float]
    maximum: List[float]
    change_rate_p99: List[float]      # |a_k - a_k-1| / dt of consecutive commands, per dim


@dataclass
class BagInspection:
    """Everything ``inspect`` reports; :meth:`to_dict` is its JSON form."""

    bags: List[str]
    topics: List[TopicStats]
    image_topic: str = ''
    image: Dict[str, Any] = field(default_factory=dict)   # width, height, encoding/format
    joint_state_topic: str = ''
    joints: List[JointStats] = field(default_factory=list)
    joint_velocities: bool = False
    joint_efforts: bool = False
    joint_state_skew_s: Dict[str, float] = field(default_factory=dict)  # frame -> nearest
    command: Optional[CommandStats] = None
    command_delay_s: Dict[str, float] = field(default_factory=dict)
    alignment: Dict[str, Any] = field(default_factory=dict)   # recommended rule and why
    warnings: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)

    def topic(self, name: str) -> Optional[TopicStats]:
        """The stats of topic ``name`` (None if it is not in the bags)."""
        return next((t for t in self.topics if t.topic == name), None)

    @property
    def continuous_joints(self) -> List[str]:
        """Names of the joints that look continuous."""
        return [j.name for j in self.joints if j.continuous]


@dataclass
class _Samples:
    """Per-bag stamps (ns) and values of the topics that matter, collected in one pass."""

    stamps: Dict[str, List[int]] = field(default_factory=dict)
    joint_t: List[int] = field(default_factory=list)
    joint_rows: List[Dict[str, tuple]] = field(default_factory=list)  # name -> (q, dq, eff)
    cmd_t: List[int] = field(default_factory=list)
    cmds: List[np.ndarray] = field(default_factory=list)


def inspect_bags(paths: Sequence[str | Path], image_topic: str = '',
                 joint_state_topic: str = '', action_topic: str = '',
                 stamp_source: str = 'header') -> BagInspection:
    """Measure the bags in ``paths`` (bags, files in one, or directories of bags).

    Topics left empty are chosen by type: the image, JointState and command topic with the
    most messages (raw images before compressed ones at equal counts).

    Raises:
        BagDatasetError: No bag, an unreadable bag, or a named topic that is missing or of
            the wrong type.
    """
    bags = expand_bag_paths(paths)
    types = _topic_types(bags)
    roles = {'image': _choose(types, image_topic, IMAGE_TYPES, 'image'),
             'joint': _choose(types, joint_state_topic, (JOINT_STATE_TYPE,), 'joint state'),
             'command': _choose(types, action_topic, COMMAND_TYPES, 'command')}
    per_bag = [_read(path, roles, stamp_source) for path in bags]
    result = BagInspection(bags=[str(b) for b in bags], topics=[],
                           image_topic=roles['image'], joint_state_topic=roles['joint'])
    for topic, (msgtype, _) in sorted(types.items()):
        timed = ('header' if topic in roles.values() and stamp_source == 'header'
                 and msgtype not in HEADERLESS_TYPES else 'receive')
        result.topics.append(_topic_stats(topic, msgtype, [s.stamps.get(topic, [])
                                                           for s, _ in per_bag], timed))
    result.image = next((info for _, info in per_bag if info), {})
    if roles['joint']:
        _joint_stats(result, [s for s, _ in per_bag])
    if roles['command']:
        result.command = _command_stats(roles['command'], types[roles['command']][0],
                                        [s for s, _ in per_bag])
    if roles['image'] and roles['joint']:
        skews = [frame_skews(s.stamps.get(roles['image'], []), s.joint_t) for s, _ in per_bag]
        result.joint_state_skew_s = timing_summary(np.concatenate(skews) / 1e9)
    if roles['image'] and roles['command']:
        frames = result.topic(roles['image'])
        period = frames.median_interval_s if frames else 0.0
        delays = np.concatenate([command_delays(
            np.sort(np.asarray(s.stamps.get(roles['image'], []), dtype=np.int64)),
            np.sort(np.asarray(s.cmd_t, dtype=np.int64)), period) for s, _ in per_bag])
        result.command_delay_s = timing_summary(delays / 1e9)
        result.alignment = recommend_alignment(delays / 1e9, period)
    result.warnings = _warnings(result, roles)
    return result


# -- reading -------------------------------------------------------------------------------

def _topic_types(bags: List[Path]) -> Dict[str, tuple]:
    """topic -> (type, message count) over all bags (metadata only)."""
    types: Dict[str, tuple] = {}
    for path in bags:
        try:
            with Reader(path) as reader:
                for topic, info in reader.topics.items():
                    _, count = types.get(topic, (info.msgtype, 0))
                    types[topic] = (info.msgtype, count + int(info.msgcount))
        except _BAG_ERRORS as exc:
            raise BagDatasetError(f'{path}: cannot read bag, it may be corrupt or truncated '
                                  f'({type(exc).__name__}: {exc})') from exc
    return types


def _choose(types: Dict[str, tuple], wanted: str, allowed: tuple, what: str) -> str:
    """The topic of a role: ``wanted`` (checked), else the busiest topic of an allowed type."""
    listing = ', '.join(f'{t} ({m})' for t, (m, _) in sorted(types.items())) or 'none'
    if wanted:
        if wanted not in types:
            raise BagDatasetError(f'{what} topic {wanted} is not in the bags; topics present: '
                                  f'{listing}')
        if types[wanted][0] not in allowed:
            raise BagDatasetError(f'{what} topic {wanted} has type {types[wanted][0]}; '
                                  f'expected one of {list(allowed)}')
        return wanted
    candidates = [(count, -allowed.index(m), t) for t, (m, count) in types.items()
                  if m in allowed]
    return max(candidates)[2] if candidates else ''


def _read(path: Path, roles: Dict[str, str], stamp_source: str) -> tuple:
    """One pass over a bag: stamps of every topic, joint rows, commands, first image size."""
    samples, image_info = _Samples(), {}
    decoded = {roles['image'], roles['joint'], roles['command']} - {''}
    try:
        with Reader(path) as reader:
            for conn, log_ns, raw in reader.messages():
                stamps = samples.stamps.setdefault(conn.topic, [])
                if conn.topic not in decoded:
                    stamps.append(int(log_ns))
                    continue
                msg = typestore().deserialize_cdr(raw, conn.msgtype)
                stamp = message_stamp_ns(msg, log_ns, stamp_source)
                stamps.append(stamp)
                if conn.topic == roles['image'] and not image_info:
                    image_info = _image_info(msg, conn.msgtype)
                elif conn.topic == roles['joint']:
                    samples.joint_t.append(stamp)
                    samples.joint_rows.append(_joint_row(msg))
                elif conn.topic == roles['command']:
                    samples.cmd_t.append(stamp)
                    fields = list(TWIST_FIELDS) if 'Twist' in conn.msgtype else []
                    samples.cmds.append(command_vector(msg, conn.msgtype, fields))
    except _BAG_ERRORS as exc:
        raise BagDatasetError(f'{path}: cannot read bag, it may be corrupt or truncated '
                              f'({type(exc).__name__}: {exc})') from exc
    return samples, image_info


def _image_info(msg: Any, msgtype: str) -> Dict[str, Any]:
    """Size and encoding of the first image (compressed ones are decoded for their size)."""
    info: Dict[str, Any] = {'type': msgtype}
    if msgtype == 'sensor_msgs/msg/CompressedImage':
        info['format'] = str(msg.format)
        try:
            rgb = decode_image(msg, msgtype)
            info.update(height=int(rgb.shape[0]), width=int(rgb.shape[1]))
        except ImageDecodeError as exc:
            info['decode_error'] = str(exc)
        return info
    info.update(encoding=str(msg.encoding), height=int(msg.height), width=int(msg.width))
    return info


def _joint_row(msg: Any) -> Dict[str, tuple]:
    """name -> (position, velocity or nan, effort or nan) of one JointState."""
    n = len(msg.name)
    pos, vel, eff = (np.asarray(v, dtype=np.float64) for v in (msg.position, msg.velocity,
                                                               msg.effort))
    return {name: (float(pos[i]) if len(pos) == n else math.nan,
                   float(vel[i]) if len(vel) == n else math.nan,
                   float(eff[i]) if len(eff) == n else math.nan)
            for i, name in enumerate(msg.name)}


# -- statistics ----------------------------------------------------------------------------

def _topic_stats(topic: str, msgtype: str, stamps_per_bag: List[List[int]],
                 timed_by: str) -> TopicStats:
    stats = TopicStats(topic=topic, type=msgtype, timed_by=timed_by,
                       count=sum(len(s) for s in stamps_per_bag))
    raw = [np.asarray(s, dtype=np.int64) for s in stamps_per_bag]
    stats.out_of_order = int(sum(np.sum(t[1:] < np.maximum.accumulate(t)[:-1])
                                 for t in raw if len(t) > 1))
    intervals = np.concatenate([np.diff(np.sort(t)) for t in raw] + [np.zeros(0)]) / 1e9
    intervals = intervals[intervals > 0]
    if intervals.size:
        median = float(np.median(intervals))
        stats.median_interval_s, stats.rate_hz = median, 1.0 / median
        stats.max_interval_s = float(intervals.max())
        stats.gaps = int(np.sum((intervals > GAP_FACTOR * median) & (intervals <= PAUSE_S)))
        stats.pauses = int(np.sum(intervals > PAUSE_S))
    return stats


def _joint_stats(result: BagInspection, samples: List[_Samples]) -> None:
    """Joint ranges, velocity and effort magnitudes, wrap-arounds within gap-free runs."""
    names: List[str] = []
    for s in samples:
        for row in s.joint_rows:
            names += [n for n in row if n not in names]
    has_vel, has_eff = False, False
    for name in names:
        q_all, dq_all, eff_all, wraps = [], [], [], 0
        for s in samples:
            order = np.argsort(np.asarray(s.joint_t, dtype=np.int64), kind='stable')
            rows = [s.joint_rows[i] for i in order if name in s.joint_rows[i]]
            if not rows:
                continue
            t = np.asarray([s.joint_t[i] for i in order if name in s.joint_rows[i]])
            q, dq, eff = (np.asarray([r[name][k] for r in rows]) for k in range(3))
            for run in split_at_gaps(t, int(PAUSE_S * 1e9)):
                steps = np.diff(q[run])
                wraps += int(np.sum(np.abs(steps[np.isfinite(steps)]) > math.pi))
            q_all.append(q), dq_all.append(dq), eff_all.append(eff)
        q, dq, eff = (np.concatenate(v) for v in (q_all, dq_all, eff_all))
        q = q[np.isfinite(q)]
        if q.size == 0:
            continue
        has_vel |= bool(np.isfinite(dq).any())
        has_eff |= bool(np.isfinite(eff).any())
        lo, hi = float(q.min()), float(q.max())
        result.joints.append(JointStats(
            name=name, position_min=lo, position_max=hi, wraps=wraps,
            continuous=hi - lo > 2 * math.pi or wraps > 0,
            velocity_abs_max=_abs_max(dq), effort_abs_max=_abs_max(eff)))
    result.joint_velocities, result.joint_efforts = has_vel, has_eff


def _abs_max(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size else 0.0


def _command_stats(topic: str, msgtype: str, samples: List[_Samples]) -> CommandStats:
    """Fields, per-dimension range and p99 rate of change of the commands (Twist: only the
    fields that are ever non-zero)."""
    widths = sorted({len(c) for s in samples for c in s.cmds})
    if len(widths) > 1:
        raise BagDatasetError(f'commands on {topic} have different lengths {widths}')
    width = widths[0] if widths else 0
    runs = []                                   # per bag: (stamps [C], commands [C, width])
    for s in samples:
        order = np.argsort(np.asarray(s.cmd_t, dtype=np.int64), kind='stable')
        values = np.stack(s.cmds)[order] if s.cmds else np.zeros((0, width))
        runs.append((np.asarray(s.cmd_t, dtype=np.int64)[order], values))
    cmds = np.concatenate([v for _, v in runs])
    fields = [f'data[{i}]' for i in range(width)]
    used = np.ones(width, dtype=bool)
    if 'Twist' in msgtype:
        used = np.abs(cmds).max(axis=0) > 0 if len(cmds) else used
        fields = [f for f, u in zip(TWIST_FIELDS, used) if u]
    cmds = cmds[:, used]
    rates = [np.zeros((0, cmds.shape[1]))]
    for t, values in runs:
        dt = np.diff(t) / 1e9
        ok = (dt > 0) & (dt <= PAUSE_S)
        rates.append(np.abs(np.diff(values[:, used], axis=0))[ok] / dt[ok, None])
    rate = np.concatenate(rates)
    return CommandStats(
        topic=topic, type=msgtype, width=int(cmds.shape[1]), fields=fields,
        minimum=cmds.min(axis=0).tolist() if len(cmds) else [],
        maximum=cmds.max(axis=0).tolist() if len(cmds) else [],
        change_rate_p99=(np.percentile(rate, 99, axis=0).tolist() if len(rate) else
                         [0.0] * cmds.shape[1]))


def _warnings(result: BagInspection, roles: Dict[str, str]) -> List[str]:
    """What would stop training, or make it learn the wrong thing."""
    out = []
    for role, what in (('image', 'camera (sensor_msgs/Image or CompressedImage)'),
                       ('joint', 'sensor_msgs/JointState')):
        if not roles[role]:
            out.append(f'no {what} topic: training needs one')
    if not roles['command']:
        out.append('no command topic (Float64MultiArray, Float32MultiArray, Twist, '
                   'TwistStamped): actions will be joint_state_delta (q[t+1] - q[t])')
    for joint in result.joints:
        if joint.continuous:
            out.append(f'joint {joint.name} looks continuous (range {joint.position_min:.2f} '
                       f'.. {joint.position_max:.2f} rad, {joint.wraps} wrap-around(s)): an '
                       f'image shows its angle only modulo 2 pi; the starter config lists it '
                       f'in model.continuous_joints (read as cos, sin)')
    if roles['image'] and result.image.get('decode_error'):
        out.append(f'the first image on {roles["image"]} cannot be decoded: '
                   f'{result.image["decode_error"]}')
    for stats in result.topics:
        if stats.out_of_order:
            out.append(f'{stats.topic}: {stats.out_of_order} message(s) out of order')
    return out
