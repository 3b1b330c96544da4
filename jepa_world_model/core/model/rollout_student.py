"""A distilled rollout model ("planning student"): one small MLP in place of the ensemble mean.

The planner's model step is the teacher ensemble's mean ``z + mean_e g_e([z, a_norm])``
(:class:`~.rollout_step.RolloutStep`): for the shipped 3-member models (hidden 256, depth 2)
about 1.4 ms per batched call of 256 samples on 2 cores, most of a CEM 256 x 8 x 3 plan
(docs/planner_speed.md). A student is a single residual MLP trained to reproduce that step
(core/training/rollout_distillation.py): ``z_next = z + f([z, a_norm])``.

**Held-action steps.** A student with ``held_steps = k`` stands for ``k`` teacher steps under
one held action, in one call: ``student(z, a) ~= teacher^k(z, a)`` (the teacher step applied
``k`` times with the same ``a``). A planner with ``action_repeat`` ``r`` then calls it
``r / k`` times per planned action instead of ``r`` (``r`` must be a multiple of ``k``:
:func:`calls_per_action`). A student with ``k = 1`` is a drop-in for any single step.

Tensor names: ``z`` latent [B, Z], ``a`` action [B, A] in physical units.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn
import torch.nn.functional as F

from .layers import mlp
from .rollout_step import frozen_mlp, hidden_forward

__all__ = ['RolloutStudent', 'StudentStep', 'calls_per_action', 'held_steps_of']

#: Bounds on a student's shape, checked before anything is allocated (a file's header can
#: claim any size).
MAX_HIDDEN = 4096
MAX_DEPTH = 8
MAX_HELD_STEPS = 16
MAX_DIM = 65536


def check_shape(latent_dim: int, action_dim: int, hidden: int, depth: int,
                held_steps: int) -> None:
    """Raise ValueError naming the first size out of range."""
    for name, value, high in (('latent_dim', latent_dim, MAX_DIM),
                              ('action_dim', action_dim, MAX_DIM),
                              ('hidden', hidden, MAX_HIDDEN), ('depth', depth, MAX_DEPTH),
                              ('held_steps', held_steps, MAX_HELD_STEPS)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise ValueError(f'{name} must be an int in 1..{high}, got {value!r}')


class RolloutStudent(nn.Module):
    """``z [B, Z]``, ``a [B, A]`` (physical units) -> ``[B, Z]``: ``z + f([z, a_norm])``,
    standing for ``held_steps`` teacher steps under the held action ``a``.

    Args:
        latent_dim: ``Z``; action_dim: ``A`` (the teacher's).
        hidden: Width of the hidden layers; depth: hidden layers (LayerNorm + GELU, as
            :func:`~.layers.mlp`).
        held_steps: Teacher steps one call covers (``k`` in the module notes).
        action_mean, action_std: ``[A]``, the teacher's action normalisation (copied).
    """

    def __init__(self, latent_dim: int, action_dim: int, hidden: int, depth: int,
                 held_steps: int = 1, action_mean: Tensor | None = None,
                 action_std: Tensor | None = None) -> None:
        super().__init__()
        check_shape(latent_dim, action_dim, hidden, depth, held_steps)
        self.latent_dim, self.action_dim = latent_dim, action_dim
        self.hidden, self.depth, self.held_steps = hidden, depth, held_steps
        self.net = mlp(latent_dim + action_dim, hidden, latent_dim, depth)
        # Start as the identity map (zero increment): the increments are small next to z,
        # so the first loss is already the teacher's increment size and training only adds.
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.register_buffer('action_mean', torch.zeros(action_dim) if action_mean is None
                             else action_mean.detach().float().clone())
        self.register_buffer('action_std', torch.ones(action_dim) if action_std is None
                             else action_std.detach().float().clone())

    @classmethod
    def for_teacher(cls, teacher: nn.Module, hidden: int, depth: int,
                    held_steps: int = 1) -> 'RolloutStudent':
        """A student with the teacher's latent and action sizes and action normalisation."""
        return cls(teacher.cfg.latent_dim, teacher.cfg.action_dim, hidden, depth, held_steps,
                   teacher.action_mean, teacher.action_std)

    def describe(self) -> dict:
        """The architecture as plain values (the file's metadata)."""
        return {'latent_dim': self.latent_dim, 'action_dim': self.action_dim,
                'hidden': self.hidden, 'depth': self.depth, 'held_steps': self.held_steps,
                'layers': 'layers.mlp (Linear, LayerNorm, GELU) x depth + Linear, residual'}

    def forward(self, z: Tensor, a: Tensor) -> Tensor:
        """``z [B, Z]``, ``a [B, A]`` -> ``[B, Z]`` (``held_steps`` teacher steps)."""
        a_norm = (a.to(z.dtype) - self.action_mean.to(z.dtype)) / self.action_std.to(z.dtype)
        return z + self.net(torch.cat([z, a_norm], dim=-1))


class StudentStep:
    """The student's weights frozen into plain tensors, as a planner ``StepFn``:
    ``step(z [B, Z], a [B, A]) -> [B, Z]`` equal to :meth:`RolloutStudent.forward` up to
    rounding, covering ``held_steps`` teacher steps (frozen by :func:`~.rollout_step.frozen_mlp`,
    as :class:`~.rollout_step.RolloutStep`'s members are).

    A snapshot: later training of the module does not reach it.

    Args:
        student: The trained module.
        compute_dtype: dtype of the matrix products and activations (the residual add stays
            in ``z``'s dtype).
    """

    def __init__(self, student: RolloutStudent, compute_dtype: torch.dtype = torch.float32
                 ) -> None:
        if not compute_dtype.is_floating_point:
            raise ValueError(f'compute_dtype must be floating point, got {compute_dtype}')
        self.compute_dtype = compute_dtype
        self.held_steps = student.held_steps
        self.source = ''   # the file it came from, when it came from one (for logs)
        self.latent_dim, self.action_dim = student.latent_dim, student.action_dim
        self._layers, w_out, b_out = frozen_mlp(student.net, self.latent_dim,
                                                student.action_mean, student.action_std,
                                                compute_dtype)
        self._out = (w_out, b_out)

    def __call__(self, z: Tensor, a: Tensor) -> Tensor:
        """``z [B, Z]``, ``a [B, A]`` (physical units) -> ``[B, Z]`` after ``held_steps``
        teacher steps under ``a``."""
        h = hidden_forward(self._layers,
                           torch.cat([z, a.to(z.dtype)], dim=-1).to(self.compute_dtype))
        return z + F.linear(h, *self._out).to(z.dtype)


def held_steps_of(step: Callable[..., Any]) -> int:
    """Teacher steps one call of a planner step covers: its ``held_steps`` (a student), else 1."""
    held = getattr(step, 'held_steps', 1)
    if isinstance(held, bool) or not isinstance(held, int) or held < 1:
        raise ValueError(f'a step\'s held_steps must be an int >= 1, got {held!r}')
    return held


def calls_per_action(step: Callable[..., Any], action_repeat: int) -> int:
    """Calls of ``step`` that hold one planned action for ``action_repeat`` model steps.

    Raises:
        ValueError: ``action_repeat`` is not a multiple of the step's ``held_steps`` (the
            student would look further or less far ahead than the plan asks).
    """
    held = held_steps_of(step)
    if action_repeat % held:
        raise ValueError(f'the rollout model covers {held} model steps per call; '
                         f'action_repeat {action_repeat} is not a multiple of it (use a '
                         f'student distilled for held_steps 1 or {action_repeat})')
    return action_repeat // held
