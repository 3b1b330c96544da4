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

__all__ = ['has_link_readout', 'link_goal_objective', 'image_link_goal', 'read_link_displacement',
           'has_image_state_head', 'image_joint_goal', 'read_displacement', 'ReadingSmoother']


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
    shift = read_link_displacement(goal, links_now)
    q = finite_vector(q_now, 'joint positions', len(model.cfg.joint_names))
    with torch.no_grad():
        at_q = model.link_positions(q.to(shift)).reshape(shift.shape)
    return at_q + shift


def read_link_displacement(goal: Goal, links_now: Any) -> Tensor:
    """``goal.links - links_now`` [L, 3] (m): the displacement of each goal link the link
    read-out reads from the current image to the goal image.

    Raises:
        GoalError: The goal has no link reading, or the sizes differ.
    """
    if goal.links is None:
        raise GoalError('this image goal has no link reading (model without kinematics)')
    now = finite_vector(links_now, 'image link reading', goal.links.numel())
    return goal.links - now.reshape(goal.links.shape)


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


class ReadingSmoother:
    """Averages the image head's *error* over recent frames, so an image goal's aim point
    stops jumping with every frame's reading.

    Each frame gives the correction ``e = f(q) - reading`` between where the measured joints
    put the read quantity (``f``: the joints themselves, or forward kinematics of the goal
    links) and where the head reads it. The aim point of an image goal is
    ``f(q_now) + goal_reading - reading_now = goal_reading + e``, so the reading's
    frame-to-frame noise (a 64 px frame moves by whole pixels as the arm moves by parts of
    one) moves the aim point by as much. This keeps ``e_bar = (1 - beta) e + beta e_bar`` and
    returns the reading ``f(q) - e_bar`` in its place: an exponential moving average of the
    head's error, not of where the robot is (the measured ``q`` stays current).

    Args:
        beta: Weight of the previous average, in [0, 1); 0 passes readings through.
    """

    def __init__(self, beta: float) -> None:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f'beta must be in [0, 1), got {beta!r}')
        self.beta = float(beta)
        self._error: Any = None

    def reset(self) -> None:
        """Forget the average (a new goal, or a gap in the frames)."""
        self._error = None

    def __call__(self, model: Any, goal: Goal, q: Any, reading: Tensor) -> Tensor:
        """The smoothed ``reading`` (same shape) for ``goal``'s kind of reading at the
        measured joints ``q`` [J]."""
        if self.beta == 0.0 or goal.reading is None:
            return reading
        q_t = finite_vector(q, 'joint positions').to(reading)
        at_q = (model.link_positions(q_t).reshape(reading.shape) if goal.links is not None
                else q_t.reshape(reading.shape))
        error = at_q - reading
        if self._error is None or self._error.shape != error.shape:
            self._error = error
        else:
            self._error = (1.0 - self.beta) * error + self.beta * self._error
        return at_q - self._error
