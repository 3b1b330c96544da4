"""Objective builders for :class:`jepa_world_model.core.planning.planner.LatentPlanner`.

Every builder returns a callable ``objective(z_traj [N, H, Z], a_traj [N, H, A]) -> cost [N]``
where lower is better, ``N`` is the number of sampled sequences and ``H`` the horizon.
Tensor names: ``z`` latent, ``a`` action, ``s`` proprioception. Pure PyTorch, no ROS.
"""

from typing import Callable, Optional, Sequence, Tuple, Union

import torch

ObjectiveFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
StepFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_traj(z_traj: torch.Tensor, a_traj: torch.Tensor) -> None:
    if z_traj.ndim != 3 or a_traj.ndim != 3 or z_traj.shape[:2] != a_traj.shape[:2]:
        raise ValueError(f'expected z_traj [N, H, Z] and a_traj [N, H, A], got '
                         f'{tuple(z_traj.shape)} and {tuple(a_traj.shape)}')


def _horizon_weights(h: int, sum_over_horizon: bool, final_weight: float,
                     like: torch.Tensor) -> torch.Tensor:
    """Weights ``[H]``: ones (or zeros) before the last step, ``final_weight`` at it."""
    w = torch.full((h,), 1.0 if sum_over_horizon else 0.0, device=like.device,
                   dtype=like.dtype)
    w[-1] = final_weight
    return w


def latent_goal_objective(z_goal: torch.Tensor, p: int = 1, sum_over_horizon: bool = True,
                          final_weight: float = 1.0) -> ObjectiveFn:
    """Distance of the predicted latents to a goal latent (image-goal planning).

    V-JEPA 2-AC (Assran et al. 2025) scores the L1 distance to the goal embedding. Summing
    the distance over every step rather than only the last gives the optimiser a denser
    signal and plans that head to the goal early (eb_jepa; our calibration notes).

    Args:
        z_goal: Goal latent ``[Z]`` or ``[1, Z]``.
        p: 1 for the L1 distance, 2 for the Euclidean distance.
        sum_over_horizon: Sum the distance over all ``H`` steps; if False only the last step.
        final_weight: Weight of the last step's distance.

    Returns:
        ``objective(z_traj [N, H, Z], a_traj [N, H, A]) -> cost [N]``.
    """
    if p not in (1, 2):
        raise ValueError(f'p must be 1 or 2, got {p!r}')
    if final_weight < 0:
        raise ValueError(f'final_weight must be >= 0, got {final_weight!r}')
    z_goal = z_goal.reshape(-1)

    def objective(z_traj: torch.Tensor, a_traj: torch.Tensor) -> torch.Tensor:
        _check_traj(z_traj, a_traj)
        goal = z_goal.to(device=z_traj.device, dtype=z_traj.dtype)
        dist = torch.linalg.vector_norm(z_traj - goal, ord=p, dim=-1)  # [N, H]
        w = _horizon_weights(z_traj.shape[1], sum_over_horizon, final_weight, dist)
        return dist @ w

    return objective


def state_goal_objective(probe: Callable[[torch.Tensor], torch.Tensor], s_goal: torch.Tensor,
                         weights: Optional[torch.Tensor] = None, sum_over_horizon: bool = True,
                         final_weight: float = 1.0,
                         difference: Optional[Callable[[torch.Tensor, torch.Tensor],
                                                       torch.Tensor]] = None) -> ObjectiveFn:
    """Weighted squared error of a probed state (e.g. a proprio read-out) to a state goal.

    Args:
        probe: Maps latents ``z [M, Z]`` to states ``s [M, S]``; called once on all
            ``N * H`` predicted latents.
        s_goal: Goal state ``[S]``.
        weights: Per-dimension weights ``[S]`` (default ones); zero ignores a dimension.
        sum_over_horizon: Sum the error over all ``H`` steps; if False only the last step.
        final_weight: Weight of the last step's error.
        difference: ``(s [N, H, S], goal [S]) -> error [N, H, S]``; default ``s - goal``.
            Continuous joints pass the angle the short way round
            (:meth:`~jepa_world_model.core.model.joint_angles.JointAngleCoding.difference`),
            so the objective never drives a joint the long way round.

    Returns:
        ``objective(z_traj [N, H, Z], a_traj [N, H, A]) -> cost [N]``.
    """
    subtract = torch.sub if difference is None else difference
    s_goal = s_goal.reshape(-1)
    if weights is None:
        weights = torch.ones_like(s_goal)
    weights = weights.reshape(-1)
    if weights.shape != s_goal.shape:
        raise ValueError(f'weights {tuple(weights.shape)} must match s_goal '
                         f'{tuple(s_goal.shape)}')
    if bool((weights < 0).any()):
        raise ValueError('weights must be >= 0')

    def objective(z_traj: torch.Tensor, a_traj: torch.Tensor) -> torch.Tensor:
        _check_traj(z_traj, a_traj)
        n, h, _ = z_traj.shape
        s = probe(z_traj.reshape(n * h, -1)).reshape(n, h, -1)
        goal = s_goal.to(device=s.device, dtype=s.dtype)
        err = (subtract(s, goal) ** 2 * weights.to(device=s.device, dtype=s.dtype)).sum(-1)
        w = _horizon_weights(h, sum_over_horizon, final_weight, err)
        return err @ w

    return objective


