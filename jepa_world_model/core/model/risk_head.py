"""The risk head, fitted on *predicted* latents: what a plan's rollout will look like.

The planner scores a candidate action sequence on the latents the dynamics predict for it
(``core/planning/goals.py``). A risk read-out fitted on encoded latents only (``probes.py``)
meets a different distribution there: on the shipped base model its collision probe ranked the
colliding plans as the safer ones (docs/closed_loop.md, AUC 0.16-0.19). This fit trains the
head where it is used: from every frame ``t`` of the recorded episodes the dynamics roll out
the recorded actions ``a[t:t+h]``, and each predicted latent ``z_{t+h}`` (h = 0 .. horizon)
learns the event flags of frame ``t + h``. Events are rare, so the positive class is
re-weighted to balance the classes (the planner needs a ranking, not calibrated rates).

Only the head changes: the encoder and the dynamics stay frozen. Pure PyTorch, no ROS.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..training.data import Episode
from ..training.evaluation import encode_episode
from .world_model import WorldModel

__all__ = ['rollout_risk_data', 'fit_risk_head', 'ranking_auc']


@torch.no_grad()
def rollout_risk_data(model: WorldModel, episodes: Sequence[Episode], horizon: int = 8
                      ) -> Tuple[Tensor, Tensor, Tensor]:
    """Predicted latents with the flags of the frames they predict.

    Args:
        model: A trained world model with ``risk_labels``.
        episodes: Episodes whose extras hold every label of ``model.cfg.risk_labels``.
        horizon: Longest rollout (the planner's horizon).

    Returns:
        ``(z [M, Z], y [M, K] in {0, 1}, h [M])``: latents, labels and rollout depth.
    """
    labels = list(model.cfg.risk_labels)
    if not labels:
        raise ValueError('the model has no risk_labels')
    if horizon < 0:
        raise ValueError(f'horizon must be >= 0, got {horizon}')
    zs: List[Tensor] = []
    ys: List[Tensor] = []
    hs: List[Tensor] = []
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    for ep in episodes:
        missing = [name for name in labels if name not in ep.extras]
        if missing:
            raise ValueError(f'episode without the risk label(s) {missing}')
        flags = torch.from_numpy(np.stack(
            [np.asarray(ep.extras[name], np.float32).reshape(-1) for name in labels], 1) > 0.5)
        z = encode_episode(model, ep, target=True).to(device, dtype)       # [T, Z]
        a = torch.from_numpy(ep.a).to(device, dtype)                        # [T, A]
        t = len(z)
        for h in range(0, min(horizon, t - 1) + 1):
            if h > 0:
                z = model.predict(z[:-1], a[:t - h])                        # z_{i+h} from i
            zs.append(z.float().cpu())
            ys.append(flags[h:].float())
            hs.append(torch.full((len(z),), h, dtype=torch.long))
    return torch.cat(zs), torch.cat(ys), torch.cat(hs)


def ranking_auc(score: Tensor, label: Tensor) -> float:
    """P(score of a positive > score of a negative), ties half; NaN without both kinds."""
    score, label = score.double().reshape(-1), label.reshape(-1) > 0.5
    pos, neg = int(label.sum()), int((~label).sum())
    if pos == 0 or neg == 0:
        return float('nan')
    ranks = torch.empty_like(score)
    order = torch.argsort(score)
    ranks[order] = torch.arange(1, len(score) + 1, dtype=score.dtype)
    # Average ranks over ties (Mann-Whitney U).
    uniq, inverse = torch.unique(score, return_inverse=True)
    sums = torch.zeros(len(uniq), dtype=score.dtype).index_add_(0, inverse, ranks)
    counts = torch.zeros(len(uniq), dtype=score.dtype).index_add_(
        0, inverse, torch.ones_like(ranks))
    ranks = (sums / counts)[inverse]
    return float((ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


def fit_risk_head(model: WorldModel, episodes: Sequence[Episode],
                  validation: Sequence[Episode] = (), horizon: int = 8, epochs: int = 30,
                  batch_size: int = 512, lr: float = 3e-3, weight_decay: float = 1e-4,
                  seed: int = 0) -> Dict[str, float]:
    """Train ``model.risk_probe`` (an MLP: ``risk_hidden_dim > 0``) on rollout latents.

    Returns:
        Per label: positives, and the ranking AUC on the training rollouts and, with
        ``validation`` episodes, on theirs (overall and at the deepest rollout step).
    """
    head = model.risk_probe
    if head is None or model.cfg.risk_hidden_dim <= 0:
        raise ValueError('fit_risk_head needs an MLP risk head (model.risk_hidden_dim > 0)')
    z, y, depth = rollout_risk_data(model, episodes, horizon)
    param = next(head.parameters())
    z, y = z.to(param), y.to(param)
    pos = y.sum(0)
    pos_weight = ((len(y) - pos) / pos.clamp_min(1.0)).clamp(1.0, 100.0)
    gen = torch.Generator().manual_seed(seed)
    for p in head.parameters():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    head.train()
    with torch.enable_grad():
        for _ in range(epochs):
            for idx in torch.randperm(len(z), generator=gen).split(batch_size):
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    head(z[idx]), y[idx], pos_weight=pos_weight)
                opt.zero_grad()
                loss.backward()
                opt.step()
    head.eval()
    report: Dict[str, float] = {}
    labels = list(model.cfg.risk_labels)
    splits = [('train', z, y, depth)]
    if validation:
        vz, vy, vd = rollout_risk_data(model, validation, horizon)
        splits.append(('validation', vz.to(param), vy.to(param), vd))
    with torch.no_grad():
        for name, zz, yy, dd in splits:
            score = head(zz)
            for k, label in enumerate(labels):
                report[f'{label}_{name}_positives'] = float(yy[:, k].sum())
                report[f'{label}_{name}_auc'] = ranking_auc(score[:, k], yy[:, k])
                deepest = dd == dd.max()
                report[f'{label}_{name}_auc_h{int(dd.max())}'] = ranking_auc(
                    score[deepest, k], yy[deepest, k])
    return report
