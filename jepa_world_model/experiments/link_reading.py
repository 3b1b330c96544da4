"""How well goal images can be read where a reaching task is judged: at a link.

``jepa-world-model diagnose link-reading --config TRAIN.yaml --model A.safetensors ...``
loads the config's bag episodes, takes the validation episodes ``train`` held out (same
split and seed), and for each model measures how far from its true place (forward
kinematics of the recorded joints, from the config's ``robot_description``) each goal link
is read from a frame alone:

* ``joints_then_fk``: models with an ``image_state_head``: FK of the joint positions the head
  reads (how an image goal aimed in joint units places the link);
* ``link_readout``: models with ``kinematics``: the link read-out itself (how an image goal
  aimed at links places it);

and, over random pairs of frames binned by how far apart the link truly is, the error of the
read displacement, which is what an image goal is aimed with (goals.py).

The worked example's image goals count as reached with the finger tips within 5 cm
(docs/your_robot.md); a reading farther off than that cannot reach them. Writes JSON with
the command, date, counts and per-link median and 90th percentile (cm).
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import torch

from ..core.atomic_files import atomic_write_text
from ..core.checkpoint import load_checkpoint
from ..core.config import ConfigError, load_config
from ..core.model.kinematics import ForwardKinematics
from ..core.training.data import Episode, split_episodes
from ..core.training.report_checks import frame_batches
from ..episode_sources import apply_bag_overrides, load_episodes

__all__ = ['add_arguments', 'run_cli', 'readings', 'summarize', 'DISTANCE_BINS']


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``diagnose link-reading`` arguments."""
    p.add_argument('--config', type=Path, required=True,
                   help='the training config (with robot_description) the models were '
                        'trained from; its split gives the held-out episodes')
    p.add_argument('--bag', nargs='+', help="override the config's bag paths")
    p.add_argument('--model', type=Path, nargs='+', required=True)
    p.add_argument('--out', type=Path, help='JSON file to write')


@torch.no_grad()
def readings(model: Any, fk: ForwardKinematics, episodes: Sequence[Episode],
             batch_size: int = 256) -> Dict[str, np.ndarray]:
    """Every frame's goal link positions [N, L, 3] (m): ``'true'`` (FK of the recorded
    joints) and each reading the model has, ``'joints_then_fk'`` and ``'link_readout'``."""
    part, coding = model.cfg.state_slices['position'], model.cfg.joint_coding
    out: Dict[str, List[torch.Tensor]] = {}
    for o, s in frame_batches(model, episodes, batch_size):
        out.setdefault('true', []).append(fk(coding.decode(s[:, part]).float()))
        if model.image_state_head is not None:
            out.setdefault('joints_then_fk', []).append(
                fk(model.read_image_joints(o).float()))
        if model.link_readout is not None:
            out.setdefault('link_readout', []).append(
                model.encode_with_image_links(o, s)[1].float())
    return {k: torch.cat(v).cpu().numpy() for k, v in out.items()}


#: Bins [m] of the true distance between two frames' links, for the displacement errors.
DISTANCE_BINS = (0.0, 0.05, 0.1, 0.2, np.inf)


def summarize(read: np.ndarray, true: np.ndarray, links: Sequence[str], pairs: int = 20000,
              seed: int = 0, tolerance: float = 0.05) -> Dict[str, Any]:
    """Per link: the reading's distance from the truth (median, p90 in cm, share within
    ``tolerance``) and, over ``pairs`` random frame pairs binned by their true distance, the
    error of the read *displacement* between the two frames, the quantity an image goal is
    aimed with (the goal image's reading minus the current one's)."""
    err = np.linalg.norm(read - true, axis=-1)                                 # [N, L]
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(read), pairs), rng.integers(0, len(read), pairs)
    d_true = np.linalg.norm(true[i] - true[j], axis=-1)                        # [P, L]
    d_err = np.linalg.norm((read[i] - read[j]) - (true[i] - true[j]), axis=-1)
    out: Dict[str, Any] = {}
    for k, link in enumerate(links):
        bins = {}
        for lo, hi in zip(DISTANCE_BINS[:-1], DISTANCE_BINS[1:]):
            use = (d_true[:, k] >= lo) & (d_true[:, k] < hi)
            if use.any():
                bins[f'{lo * 100:g}-{hi * 100:g}cm'] = {
                    'pairs': int(use.sum()),
                    'median_cm': round(float(np.median(d_err[use, k])) * 100, 2)}
        out[link] = {'median_cm': round(float(np.median(err[:, k])) * 100, 2),
                     'p90_cm': round(float(np.quantile(err[:, k], 0.9)) * 100, 2),
                     f'within_{tolerance * 100:g}cm': round(float(np.mean(err[:, k]
                                                                          <= tolerance)), 3),
                     'displacement_error_by_true_distance': bins}
    return out


def run_cli(args: argparse.Namespace, command: str) -> int:
    """Run the diagnostic for ``args`` (``add_arguments``); print and write its JSON."""
    cfg = load_config(args.config)
    if not cfg.model.kinematics.enabled:
        raise ConfigError(f'{args.config}: needs a robot_description (urdf and goal_links)')
    apply_bag_overrides(cfg, args.bag)
    episodes, _ = load_episodes(cfg)
    _, val_eps = split_episodes(episodes, cfg.data.validation_fraction, cfg.train.seed)
    kin = cfg.model.kinematics
    report: Dict[str, Any] = {
        'command': command, 'date': datetime.date.today().isoformat(),
        'config': str(args.config), 'urdf': cfg.robot_description.urdf,
        'goal_links': list(kin.goal_links), 'validation_episodes': len(val_eps),
        'frames': int(sum(len(ep) for ep in val_eps)), 'models': {}}
    for path in args.model:
        model = load_checkpoint(path).model
        fk = ForwardKinematics(kin, model.cfg.joint_names)
        read = readings(model, fk, val_eps)
        true = read.pop('true')
        report['models'][str(path)] = {name: summarize(r, true, kin.goal_links)
                                       for name, r in read.items()}
    text = json.dumps(report, indent=1)
    if args.out is not None:
        atomic_write_text(args.out, text + '\n')
    print(text)
    return 0
