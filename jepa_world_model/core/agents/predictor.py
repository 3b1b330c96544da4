"""The learned, action-conditioned agent predictor: a small ensemble of Gaussian MLPs.

Each member maps an agent's features (:func:`~.features.agent_features`, ``[K, F]``) to its
displacement at every horizon time, as a mean and a per-axis standard deviation in the
agent's frame. The mean is a correction on top of constant velocity (the filtered velocity
held for the horizon): a member that learned nothing predicts what constant velocity does,
and the network spends its capacity on what constant velocity gets wrong (turns, giving way).

:meth:`AgentPredictor.forecast` combines the members into one Gaussian per agent and horizon
(the mixture's mean and variance: disagreement between members plus their own spread) and
turns it into what a planner uses: :class:`AgentForecast`, positions ``[K, H, 2]`` in the
odometry frame and an isotropic spread ``[K, H]``. ``spread_scale`` is fitted on held-out
episodes so that the stated 90 % region covers 90 % (:func:`region_radius`).
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import math
from pathlib import Path
from typing import Any, Dict, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn, Tensor

from .features import FEATURES, HORIZONS_S, VELOCITY_COLUMNS

__all__ = ['AgentForecast', 'AgentPredictor', 'region_radius', 'constant_velocity',
           'AgentModelError', 'save_predictor', 'load_predictor']

_LOG_STD_RANGE = (-5.0, 1.0)


class AgentModelError(ValueError):
    """An agent predictor file that cannot be used (missing, wrong layout, bad values)."""


def region_radius(spread: np.ndarray, coverage: float) -> np.ndarray:
    """Radius [m] of the circle that holds ``coverage`` of an isotropic 2-D Gaussian with
    per-axis standard deviation ``spread`` (any shape): ``spread * sqrt(-2 ln(1 - p))``."""
    if not 0.0 < coverage < 1.0:
        raise ValueError(f'coverage must be in (0, 1), got {coverage!r}')
    return np.asarray(spread) * math.sqrt(-2.0 * math.log(1.0 - coverage))


@dataclass
class AgentForecast:
    """Predicted agent positions, in the shape a planner's time-indexed term takes.

    Attributes:
        track_ids: ``[K]`` the agents' track ids.
        times: ``[H]`` seconds after the scan's stamp (``HORIZONS_S``).
        now: ``[K, 2]`` the agents' current positions (odom).
        positions: ``[K, H, 2]`` predicted positions (odom).
        spread: ``[K, H]`` per-axis standard deviation [m] of an isotropic Gaussian around
            each position (calibrated: :func:`region_radius` of it at 0.9 holds ~90 %).
    """

    track_ids: np.ndarray
    times: np.ndarray
    now: np.ndarray
    positions: np.ndarray
    spread: np.ndarray

    def region(self, coverage: float = 0.9) -> np.ndarray:
        """``[K, H]`` radius [m] of each prediction's ``coverage`` region."""
        return region_radius(self.spread, coverage)


def constant_velocity(velocity: np.ndarray, horizons: Sequence[float] = HORIZONS_S
                      ) -> np.ndarray:
    """``[K, H, 2]`` displacements of the velocities ``[K, 2]`` held for each horizon."""
    h = np.asarray(horizons, dtype=np.float64)
    return np.asarray(velocity, dtype=np.float64)[:, None, :] * h[None, :, None]


