"""Evaluate a checkpoint on held-out rosbag2 recordings (``jepa-world-model evaluate --bag``),
or on a temporary recording of its simulated robot (``evaluate`` without ``--bag``).

Two questions, answered with numbers:
  * does the model predict better than "nothing changes" and "constant velocity", in latent
    space and, through the probe, in joint space, at horizons 1, 2, 4, 8?
  * does its one-step surprise rise at collisions and contacts compared with free motion?
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
import tempfile
from typing import Dict, Optional, Sequence, Set, Tuple

import numpy as np
from rosbags.rosbag2 import Reader
import torch

from ..core.checkpoint import load_checkpoint, LoadedCheckpoint
from ..core.config import ModelConfig
from ..core.training.data import Episode, images_to_tensor
from ..core.training.evaluation import baseline_report
from ..core.model.world_model import WorldModel
from .errors import BagDatasetError
from .reader import (_BAG_ERRORS as BAG_READ_ERRORS, BagDatasetConfig, expand_bag_paths,
                     flag_name, read_bag_episodes)

BOOL_TYPE = 'std_msgs/msg/Bool'


@torch.no_grad()
def one_step_errors(model: WorldModel, episode: Episode) -> np.ndarray:
    """L1 error of predict(z_{t-1}, a_{t-1}) against the target latent of frame t; [T-1]."""
    model.eval()
    o = images_to_tensor(episode.images)
    s = torch.from_numpy(episode.s) if model.cfg.state_dim else None
    z = model.encode(o, s)
    z_tgt = model.encode(o, s, target=True)
    pred = model.predict(z[:-1], torch.from_numpy(episode.a[:-1]))
    return (pred - z_tgt[1:]).abs().mean(-1).numpy()


def surprise_samples(model: WorldModel, episodes: Sequence[Episode], flag: str,
                     margin: int = 2) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """Surprise (one-step error / its median over all frames) at flag onsets and in free motion.

    An onset frame is one where ``flag`` turns on; free frames have no flag within ``margin``
    frames. Returns ``(onset [E], free [F])``, or None when no episode has the flag.
    """
    errors, onset, free = [], [], []
    for ep in episodes:
        if flag not in ep.extras or len(ep) < 2:
            continue
        e = one_step_errors(model, ep)                 # error of frame t = 1..T-1
        f = ep.extras[flag].astype(bool)
        rising = np.flatnonzero(f[1:] & ~f[:-1]) + 1   # frames where the flag turns on
        busy = np.zeros(len(ep), dtype=bool)
        for t in np.flatnonzero(f):
            busy[max(t - margin, 0):t + margin + 1] = True
        errors.append(e)
        onset.append(e[rising - 1])
        free.append(e[~busy[1:]])
    if not errors:
        return None
    scale = float(np.median(np.concatenate(errors))) or 1.0
    return np.concatenate(onset) / scale, np.concatenate(free) / scale


def surprise_summary(samples: Optional[Tuple[np.ndarray, np.ndarray]]) -> Dict[str, float]:
    """Means, p90s and counts of :func:`surprise_samples`, and the ratio of the means."""
    if samples is None:
        return {'events': 0}
    on, off = samples
    out = {'events': int(len(on)), 'free_frames': int(len(off))}
    if len(on) and len(off):
        out.update(onset_mean=float(on.mean()), onset_p90=float(np.percentile(on, 90)),
                   free_mean=float(off.mean()), free_p90=float(np.percentile(off, 90)),
                   ratio_of_means=float(on.mean() / max(off.mean(), 1e-12)))
    return out


def evaluate_on_bags(checkpoint: str | Path, bags: Sequence[str | Path],
                     horizons: Sequence[int] = (1, 2, 4, 8),
                     flags: Sequence[str] = ('collision', 'contact'),
                     loaded: Optional[LoadedCheckpoint] = None,
                     samples: Optional[Dict[str, Tuple[np.ndarray, np.ndarray]]] = None
                     ) -> Dict[str, object]:
    """Baseline comparison and surprise-at-events report for one checkpoint.

    The bags are read with the checkpoint's ``data.bag`` settings, without its scan topic
    (no metric here reads a scan). Surprise is reported for the checkpoint's flag topics
    (``/<flag>`` for each of ``flags`` when it has none) that every bag has; the others are
    listed under ``flags_absent``, so a bag without ``/collision`` or ``/contact`` still
    evaluates. ``loaded``: the checkpoint, when the caller has loaded it already.
    ``samples``: filled with ``{flag: (onset, free)}`` surprise values (for plots).

    Raises:
        CheckpointError: the checkpoint cannot be loaded.
        BagDatasetError: unreadable bags, missing required topics, or no episode longer
            than the largest horizon + 1.
    """
    loaded = loaded or load_checkpoint(checkpoint)
    cfg = loaded.config
    paths = expand_bag_paths([Path(b) for b in bags])
    if not paths:
        raise BagDatasetError(f'no bag found in {[str(b) for b in bags]}')
    bag_cfg = BagDatasetConfig.from_experiment(cfg)
    wanted = list(bag_cfg.flag_topics) or [f'/{f}' for f in flags]
    present = _bool_topics_in_every_bag(paths)
    bag_cfg = dataclasses.replace(bag_cfg, scan_topic='',
                                  flag_topics=[t for t in wanted if t in present])
    episodes, read = read_bag_episodes(paths, bag_cfg)
    try:
        prediction = baseline_report(loaded.model, episodes, horizons)
    except ValueError as exc:   # every episode too short for the horizons
        raise BagDatasetError(f'cannot evaluate horizons {list(horizons)}: {exc}') from None
    report: Dict[str, object] = {
        'checkpoint': str(checkpoint), 'step': loaded.step, 'bags': [str(b) for b in bags],
        'episodes': len(episodes), 'frames': int(sum(len(e) for e in episodes)),
        'prediction': prediction}
    found = {flag_name(t): surprise_samples(loaded.model, episodes, flag_name(t))
             for t in bag_cfg.flag_topics}
    report['surprise'] = {flag: surprise_summary(values) for flag, values in found.items()}
    if samples is not None:
        samples.update({flag: values for flag, values in found.items() if values is not None})
    report['flags_absent'] = [t for t in wanted if t not in present]
    report['bag_read'] = read.to_dict()
    return report


def _bool_topics_in_every_bag(paths: Sequence[Path]) -> Set[str]:
    """The std_msgs/Bool topics all of ``paths`` have (from the bags' metadata only)."""
    common: Optional[Set[str]] = None
    for path in paths:
        try:
            with Reader(path) as reader:
                topics = {c.topic for c in reader.connections if c.msgtype == BOOL_TYPE}
        except BAG_READ_ERRORS as exc:
            raise BagDatasetError(f'{path}: cannot read bag, it may be corrupt or truncated '
                                  f'({type(exc).__name__}: {exc})') from exc
        common = topics if common is None else common & topics
    return common or set()


def simulated_robot_for(model: ModelConfig) -> Optional[str]:
    """The ``jepa_world_model.sim`` robot whose joints and actions ``model`` was trained on,
    or None (none matches, or the simulator cannot be imported)."""
    try:
        from ..sim.robots import ROBOTS
    except ImportError:
        return None
    for name, robot in ROBOTS.items():
        if (list(robot.joint_names) == list(model.joint_names)
                and len(robot.action_names) == model.action_dim):
            return name
    return None


def evaluate_on_simulator(checkpoint: str | Path, loaded: LoadedCheckpoint, robot_name: str,
                          episodes: int, steps: int, seed: int, policy: str = 'noisy',
                          horizons: Sequence[int] = (1, 2, 4, 8),
                          samples: Optional[Dict[str, Tuple[np.ndarray, np.ndarray]]] = None
                          ) -> Dict[str, object]:
    """Record ``episodes`` x ``steps`` frames of the simulated robot into a temporary bag,
    on the topics the checkpoint reads, and evaluate on it like :func:`evaluate_on_bags`
    (``samples`` as there).

    Raises:
        RecordError: the robot or policy cannot be made.
        BagDatasetError: as :func:`evaluate_on_bags`.
    """
    from . import recording    # MuJoCo is imported only here
    bag_cfg = loaded.config.data.bag
    robot = recording.make_robot(robot_name, loaded.config.model.image_size)
    with tempfile.TemporaryDirectory(prefix='jepa-evaluate-') as tmp:
        try:
            topics = recording.topics_for(robot_name, robot, bag_cfg, bag_cfg.action_topic)
            if topics.odometry and bag_cfg.odometry_topic:
                topics = dataclasses.replace(topics, odometry=bag_cfg.odometry_topic)
            recording.record(robot, lambda s: recording.make_policy(policy, robot, s),
                             Path(tmp) / 'bag', episodes, steps, topics, 'mcap', seed,
                             info={'robot': robot_name, 'policy': policy})
        finally:
            robot.close()
        report = evaluate_on_bags(checkpoint, [Path(tmp) / 'bag'], horizons, loaded=loaded,
                                  samples=samples)
    report['bags'] = []
    report['generated'] = {'robot': robot_name, 'policy': policy, 'episodes': episodes,
                           'steps': steps, 'seed': seed}
    return report
