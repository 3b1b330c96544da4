"""The goal value the planner aims at (:class:`Goal`), its error type, and the small
checks every goal builder shares. Built by :mod:`.goals`; the image readings a goal may
carry are used in :mod:`.image_readings`. Pure PyTorch, no ROS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import Tensor

__all__ = ['GOAL_KINDS', 'JointDifference', 'GoalError', 'finite_vector', 'joint_difference',
           'Goal']

GOAL_KINDS = ('joint_state', 'pose', 'latent', 'image')
#: ``(q [..., J], q_goal [..., J]) -> q - q_goal [..., J]``, continuous joints wrapped.
JointDifference = Callable[[Tensor, Tensor], Tensor]


class GoalError(ValueError):
    """A goal is malformed or does not fit the model."""


def finite_vector(values: Any, what: str, size: Optional[int] = None) -> Tensor:
    """``values`` as a flat float32 CPU tensor; GoalError if empty, non-finite or not
    ``size`` long."""
    t = torch.as_tensor(values, dtype=torch.float32).detach().reshape(-1).cpu()
    if size is not None and t.numel() != size:
        raise GoalError(f'{what} has {t.numel()} values, expected {size}')
    if t.numel() == 0 or not bool(torch.isfinite(t).all()):
        raise GoalError(f'{what} must be non-empty and finite, got {t.tolist()}')
    return t


def joint_difference(model: Any) -> JointDifference:
    """How ``model``'s joint positions are subtracted: ``a - b``, and for its continuous
    joints the angle the short way round, in (-pi, pi] (models without them: ``a - b``)."""
    coding = getattr(getattr(model, 'cfg', None), 'joint_coding', None)
    return coding.difference if coding is not None and coding.any_continuous else torch.sub


@dataclass(frozen=True)
class Goal:
    """A planning goal (build it with the functions of :mod:`.goals`).

    Attributes:
        kind: One of :data:`GOAL_KINDS`.
        target: joint_state [J] positions; pose [3] (x, y, yaw); latent [Z]; image [Zi].
        weights: joint_state: [J] per-joint weights (None: ones).
        yaw_weight: pose: weight of the heading error relative to x and y (0: heading free).
        joints: image: [J] joint positions the model's ``image_state_head`` reads in the goal
            image, or None (models without the head).
        links: image: [L, 3] goal link positions the model's link read-out reads in the goal
            image [m], or None (models without ``kinematics``). When set, the goal is aimed
            and judged at the links, not the joints.
    """

    kind: str
    target: Tensor
    weights: Optional[Tensor] = None
    yaw_weight: float = 0.0
    joints: Optional[Tensor] = None
    links: Optional[Tensor] = None

    @property
    def reading(self) -> Optional[Tensor]:
        """The image reading this goal is aimed and judged in: ``links`` [L, 3] when set,
        else ``joints`` [J], else None (a latent-distance image goal)."""
        return self.links if self.links is not None else self.joints
