"""Evaluation data of the tabletop robot: episodes with object positions and grasp events.

Training reads the same bags through ``bags.reader.read_bag_episodes``, which loads images,
joint states and commands only. Here, for evaluation read-outs, the ground-truth object
poses (``/ground_truth/<name>``, PoseStamped, one per frame) are attached to the episodes as
``<name>_xyz`` extras [T, 3], matched to the frame stamps, and the cube's material
(``/ground_truth/cube_material``, std_msgs/String, in bags recorded since the materials were
added) as a ``cube_material`` extra [T] of text. Nothing here is a model input.

Grasp events are found in the recorded commands, the way the scripted policy issues them
(sim/tabletop_policies.py; every command is a velocity, the gripper's too): its close phase
holds the arm still (yaw, reach and lift commands exactly 0) for ``CLOSE_STEPS`` frames while
the gripper closes (a negative gripper command), with the hand lowered and open around the
cube; the first frame of such a run is the close, the lift (a rising lift command) starts
``CLOSE_STEPS`` frames later, and the grasp held when the cube is above ``HELD_HEIGHT``
``HOLD_CHECK_STEPS`` frames after the lift began (the policy's own rule). No other phase of
the policy gives that pattern: pushes and wanders move the arm, releases open the gripper.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
from rosbags.rosbag2 import Reader

from ..bags.reader import BagDatasetConfig, expand_bag_paths, read_bag_episodes
from ..bags.recording import OBJECT_TOPIC_PREFIX
from ..bags.writer import typestore
from ..core.config import ExperimentConfig
from ..core.training.data import Episode

__all__ = ['OBJECTS', 'GraspEvent', 'read_tabletop_episodes', 'object_positions',
           'positions_of', 'block_averaged_pixels', 'colour_histogram', 'MOVE_M', 'REST_M',
           'object_labels', 'LABELS', 'hold_rule',
           'find_grasps', 'count_moves', 'CLOSE_STEPS', 'GRIPPER_OPEN', 'LIFT_LOWERED']

#: Objects whose positions are read out (the distractor is scored separately, if at all).
OBJECTS = ('block', 'cube')
#: Contact, for the object read-outs: the object moves more than MOVE_M [m] within the
#: horizon (only the arm moves the block and the cube); it starts there when it moved less
#: than REST_M [m] from the frame before.
MOVE_M = 0.01
REST_M = 0.002
#: Frames the gripper is commanded closed before the lift starts (the policy's close phase).
CLOSE_STEPS = 5
#: Finger opening [m] above which the hand is open around the cube (it opens to 0.05; a
#: closed hand stops on the 6 cm cube at about 0.024), and the lift joint [m] below which the
#: hand has been lowered to grasp (the policy lowers to -0.21 around the cube; a hand that
#: lands on top of the cube stops near -0.18, and the policy counts that grasp too).
GRIPPER_OPEN = 0.035
LIFT_LOWERED = -0.15
#: Ground-truth text labels read when a bag has them (older bags do not).
LABELS = ('cube_material',)
_GRIPPER, _LIFT = 3, 2   # action and joint indices (TabletopSim.joint_names/action_names)


def hold_rule() -> Tuple[float, int]:
    """(HELD_HEIGHT [m], HOLD_CHECK_STEPS) of the scripted policy. Imported when used: the
    simulator package loads MuJoCo, which the command line's parser must not need."""
    from ..sim.tabletop_policies import HELD_HEIGHT, HOLD_CHECK_STEPS
    return HELD_HEIGHT, HOLD_CHECK_STEPS


@dataclass
class GraspEvent:
    """One grasp in one episode: frame indices and the outcome.

    Attributes:
        episode: Index of the episode in the list it was found in.
        close: First frame whose command closes the gripper (the hand is still open there).
        lift: First frame of the lift (``close + CLOSE_STEPS``).
        judged: Frame at which ``held`` is read (``lift + HOLD_CHECK_STEPS``).
        held: The cube is above ``HELD_HEIGHT`` at ``judged``.
    """

    episode: int
    close: int
    lift: int
    judged: int
    held: bool


