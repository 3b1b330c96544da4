"""Continuous joints carry no position limit: the planner neither needs nor applies one.

A continuous joint (``model.continuous_joints``: a wheel, a turntable, a wrist roll) turns
forever, so a joint position limit for it is meaningless, and one taken from a recording
(``inspect`` writes +-1000 rad for them) would stop the joint after some turns. The planner
parameters still take one value per action joint in ``joint_position_min/max`` (the other
joints' limits need them); :func:`free_continuous_joints` replaces the continuous joints'
entries with +-inf, so the limiter, the trajectory integration and the joint-goal range check
pass them through. Velocity, acceleration (and effort) limits still apply. Pure numpy.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np

from .command_limits import CommandLimits

__all__ = ['free_continuous_joints']


def free_continuous_joints(limits: CommandLimits, action_joints: Optional[Sequence[int]],
                           continuous: Sequence[bool]) -> CommandLimits:
    """``limits`` with no position limit on the action joints that are continuous.

    Args:
        limits: The command limits (``joint_index`` maps action dims to position entries).
        action_joints: [A] model joint moved by each action dim, or None (a Twist output
            moves no joint: ``limits`` is returned as it is).
        continuous: [J] True for each continuous model joint (``JointAngleCoding.continuous``).

    Returns:
        The same limits when nothing changes, else a copy whose continuous joints' position
        limits are (-inf, inf).
    """
    if not limits.has_positions or action_joints is None or not any(continuous):
        return limits
    p_min, p_max = limits.position_min.copy(), limits.position_max.copy()
    for dim, joint in enumerate(action_joints):
        position = limits.joint_index[dim]
        if position >= 0 and 0 <= joint < len(continuous) and continuous[joint]:
            p_min[position], p_max[position] = -np.inf, np.inf
    unchanged = (np.array_equal(p_min, limits.position_min)
                 and np.array_equal(p_max, limits.position_max))
    if unchanged:
        return limits
    return dataclasses.replace(limits, position_min=p_min, position_max=p_max)
