"""The agent term: a time-indexed cost on where predicted people will be along a plan.

The obstacle term (:func:`~.scan.obstacle_clearance`) scores every planned position against
the scan's returns *as they are now*: a person crossing the robot's path blocks every plan
through the place they stand, even one that gets there after they have gone, and does not
block the place they are walking into. This term scores the planned base position at model
step ``t`` against each agent's *predicted* position at the same time ``t``
(:class:`~..agents.predictor.AgentForecast`, interpolated between its horizons), so a plan
that crosses a person's path behind them is free and one that meets them there is not.

Per step the cost is the clearance shortfall of :func:`~.scan.obstacle_clearance`,
``(max(0, limit - d) / margin) ** 2`` with ``d`` the distance to the nearest agent at that
time, but with a limit that grows with the forecast's uncertainty: ``limit = min_range +
spread_scale * spread``, ``spread`` the forecast's per-axis standard deviation [m] at that
time (0 now, ~0.2-0.4 m at 2 s). Vectorised over samples, steps and agents: ``[N, H, K]``.
Pure PyTorch/numpy, no ROS.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np
import torch
from torch import Tensor

from .objectives import ObjectiveFn, risk_objective

__all__ = ['AgentPaths', 'agents_at_times', 'agent_proximity_cost', 'agent_clearance',
           'plan_step_times']


class AgentPaths(NamedTuple):
    """Agents at the plan's step times: ``positions [K, H, 2]`` (the plan's pose frame) and
    ``spread [K, H]`` (per-axis standard deviation [m]). ``K`` may be 0 (nobody seen)."""

    positions: Tensor
    spread: Tensor


def plan_step_times(horizon: int, action_repeat: int, delay_steps: int,
                    step_period: float) -> np.ndarray:
    """``[H]`` seconds after the frame of each latent a plan predicts: latent ``t`` follows
    the ``delay_steps`` model steps rolled forward before planning and ``t + 1`` actions held
    for ``action_repeat`` steps each."""
    if horizon < 1 or action_repeat < 1 or delay_steps < 0 or not step_period > 0:
        raise ValueError(f'bad plan timing: horizon {horizon}, action_repeat {action_repeat}, '
                         f'delay_steps {delay_steps}, step_period {step_period}')
    steps = delay_steps + action_repeat * np.arange(1, horizon + 1)
    return steps * float(step_period)


def agents_at_times(now: Any, times: Any, positions: Any, spread: Any,
                    query: Any) -> AgentPaths:
    """A forecast interpolated to ``query [T]`` seconds after its stamp.

    Args:
        now: ``[K, 2]`` the agents' positions at the stamp (time 0, spread 0).
        times: ``[Hf]`` increasing forecast times [s] (> 0).
        positions: ``[K, Hf, 2]`` predicted positions.
        spread: ``[K, Hf]`` per-axis standard deviations [m].
        query: ``[T]`` times [s]; linear between the knots (0, times...), held after the
            last (a plan looks ahead at most ~2 s, the forecast's reach) and at ``now``
            before 0 (a frame older than the scan).

    Returns:
        :class:`AgentPaths` with ``positions [K, T, 2]`` and ``spread [K, T]`` (float32).

    Raises:
        ValueError: Shapes that do not match, times not increasing or not finite.
    """
    now = np.asarray(now, dtype=np.float64).reshape(-1, 2)
    times = np.asarray(times, dtype=np.float64).reshape(-1)
    k, h = now.shape[0], times.shape[0]
    positions = np.asarray(positions, dtype=np.float64).reshape(k, h, 2)
    spread = np.asarray(spread, dtype=np.float64).reshape(k, h)
    query = np.asarray(query, dtype=np.float64).reshape(-1)
    if h < 1 or not np.all(np.isfinite(times)) or times[0] <= 0 or np.any(np.diff(times) <= 0):
        raise ValueError(f'forecast times must be finite, > 0 and increasing, got {times}')
    knots = np.concatenate([[0.0], times])                                   # [Hf + 1]
    path = np.concatenate([now[:, None], positions], axis=1)                 # [K, Hf + 1, 2]
    sigma = np.concatenate([np.zeros((k, 1)), spread], axis=1)               # [K, Hf + 1]
    # Index of the knot segment each query falls in, and where in it (0..1); clamped ends.
    t = np.clip(query, 0.0, knots[-1])
    seg = np.clip(np.searchsorted(knots, t, side='right') - 1, 0, h - 1)     # [T]
    frac = (t - knots[seg]) / (knots[seg + 1] - knots[seg])                  # [T]
    xy = path[:, seg] + frac[None, :, None] * (path[:, seg + 1] - path[:, seg])
    sd = sigma[:, seg] + frac[None] * (sigma[:, seg + 1] - sigma[:, seg])
    return AgentPaths(torch.as_tensor(xy, dtype=torch.float32),
                      torch.as_tensor(sd, dtype=torch.float32))


def agent_proximity_cost(xy: Tensor, agents: AgentPaths, min_range: float, margin: float,
                         spread_scale: float) -> Tensor:
    """Per-step cost of planned positions near the agents at the same time.

    Args:
        xy: ``[N, H, 2]`` planned base positions.
        agents: The agents at the same ``H`` times (:func:`agents_at_times`).
        min_range: Distance [m] below which a step costs, with no uncertainty (the robot's
            radius, a person's and a margin).
        margin: Width [m] of the band over which the cost rises from 0 to 1.
        spread_scale: Metres of extra limit per metre of forecast spread.

    Returns:
        ``[N, H]``: ``max_k (max(0, min_range + spread_scale * spread[k, t] - d[n, t, k]) /
        margin) ** 2``; zeros without agents.
    """
    positions, spread = agents.positions.to(xy), agents.spread.to(xy)
    if positions.shape[0] == 0:
        return xy.new_zeros(xy.shape[:-1])
    if positions.shape[1:] != (xy.shape[1], 2):
        raise ValueError(f'agents are given at {positions.shape[1]} times, the plan has '
                         f'{xy.shape[1]} steps')
    d = torch.linalg.vector_norm(xy[:, :, None, :] - positions.permute(1, 0, 2)[None],
                                 dim=-1)                                     # [N, H, K]
    limit = min_range + spread_scale * spread.T[None]                        # [1, H, K]
    return ((torch.relu(limit - d) / margin) ** 2).amax(dim=-1)


def agent_clearance(model: Any, min_range: float, margin: float, weight: float,
                    spread_scale: float) -> Callable[[AgentPaths], ObjectiveFn]:
    """The agent term, built per plan from the agents at the plan's step times: ``weight *
    sum_t`` :func:`agent_proximity_cost` of the positions the model predicts
    (``model.probe_pose``) along each plan.

    Raises:
        ValueError: ``min_range`` or ``margin`` not > 0, ``spread_scale`` < 0 or not finite.
    """
    if not (min_range > 0 and margin > 0):
        raise ValueError(f'min_range and margin must be > 0, got {min_range!r}, {margin!r}')
    if not (math.isfinite(spread_scale) and spread_scale >= 0):
        raise ValueError(f'agent_spread_scale must be finite and >= 0, got {spread_scale!r}')

    def build(agents: AgentPaths) -> ObjectiveFn:
        def risk(z_traj: Tensor) -> Tensor:
            xy = model.probe_pose(z_traj)[..., :2]                           # [N, H, 2]
            return agent_proximity_cost(xy, agents, min_range, margin, spread_scale)
        return risk_objective(risk, weight)
    return build
