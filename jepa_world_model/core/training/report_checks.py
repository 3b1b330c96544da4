"""Checks the ``train`` report makes on held-out episodes, each with a verdict and, when it
fails, a warning line: is the latent collapsed, and will goal images work?

* :func:`latent_health`: the effective rank of the learned latent (z without the raw
  state slice) against :data:`COLLAPSE_EFFECTIVE_RANK`, the threshold the package's own
  training evidence holds a healthy run to (test/test_training_evidence.py,
  docs/world_model.md).
* :func:`image_readout_report`: for models with an ``image_state_head``, how well the head
  reads the joint positions from images alone, the reading every goal image is planned
  with, against :data:`GOAL_IMAGE_MAX_READOUT_ERROR`.
* :func:`link_readout_report`: for models with ``kinematics``, whose image goals are read
  and aimed at links instead, how far from its true place (forward kinematics of the
  recorded joints) each goal link is read, against :data:`GOAL_IMAGE_MAX_LINK_ERROR`.

Pure PyTorch/numpy, no ROS.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Sequence, Tuple

import numpy as np
import torch

from .data import Episode, images_to_tensor
from .evaluation import encode_episode
from .metrics import effective_rank

__all__ = ['COLLAPSE_EFFECTIVE_RANK', 'GOAL_IMAGE_MAX_READOUT_ERROR',
           'GOAL_IMAGE_MAX_LINK_ERROR', 'latent_health', 'image_readout_report',
           'link_readout_report', 'frame_batches']

#: A held-out learned latent whose effective rank is below this is flagged as collapsed
#: (or collapsing). The healthy run of the training evidence measures 16 of 48 dimensions;
#: its test requires > 6.
COLLAPSE_EFFECTIVE_RANK = 6.0

#: Median absolute error (rad or m) of the image head's joint reading above which goal
#: images are flagged as unlikely to work. Measured: the shipped arm model reads 0.024 /
#: 0.036 / 0.077 rad and reaches 95 % of goal images (docs/models.md); a new user's arm read
#: 0.79 / 0.15 rad and reached 2 of 20 (issue #15).
GOAL_IMAGE_MAX_READOUT_ERROR = 0.1

#: Median distance (m) between where the link read-out puts a goal link and where it is,
#: above which goal images of a ``kinematics`` model are flagged: half the 5 cm reach
#: tolerance of the worked example's evaluation (docs/your_robot.md).
GOAL_IMAGE_MAX_LINK_ERROR = 0.025


def latent_health(model: Any, episodes: Sequence[Episode]) -> Dict[str, Any]:
    """Effective rank and mean per-dimension std of the learned latent on ``episodes``.

    Returns ``{'effective_rank', 'effective_rank_threshold', 'std_mean', 'collapsed',
    'warning'}``; ``warning`` is '' unless the rank is below the threshold.

    Raises:
        ValueError: No frame in ``episodes``.
    """
    frames = [encode_episode(model, ep) for ep in episodes if len(ep)]
    if not frames:
        raise ValueError('latent_health needs at least one frame')
    z = model.learned_part(torch.cat(frames))                       # [N, Z_learned]
    rank = effective_rank(z)
    collapsed = rank < COLLAPSE_EFFECTIVE_RANK
    warning = (f'the learned latent\'s effective rank is {rank:.1f} of {z.shape[1]} '
               f'dimensions, below the collapse threshold {COLLAPSE_EFFECTIVE_RANK:g}: the '
               f'latent may have collapsed (train longer, more varied data, or check the '
               f'variance/covariance/inverse_dynamics loss weights)') if collapsed else ''
    return {'effective_rank': rank, 'effective_rank_threshold': COLLAPSE_EFFECTIVE_RANK,
            'std_mean': float(z.std(0).mean()) if len(z) > 1 else 0.0,
            'collapsed': collapsed, 'warning': warning}


def frame_batches(model: Any, episodes: Sequence[Episode], batch_size: int = 256
                  ) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """Every frame of ``episodes`` in batches, on the model's device and dtype: (o [B, 3, H,
    W] in [0, 1], s [B, S] physical). Puts the model in eval mode."""
    model.eval()
    param = next(model.parameters())
    for ep in episodes:
        for i in range(0, len(ep), batch_size):
            o = images_to_tensor(ep.images[i:i + batch_size])
            s = torch.from_numpy(np.asarray(ep.s[i:i + batch_size], dtype=np.float32))
            yield o.to(param.device, param.dtype), s.to(param.device, param.dtype)


@torch.no_grad()
def image_readout_report(model: Any, episodes: Sequence[Episode],
                         batch_size: int = 256) -> Dict[str, Any]:
    """How well the ``image_state_head`` reads each joint's position from images alone.

    Compares ``model.read_image_joints(o)`` [N, J] with the recorded joint positions
    (the position slice of ``s``) on every frame of ``episodes``; a continuous joint's error
    is the angle between the two, in [0, pi]. Returns
    ``{'joint_names', 'median_abs_error' [J], 'mean_abs_error' [J], 'max_median_error',
    'threshold', 'goal_images_usable', 'frames', 'warning'}``; ``warning`` names the joints
    read worse than :data:`GOAL_IMAGE_MAX_READOUT_ERROR`, or is ''.

    Raises:
        ValueError: The model has no ``image_state_head`` or ``episodes`` no frame.
    """
    if getattr(model, 'image_state_head', None) is None:
        raise ValueError('this model has no image_state_head')
    part = model.cfg.state_slices['position']
    coding = model.cfg.joint_coding
    errors: List[torch.Tensor] = []
    for o, s in frame_batches(model, episodes, batch_size):
        q_read = model.read_image_joints(o).float().cpu()                     # [B, J]
        q_true = coding.decode(s[:, part].float().cpu())
        errors.append(coding.difference(q_read, q_true).abs())
    if not errors:
        raise ValueError('image_readout_report needs at least one frame')
    err = torch.cat(errors)                                                    # [N, J]
    median = [float(v) for v in err.median(dim=0).values]
    names = list(model.cfg.joint_names)
    worst = max(median)
    bad = [f'{n} {m:.3f}' for n, m in zip(names, median) if m > GOAL_IMAGE_MAX_READOUT_ERROR]
    warning = (f'goal images will likely miss: the image read-out\'s median joint error is '
               f'{", ".join(bad)} (rad or m), above {GOAL_IMAGE_MAX_READOUT_ERROR:g}; joint '
               f'goals are unaffected (docs/models.md, "The arm\'s image read-out")'
               ) if bad else ''
    return {'joint_names': names, 'median_abs_error': median,
            'mean_abs_error': [float(v) for v in err.mean(dim=0)],
            'max_median_error': worst, 'threshold': GOAL_IMAGE_MAX_READOUT_ERROR,
            'goal_images_usable': not bad, 'frames': int(err.shape[0]), 'warning': warning}


@torch.no_grad()
def link_readout_report(model: Any, episodes: Sequence[Episode],
                        batch_size: int = 256) -> Dict[str, Any]:
    """How far from its true place each goal link is read from images alone.

    The truth is ``model.link_positions`` (forward kinematics) of the recorded joint
    positions. Returns ``{'links', 'median_error_m' [L], 'p90_error_m' [L],
    'max_median_error', 'threshold', 'goal_images_usable', 'frames', 'warning'}``;
    ``warning`` names the links read farther than :data:`GOAL_IMAGE_MAX_LINK_ERROR`, or is ''.

    Raises:
        ValueError: The model has no ``kinematics`` or ``episodes`` no frame.
    """
    if getattr(model, 'link_readout', None) is None:
        raise ValueError('this model has no kinematics (model.kinematics.goal_links)')
    part, coding = model.cfg.state_slices['position'], model.cfg.joint_coding
    errors: List[torch.Tensor] = []
    for o, s in frame_batches(model, episodes, batch_size):
        read = model.encode_with_image_links(o, s)[1].float().cpu()           # [B, L, 3]
        true = model.link_positions(coding.decode(s[:, part])).float().cpu()
        errors.append((read - true).norm(dim=-1))                              # [B, L]
    if not errors:
        raise ValueError('link_readout_report needs at least one frame')
    err = torch.cat(errors)
    median = [float(v) for v in err.median(dim=0).values]
    names = list(model.cfg.kinematics.goal_links)
    bad = [f'{n} {m * 100:.1f} cm' for n, m in zip(names, median)
           if m > GOAL_IMAGE_MAX_LINK_ERROR]
    warning = (f'goal images will likely miss: the link read-out places {", ".join(bad)} '
               f'from where the goal link is (median), above '
               f'{GOAL_IMAGE_MAX_LINK_ERROR * 100:g} cm') if bad else ''
    return {'links': names, 'median_error_m': median,
            'p90_error_m': [float(v) for v in err.quantile(0.9, dim=0)],
            'max_median_error': max(median), 'threshold': GOAL_IMAGE_MAX_LINK_ERROR,
            'goal_images_usable': not bad, 'frames': int(err.shape[0]), 'warning': warning}
