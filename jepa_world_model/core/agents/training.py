"""Fitting the agent predictor's ensemble and calibrating its spread (pure torch).

Each member is trained on its own bootstrap resample of the samples, from its own random
initialisation (deep-ensemble practice: the spread between members then reflects what the
data do not pin down): its mean by the Euclidean error of the true displacement (the ADE
the evaluation reports), its spread by the Gaussian likelihood of that error.
:func:`calibrate_spread` then scales each horizon's spread on held-out samples so that the
stated region holds the stated share of true positions.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Callable, Optional

import numpy as np
import torch

from .features import FEATURES, VELOCITY_COLUMNS
from .predictor import AgentPredictor, region_radius

__all__ = ['FitSettings', 'fit_predictor', 'calibrate_spread']


@dataclass(frozen=True)
class FitSettings:
    """Training of the ensemble.

    Attributes:
        members: Ensemble size.
        hidden: Hidden width per member.
        epochs: Passes over each member's resample.
        batch_size: Samples per step.
        learning_rate: Adam's step size.
        weight_decay: AdamW's decoupled weight decay.
        seed: Seeds each member's initialisation and resample (``seed + member``).
    """

    members: int = 5
    hidden: int = 64
    epochs: int = 40
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0


def fit_predictor(features: np.ndarray, targets: np.ndarray, settings: FitSettings,
                  progress: Optional[Callable[[str], None]] = None) -> AgentPredictor:
    """Train an ensemble on ``features [N, F]`` and agent-frame ``targets [N, H, 2]``.

    Raises:
        ValueError: Mismatched shapes, too few samples or non-finite values.
    """
    x = torch.as_tensor(np.asarray(features, dtype=np.float32))
    y = torch.as_tensor(np.asarray(targets, dtype=np.float32))
    if x.ndim != 2 or x.shape[1] != FEATURES or y.ndim != 3 or y.shape[0] != x.shape[0]:
        raise ValueError(f'features must be [N, {FEATURES}] and targets [N, H, 2], got '
                         f'{tuple(x.shape)} and {tuple(y.shape)}')
    if x.shape[0] < settings.batch_size:
        raise ValueError(f'need at least {settings.batch_size} samples, got {x.shape[0]}')
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError('features and targets must be finite')
    model = AgentPredictor(settings.members, settings.hidden)
    model.feature_mean.copy_(x.mean(0))
    model.feature_std.copy_(x.std(0).clamp_min(1e-3))
    for index, member in enumerate(model.members):
        generator = torch.Generator().manual_seed(settings.seed + index)
        for layer in member.net:
            if isinstance(layer, torch.nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                torch.nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
                torch.nn.init.zeros_(layer.bias)
        resample = torch.randint(0, x.shape[0], (x.shape[0],), generator=generator)
        _fit_member(model, index, x[resample], y[resample], settings, generator)
        if progress is not None:
            progress(f'member {index + 1}/{settings.members} trained')
    return model.eval()


def _fit_member(model: AgentPredictor, index: int, x: torch.Tensor, y: torch.Tensor,
                settings: FitSettings, generator: torch.Generator) -> None:
    member = model.members[index]
    optimiser = torch.optim.AdamW(member.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    steps = settings.epochs * math.ceil(x.shape[0] / settings.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    horizons = torch.tensor(model.horizons)
    member.train()
    for _ in range(settings.epochs):
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], settings.batch_size):
            batch = order[start:start + settings.batch_size]
            xb, yb = x[batch], y[batch]
            z = (xb - model.feature_mean) / model.feature_std
            out = member(z).reshape(len(batch), len(horizons), 4)
            mean = xb[:, VELOCITY_COLUMNS][:, None, :] * horizons[None, :, None] + out[..., :2]
            log_std = out[..., 2:].clamp(-5.0, 1.0)
            # The mean learns the metric itself (mean Euclidean error); the spread learns the
            # likelihood of the error around that mean, detached: with a joint Gaussian
            # likelihood the members learned to widen their spread on hard samples (a person
            # stopping for the robot) instead of moving their mean.
            distance = ((yb - mean) ** 2).sum(-1).add(1e-6).sqrt().mean()
            residual = (yb - mean.detach()) / log_std.exp()
            nll = (0.5 * residual ** 2 + log_std).mean()
            optimiser.zero_grad()
            (distance + nll).backward()
            optimiser.step()
            schedule.step()
    member.eval()


def calibrate_spread(model: AgentPredictor, features: np.ndarray, targets: np.ndarray,
                     coverage: float = 0.9) -> np.ndarray:
    """Set ``model.spread_scale`` [H] so that on these (held-out) samples the ``coverage``
    region of each horizon holds that share of the true displacements; returns it."""
    model.spread_scale.fill_(1.0)
    mean, spread = model.predict_local(features)
    error = np.linalg.norm(mean - np.asarray(targets, dtype=np.float64), axis=-1)   # [N, H]
    # The scale s at which radius(s * spread) = error, per sample; its quantile is the one.
    needed = error / region_radius(np.maximum(spread, 1e-9), coverage)
    scale = np.quantile(needed, coverage, axis=0)
    model.spread_scale.copy_(torch.as_tensor(scale, dtype=torch.float32))
    return scale
