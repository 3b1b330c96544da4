"""Evaluation on held-out episodes: probes on frozen latents and multi-step prediction error.

These numbers are the package's evidence that the latent carries the robot (not just the most
salient object) and that the action-conditioned predictor knows how actions move it.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from .data import Episode, images_to_tensor
from .metrics import effective_rank, logistic_probe_accuracy, ridge_probe_r2
from .synthetic import motion_direction_labels
from ..model.world_model import WorldModel


@torch.no_grad()
def encode_episode(model: WorldModel, episode: Episode, target: bool = False,
                   batch_size: int = 256) -> Tensor:
    """Latents of every frame: [T, Z] (online encoder unless ``target``)."""
    model.eval()
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    out = []
    for i in range(0, len(episode), batch_size):
        o = images_to_tensor(episode.images[i:i + batch_size]).to(device, dtype)
        s = torch.from_numpy(episode.s[i:i + batch_size]).to(device, dtype)
        out.append(model.encode(o, s if model.cfg.state_dim else None, target=target))
    return torch.cat(out).float().cpu()


def _stack(model: WorldModel, episodes: Sequence[Episode], image_only: bool) -> Tensor:
    z = torch.cat([encode_episode(model, ep) for ep in episodes])
    return model.image_part(z) if image_only else model.learned_part(z)


def probe_report(model: WorldModel, train: Sequence[Episode], test: Sequence[Episode],
                 image_only: bool = True) -> Dict[str, float]:
    """Linear probes on frozen latents, fitted on ``train`` episodes and scored on ``test``.

    Returns R^2 for the robot's position and for the distractor's position, and the accuracy of
    a 4-way motion-direction classifier on (z_t, z_{t+1}) pairs. With ``image_only`` the probes
    read only the pooled-image part of z, so proprio input cannot do the vision's job; without
    it they read everything the encoder learned (z minus the raw state slice).
    """
    report: Dict[str, float] = {}
    z_tr, z_te = _stack(model, train, image_only), _stack(model, test, image_only)
    for key in ('robot_pos', 'distractor_pos'):
        if key not in train[0].extras:
            continue
        y_tr = torch.from_numpy(np.concatenate([ep.extras[key] for ep in train]))
        y_te = torch.from_numpy(np.concatenate([ep.extras[key] for ep in test]))
        if torch.isnan(y_tr).any() or torch.isnan(y_te).any():
            continue
        report[f'{key}_r2'] = ridge_probe_r2(z_tr, y_tr, z_te, y_te).score
    if 'robot_pos' in train[0].extras:
        pairs_tr, labels_tr = _direction_pairs(model, train, image_only)
        pairs_te, labels_te = _direction_pairs(model, test, image_only)
        result = logistic_probe_accuracy(pairs_tr, labels_tr, pairs_te, labels_te, 4)
        report['direction_accuracy'] = result.score
        report['direction_min_class_accuracy'] = float(np.nanmin(result.per_output))
        report['direction_samples_test'] = float(len(labels_te))
    report['effective_rank'] = effective_rank(z_te)
    report['std_mean'] = float(z_te.std(0).mean())
    return report


def _direction_pairs(model: WorldModel, episodes: Sequence[Episode], image_only: bool):
    feats, labels = [], []
    for ep in episodes:
        z = encode_episode(model, ep)
        z = model.image_part(z) if image_only else model.learned_part(z)
        y = torch.from_numpy(motion_direction_labels(ep))
        keep = y >= 0
        feats.append(torch.cat([z[:-1], z[1:]], dim=1)[keep])
        labels.append(y[keep])
    return torch.cat(feats), torch.cat(labels)


@torch.no_grad()
def prediction_report(model: WorldModel, episodes: Sequence[Episode],
                      horizons: Sequence[int] = (1, 2, 3, 4, 5)) -> Dict[str, List[float]]:
    """Mean L1 error of h-step rollouts against the target encoder's latents.

    Baselines: "the latent stays the same" from the online latent z_t and from the target latent
    of frame t; the better of the two is reported as ``copy_baseline``. "Constant velocity",
    ``z̄_t + h (z̄_t - z̄_{t-1})`` on target latents (and ``q_t + h (q_t - q_{t-1})`` for the
    joints), is ``const_vel_baseline``, over the starts t >= 1 (a velocity needs frame t - 1).
    Also reports the probe's joint-position error of the rollout against the true joint
    positions.
    """
    model.eval()
    max_h = max(horizons)
    model_err = {h: [] for h in horizons}
    copy_err = {h: [] for h in horizons}
    joint_err = {h: [] for h in horizons}
    copy_joint_err = {h: [] for h in horizons}
    cv_err = {h: [] for h in horizons}
    cv_joint_err = {h: [] for h in horizons}
    part = joint_slice(model)
    dtype = next(model.parameters()).dtype
    for ep in episodes:
        if len(ep) <= max_h:
            continue
        z = encode_episode(model, ep).to(dtype)
        z_tgt = encode_episode(model, ep, target=True).to(dtype)
        a = torch.from_numpy(ep.a).to(dtype)
        s = torch.from_numpy(ep.s).to(dtype)
        starts = torch.arange(len(ep) - max_h)
        a_seq = torch.stack([a[starts + k] for k in range(max_h)], dim=1)     # [N, H, A]
        pred = model.rollout(z[starts], a_seq)                                 # [N, H, Z]
        moving = starts[1:]                           # starts with a previous frame
        for h in horizons:
            truth = z_tgt[starts + h]
            model_err[h].append((pred[:, h - 1] - truth).abs().mean(-1))
            copy_err[h].append(torch.minimum((z[starts] - truth).abs().mean(-1),
                                             (z_tgt[starts] - truth).abs().mean(-1)))
            z_cv = z_tgt[moving] + h * (z_tgt[moving] - z_tgt[moving - 1])
            cv_err[h].append((z_cv - z_tgt[moving + h]).abs().mean(-1))
            if part is not None:
                q_true = s[starts + h, part]
                q_pred = model.probe_state(pred[:, h - 1])[:, part]
                joint_err[h].append((q_pred - q_true).abs().mean(-1))
                copy_joint_err[h].append((s[starts, part] - q_true).abs().mean(-1))
                q_cv = s[moving, part] + h * (s[moving, part] - s[moving - 1, part])
                cv_joint_err[h].append((q_cv - s[moving + h, part]).abs().mean(-1))
    if not model_err[horizons[0]]:
        raise ValueError(f'no episode is longer than the largest horizon {max_h}')

    def mean(d):
        # NaN where no start had the frames (const velocity on episodes of max_h + 1 frames).
        values = [torch.cat(d[h]) if d[h] else torch.zeros(0) for h in horizons]
        return [float(v.mean()) if v.numel() else float('nan') for v in values]

    return {'horizons': list(horizons), 'model_latent_l1': mean(model_err),
            'copy_baseline_latent_l1': mean(copy_err),
            'const_vel_baseline_latent_l1': mean(cv_err),
            'model_joint_abs_error': mean(joint_err),
            'copy_baseline_joint_abs_error': mean(copy_joint_err),
            'const_vel_baseline_joint_abs_error': mean(cv_joint_err)}


def joint_slice(model: WorldModel) -> Optional[slice]:
    """Slice of s the joint errors are measured on: positions, else velocities (a mobile
    base keeps only wheel velocities in s, core/model/state_layout.py), else None."""
    slices = model.cfg.state_slices
    return slices.get('position', slices.get('velocity'))


@torch.no_grad()
def baseline_report(model: WorldModel, episodes: Sequence[Episode],
                    horizons: Sequence[int] = (1, 2, 4, 8)) -> Dict[str, List[float]]:
    """Model rollouts against "nothing changes" and constant-velocity baselines.

    For each start t (t >= 1, so a velocity exists) and horizon h, compares with the target
    latent of frame t + h:
      * model: ``rollout(z_t, a_t..a_{t+h-1})``;
      * copy: the target latent of frame t;
      * constant velocity: ``z̄_t + h (z̄_t - z̄_{t-1})``.
    The same three predictions are made for joint positions (velocities for a model without
    positions in s): the probe on the model's rollout,
    ``q_t``, and ``q_t + h (q_t - q_{t-1})``; and, for models with a pose output and episodes
    with a 'base_pose' extra, for the base position (Euclidean error in metres). Errors are
    mean absolute values.
    """
    model.eval()
    max_h = max(horizons)
    part = joint_slice(model)
    # Positions of continuous joints: angles from (cos, sin), errors the short way round.
    positions = 'position' in model.cfg.state_slices
    coding = model.cfg.joint_coding if positions else None
    dtype = next(model.parameters()).dtype
    keys = ('model_latent_l1', 'copy_latent_l1', 'const_vel_latent_l1',
            'model_joint_abs_error', 'copy_joint_abs_error', 'const_vel_joint_abs_error',
            'model_position_error', 'copy_position_error', 'const_vel_position_error')
    acc = {k: {h: [] for h in horizons} for k in keys}
    for ep in episodes:
        if len(ep) <= max_h + 1:
            continue
        z = encode_episode(model, ep).to(dtype)
        z_tgt = encode_episode(model, ep, target=True).to(dtype)
        a = torch.from_numpy(ep.a).to(dtype)
        q = torch.from_numpy(ep.s[:, part if part is not None else slice(0, 0)]).to(dtype)
        if coding is not None:
            q = coding.decode(q)                                               # [T, J]
        diff = coding.difference if coding is not None else torch.sub
        starts = torch.arange(1, len(ep) - max_h)
        a_seq = torch.stack([a[starts + k] for k in range(max_h)], dim=1)     # [N, H, A]
        pred = model.rollout(z[starts], a_seq)                                 # [N, H, Z]
        for h in horizons:
            truth, q_true = z_tgt[starts + h], q[starts + h]
            z_cv = z_tgt[starts] + h * (z_tgt[starts] - z_tgt[starts - 1])
            q_cv = q[starts] + h * diff(q[starts], q[starts - 1])
            acc['model_latent_l1'][h].append((pred[:, h - 1] - truth).abs().mean(-1))
            acc['copy_latent_l1'][h].append((z_tgt[starts] - truth).abs().mean(-1))
            acc['const_vel_latent_l1'][h].append((z_cv - truth).abs().mean(-1))
            if part is not None:
                q_model = (model.probe_joint_positions(pred[:, h - 1]) if positions else
                           model.probe_state(pred[:, h - 1])[:, part])
                for name, guess in (('model', q_model), ('copy', q[starts]), ('const_vel', q_cv)):
                    acc[f'{name}_joint_abs_error'][h].append(
                        diff(guess, q_true).abs().mean(-1))
            if model.has_pose and 'base_pose' in ep.extras:
                # Base position (x, y) in metres through the pose read-out: Euclidean error.
                xy = torch.from_numpy(ep.extras['base_pose'][:, :2]).to(dtype)
                xy_true = xy[starts + h]
                xy_cv = xy[starts] + h * (xy[starts] - xy[starts - 1])
                xy_model = model.probe_pose(pred[:, h - 1])[:, :2]
                for name, guess in (('model', xy_model), ('copy', xy[starts]),
                                    ('const_vel', xy_cv)):
                    acc[f'{name}_position_error'][h].append((guess - xy_true).norm(dim=-1))
    if not acc['model_latent_l1'][horizons[0]]:
        raise ValueError(f'no episode is longer than {max_h + 1} frames')
    out: Dict[str, List[float]] = {'horizons': list(horizons)}
    for k in keys:
        if acc[k][horizons[0]]:
            out[k] = [float(torch.cat(acc[k][h]).mean()) for h in horizons]
    return out
