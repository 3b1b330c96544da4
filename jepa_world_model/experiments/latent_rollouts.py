"""Encoded and predicted latents of recorded episodes, and a ridge read-out of them.

``predicted_latents`` starts the model's own rollout at every frame t of an episode, from
the encoded z_t, under the commands recorded at t .. t+H-1 (what the robot was told to do),
so each start gives predictions of z_{t+1} .. z_{t+H}. Read-outs fitted on *encoded*
training latents are then applied to them: if the prediction is right, the read-out of the
predicted latent is as good as the read-out of the encoded future frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..core.model.world_model import WorldModel
from ..core.training.data import Episode
from ..core.training.evaluation import encode_episode

__all__ = ['RidgeReadout', 'encoded_latents', 'predicted_latents']


def encoded_latents(model: WorldModel, episodes: Sequence[Episode]) -> list:
    """Online-encoder latents of every frame, one float32 array [T, Z] per episode."""
    return [encode_episode(model, ep).numpy() for ep in episodes]


@torch.no_grad()
def predicted_latents(model: WorldModel, episode: Episode, z: np.ndarray, horizon: int,
                      starts: np.ndarray) -> np.ndarray:
    """Rollouts from the encoded latents z [T, Z] at frames ``starts`` [K] (each with
    ``start + horizon < T``) under the recorded commands. -> [K, horizon, Z] float32, entry
    [k, h - 1] predicting frame ``starts[k] + h``."""
    starts = np.asarray(starts, dtype=int)
    if starts.size == 0:
        return np.zeros((0, horizon, z.shape[1]), dtype=np.float32)
    if starts.min() < 0 or starts.max() + horizon >= len(episode):
        raise ValueError(f'rollout starts must lie in [0, {len(episode) - horizon - 1}]')
    model.eval()
    param = next(model.parameters())
    z0 = torch.from_numpy(z[starts]).to(param.device, param.dtype)
    index = starts[:, None] + np.arange(horizon)[None, :]
    actions = torch.from_numpy(episode.a[index]).to(param.device, param.dtype)
    return model.rollout(z0, actions).float().cpu().numpy()


@dataclass
class RidgeReadout:
    """y = ((x - mean) / std) W + b, fitted in closed form (ridge on standardised inputs).

    x [N, F] latents, y [N, D] targets (here object positions in metres).
    """

    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray
    bias: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, ridge: float = 1.0) -> 'RidgeReadout':
        """Fit on x [N, F], y [N, D]; ``ridge`` is the penalty per sample on the weights."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(x) < 2:
            raise ValueError(f'need x [N, F] and y [N, D] with N >= 2, got {x.shape}, {y.shape}')
        mean, std = x.mean(0), x.std(0) + 1e-6
        xs = (x - mean) / std
        y_mean = y.mean(0)
        gram = xs.T @ xs + ridge * len(x) * 1e-3 * np.eye(x.shape[1])
        weight = np.linalg.solve(gram, xs.T @ (y - y_mean))
        return cls(mean, std, weight, y_mean)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x [..., F] -> y [..., D]."""
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.std) @ self.weight \
            + self.bias
