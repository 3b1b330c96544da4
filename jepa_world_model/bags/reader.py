"""Turn rosbag2 recordings (MCAP or sqlite3) into aligned :class:`Episode` lists.

Alignment rules (docs/datasets.md has the long form):

* Time: a message's stamp is its ``header.stamp`` when it has a non-zero one (with
  ``stamp_source: header``), otherwise the bag's receive time. Each topic is sorted by stamp;
  out-of-order messages are counted, repeated stamps are dropped and counted.
* Frames: every decodable image is a frame (``frame_rate`` > 0 resamples to that rate, the
  image nearest each grid time within half a period). A frame takes the joint state nearest
  in time; without one within ``max_skew_s`` it is skipped and counted, never paired with a
  farther state.
* Episodes: wherever consecutive frames are more than ``max_gap_s`` apart (a pause, a reset,
  dropped frames, skipped frames) the episode is split. Episodes never span two bags.
  Episodes shorter than ``min_episode_length`` are dropped and counted.
* Actions: ``a[t]`` is the command in force between frame t and t + 1. With
  ``action_source: topic`` that is the latest command stamped at or before frame t (zero
  before the first one, or when older than ``command_timeout_s`` > 0); a command sent after
  frame t first counts for frame t + 1, unless ``action_alignment: after_frame`` takes the
  first command in (t, t + ``action_alignment_window_s``] (bags/command_alignment.py).
  Commands are held only within an episode: one stamped before the episode's first frame
  never labels it (zero until the episode's own first command). With
  ``joint_state_delta``, ``a[t] = q[t+1] - q[t]`` of the paired joint states (``a[-1]`` = 0,
  unused).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import logging
from pathlib import Path
import struct
from typing import Dict, List, Sequence, Tuple

import apsw
import numpy as np
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.serde import SerdeError

from ..core.config import BagConfig, ExperimentConfig, ModelConfig
from ..core.training.data import Episode
from ..core.model.joint_angles import JointAngleCoding
from ..core.model.state_layout import assemble_state, state_slices
from .command_alignment import frame_actions
from .time_alignment import nearest_index, resample_to_rate, split_at_gaps
from .errors import BagDatasetError
from .images import IMAGE_TYPES
from .message_streams import (ARRAY_TYPES, COMMAND_TYPES, JOINT_STATE_TYPE, JointIndexCache,
                              MessageStreams, add_image, add_joint_state, add_scan,
                              command_vector, flag_name, message_stamp_ns, odometry_pose)
from .read_report import ReadReport
from .writer import TWIST_FIELDS, typestore

__all__ = ['BagDatasetError', 'BagDatasetConfig', 'ReadReport', 'read_bag_episodes',
           'expand_bag_paths', 'message_stamp_ns', 'command_vector', 'COMMAND_TYPES',
           'ARRAY_TYPES', 'JOINT_STATE_TYPE']

log = logging.getLogger(__name__)
# rosbags' storage parsers let low-level errors through on damaged files (seen: OSError,
# struct.error, OverflowError, UnicodeDecodeError, apsw.CorruptError while iterating).
_BAG_ERRORS = (ReaderError, SerdeError, apsw.Error, OSError, struct.error, ValueError,
               OverflowError, IndexError, EOFError)


@dataclass
class BagDatasetConfig(BagConfig):
    """:class:`BagConfig` plus what the model fixes: joint order, velocity use, image size."""

    joint_names: List[str] = field(default_factory=list)  # empty: first JointState's order
    # Positions of these enter s as (cos, sin) (model.continuous_joints; joint_angles.py).
    continuous_joints: List[str] = field(default_factory=list)
    use_joint_position: bool = ModelConfig.use_joint_position
    use_joint_velocity: bool = ModelConfig.use_joint_velocity
    pose_in_state: bool = ModelConfig.pose_in_state   # s gets the odometry pose
    image_size: int = ModelConfig.image_size
    action_dim: int = 0                 # 0: whatever the commands give; else checked

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.image_size <= 0 or self.action_dim < 0:
            raise BagDatasetError('image_size must be > 0 and action_dim >= 0')
        unknown = sorted(set(self.continuous_joints) - set(self.joint_names))
        if unknown:
            raise BagDatasetError(f'continuous_joints {unknown} are not in joint_names '
                                  f'{self.joint_names} (name the joints to read them)')
        if self.pose_in_state and not self.odometry_topic:
            raise BagDatasetError('model.pose_in_state needs data.bag.odometry_topic (the '
                                  'nav_msgs/Odometry topic the pose comes from)')

    @classmethod
    def from_experiment(cls, cfg: ExperimentConfig) -> 'BagDatasetConfig':
        """The reader settings a training run uses (episodes shorter than a clip dropped)."""
        bag = dataclasses.asdict(cfg.data.bag)
        bag['min_episode_length'] = max(bag['min_episode_length'], cfg.data.clip_length)
        m = cfg.model
        return cls(**bag, joint_names=list(m.joint_names),
                   continuous_joints=list(m.continuous_joints),
                   use_joint_position=m.use_joint_position,
                   use_joint_velocity=m.use_joint_velocity, pose_in_state=m.pose_in_state,
                   image_size=m.image_size, action_dim=m.action_dim)


def expand_bag_paths(paths: Sequence[str | Path]) -> List[Path]:
    """Bag directories: each path is a bag (has metadata.yaml), a file inside one, or a
    directory of bags (its sub-directories with metadata.yaml, sorted by name)."""
    out: List[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file() and (path.parent / 'metadata.yaml').is_file():
            path = path.parent
        if (path / 'metadata.yaml').is_file():
            out.append(path)
            continue
        subs = sorted(d for d in path.iterdir() if (d / 'metadata.yaml').is_file()) \
            if path.is_dir() else []
        if not subs:
            raise BagDatasetError(
                f'{path}: not a rosbag2 directory (no metadata.yaml) and no bag directories '
                f'inside it; a recording that crashed may need `ros2 bag reindex {path}`')
        out.extend(subs)
    return out


def read_bag_episodes(paths: Sequence[str | Path],
                      cfg: BagDatasetConfig) -> Tuple[List[Episode], ReadReport]:
    """Read every bag in ``paths`` (or ``cfg.paths`` when empty) into episodes.

    Returns:
        ``(episodes, report)``. Episode extras: ``stamp_ns`` [T] int64 frame stamps.

    Raises:
        BagDatasetError: Unreadable or corrupt bag (names the file), a missing topic (lists
            the topics present), unusable messages, or no episode at all.
    """
    bags = expand_bag_paths(list(paths) or cfg.paths)
    if not bags:
        raise BagDatasetError('no bag paths given')
    report = ReadReport()
    joint_names = list(cfg.joint_names)
    episodes: List[Episode] = []
    for path in bags:
        streams, joint_names = _read_bag(path, cfg, joint_names, report)
        width = _command_width(streams, cfg, joint_names, path)
        episodes += _episodes(streams, cfg, report, width)
        report.bags += 1
    report.episodes, report.frames = len(episodes), sum(len(ep) for ep in episodes)
    if not episodes:
        raise BagDatasetError(f'no episode of at least {cfg.min_episode_length} frames in '
                              f'{[str(b) for b in bags]}:\n{report.summary()}')
    log.info('read %d episodes (%d frames) from %d bag(s):\n%s', report.episodes,
             report.frames, report.bags, report.summary())
    return episodes, report


def _read_bag(path: Path, cfg: BagDatasetConfig, joint_names: List[str],
              report: ReadReport) -> Tuple[MessageStreams, List[str]]:
    """One pass over the bag: decode images, map joint states, extract commands."""
    streams = MessageStreams()
    index_cache: JointIndexCache = {}
    try:
        with Reader(path) as reader:
            present = {c.topic: c.msgtype for c in reader.connections}
            kinds = _check_topics(path, cfg, present)
            conns = [c for c in reader.connections if c.topic in kinds]
            for conn, log_ns, raw in reader.messages(connections=conns):
                msg = typestore().deserialize_cdr(raw, conn.msgtype)
                stamp = message_stamp_ns(msg, log_ns, cfg.stamp_source)
                kind = kinds[conn.topic]
                if kind == 'image':
                    add_image(streams, msg, conn.msgtype, stamp, cfg.image_size,
                              cfg.resize_mode, report)
                elif kind == 'joint':
                    if not joint_names and len(msg.name):
                        joint_names = list(msg.name)
                    add_joint_state(streams, msg, stamp, joint_names, cfg.use_joint_velocity,
                                    index_cache, report)
                elif kind == 'odometry':
                    streams.pose_t.append(stamp)
                    streams.poses.append(odometry_pose(msg))
                elif kind == 'scan':
                    add_scan(streams, msg, stamp, path)
                elif kind.startswith('flag:'):
                    stamps, values = streams.flags.setdefault(kind[5:], ([], []))
                    stamps.append(stamp)
                    values.append(float(bool(msg.data)))
                else:
                    streams.cmd_t.append(stamp)
                    streams.cmds.append(command_vector(msg, conn.msgtype, cfg.action_fields))
                    report.commands_read += 1
    except BagDatasetError:
        raise
    except _BAG_ERRORS as exc:
        raise BagDatasetError(f'{path}: cannot read bag, it may be corrupt or truncated '
                              f'({type(exc).__name__}: {exc})') from exc
    if not streams.joint_t:
        raise BagDatasetError(
            f'{path}: none of {report.joint_states_incomplete} message(s) on '
            f'{cfg.joint_state_topic} has all joints {joint_names}'
            + (' with velocities (set model.use_joint_velocity: false if the robot publishes '
               'none)' if cfg.use_joint_velocity else ''))
    return streams, joint_names


def _check_topics(path: Path, cfg: BagDatasetConfig,
                  present: Dict[str, str]) -> Dict[str, str]:
    """topic -> 'image' | 'joint' | 'action'; errors name the topic and list what is there."""
    wanted = {cfg.image_topic: ('image', IMAGE_TYPES),
              cfg.joint_state_topic: ('joint', (JOINT_STATE_TYPE,))}
    if cfg.action_source == 'topic':
        wanted[cfg.action_topic] = ('action', COMMAND_TYPES)
    if cfg.odometry_topic:
        wanted[cfg.odometry_topic] = ('odometry', ('nav_msgs/msg/Odometry',))
    for topic in cfg.flag_topics:
        wanted[topic] = (f'flag:{flag_name(topic)}', ('std_msgs/msg/Bool',))
    if cfg.scan_topic:
        wanted[cfg.scan_topic] = ('scan', ('sensor_msgs/msg/LaserScan',))
    listing = ', '.join(f'{t} ({m})' for t, m in sorted(present.items())) or 'none'
    for topic, (_, types) in wanted.items():
        if topic not in present:
            raise BagDatasetError(f'{path}: topic {topic} is not in the bag; topics present: '
                                  f'{listing}')
        if present[topic] not in types:
            raise BagDatasetError(f'{path}: topic {topic} has type {present[topic]}; '
                                  f'expected one of {list(types)}')
    if cfg.action_source == 'topic':
        twist = 'Twist' in present[cfg.action_topic]
        bad = [f for f in cfg.action_fields if f not in TWIST_FIELDS]
        if twist and (not cfg.action_fields or bad):
            raise BagDatasetError(f'{cfg.action_topic} is {present[cfg.action_topic]}: set '
                                  f'action_fields to fields from {list(TWIST_FIELDS)} in '
                                  f'model action order (got {cfg.action_fields})')
        if not twist and cfg.action_fields:
            raise BagDatasetError(f'action_fields apply to Twist commands; '
                                  f'{present[cfg.action_topic]} uses all of its data')
    return {topic: kind for topic, (kind, _) in wanted.items()}


def _nearest_values(stamps: List[int], values: List[np.ndarray],
                    frame_t: np.ndarray) -> np.ndarray:
    """The value whose stamp is nearest each frame stamp. [T, ...] float32."""
    order = np.argsort(np.asarray(stamps), kind='stable')
    t = np.asarray(stamps, dtype=np.int64)[order]
    return np.stack(values)[order][nearest_index(t, frame_t)].astype(np.float32)


def _labels(streams: MessageStreams, frame_t: np.ndarray) -> Dict[str, np.ndarray]:
    """Label extras at the frame stamps: nearest pose and scan, latest flag at or before the
    frame."""
    out: Dict[str, np.ndarray] = {}
    if streams.pose_t:
        out['base_pose'] = _nearest_values(streams.pose_t, streams.poses, frame_t)
    if streams.scan_t:
        out['scan'] = _nearest_values(streams.scan_t, streams.scans, frame_t)
    for name, (stamps, values) in streams.flags.items():
        order = np.argsort(np.asarray(stamps), kind='stable')
        t = np.asarray(stamps, dtype=np.int64)[order]
        k = np.searchsorted(t, frame_t, side='right') - 1
        v = np.asarray(values, dtype=np.float32)[order]
        out[name] = np.where(k >= 0, v[np.maximum(k, 0)], 0.0).astype(np.float32)
    return out


def _command_width(streams: MessageStreams, cfg: BagDatasetConfig, joint_names: List[str],
                   path: Path) -> int:
    """Action size, checked to be the same for every command and to match ``action_dim``."""
    if cfg.action_source == 'joint_state_delta':
        width = len(joint_names)
    else:
        widths = sorted({len(c) for c in streams.cmds})
        if len(widths) > 1:
            raise BagDatasetError(f'{path}: commands on {cfg.action_topic} have different '
                                  f'lengths {widths}')
        width = widths[0] if widths else (cfg.action_dim or len(cfg.action_fields))
        if not width:
            raise BagDatasetError(f'{path}: no commands on {cfg.action_topic}, so the action '
                                  f'size is unknown; set the model action_dim')
    if cfg.action_dim and width != cfg.action_dim:
        raise BagDatasetError(f'{path}: actions from {cfg.action_source} '
                              f'{cfg.action_topic if cfg.action_source == "topic" else ""} '
                              f'have {width} values; the model expects action_dim '
                              f'{cfg.action_dim}')
    return width


def _sorted_unique(stamps: List[int], topic: str, report: ReadReport) -> np.ndarray:
    """Indices that put a topic in stamp order with repeated stamps dropped (counted)."""
    t = np.asarray(stamps, dtype=np.int64)
    if len(t) == 0:
        return np.zeros(0, dtype=np.int64)
    report._count('out_of_order', topic, np.sum(t[1:] < np.maximum.accumulate(t)[:-1]))
    order = np.argsort(t, kind='stable')
    keep = np.ones(len(t), dtype=bool)
    keep[1:] = t[order][1:] != t[order][:-1]
    report._count('duplicates', topic, np.sum(~keep))
    return order[keep]


def _episodes(streams: MessageStreams, cfg: BagDatasetConfig, report: ReadReport,
              width: int) -> List[Episode]:
    img_order = _sorted_unique(streams.image_t, cfg.image_topic, report)
    js_order = _sorted_unique(streams.joint_t, cfg.joint_state_topic, report)
    img_t = np.asarray(streams.image_t, dtype=np.int64)[img_order]
    js_t = np.asarray(streams.joint_t, dtype=np.int64)[js_order]
    q = np.stack(streams.q)[js_order]
    dq = np.stack(streams.dq)[js_order]
    if cfg.action_source == 'topic' and streams.cmd_t:
        cmd_order = _sorted_unique(streams.cmd_t, cfg.action_topic, report)
        cmd_t = np.asarray(streams.cmd_t, dtype=np.int64)[cmd_order]
        cmds = np.stack(streams.cmds)[cmd_order]
    else:
        cmd_t, cmds = np.zeros(0, dtype=np.int64), np.zeros((0, width))
    max_gap = int(cfg.max_gap_s * 1e9)
    coding = JointAngleCoding.of(cfg.joint_names, cfg.continuous_joints)
    out: List[Episode] = []
    segments = split_at_gaps(img_t, max_gap)
    report.gaps += len(segments) - 1
    for seg in segments:
        frames = seg[resample_to_rate(img_t[seg], cfg.frame_rate)]
        report.frames_resampled_out += len(seg) - len(frames)
        js = nearest_index(js_t, img_t[frames])
        ok = np.abs(js_t[js] - img_t[frames]) <= int(cfg.max_skew_s * 1e9)
        report.frames_without_joint_state += int(np.sum(~ok))
        frames, js = frames[ok], js[ok]
        # Skipped frames can open a gap of their own; split there too.
        pieces = split_at_gaps(img_t[frames], max_gap)
        report.gaps += len(pieces) - 1
        for piece in pieces:
            if len(piece) < cfg.min_episode_length:
                report.episodes_too_short += 1
                report.frames_in_short_episodes += len(piece)
                continue
            f, j = frames[piece], js[piece]
            a = frame_actions(img_t[f], q[j], cmd_t, cmds, width, cfg, report)
            labels = _labels(streams, img_t[f])
            if cfg.pose_in_state and 'base_pose' not in labels:
                raise BagDatasetError(f'model.pose_in_state: no nav_msgs/Odometry on '
                                      f'{cfg.odometry_topic!r}')
            layout = state_slices(cfg.use_joint_position, cfg.use_joint_velocity,
                                  cfg.pose_in_state, q.shape[1], len(cfg.continuous_joints))
            s = assemble_state(layout, q[j], dq[j] if cfg.use_joint_velocity else None,
                               labels.get('base_pose'), coding)
            out.append(Episode(images=np.stack([streams.images[i] for i in img_order[f]]),
                               s=s, a=a.astype(np.float32),
                               extras={'stamp_ns': img_t[f], **labels}))
    return out
