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

from ..training.data import Episode
from ..training.evaluation import encode_episode
from .risk_head import fit_risk_head
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
    """Refit ``state_probe``, ``pose_probe`` (episodes with 'base_pose') and ``risk_probe``
    (episodes with every ``risk_labels`` extra) in place. An MLP risk head
    (``risk_hidden_dim > 0``) is trained on rollout latents instead (``risk_head.py``).

    Returns the training-set R^2 of each refitted linear probe and, for the risk probe, the
    mean predicted probability on frames with and without each event.
    """
    zs, states, poses, risks = [], [], [], []
    labels = list(model.cfg.risk_labels)
    for ep in episodes:
        for target in (False, True):
            zs.append(encode_episode(model, ep, target=target).double())
            states.append(torch.from_numpy(ep.s).double())
            if 'base_pose' in ep.extras:
                poses.append(torch.from_numpy(ep.extras['base_pose']).double())
            if labels and all(name in ep.extras for name in labels):
                risks.append(torch.from_numpy(np.stack(
                    [np.asarray(ep.extras[name], np.float64).reshape(-1) for name in labels],
                    axis=1)))
    z = torch.cat(zs)
    scores: Dict[str, float] = {}
    if model.state_probe is not None:
        s_norm = model.normalize_state(torch.cat(states).to(model.state_mean)).double()
        scores['state_probe_r2'] = _assign(model.state_probe, z, s_norm, ridge)
    if model.pose_probe is not None and len(poses) == len(zs):
        scores['pose_probe_r2'] = _assign(model.pose_probe, z, torch.cat(poses), ridge)
    has_risk_labels = model.risk_probe is not None and len(risks) == len(zs)
    rollout_head = model.cfg.risk_hidden_dim > 0   # an MLP, fitted on rollouts instead
    if has_risk_labels and not rollout_head:
        y = (torch.cat(risks) > 0.5).double()
        prob = _fit_logistic(model.risk_probe, z, y, ridge=1e-3)
        for k, name in enumerate(labels):
            pos = y[:, k] > 0.5
            scores[f'risk_{name}_mean_p_event'] = float(prob[pos, k].mean()) if pos.any() \
                else float('nan')
            scores[f'risk_{name}_mean_p_free'] = float(prob[~pos, k].mean()) if (~pos).any() \
                else float('nan')
    if has_risk_labels and rollout_head:
        scores.update({f'risk_head_{k}': v for k, v in fit_risk_head(model, episodes).items()})
    return scores


def _fit_logistic(layer: torch.nn.Linear, z: torch.Tensor, y: torch.Tensor, ridge: float,
                  iterations: int = 200) -> torch.Tensor:
    """L2-regularised logistic regression of y [N, K] in {0, 1} on z [N, Z], written into
    ``layer``; returns the fitted probabilities [N, K]. z is standardised for the fit (LBFGS
    converges in a few dozen steps then) and the scaling is folded back into the weights."""
    mean, std = z.mean(0), z.std(0).clamp_min(1e-6)
    x = (z - mean) / std
    w = torch.zeros(y.shape[1], z.shape[1], dtype=z.dtype, requires_grad=True)
    b = torch.zeros(y.shape[1], dtype=z.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iterations, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w.T + b, y) \
            + ridge * (w ** 2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    w_raw = (w / std).detach()
    b_raw = (b - (w * mean / std).sum(1)).detach()
    layer.weight.copy_(w_raw.to(layer.weight))
    layer.bias.copy_(b_raw.to(layer.bias))
    return torch.sigmoid(z @ w_raw.T + b_raw)


def _assign(layer: torch.nn.Linear, z: torch.Tensor, y: torch.Tensor, ridge: float) -> float:
    w, b = _ridge(z, y, ridge)
    layer.weight.copy_(w.to(layer.weight))
    layer.bias.copy_(b.to(layer.bias))
    pred = z @ w.T + b
    ss_res = ((y - pred) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0).clamp_min(1e-12)
    return float(np.mean((1 - ss_res / ss_tot).numpy()))
