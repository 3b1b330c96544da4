"""When a goal counts as reached, and the safety figures of a chosen plan.

:func:`goal_reached` prefers measurements (joint states, odometry, the image head's reading
of the current frame) over probes of the latent; :func:`assess_plan` reports the highest
predicted risk and ensemble disagreement along a plan, which ``planner_node`` compares with
``max_risk`` and ``max_disagreement``. The goals themselves and their objectives are in
:mod:`.goals`. Pure PyTorch, no ROS.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .commands import Stop
from .goals import (ensemble_size, finite_vector, Goal, GoalError, has_risk_probe,
                    joint_difference, read_displacement)
from .image_readings import read_link_displacement

__all__ = ['GoalTolerance', 'goal_reached', 'PlanAssessment', 'assess_plan', 'overrun_stop',
           'plan_stop']


@dataclass(frozen=True)
class GoalTolerance:
    """When a goal counts as reached.

    Attributes:
        joint: Largest |q - q_goal| over the joints (rad or m; a continuous joint's the
            short way round); also image goals judged on a head reading (:func:`goal_reached`).
        position: Planar distance to a pose goal (m).
        yaw: Heading error of a pose goal with a heading (rad).
        latent: Mean |z - z_goal| over the compared latent dims (latent and image goals).
        link: Largest distance (m) between a goal link's position read in the goal image
            and in the current image (image goals of models with ``kinematics``).
    """

    joint: float = 0.05
    position: float = 0.1
    yaw: float = 0.2
    latent: float = 0.1
    link: float = 0.02


@torch.no_grad()
def goal_reached(goal: Goal, tolerance: GoalTolerance, model: Any = None,
                 z_obs: Optional[Tensor] = None, q: Optional[Sequence[float]] = None,
                 pose: Optional[Sequence[float]] = None,
                 image_joints: Optional[Sequence[float]] = None) -> Tuple[bool, float]:
    """Whether the current observation satisfies ``goal``, and its distance to it.

    Measured values are preferred over probes: joint goals use ``q`` [J] when given, pose
    goals ``pose`` (x, y, yaw) from odometry; otherwise the probes read ``z_obs`` [Z] (the
    target-encoder latent of the current observation). Latent and image goals need ``z_obs``,
    except image goals with a head reading when ``image_joints``, the reading of the current
    image, is given: [J] joints (``Goal.joints``) are judged in joint units, [L, 3] links
    (``Goal.links``, models with ``kinematics``) by the farthest link in metres.

    Joint errors of the model's continuous joints are taken the short way round
    (:func:`~.goals.joint_difference`; without ``model`` every joint counts as limited).

    Returns:
        ``(reached, distance)``: distance is the max joint error (also for image goals judged
        on ``image_joints``), the planar distance, or the mean latent L1 distance.

    Raises:
        GoalError: Neither a measurement nor ``z_obs`` and ``model`` to read it from.
    """
    def probe(fn_name: str) -> Tensor:
        if model is None or z_obs is None:
            raise GoalError(f'{goal.kind} goal check needs a measurement or z_obs and model')
        return getattr(model, fn_name)(z_obs.reshape(1, -1))[0].float().cpu()

    difference = joint_difference(model) if model is not None else torch.sub
    if goal.kind == 'joint_state':
        now = (finite_vector(q, 'joint positions', goal.target.numel()) if q is not None
               else probe('probe_joint_positions'))
        dist = float(difference(now, goal.target).abs().max())
        return dist <= tolerance.joint, dist
    if goal.kind == 'pose':
        now = finite_vector(pose, 'pose', 3) if pose is not None else probe('probe_pose')
        dist = float(torch.hypot(now[0] - goal.target[0], now[1] - goal.target[1]))
        reached = dist <= tolerance.position
        if goal.yaw_weight > 0:
            dyaw = math.remainder(float(now[2] - goal.target[2]), 2 * math.pi)
            reached = reached and abs(dyaw) <= tolerance.yaw
        return reached, dist
    if goal.kind == 'image' and goal.links is not None and image_joints is not None:
        # In metres: the farthest any goal link is read from where the goal image shows it.
        dist = float(read_link_displacement(goal, image_joints).norm(dim=-1).max())
        return dist <= tolerance.link, dist
    if goal.kind == 'image' and goal.joints is not None and image_joints is not None:
        # In joint units: the largest joint displacement the image head reads to the goal.
        dist = float(read_displacement(goal, image_joints, difference).abs().max())
        return dist <= tolerance.joint, dist
    if z_obs is None or (goal.kind == 'image' and model is None):
        raise GoalError(f'{goal.kind} goal check needs z_obs (and the model for images)')
    z = z_obs.reshape(-1).float().cpu()
    if goal.kind == 'image':
        z = model.image_part(z)
    if z.numel() != goal.target.numel():
        raise GoalError(f'latent has {z.numel()} values, the goal {goal.target.numel()}')
    dist = float((z - goal.target).abs().mean())
    return dist <= tolerance.latent, dist


@dataclass(frozen=True)
class PlanAssessment:
    """Safety figures of a chosen plan.

    Attributes:
        risk: Highest predicted event probability over the plan's steps and risk labels, or
            None without a risk probe.
        disagreement: Highest ensemble disagreement (``WorldModel.disagreement``: std across
            members, mean over Z) over the plan's steps, or None with one member.
    """

    risk: Optional[float]
    disagreement: Optional[float]


@torch.no_grad()
def assess_plan(model: Any, z0: Tensor, latents: Tensor, actions: Tensor) -> PlanAssessment:
    """Risk and disagreement along a plan.

    Args:
        model: The world model.
        z0: [Z] latent the plan starts from.
        latents: [H, Z] predicted latents (``latents[t]`` follows ``actions[t]``).
        actions: [H, A] planned actions.
    """
    risk = disagreement = None
    if has_risk_probe(model):
        risk = float(model.probe_risk(latents).max())
    if ensemble_size(model) > 1:
        starts = torch.cat([z0.reshape(1, -1).to(latents), latents[:-1]], dim=0)
        disagreement = float(model.disagreement(starts, actions.to(latents)).max())
    return PlanAssessment(risk, disagreement)


def overrun_stop(result: Any, elapsed: float, max_plan_time: Optional[float],
                 num_iterations: int) -> Optional[Stop]:
    """The overrun stop of a finished plan (``result.cut_short`` at the deadline, or
    ``elapsed`` s over ``max_plan_time``), else None."""
    if result.cut_short:
        return Stop('overrun', 'plan_overrun', 'plan stopped at max_plan_time '
                    f'{max_plan_time * 1e3:.1f} ms after {elapsed * 1e3:.1f} ms, '
                    f'{result.iterations} of {num_iterations} iterations done')
    if max_plan_time is not None and elapsed > max_plan_time:
        return Stop('overrun', 'plan_overrun', f'plan took {elapsed * 1e3:.1f} ms > '
                    f'max_plan_time {max_plan_time * 1e3:.1f} ms')
    return None


def plan_stop(figures: PlanAssessment, max_risk: float, max_disagreement: float
              ) -> Optional[Stop]:
    """The stop a plan's predicted figures call for (a limit <= 0 is off): too risky, or
    too uncertain (ensemble disagreement); else None."""
    if max_risk > 0 and figures.risk is not None and figures.risk > max_risk:
        return Stop('risk_too_high', 'plan_risk', f'predicted risk {figures.risk:.3f} > '
                    f'max_risk {max_risk}')
    if max_disagreement > 0 and figures.disagreement is not None \
            and figures.disagreement > max_disagreement:
        return Stop('uncertainty_too_high', 'plan_uncertainty', 'ensemble disagreement '
                    f'{figures.disagreement:.3f} > max_disagreement {max_disagreement}')
    return None
