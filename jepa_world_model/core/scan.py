"""Planar range scans as training labels and planning costs (pure PyTorch, no ROS).

A 360-degree scan (sensor_msgs/LaserScan, beam ``i`` at ``angle_min + i * increment`` in the
base frame) is pooled into equal sectors holding each sector's nearest return, capped at a
range of interest: the model's range read-out (``WorldModel.predict_ranges``) learns these
sector ranges, and the planner's clearance term penalises predicted ranges below a minimum.
Near returns are what matter for collisions, so the cap keeps far walls from dominating the
regression.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

__all__ = ['sector_ranges', 'clearance_cost']


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


def clearance_cost(ranges_fn: Callable[[Tensor], Tensor], min_range: float,
                   margin: float) -> Callable[[Tensor], Tensor]:
    """Per-step shortfall of predicted clearance: ``risk(z_traj [N, H, Z]) -> [N, H]``.

    ``ranges_fn`` maps latents to sector ranges [m] ``[..., R]``; the cost of a step is
    ``(max(0, min_range - nearest) / margin) ** 2``. With ``min_range`` = the robot's radius
    plus ``margin``, that is 0 outside the margin and 1 at contact. Squared so that grazing
    the margin costs little and closing in costs a lot: graded, unlike a collision
    probability, so sampled plans are ranked by how close they pass.
    """
    if not (min_range > 0 and margin > 0):
        raise ValueError(f'min_range and margin must be > 0, got {min_range!r}, {margin!r}')

    def risk(z_traj: Tensor) -> Tensor:
        nearest = ranges_fn(z_traj).amin(dim=-1)
        return (torch.relu(min_range - nearest) / margin) ** 2

    return risk
