"""Image goals aimed through a head's reading of the goal image rather than a latent
distance: in joint units (models with an ``image_state_head``) or at goal links in metres
(models with ``kinematics``). Either way the plan aims at the measured state plus the
displacement the head reads from the current image to the goal image, so an error both
readings share cancels (:mod:`.goals` explains the choice). Pure PyTorch, no ROS.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .goal_types import finite_vector, Goal, GoalError, JointDifference
from .objectives import ObjectiveFn, state_goal_objective

__all__ = ['has_link_readout', 'link_goal_objective', 'image_link_goal',
           'has_image_state_head', 'image_joint_goal', 'read_displacement']


def has_link_readout(model: Any) -> bool:
    """True when the model reads goal link positions from images (``model.kinematics``)."""
    return getattr(model, 'link_readout', None) is not None


def link_goal_objective(model: Any, links: Tensor) -> ObjectiveFn:
    """Squared distance [m^2] of the predicted goal links, ``FK`` of the joints probed from
    each predicted latent, to ``links`` [L, 3], summed over links and the horizon."""
    target = finite_vector(links, 'goal link positions', 3 * model.link_readout.num_links)
    return state_goal_objective(
        lambda z: model.link_positions(model.probe_joint_positions(z)).flatten(-2), target)


def image_link_goal(model: Any, goal: Goal, q_now: Any, links_now: Any) -> Tensor:
    """Goal link positions [L, 3] for an image goal: ``FK(q_now) + goal.links - links_now``.

    The links where the measured joints put them, moved by the displacement the link
    read-out sees between the current image and the goal image (the read-out's error that
    both images share cancels, as in :func:`image_joint_goal`).

    Raises:
        GoalError: The goal has no link reading, or a size differs.
    """
    if goal.links is None:
        raise GoalError('this image goal has no link reading (model without kinematics)')
    now = finite_vector(links_now, 'image link reading', goal.links.numel())
    q = finite_vector(q_now, 'joint positions', len(model.cfg.joint_names))
    with torch.no_grad():
        at_q = model.link_positions(q.to(goal.links)).reshape(-1)
    return (at_q + goal.links.reshape(-1) - now).reshape(goal.links.shape)


def has_image_state_head(model: Any) -> bool:
    """True when the model reads joint positions from images (``read_image_joints``)."""
    return getattr(model, 'image_state_head', None) is not None and \
        hasattr(model, 'read_image_joints')


def image_joint_goal(goal: Goal, q_now: Any, q_image_now: Any,
                     difference: JointDifference = torch.sub) -> Tensor:
    """Joint goal [J] for an image goal: ``q_now + goal.joints - q_image_now``.

    The measured joints plus the displacement the image head reads between the current image
    and the goal image. Reading both images through the same head cancels the part of its
    error they share, which grows as the arm nears the goal. ``difference``: the model's
    :func:`joint_difference` (a continuous joint's displacement is the short way round).

    Raises:
        GoalError: The goal has no head reading, or the sizes differ.
    """
    shift = read_displacement(goal, q_image_now, difference)
    return finite_vector(q_now, 'joint positions', shift.numel()) + shift


def read_displacement(goal: Goal, q_image_now: Any,
                      difference: JointDifference = torch.sub) -> Tensor:
    """``goal.joints - q_image_now`` [J]: the joint displacement the image head reads from
    the current image to the goal image (``difference``: see :func:`image_joint_goal`).

    Raises:
        GoalError: The goal has no head reading, or the sizes differ.
    """
    if goal.joints is None:
        raise GoalError('this image goal has no joint reading (model without image_state_head)')
    return difference(goal.joints, finite_vector(q_image_now, 'image joint reading',
                                                 goal.joints.numel()))
