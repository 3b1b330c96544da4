"""Arrival speed: a cost on the joint velocities the model predicts at the plan's last step.

``weight * ||v_H||^2`` with ``v_H [N, J]`` the joint velocities read from the last predicted
latent (models with velocities in their state). A goal term summed over the horizon rewards
getting close *fast*; over a short horizon (8 steps, 0.4 s on the Pusher arm) a torque-driven
arm then reaches the goal at speed and overshoots: on the worked example's image goals the
finger tips came within 5 cm of the goal in 37 of 50 episodes but ended there in 11
(docs/your_robot.md). Asking the plan to end at rest is the terminal cost receding-horizon
control uses to settle on the target instead of passing it (e.g. Mayne et al. 2000,
"Constrained model predictive control: stability and optimality").
"""

from __future__ import annotations

from typing import Any, Optional

from torch import Tensor

from ..objectives import ObjectiveFn
from .registry import trajectory_term

__all__ = ['arrival_speed_objective']


@trajectory_term('arrival_speed', 'Cost per unit of squared joint velocity the model '
                 'predicts at the last step of the plan ((rad/s)^2 or (m/s)^2; models with '
                 'joint velocities in their state): plans that end at rest')
def arrival_speed_objective(model: Any, weight: float) -> Optional[ObjectiveFn]:
    """``objective(z_traj [N, H, Z], a_traj [N, H, A]) -> cost [N]``; None for models
    without joint velocities in their state."""
    part = getattr(model.cfg, 'state_slices', {}).get('velocity')
    if part is None or getattr(model, 'state_probe', None) is None:
        return None

    def objective(z_traj: Tensor, a_traj: Tensor) -> Tensor:
        v = model.probe_state(z_traj[:, -1])[..., part]          # [N, J]
        return weight * (v ** 2).sum(dim=-1)
    return objective
