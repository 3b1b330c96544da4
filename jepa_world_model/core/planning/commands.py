"""What the planning controller answers: a limited command, or a stop and why.

:func:`limit_plan` holds a planned action sequence to the command limits: the first command
over one control period, and for trajectory outputs the rest of the plan step by step
(:mod:`~.command_limits`). Pure numpy, no ROS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple

import numpy as np

from .command_limits import (CommandLimits, integrate_positions, limit_command, limit_sequence,
                             LimitedCommand)

__all__ = ['Command', 'Stop', 'limit_plan']


@dataclass(frozen=True)
class Command:
    """A command to send, held to the command limits.

    Attributes:
        a: [A] the command (the first of a plan, limited; zeros for a stop).
        velocities: [K, A] velocities of the trajectory points; ``velocities[0]`` is ``a``
            (K = 1 unless the output is a trajectory, then K = H).
        q_act: [A] measured positions of the action joints the trajectory starts from (and
            a stop holds), or None (the actions move no measured joint).
        limits_hit: Kinds of limit the planned first command was held to
            (:data:`~.command_limits.LIMIT_KINDS`); empty for a stop.
        cost: The plan's objective value; None for a stop.
        poses: [H + 1, 3] predicted base poses (x, y, yaw) from the plan's start, or None.
    """

    a: np.ndarray
    velocities: np.ndarray
    q_act: Optional[np.ndarray] = None
    limits_hit: Tuple[str, ...] = ()
    cost: Optional[float] = None
    poses: Optional[np.ndarray] = None


class Stop(NamedTuple):
    """No plan to follow: send the stop command (:meth:`PlanningController.stop`).

    Attributes:
        status: What the robot is told: ``goal_reached``, or a safety stop (``overrun``,
            ``risk_too_high``, ``uncertainty_too_high``, ``stale_inputs``).
        reason: The counter of the cause (``plan_overrun``, ``plan_risk``,
            ``plan_uncertainty``, ``scan_stale``); empty when nothing went wrong
            (``goal_reached``).
        message: What happened, for logs and diagnostics.
    """

    status: str
    reason: str
    message: str


def limit_plan(a_plan: np.ndarray, prev: np.ndarray, period: float, limits: CommandLimits,
               q_act: Optional[np.ndarray], trajectory: bool, step: float
               ) -> Tuple[LimitedCommand, np.ndarray]:
    """The first command, limited over one plan period, and the velocities to send.

    A joint beyond its limit gets no velocity further out and comes back in at no more than
    the velocity and acceleration limits (:func:`limit_command`).

    Args:
        a_plan: [H, A] planned actions.
        prev: [A] the previous command (the acceleration reference).
        period: Seconds between plans: the time the first command has to change.
        limits: The command limits.
        q_act: [A] positions of the action joints (position limits), or None.
        trajectory: The output is a trajectory: the rest of the plan is limited too.
        step: Seconds per model step (the spacing of the trajectory points).

    Returns:
        The limited first command and the [1, A] or [H, A] velocities.
    """
    q = q_act if limits.has_positions else None
    # A trajectory's first point lies one model step ahead and the command runs until the
    # next plan: neither may carry a joint past its limit.
    hold = max(period, step) if trajectory else period
    first = limit_command(a_plan[0], prev, period, limits, q, hold=hold)
    velocities = first.a[None]
    if trajectory and len(a_plan) > 1:
        # The rest of the recommended trajectory is held to the same limits, step by step.
        q1 = None if q is None else integrate_positions(first.a[None], q, step,
                                                        limits).positions[0]
        velocities = np.vstack([first.a, limit_sequence(a_plan[1:], first.a, step, limits,
                                                        q1).a])
    return first, velocities
