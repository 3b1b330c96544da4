"""The constraints a planned action obeys: a per-dimension box and an L1 ball (trust region).

:class:`ActionBounds` is the box of :class:`~jepa_world_model.core.planning.planner.LatentPlanner`;
:func:`project_l1_ball` keeps each planned action within ``trust_region_l1`` of the one
before. Both are re-exported by :mod:`jepa_world_model.core.planning.planner`. Pure PyTorch.
"""

from typing import Sequence, Union

import torch

__all__ = ['BoundLike', 'ActionBounds', 'project_l1_ball']

BoundLike = Union[torch.Tensor, Sequence[float]]


class ActionBounds:
    """Per-dimension box ``low <= a <= high`` on the action.

    Args:
        low: Lower bounds, tensor or sequence of length ``A``.
        high: Upper bounds, tensor or sequence of length ``A``.

    Raises:
        ValueError: If shapes differ, are not 1-D, values are not finite, or ``low >= high``.
    """

    def __init__(self, low: BoundLike, high: BoundLike) -> None:
        self.low = torch.as_tensor(low, dtype=torch.float64).detach().cpu()
        self.high = torch.as_tensor(high, dtype=torch.float64).detach().cpu()
        if self.low.ndim != 1 or self.low.shape != self.high.shape or self.low.numel() == 0:
            raise ValueError(f'low and high must be 1-D of equal length, got shapes '
                             f'{tuple(self.low.shape)} and {tuple(self.high.shape)}')
        if not (torch.isfinite(self.low).all() and torch.isfinite(self.high).all()):
            raise ValueError('action bounds must be finite')
        if not bool((self.low < self.high).all()):
            raise ValueError(f'need low < high in every dimension, got low={self.low.tolist()}'
                             f' high={self.high.tolist()}')

    @property
    def dim(self) -> int:
        """Action dimension ``A``."""
        return int(self.low.numel())


def project_l1_ball(delta: torch.Tensor, radius: Union[float, torch.Tensor]) -> torch.Tensor:
    """Euclidean projection of each row of ``delta`` onto the L1 ball of ``radius``.

    Exact sort-based algorithm of Duchi et al. 2008 ("Efficient projections onto the l1-ball
    for learning in high dimensions"), O(A log A) per row and fully batched.

    Args:
        delta: Vectors ``[..., A]``.
        radius: Ball radius >= 0, a float or a tensor broadcastable to ``delta.shape[:-1]``.

    Returns:
        Tensor ``[..., A]``: the nearest point (in L2) with ``||x||_1 <= radius``; rows already
        inside the ball are returned unchanged.
    """
    radius = torch.as_tensor(radius, dtype=delta.dtype, device=delta.device)
    if bool((radius < 0).any()):
        raise ValueError('radius must be >= 0')
    radius = radius.unsqueeze(-1)  # [..., 1] against the action dim
    mag = delta.abs()
    u, _ = torch.sort(mag, dim=-1, descending=True)
    cssv = u.cumsum(dim=-1) - radius
    j = torch.arange(1, delta.shape[-1] + 1, device=delta.device, dtype=delta.dtype)
    # rho = number of coordinates that stay non-zero; u_j > (cssv_j - r) / j is true for a
    # prefix of the sorted magnitudes, so counting it gives rho directly.
    rho = (u * j > cssv).sum(dim=-1, keepdim=True).clamp_min(1)
    theta = cssv.gather(-1, rho - 1) / rho.to(delta.dtype)
    projected = torch.sign(delta) * (mag - theta).clamp_min(0)
    inside = mag.sum(dim=-1, keepdim=True) <= radius
    return torch.where(inside, delta, projected)