def object_positions(paths: Sequence[str | Path], names: Sequence[str] = OBJECTS
                     ) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """Ground-truth positions in the bags: name -> (stamps [N] int64 ns, xyz [N, 3] float32).

    Raises:
        ValueError: a bag lacks ``/ground_truth/<name>`` for one of ``names``.
    """
    stamps: Dict[str, List[int]] = {n: [] for n in names}
    xyz: Dict[str, List[Tuple[float, float, float]]] = {n: [] for n in names}
    topics = {f'{OBJECT_TOPIC_PREFIX}/{n}': n for n in names}
    for path in expand_bag_paths(list(paths)):
        with Reader(path) as reader:
            conns = [c for c in reader.connections if c.topic in topics]
            missing = set(topics) - {c.topic for c in conns}
            if missing:
                raise ValueError(f'{path}: no ground-truth topic(s) {sorted(missing)}; '
                                 'record with --robot tabletop')
            for conn, _, raw in reader.messages(connections=conns):
                msg = typestore().deserialize_cdr(raw, conn.msgtype)
                name = topics[conn.topic]
                stamps[name].append(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)
                p = msg.pose.position
                xyz[name].append((p.x, p.y, p.z))
    return {n: (np.asarray(stamps[n], dtype=np.int64), np.asarray(xyz[n], dtype=np.float32))
            for n in names}


def object_labels(paths: Sequence[str | Path], names: Sequence[str] = LABELS
                  ) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """Ground-truth text labels in the bags: name -> (log stamps [N] int64 ns, text [N]);
    a name no bag has is left out (bags recorded before it existed)."""
    found: Dict[str, Tuple[List[int], List[str]]] = {}
    topics = {f'{OBJECT_TOPIC_PREFIX}/{n}': n for n in names}
    for path in expand_bag_paths(list(paths)):
        with Reader(path) as reader:
            conns = [c for c in reader.connections if c.topic in topics]
            for conn, stamp, raw in reader.messages(connections=conns):
                msg = typestore().deserialize_cdr(raw, conn.msgtype)
                stamps, texts = found.setdefault(topics[conn.topic], ([], []))
                stamps.append(int(stamp))
                texts.append(str(msg.data))
    return {n: (np.asarray(st, dtype=np.int64), np.asarray(tx, dtype=str))
            for n, (st, tx) in found.items()}


def _attach(episode: Episode, positions: Dict[str, Tuple[np.ndarray, np.ndarray]],
            suffix: str = '_xyz') -> None:
    """Add ``<name><suffix>`` (positions [T, 3] or labels [T]) to ``episode.extras``,
    matched exactly by frame stamp."""
    frame_t = episode.extras['stamp_ns']
    for name, (stamps, values) in positions.items():
        order = np.argsort(stamps, kind='stable')
        k = np.clip(np.searchsorted(stamps[order], frame_t), 0, len(stamps) - 1)
        if np.any(stamps[order][k] != frame_t):
            raise ValueError(f'{name}: a frame has no ground-truth value with its stamp')
        episode.extras[f'{name}{suffix}'] = values[order][k]


def read_tabletop_episodes(paths: Sequence[str | Path], config: ExperimentConfig
                           ) -> List[Episode]:
    """Episodes of tabletop bags as training reads them, plus ``block_xyz``/``cube_xyz``
    extras [T, 3] and, when the bags have it, ``cube_material`` [T] text (evaluation labels;
    the reader itself never loads them)."""
    episodes, _ = read_bag_episodes(list(paths), BagDatasetConfig.from_experiment(config))
    positions = object_positions(paths)
    labels = object_labels(paths)
    for ep in episodes:
        _attach(ep, positions)
        _attach(ep, labels, suffix='')
    return episodes