def path_length_objective(pose_fn: Callable[[torch.Tensor], torch.Tensor],
                          distance_fn: Callable[[torch.Tensor], torch.Tensor],
                          goal_yaw: Union[float, torch.Tensor] = 0.0,
                          yaw_weight: float = 0.0) -> ObjectiveFn:
    """Squared path length to a goal on a map, plus the heading error when weighted, summed
    over the horizon: the pose objective with a map's distance instead of the straight line.

    Args:
        pose_fn: Maps latents ``z [..., Z]`` to poses ``[..., 3]`` (x, y, yaw).
        distance_fn: Maps positions ``[..., 2]`` to the path length to the goal ``[...]``
            (e.g. :meth:`~.navigation.NavigationField.distance`).
        goal_yaw: Goal heading [rad], used when ``yaw_weight > 0``.
        yaw_weight: Weight of ``(cos - cos_goal)^2 + (sin - sin_goal)^2``.

    Returns:
        ``objective(z_traj [N, H, Z], a_traj [N, H, A]) -> cost [N]``.
    """
    goal_yaw = torch.as_tensor(goal_yaw, dtype=torch.float32)
    heading = torch.stack([torch.cos(goal_yaw), torch.sin(goal_yaw)])

    def objective(z_traj: torch.Tensor, a_traj: torch.Tensor) -> torch.Tensor:
        _check_traj(z_traj, a_traj)
        pose = pose_fn(z_traj)                                        # [N, H, 3]
        cost = distance_fn(pose[..., :2]) ** 2                        # [N, H]
        if yaw_weight > 0:
            yaw = pose[..., 2:3]
            features = torch.cat([torch.cos(yaw), torch.sin(yaw)], dim=-1)
            cost = cost + yaw_weight * ((features - heading.to(features)) ** 2).sum(-1)
        return cost.sum(dim=-1)

    return objective


def risk_objective(risk_fn: Callable[[torch.Tensor], torch.Tensor],
                   weight: float = 1.0) -> ObjectiveFn:
    """Penalty on a predicted per-step risk (e.g. collision probability from a latent head).

    Args:
        risk_fn: Maps ``z_traj [N, H, Z]`` to a probability ``[N, H]`` in [0, 1].
        weight: Cost per unit of summed probability.

    Returns:
        ``objective(z_traj [N, H, Z], a_traj [N, H, A]) -> cost [N]`` =
        ``weight * sum_t risk[:, t]``.
    """

    def objective(z_traj: torch.Tensor, a_traj: torch.Tensor) -> torch.Tensor:
        _check_traj(z_traj, a_traj)
        risk = risk_fn(z_traj)
        if risk.shape != z_traj.shape[:2]:
            raise ValueError(f'risk_fn must return [N, H] = {tuple(z_traj.shape[:2])}, got '
                             f'{tuple(risk.shape)}')
        return weight * risk.sum(dim=1)

    return objective


def ensemble_disagreement_objective(steps: Sequence[StepFn], weight: float = 1.0) -> ObjectiveFn:
    """Penalty on the disagreement of an ensemble of one-step predictors along the plan.

    Steers the plan away from latents where the model is unsure, the epistemic signal of
    Plan2Explore (Sekar et al. 2020) used here as a cost. For every step ``t >= 1`` each
    member predicts ``z_{t+1}`` from the planned ``(z_t, a_{t+1})``; the cost is the variance
    across members, averaged over latent dimensions and summed over the horizon.

    Args:
        steps: At least two batched step functions ``step(z [B, Z], a [B, A]) -> [B, Z]``.
        weight: Cost per unit of summed variance.

    Returns:
        ``objective(z_traj [N, H, Z], a_traj [N, H, A]) -> cost [N]`` (zeros when ``H == 1``).
    """
    steps = list(steps)
    if len(steps) < 2:
        raise ValueError(f'need at least two ensemble members, got {len(steps)}')

    def objective(z_traj: torch.Tensor, a_traj: torch.Tensor) -> torch.Tensor:
        _check_traj(z_traj, a_traj)
        n, h, dim_z = z_traj.shape
        if h < 2:
            return z_traj.new_zeros(n)
        z = z_traj[:, :-1].reshape(-1, dim_z)
        a = a_traj[:, 1:].reshape(n * (h - 1), -1)
        preds = torch.stack([step(z, a) for step in steps], dim=0)  # [K, N*(H-1), Z]
        var = preds.var(dim=0, correction=0).mean(dim=-1)
        return weight * var.reshape(n, h - 1).sum(dim=1)

    return objective


def sum_objectives(terms: Sequence[Tuple[Union[float, int], ObjectiveFn]]) -> ObjectiveFn:
    """Weighted sum of objectives.

    Args:
        terms: ``[(weight, objective), ...]``, each objective with the signature above.

    Returns:
        ``objective(z_traj [N, H, Z], a_traj [N, H, A]) -> cost [N]`` =
        ``sum_i weight_i * objective_i(z_traj, a_traj)``.
    """
    terms = list(terms)
    if not terms:
        raise ValueError('sum_objectives needs at least one (weight, objective) term')
    for weight, fn in terms:
        if not callable(fn):
            raise ValueError(f'objective {fn!r} is not callable')
        if not isinstance(weight, (int, float)):
            raise ValueError(f'weight must be a number, got {weight!r}')

    def objective(z_traj: torch.Tensor, a_traj: torch.Tensor) -> torch.Tensor:
        total = None
        for weight, fn in terms:
            term = weight * fn(z_traj, a_traj)
            total = term if total is None else total + term
        return total

    return objective
