"""Distil a teacher's ensemble-mean step into a rollout student (core/model/rollout_student.py).

Data needs no bags: the teacher's own rollouts. Each training step draws start latents from
a pool (encoded frames, e.g. :mod:`jepa_world_model.experiments.rollout_states`) and action
sequences the way a CEM search draws them (uniform in the command box, or Gaussian around a
random mean, clipped to the box), rolls the teacher out ``horizon`` planned actions (each
held ``held_steps`` teacher steps) and trains the student to follow that rollout *feeding
back its own predictions*: the loss is the mean squared error of the student's whole
``horizon``-step rollout, so its errors do not compound unseen (a one-step loss would train
it only on the teacher's states).

The loss is divided by the teacher's mean squared increment per call, so its value reads as
"error relative to the step's motion" (1.0 for the untrained student, which starts as the
identity). :func:`rollout_errors` measures the same on held-out starts: one call and the
whole horizon, relative to the teacher's increments and to the spread of the teacher's own
members (each member rolled out on its own), the scale below which a student's error is
within the teacher's own uncertainty.

Tensor names: ``z`` latent [B, Z], ``a`` action [B, H, A] in physical units. Pure torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import logging
import math
import time
from typing import Any, Dict, Tuple

import torch
from torch import Tensor, nn

from ..model.rollout_step import RolloutStep
from ..model.rollout_student import check_shape, RolloutStudent

_LOG = logging.getLogger(__name__)

__all__ = ['DistillConfig', 'sample_actions', 'teacher_rollout', 'rollout_errors',
           'distil_rollout']


@dataclass(frozen=True)
class DistillConfig:
    """Settings of one distillation (written into the student file's metadata).

    Attributes:
        hidden, depth: The student's hidden width and layers (docs/planner_speed.md: chosen
            by measured step time).
        held_steps: Teacher steps one student call covers (the robot's ``action_repeat``,
            or 1).
        steps: Optimiser steps; batch: rollouts per step; horizon: planned actions per
            rollout (the planner's horizon).
        lr: AdamW learning rate (cosine decay to 5 % of it); weight_decay: AdamW's.
        gaussian_fraction: Share of each batch drawn Gaussian around a random mean (a CEM
            iteration's samples); the rest uniform in the box (the first iteration's).
        gaussian_std: Std of those samples as a fraction of the box's width.
        held_out: Share of the start latents kept for :func:`rollout_errors`.
        eval_samples: Held-out rollouts (start latent and action sequence) measured.
        seed: Seeds the split, the samples and the student's initialisation.
    """

    hidden: int = 128
    depth: int = 2
    held_steps: int = 1
    steps: int = 3000
    batch: int = 256
    horizon: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-5
    gaussian_fraction: float = 0.5
    gaussian_std: float = 0.15
    held_out: float = 0.2
    eval_samples: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        """Raise ValueError naming the first unusable value."""
        check_shape(1, 1, self.hidden, self.depth, self.held_steps)
        for name in ('steps', 'batch', 'horizon', 'eval_samples'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be an int >= 1, got {value!r}')
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f'lr must be finite and > 0, got {self.lr!r}')
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f'weight_decay must be finite and >= 0, got {self.weight_decay!r}')
        for name in ('gaussian_fraction', 'held_out'):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f'{name} must be in [0, 1), got {getattr(self, name)!r}')
        if not (math.isfinite(self.gaussian_std) and self.gaussian_std > 0):
            raise ValueError(f'gaussian_std must be finite and > 0, got {self.gaussian_std!r}')


def sample_actions(n: int, horizon: int, low: Tensor, high: Tensor, gaussian_fraction: float,
                   gaussian_std: float, gen: torch.Generator) -> Tensor:
    """``[n, horizon, A]`` action sequences in the box ``[low, high]`` ``[A]``: the first
    ``n x gaussian_fraction`` Gaussian around a uniform random mean sequence with std
    ``gaussian_std x (high - low)`` (clipped), the rest uniform."""
    width = high - low
    shape = (n, horizon, low.numel())
    a = low + width * torch.rand(shape, generator=gen)
    m = int(n * gaussian_fraction)
    if m:
        mean = low + width * torch.rand((m, horizon, low.numel()), generator=gen)
        noise = torch.randn((m, horizon, low.numel()), generator=gen)
        a[:m] = torch.clamp(mean + gaussian_std * width * noise, low, high)
    return a


@torch.no_grad()
def teacher_rollout(step: RolloutStep, z: Tensor, a: Tensor, held_steps: int) -> Tensor:
    """The teacher's ensemble-mean rollout from ``z [B, Z]`` under ``a [B, H, A]``, each
    action held ``held_steps`` steps: the latent after each action, ``[B, H, Z]``."""
    out = []
    for t in range(a.shape[1]):
        for _ in range(held_steps):
            z = step(z, a[:, t])
        out.append(z)
    return torch.stack(out, dim=1)


def _student_rollout(student: nn.Module, z: Tensor, a: Tensor) -> Tensor:
    """The student's own rollout (its predictions fed back): ``[B, H, Z]``."""
    out = []
    for t in range(a.shape[1]):
        z = student(z, a[:, t])
        out.append(z)
    return torch.stack(out, dim=1)


@torch.no_grad()
def _member_rollouts(teacher: nn.Module, z: Tensor, a: Tensor, held_steps: int) -> Tensor:
    """Each teacher member rolled out on its own: ``[E, B, H, Z]``."""
    e = len(teacher.dynamics.members)
    zs = z.unsqueeze(0).expand(e, -1, -1)
    out = []
    for t in range(a.shape[1]):
        a_norm = (a[:, t] - teacher.action_mean) / teacher.action_std
        for _ in range(held_steps):
            zs = teacher.dynamics.step_members(zs, a_norm)
        out.append(zs)
    return torch.stack(out, dim=2)


def _rms(x: Tensor) -> float:
    return float(x.pow(2).sum(-1).mean().sqrt())


@torch.no_grad()
def rollout_errors(student: nn.Module, teacher: nn.Module, z: Tensor, a: Tensor,
                   held_steps: int) -> Dict[str, float]:
    """Held-out errors of ``student`` against ``teacher`` from ``z [B, Z]`` under
    ``a [B, H, A]`` (RMS over samples of the latent's L2 error):

    * ``one_step_rms``, ``horizon_rms``: after one call and after ``H`` calls;
    * ``..._vs_increment``: those over the RMS of the teacher's own motion (one call's
      increment; the displacement ``z_H - z_0``);
    * ``..._vs_member_spread``: over the RMS spread of the teacher's members (each rolled
      out alone) around their mean at the same point: below 1, the student is closer to the
      teacher's mean than the teacher's members are to each other.
    """
    step = RolloutStep(teacher)
    target = teacher_rollout(step, z, a, held_steps)
    pred = _student_rollout(student, z, a)
    members = _member_rollouts(teacher, z, a, held_steps)
    spread = members - members.mean(0, keepdim=True)
    out: Dict[str, float] = {}
    for name, t, motion in (('one_step', 0, target[:, 0] - z),
                            ('horizon', -1, target[:, -1] - z)):
        err = _rms(pred[:, t] - target[:, t])
        member_spread = float(spread[:, :, t].pow(2).sum(-1).mean().sqrt())
        out[f'{name}_rms'] = err
        out[f'{name}_vs_increment'] = err / max(_rms(motion), 1e-12)
        out[f'{name}_vs_member_spread'] = err / max(member_spread, 1e-12)
    out['horizon_steps'] = int(a.shape[1])
    return out


def _split(starts: Tensor, held_out: float, gen: torch.Generator) -> Tuple[Tensor, Tensor]:
    order = torch.randperm(starts.shape[0], generator=gen)
    n_val = max(1, int(round(starts.shape[0] * held_out))) if held_out > 0 else 0
    return starts[order[n_val:]], starts[order[:n_val]]


def distil_rollout(teacher: nn.Module, starts: Tensor, low: Tensor, high: Tensor,
                   config: DistillConfig = DistillConfig()
                   ) -> Tuple[RolloutStudent, Dict[str, Any]]:
    """Train a student of ``teacher`` (a :class:`~..model.world_model.WorldModel`).

    Args:
        starts: ``[N, Z]`` start latents (N >= 2 when ``held_out`` > 0).
        low, high: ``[A]`` the action box the planner searches.
        config: The settings.

    Returns:
        The student (eval mode) and the report: the resolved settings, the held-out errors
        of the untrained student (the identity) and of the trained one, the final training
        loss and the wall time.

    Raises:
        ValueError: shapes that do not fit the teacher, an empty or inverted box, too few
            start latents.
    """
    z_dim, a_dim = teacher.cfg.latent_dim, teacher.cfg.action_dim
    if starts.ndim != 2 or starts.shape[1] != z_dim:
        raise ValueError(f'starts must be [N, {z_dim}], got {tuple(starts.shape)}')
    if low.shape != (a_dim,) or high.shape != (a_dim,) or not bool((high > low).all()):
        raise ValueError(f'the action box must be two [{a_dim}] vectors with high > low, got '
                         f'{low.tolist()} .. {high.tolist()}')
    if starts.shape[0] < 2:
        raise ValueError(f'need at least 2 start latents, got {starts.shape[0]}')
    started = time.perf_counter()
    teacher = teacher.eval().float()
    starts, low, high = starts.detach().float(), low.float(), high.float()
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    train, val = _split(starts, config.held_out, gen)
    val = val if val.shape[0] else train
    val_gen = torch.Generator().manual_seed(config.seed + 1)
    val_z = val[torch.randint(val.shape[0], (config.eval_samples,), generator=val_gen)]
    val_a = sample_actions(config.eval_samples, config.horizon, low, high,
                           config.gaussian_fraction, config.gaussian_std, val_gen)
    student = RolloutStudent.for_teacher(teacher, config.hidden, config.depth,
                                         config.held_steps)
    before = rollout_errors(student, teacher, val_z, val_a, config.held_steps)
    step = RolloutStep(teacher)
    with torch.no_grad():   # the loss scale: the teacher's mean squared increment per call
        probe = teacher_rollout(step, val_z, val_a[:, :1], config.held_steps)
        scale = float((probe[:, 0] - val_z).pow(2).sum(-1).mean()) + 1e-12
    opt = torch.optim.AdamW(student.parameters(), lr=config.lr,
                            weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.05 + 0.95 * 0.5 * (
        1 + math.cos(math.pi * min(i, config.steps) / config.steps)))
    student.train()
    loss_value = float('nan')
    for i in range(config.steps):
        z0 = train[torch.randint(train.shape[0], (config.batch,), generator=gen)]
        a = sample_actions(config.batch, config.horizon, low, high, config.gaussian_fraction,
                           config.gaussian_std, gen)
        target = teacher_rollout(step, z0, a, config.held_steps)
        loss = (_student_rollout(student, z0, a) - target).pow(2).sum(-1).mean() / scale
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        sched.step()
        loss_value = float(loss.detach())
        if (i + 1) % max(1, config.steps // 10) == 0:   # minutes on 2 cores: show progress
            _LOG.info('distillation step %d/%d: loss %.4f (vs the increment)', i + 1,
                      config.steps, loss_value)
    student.eval()
    after = rollout_errors(student, teacher, val_z, val_a, config.held_steps)
    report = {'settings': asdict(config), 'start_latents': int(starts.shape[0]),
              'train_starts': int(train.shape[0]), 'held_out_starts': int(val.shape[0]),
              'action_low': low.tolist(), 'action_high': high.tolist(),
              'final_train_loss_vs_increment': loss_value,
              'held_out_untrained': before, 'held_out': after,
              'seconds': round(time.perf_counter() - started, 1)}
    return student, report