def positions_of(episode: Episode) -> np.ndarray:
    """Every object's labelled position per frame, [T, 3 * len(OBJECTS)] in metres
    (``OBJECTS`` order; an episode from :func:`read_tabletop_episodes`)."""
    return np.concatenate([episode.extras[f'{name}_xyz'] for name in OBJECTS],
                          axis=1).astype(np.float64)


def block_averaged_pixels(episode: Episode, block: int) -> np.ndarray:
    """The frames averaged over ``block`` x ``block`` pixels, flattened and in [0, 1]:
    [T, (H / block) (W / block) 3] float32 (a plain-pixel input for read-out comparisons)."""
    t, h, w, c = episode.images.shape
    if h % block or w % block:
        raise ValueError(f'block {block} does not divide the {h} x {w} image')
    pooled = episode.images.reshape(t, h // block, block, w // block, block, c).mean((2, 4))
    return (pooled.reshape(t, -1) / 255.0).astype(np.float32)


def colour_histogram(images: np.ndarray, bins: int = 8) -> np.ndarray:
    """How many pixels of each colour: uint8 frames [T, H, W, 3] -> [T, bins ** 3] float32,
    log(1 + count) per RGB cell of 256 / ``bins`` levels. It ignores where a colour is, which
    is what tells the cube's material wherever the cube lies (a position-free reference for
    what the camera shows; never a model input)."""
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f'need uint8 frames [T, H, W, 3], got {images.dtype} {images.shape}')
    if bins < 1 or 256 % bins:
        raise ValueError(f'bins must divide 256, got {bins}')
    cell = (images // (256 // bins)).astype(np.int64)
    index = (cell[..., 0] * bins + cell[..., 1]) * bins + cell[..., 2]      # [T, H, W]
    counts = np.stack([np.bincount(frame.ravel(), minlength=bins ** 3) for frame in index])
    return np.log1p(counts).astype(np.float32)


def find_grasps(episodes: Sequence[Episode]) -> List[GraspEvent]:
    """Grasp events of the scripted policy in the recorded commands (module notes); only
    those judged within their episode. Needs ``cube_xyz`` extras."""
    held_height, hold_check_steps = hold_rule()
    events = []
    for index, ep in enumerate(episodes):
        closing = np.all(ep.a[:, :_GRIPPER] == 0.0, axis=1) & (ep.a[:, _GRIPPER] < 0.0)
        starts = np.flatnonzero(closing & ~np.concatenate([[False], closing[:-1]])
                                & (ep.s[:, _LIFT] < LIFT_LOWERED)
                                & (ep.s[:, _GRIPPER] > GRIPPER_OPEN))
        for close in starts:
            lift = int(close) + CLOSE_STEPS
            judged = lift + hold_check_steps
            if judged >= len(ep) or not (closing[close:lift].all() and ep.a[lift, _LIFT] > 0):
                continue
            held = bool(ep.extras['cube_xyz'][judged, 2] > held_height)
            events.append(GraspEvent(index, int(close), lift, judged, held))
    return events


def count_moves(episode: Episode, name: str, speed_m: float = 0.002, merge: int = 5,
                min_travel_m: float = 0.01) -> int:
    """Times the arm moved object ``name`` in an episode: runs of frames in which it moves
    faster than ``speed_m`` per frame, runs less than ``merge`` frames apart joined, counted
    when the object travelled more than ``min_travel_m`` over the run (only the arm moves
    the block and the cube, so for the block these are its pushes)."""
    p = episode.extras[f'{name}_xyz']
    moving = np.flatnonzero(np.linalg.norm(np.diff(p, axis=0), axis=1) > speed_m)
    if moving.size == 0:
        return 0
    runs = np.split(moving, np.flatnonzero(np.diff(moving) > merge) + 1)
    return sum(int(np.linalg.norm(p[r[-1] + 1] - p[r[0]]) > min_travel_m) for r in runs)