class _Member(nn.Module):
    def __init__(self, features: int, hidden: int, horizons: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, 4 * horizons))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class AgentPredictor(nn.Module):
    """Ensemble of ``members`` MLPs; see the module docstring.

    Args:
        members: Ensemble size.
        hidden: Width of each member's two hidden layers.
        horizons: Horizon times [s].
    """

    def __init__(self, members: int = 5, hidden: int = 64,
                 horizons: Sequence[float] = HORIZONS_S) -> None:
        """Randomly initialised members; inputs are standardised by ``feature_mean/std``."""
        super().__init__()
        if members < 1 or hidden < 1:
            raise ValueError(f'members and hidden must be >= 1, got {members}, {hidden}')
        self.horizons = tuple(float(h) for h in horizons)
        self.hidden = int(hidden)
        self.members = nn.ModuleList(_Member(FEATURES, hidden, len(self.horizons))
                                     for _ in range(members))
        self.register_buffer('feature_mean', torch.zeros(FEATURES))
        self.register_buffer('feature_std', torch.ones(FEATURES))
        self.register_buffer('spread_scale', torch.ones(len(self.horizons)))

    def member_outputs(self, features: Tensor, velocity_local: Tensor
                       ) -> Tuple[Tensor, Tensor]:
        """``(mean [M, K, H, 2], log_std [M, K, H, 2])`` displacements in the agent frame.

        ``features`` ``[K, F]``; ``velocity_local`` ``[K, 2]``: the filtered velocity in the
        agent frame (the constant-velocity part of the mean).
        """
        x = (features - self.feature_mean) / self.feature_std
        h = torch.tensor(self.horizons, dtype=features.dtype, device=features.device)
        cv = velocity_local[:, None, :] * h[None, :, None]                     # [K, H, 2]
        out = torch.stack([m(x) for m in self.members])                        # [M, K, 4H]
        out = out.reshape(out.shape[0], out.shape[1], len(self.horizons), 4)
        log_std = out[..., 2:].clamp(*_LOG_STD_RANGE)
        return cv + out[..., :2], log_std

    @torch.no_grad()
    def predict_local(self, features: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """``(mean [K, H, 2], spread [K, H])`` in the agent frame, members combined and the
        spread calibrated."""
        x = torch.as_tensor(np.asarray(features, dtype=np.float32)).reshape(-1, FEATURES)
        mean, log_std = self.member_outputs(x, x[:, VELOCITY_COLUMNS])
        var = (log_std.exp() ** 2 + mean ** 2).mean(0) - mean.mean(0) ** 2     # [K, H, 2]
        spread = var.clamp_min(1e-8).mean(-1).sqrt() * self.spread_scale
        return mean.mean(0).double().numpy(), spread.double().numpy()

    def forecast(self, track_ids: Sequence[int], now: np.ndarray, features: np.ndarray,
                 rotation: np.ndarray) -> AgentForecast:
        """The forecast of ``K`` agents (``now [K, 2]``, ``features [K, F]``, ``rotation
        [K, 2, 2]`` agent->odom from :func:`~.features.agent_features`)."""
        now = np.asarray(now, dtype=np.float64).reshape(-1, 2)
        if len(now) == 0:
            h = len(self.horizons)
            return AgentForecast(np.zeros(0, np.int64), np.array(self.horizons),
                                 np.zeros((0, 2)), np.zeros((0, h, 2)), np.zeros((0, h)))
        local, spread = self.predict_local(features)
        world = np.einsum('kij,khj->khi', rotation, local) + now[:, None, :]
        return AgentForecast(np.asarray(track_ids, np.int64), np.array(self.horizons), now,
                             world, spread)


def save_predictor(model: AgentPredictor, path: Union[str, Path], info: Dict[str, Any]
                   ) -> None:
    """Write ``model`` as safetensors; ``info`` (seeds, data counts) goes in its metadata."""
    from safetensors.torch import save_file
    meta = {'kind': 'agent_predictor', 'features': str(FEATURES),
            'members': str(len(model.members)), 'hidden': str(model.hidden),
            'horizons': json.dumps(list(model.horizons)), 'info': json.dumps(info)}
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=meta)


def load_predictor(path: Union[str, Path]) -> AgentPredictor:
    """Read a file :func:`save_predictor` wrote.

    Raises:
        AgentModelError: Missing, not an agent predictor, or another feature layout.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open
    try:
        with safe_open(str(path), framework='pt') as handle:
            meta = handle.metadata() or {}
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise AgentModelError(f'cannot read agent predictor {path}: {exc}') from None
    if meta.get('kind') != 'agent_predictor':
        raise AgentModelError(f'{path} is not an agent predictor (kind {meta.get("kind")!r})')
    if meta.get('features') != str(FEATURES):
        raise AgentModelError(f'{path} takes {meta.get("features")} features; this version '
                              f'builds {FEATURES}')
    try:
        model = AgentPredictor(int(meta['members']), int(meta['hidden']),
                               json.loads(meta['horizons']))
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise AgentModelError(f'{path}: unusable agent predictor: {exc}') from None
    if not all(torch.isfinite(v).all() for v in state.values()):
        raise AgentModelError(f'{path}: non-finite weights')
    return model.eval()
