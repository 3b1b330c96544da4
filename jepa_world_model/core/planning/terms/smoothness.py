"""Smoothness: a cost on how much the planned command changes from one step to the next.

``weight * sum_{t >= 1} ||a_t - a_{t-1}||^2`` over the plan ``a_traj [N, H, A]``. The
planner's samples are independent per step (CEM/MPPI with a diagonal Gaussian), so without
it a plan that reaches the goal equally well with a jerky command sequence costs the same as
a smooth one; a small weight prefers the smooth one, which the acceleration limit would
otherwise have to enforce after planning (the trade-off MPPI papers handle with a
control-cost term, e.g. Williams et al., 2017).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from ..objectives import ObjectiveFn
from .registry import trajectory_term

__all__ = ['smoothness_objective']


@trajectory_term('smoothness', 'Cost per unit of squared change of the planned command '
                 'between consecutive steps, summed over the plan (model units)')
def smoothness_objective(model: Any, weight: float) -> ObjectiveFn:
    """``objective(z_traj [N, H, Z], a_traj [N, H, A]) -> cost [N]``; any model has it."""
    def objective(z_traj: Tensor, a_traj: Tensor) -> Tensor:
        steps = a_traj[:, 1:] - a_traj[:, :-1]                 # [N, H - 1, A]
        return weight * (steps ** 2).sum(dim=(-1, -2))
    return objective
