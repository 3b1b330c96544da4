"""``GripHoldHead``: will the grip hold? A logistic read-out of one latent (or any feature).

Fitted on frozen features with labels from recordings (the tabletop bags' grasp outcomes,
experiments/grip_hold.py); it never trains the world model. The features are standardised
with the training set's statistics, stored in the head, so the head applies to raw latents.
It is saved next to the world model's checkpoint as its own safetensors file (the world
model's loader is strict about its tensors), with the feature kind and the horizon in the
metadata: a head fitted on predicted latents at h steps must not score encoded ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Tuple

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

__all__ = ['GripHoldHead', 'fit_grip_head', 'save_grip_head', 'load_grip_head']


class GripHoldHead(nn.Module):
    """p(held) = sigmoid(w . (x - mean) / std + b) for features x [..., F]."""

    def __init__(self, feature_dim: int) -> None:
        super().__init__()
        if feature_dim < 1:
            raise ValueError(f'feature_dim must be >= 1, got {feature_dim}')
        self.linear = nn.Linear(feature_dim, 1)
        self.register_buffer('feature_mean', torch.zeros(feature_dim))
        self.register_buffer('feature_std', torch.ones(feature_dim))

    def logit(self, x: Tensor) -> Tensor:
        """x [..., F] -> logit of held [...]."""
        if x.shape[-1] != self.feature_mean.numel():
            raise ValueError(f'expected features [..., {self.feature_mean.numel()}], '
                             f'got {tuple(x.shape)}')
        return self.linear((x - self.feature_mean) / self.feature_std).squeeze(-1)

    def forward(self, x: Tensor) -> Tensor:
        """x [..., F] -> probability that the grip holds [...] in (0, 1)."""
        return torch.sigmoid(self.logit(x))


def fit_grip_head(x: Tensor, held: Tensor, l2: float = 1.0, steps: int = 200
                  ) -> GripHoldHead:
    """Fit a :class:`GripHoldHead` on features x [N, F] and labels held [N] (bool or 0/1).

    L-BFGS on the mean logistic loss plus ``l2 / N`` times the squared weights (the weights
    act on standardised features, so one ``l2`` suits any latent). Classes are weighted to
    balance: hold and slip counts differ, and the AUC treats them alike.

    Raises:
        ValueError: shapes disagree or a class is missing.
    """
    x = x.detach().float()
    y = held.detach().float().reshape(-1)
    if x.dim() != 2 or x.shape[0] != y.numel():
        raise ValueError(f'need x [N, F] and held [N], got {tuple(x.shape)}, {tuple(y.shape)}')
    n_pos = float(y.sum())
    if n_pos == 0 or n_pos == y.numel():
        raise ValueError('the grip head needs grasps that held and grasps that slipped')
    head = GripHoldHead(x.shape[1])
    with torch.no_grad():
        # Start from zero, not nn.Linear's random draw: the loss is convex with one optimum,
        # but L-BFGS stops after ``steps`` iterations, and a random start made two fits on
        # the same grasps differ (a 512-feature head by 0.05 in held-out AUC).
        head.linear.weight.zero_()
        head.linear.bias.zero_()
        head.feature_mean.copy_(x.mean(0))
        head.feature_std.copy_(x.std(0).clamp_min(1e-6))
    weight = torch.where(y > 0.5, 0.5 / n_pos, 0.5 / (y.numel() - n_pos)) * y.numel()
    optimizer = torch.optim.LBFGS(head.linear.parameters(), lr=0.5, max_iter=steps,
                                  line_search_fn='strong_wolfe')
    loss_fn = nn.BCEWithLogitsLoss(weight=weight)

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = loss_fn(head.logit(x), y) + l2 / y.numel() * head.linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return head.eval()


def save_grip_head(path: str | Path, head: GripHoldHead, info: Dict[str, object]) -> Path:
    """Write the head as safetensors with ``info`` (JSON-able: feature kind, horizon, ...)
    in the metadata under ``grip_head``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in head.state_dict().items()}
    save_file(tensors, str(path), metadata={'grip_head': json.dumps(info, sort_keys=True)})
    return path


def load_grip_head(path: str | Path) -> Tuple[GripHoldHead, Dict[str, object]]:
    """Read a head written by :func:`save_grip_head`. -> (head in eval mode, info).

    Raises:
        FileNotFoundError: no such file. ValueError: not a grip head file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'no grip head at {path}')
    with safe_open(str(path), framework='pt') as f:
        metadata = f.metadata() or {}
    if 'grip_head' not in metadata:
        raise ValueError(f'{path} is not a grip head (no grip_head metadata)')
    tensors = load_file(str(path))
    if 'linear.weight' not in tensors:
        raise ValueError(f'{path}: no linear.weight tensor')
    head = GripHoldHead(tensors['linear.weight'].shape[1])
    head.load_state_dict(tensors, strict=True)
    return head.eval(), json.loads(metadata['grip_head'])
