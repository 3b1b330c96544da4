"""Evaluate a checkpoint on held-out rosbag2 recordings (``jepa-world-model evaluate --bag``).

Two questions, answered with numbers:
  * does the model predict better than "nothing changes" and "constant velocity", in latent
    space and, through the probe, in joint space, at horizons 1, 2, 4, 8?
  * does its one-step surprise rise at collisions and contacts compared with free motion?
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import torch

from ..core.checkpoint import load_checkpoint
from ..core.data import Episode, images_to_tensor
from ..core.evaluation import baseline_report
from ..core.world_model import WorldModel
from .reader import BagDatasetConfig, read_bag_episodes


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


def surprise_at_events(model: WorldModel, episodes: Sequence[Episode], flag: str,
                       margin: int = 2) -> Dict[str, float]:
    """Surprise (one-step error / its median over all frames) at flag onsets vs free motion.

    An onset frame is one where ``flag`` turns on; free frames have no flag within ``margin``
    frames. Returns means, p90s and counts, and the ratio of the means.
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
        return {'events': 0}
    scale = float(np.median(np.concatenate(errors))) or 1.0
    on, off = np.concatenate(onset) / scale, np.concatenate(free) / scale
    out = {'events': int(len(on)), 'free_frames': int(len(off))}
    if len(on) and len(off):
        out.update(onset_mean=float(on.mean()), onset_p90=float(np.percentile(on, 90)),
                   free_mean=float(off.mean()), free_p90=float(np.percentile(off, 90)),
                   ratio_of_means=float(on.mean() / max(off.mean(), 1e-12)))
    return out


def evaluate_on_bags(checkpoint: str | Path, bags: Sequence[str | Path],
                     horizons: Sequence[int] = (1, 2, 4, 8),
                     flags: Sequence[str] = ('collision', 'contact')) -> Dict[str, object]:
    """Baseline comparison and surprise-at-events report for one checkpoint."""
    loaded = load_checkpoint(checkpoint)
    cfg = loaded.config
    bag_cfg = BagDatasetConfig.from_experiment(cfg)
    if not bag_cfg.flag_topics:
        bag_cfg.flag_topics = [f'/{f}' for f in flags]
    episodes, read = read_bag_episodes([Path(b) for b in bags], bag_cfg)
    report: Dict[str, object] = {
        'checkpoint': str(checkpoint), 'step': loaded.step, 'bags': [str(b) for b in bags],
        'episodes': len(episodes), 'frames': int(sum(len(e) for e in episodes)),
        'prediction': baseline_report(loaded.model, episodes, horizons)}
    report['surprise'] = {f: surprise_at_events(loaded.model, episodes, f) for f in flags}
    report['bag_read'] = read.to_dict()
    return report


def beats_baselines(prediction: Dict[str, List[float]]) -> Dict[str, bool]:
    """Per metric: does the model beat both baselines at every horizon?"""
    out = {}
    for space in ('latent_l1', 'joint_abs_error', 'position_error'):
        if f'model_{space}' not in prediction:
            continue
        m = prediction[f'model_{space}']
        out[space] = all(v < min(c, k) for v, c, k in zip(
            m, prediction[f'copy_{space}'], prediction[f'const_vel_{space}']))
    return out
