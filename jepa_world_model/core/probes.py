"""Closed-form refit of the linear probes on the final, frozen latents.

During training the probes chase a moving representation (they learn on detached latents
while the encoder changes), so at the end they lag behind it. A ridge fit on the final latents
gives the best linear read-out of the final representation. Predicted latents approximate the
EMA target encoder's latents, so the fit uses both the online and the target latents.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import torch

from .data import Episode
from .evaluation import encode_episode
from .world_model import WorldModel


def _ridge(x: torch.Tensor, y: torch.Tensor, ridge: float):
    """Least squares with an L2 penalty on the weights (not the bias): y ~ x W^T + b."""
    mean_x, mean_y = x.mean(0), y.mean(0)
    xc, yc = x - mean_x, y - mean_y
    eye = torch.eye(x.shape[1], dtype=x.dtype)
    w = torch.linalg.solve(xc.T @ xc + ridge * len(x) * eye, xc.T @ yc)   # [Z, K]
    return w.T, mean_y - mean_x @ w


@torch.no_grad()
def refit_probes(model: WorldModel, episodes: Sequence[Episode],
                 ridge: float = 1e-4) -> Dict[str, float]:
    """Refit ``state_probe`` (and ``pose_probe`` when episodes carry 'base_pose') in place.

    Returns the training-set R^2 of each refitted probe.
    """
    zs, states, poses = [], [], []
    for ep in episodes:
        for target in (False, True):
            zs.append(encode_episode(model, ep, target=target).double())
            states.append(torch.from_numpy(ep.s).double())
            if 'base_pose' in ep.extras:
                poses.append(torch.from_numpy(ep.extras['base_pose']).double())
    z = torch.cat(zs)
    scores: Dict[str, float] = {}
    if model.state_probe is not None:
        s_norm = model.normalize_state(torch.cat(states).to(model.state_mean)).double()
        scores['state_probe_r2'] = _assign(model.state_probe, z, s_norm, ridge)
    if model.pose_probe is not None and len(poses) == len(zs):
        scores['pose_probe_r2'] = _assign(model.pose_probe, z, torch.cat(poses), ridge)
    return scores


def _assign(layer: torch.nn.Linear, z: torch.Tensor, y: torch.Tensor, ridge: float) -> float:
    w, b = _ridge(z, y, ridge)
    layer.weight.copy_(w.to(layer.weight))
    layer.bias.copy_(b.to(layer.bias))
    pred = z @ w.T + b
    ss_res = ((y - pred) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0).clamp_min(1e-12)
    return float(np.mean((1 - ss_res / ss_tot).numpy()))
