"""What a plan of :class:`~jepa_world_model.core.planning.planner.LatentPlanner` costs on a model.

A plan makes ``num_iterations x horizon x action_repeat`` batched model calls over
``num_samples`` sequences. :func:`measure_rollout_cost` times the model's batched step at two
batch sizes and fits ``seconds per call = fixed + per_sample * batch``; :meth:`RolloutCost.
sample_seconds` turns that into the time the samples of a plan need at least. A planner
configuration whose samples alone need more than the plan budget cannot fit it, whatever the
timing noise: the planner node rejects it (``max_plan_time``). The fixed per-call part is left
out of that bound on purpose: it is what a loaded machine inflates most, and a plan that
overruns anyway is cut at its deadline.

Pure PyTorch: it never imports ROS.
"""

from dataclasses import dataclass
import time
from typing import Any, Callable, Optional

import torch

from ..model.rollout_student import held_steps_of
from ..runtime.planning_step import planning_step
from .planner import PlannerConfig

__all__ = ['RolloutCost', 'measure_rollout_cost', 'rollout_cost']

StepFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class RolloutCost:
    """Seconds of one batched model call: ``fixed + per_sample * batch``.

    Attributes:
        fixed: Seconds per call, whatever the batch (>= 0).
        per_sample: Seconds per sample of a call (>= 0).
        held_steps: Model steps one call covers (a held-action rollout student's
            ``held_steps``, core/model/rollout_student.py; else 1).
    """

    fixed: float
    per_sample: float
    held_steps: int = 1

    def model_steps(self, config: PlannerConfig) -> int:
        """Batched model calls over all samples in one plan (iterations x horizon x
        repeat / held_steps, rounded up)."""
        calls = -(-config.action_repeat // self.held_steps)
        return config.num_iterations * config.horizon * calls

    def sample_seconds(self, config: PlannerConfig) -> float:
        """Seconds the sampled sequences of one plan need at least: ``per_sample x
        num_samples x`` :meth:`model_steps`. A lower bound (no fixed cost, no objective)."""
        return self.per_sample * config.num_samples * self.model_steps(config)


def _time_call(step: StepFn, z: torch.Tensor, a: torch.Tensor, repeats: int) -> float:
    """Fastest of ``repeats`` calls ``step(z, a)`` in seconds (the first call is not timed:
    it may initialise kernels)."""
    cuda = z.device.type == 'cuda'
    step(z, a)
    best = float('inf')
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize(z.device)
        start = time.perf_counter()
        step(z, a)
        if cuda:
            torch.cuda.synchronize(z.device)
        best = min(best, time.perf_counter() - start)
    return best


@torch.no_grad()
def measure_rollout_cost(step: StepFn, z: torch.Tensor, action_dim: int, batch: int = 1024,
                         repeats: int = 3) -> RolloutCost:
    """Time ``step`` at batch 1 and ``batch`` from latent ``z`` ``[Z]`` with zero actions.

    Args:
        step: Batched dynamics ``step(z [B, Z], a [B, A]) -> z_next [B, Z]``.
        z: A latent ``[Z]`` on the device and in the dtype plans will use.
        action_dim: ``A``.
        batch: The larger batch (> 1); the fastest of ``repeats`` calls counts.
        repeats: Timed calls per batch size.

    Returns:
        The fitted cost; ``per_sample`` is clamped at 0 (a device with spare parallelism
        runs a larger batch in the same time).

    Raises:
        ValueError: ``batch`` < 2 or ``repeats`` < 1. Errors of ``step`` propagate.
    """
    if batch < 2 or repeats < 1:
        raise ValueError(f'need batch >= 2 and repeats >= 1, got {batch}, {repeats}')
    times = []
    for n in (1, batch):
        zs = z.reshape(1, -1).expand(n, -1)
        a = torch.zeros(n, action_dim, device=z.device, dtype=z.dtype)
        times.append(_time_call(step, zs, a, repeats))
    per_sample = max(0.0, (times[1] - times[0]) / (batch - 1))
    return RolloutCost(fixed=times[0], per_sample=per_sample, held_steps=held_steps_of(step))


def rollout_cost(runtime: Any, rollout_dtype: str = 'float32',
                 rollout_model: str = '', action_repeat: Optional[int] = None,
                 step: Any = None) -> Optional[RolloutCost]:
    """The measured cost of the planner's batched step in ``rollout_dtype`` (the teacher's,
    or the ``rollout_model`` student's; a search that cannot fit ``max_plan_time`` is
    refused before it runs); None when the model cannot run it (the warm-up plan then fails
    with the reason). ``step``: that step, already built (else built here)."""
    z = torch.zeros(runtime.latent_dim, device=runtime.device, dtype=runtime.dtype)
    try:
        if step is None:
            step = planning_step(runtime, rollout_dtype, rollout_model, action_repeat)
        with torch.inference_mode():
            return measure_rollout_cost(step, z, runtime.action_dim)
    except (RuntimeError, ValueError):
        return None
