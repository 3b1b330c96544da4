"""The range read-out of a world model: sector ranges of a planar scan at a robot pose.

The training label is :func:`sector_ranges` (each sector's nearest return, capped at a range
of interest); ``model.scan_source: tokens`` reads it with :class:`SceneRangeReadout` from a
frame's patch tokens, queried at a robot pose. How the planner turns these ranges into an
obstacle term, and why, is :mod:`jepa_world_model.core.planning.scan`. Pure PyTorch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .layers import mlp

__all__ = ['sector_ranges', 'SceneRangeReadout', 'pose_query_features']

#: Frequencies of the sinusoidal features of a query position (periods 3, 1.5, 0.75 m): let
#: a small MLP resolve where a pose is relative to things in the scene, not only roughly.
_QUERY_FREQUENCIES = (1.0, 2.0, 4.0)
_QUERY_SCALE_M = 1.5


def pose_query_features(pose: Tensor) -> Tensor:
    """(x, y, yaw) [..., 3] -> [..., 16]: x, y, cos/sin yaw, and sin/cos of x and y at three
    frequencies."""
    xy = pose[..., :2]
    parts = [xy, torch.cos(pose[..., 2:3]), torch.sin(pose[..., 2:3])]
    for k in _QUERY_FREQUENCIES:
        phase = (k * math.pi / _QUERY_SCALE_M) * xy
        parts += [torch.sin(phase), torch.cos(phase)]
    return torch.cat(parts, dim=-1)


class SceneRangeReadout(nn.Module):
    """Sector ranges at a robot pose in the scene a frame shows.

    ``scene(tokens [B, N, D]) -> c [B, C]``: each patch token narrowed to 8 channels, then an
    MLP over all of them in grid order (it keeps *where* things are). ``forward(c [..., C],
    pose [..., 3]) -> [..., R]`` in (0, 1), the ranges in units of the cap.
    """

    def __init__(self, num_tokens: int, dim: int, hidden: int, sectors: int,
                 scene_dim: int = 64, narrow: int = 8) -> None:
        super().__init__()
        self.narrow = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, narrow))
        self.trunk = mlp(num_tokens * narrow, hidden, scene_dim, 1)
        self.query = mlp(scene_dim + 16, hidden, sectors, 2)

    def scene(self, tokens: Tensor) -> Tensor:
        """tokens [B, N, D] -> scene code [B, C]."""
        return self.trunk(self.narrow(tokens).flatten(1))

    def forward(self, scene: Tensor, pose: Tensor) -> Tensor:
        """scene [..., C], pose [..., 3] (broadcast against each other) -> [..., R] in (0, 1)."""
        query = pose_query_features(pose)
        scene = scene.expand(*query.shape[:-1], scene.shape[-1])
        return torch.sigmoid(self.query(torch.cat([scene, query], dim=-1)))


def sector_ranges(scan: Tensor, sectors: int, range_max: float) -> Tensor:
    """Nearest return per sector. scan [..., B] ranges [m] -> [..., sectors], capped at
    ``range_max``.

    Raises:
        ValueError: ``B`` is not a multiple of ``sectors`` (sectors would differ in width).
    """
    beams = scan.shape[-1]
    if sectors < 1 or beams % sectors:
        raise ValueError(f'a scan of {beams} beams cannot be pooled into {sectors} equal '
                         f'sectors; choose model.scan_sectors dividing {beams}')
    pooled = scan.reshape(*scan.shape[:-1], sectors, beams // sectors).amin(dim=-1)
    return pooled.clamp(max=float(range_max))
