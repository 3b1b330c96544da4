"""Sampling-based planning in the latent space of a JEPA world model.

The planner optimises an action sequence ``a`` of length ``H`` by rolling a learned latent
dynamics ``step(z, a) -> z_next`` forward for many sampled sequences at once and scoring the
predicted latents with an objective (lower is better). Two refit rules share one rollout:

* CEM (cross-entropy method): refit a diagonal Gaussian to the lowest-cost elites. V-JEPA 2-AC
  (Assran et al. 2025) plans this way and keeps each action inside an L1 ball, which we expose
  as ``trust_region_l1``.
* MPPI (Williams et al. 2017): refit to a softmax(-cost / temperature) weighted average. As in
  TD-MPC2 (Hansen et al. 2024) the weights are taken over the top ``num_elites`` samples, and
  the previous solution warm-starts the next call; PLDM (Sobal et al. 2025) also plans with
  MPPI in a learned latent space.

A plan may be given a deadline (a ``time.perf_counter()`` value): it is checked before every
model step, so a plan returns within about one model step of one sample chunk
(``chunk_size``) past it, with ``cut_short`` set. Without a deadline, or when it is met, the
result is the same as without one.

Tensor names follow the package: ``z`` latent, ``a`` action, ``s`` proprioception. The module
is pure PyTorch: it never imports ROS.
"""

from dataclasses import dataclass, field
import math
import time
from typing import Callable, List, Optional, Union

import torch

from ..model.rollout_student import calls_per_action
# Re-exported: the planner's callers import the action constraints from here.
from .action_constraints import ActionBounds, BoundLike, project_l1_ball  # noqa: F401

StepFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
ObjectiveFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_METHODS = ('cem', 'mppi')


@dataclass
class PlannerConfig:
    """Hyper-parameters of :class:`LatentPlanner`.

    The defaults are planner_node's (config/ros/planner.yaml); test/test_parameter_defaults.py
    keeps them equal.

    Attributes:
        method: 'cem' (elite refit) or 'mppi' (temperature-weighted refit).
        horizon: Planned steps ``H``.
        num_samples: Action sequences sampled per iteration ``N`` (one is the current mean).
        num_iterations: Refit iterations per call of :meth:`LatentPlanner.plan`.
        num_elites: Lowest-cost samples used by the refit (CEM and MPPI).
        init_std: Sampling std at the start of every plan, in action units.
        min_std: Lower clamp on the std so the search never collapses completely.
        temperature: MPPI temperature in cost units; lower is greedier.
        momentum: Fraction of the previous mean/std kept at each refit (0 = no smoothing).
        trust_region_l1: Radius of the per-step L1 ball around the previous action;
            None or 0 disables it.
        seed: Seed of the sampling generator; None draws a non-deterministic seed.
        action_repeat: Control steps each planned action is held for: the plan looks
            ``horizon * action_repeat`` steps ahead for ``horizon`` action choices (the
            objective sees the latent after each planned action). Longer look-ahead at the
            same search size; the warm start shifts by one planned action per call.
        chunk_size: Samples rolled out per batched model call. Bounds the rollout memory and
            how far a plan runs past its deadline; plans of at most this many samples roll
            out in one batch.
    """

    method: str = 'cem'
    horizon: int = 8
    num_samples: int = 64
    num_iterations: int = 3
    num_elites: int = 8
    init_std: float = 0.5
    min_std: float = 0.05
    temperature: float = 0.5
    momentum: float = 0.1
    trust_region_l1: Optional[float] = 0.0
    seed: Optional[int] = 0
    action_repeat: int = 1
    chunk_size: int = 4096

    def __post_init__(self) -> None:
        """Validate the values; raise ValueError with the offending field."""
        if self.method not in _METHODS:
            raise ValueError(f'method must be one of {_METHODS}, got {self.method!r}')
        for name, low in (('horizon', 1), ('num_samples', 2), ('num_iterations', 1),
                          ('num_elites', 1), ('action_repeat', 1), ('chunk_size', 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f'{name} must be an int >= {low}, got {value!r}')
        if self.num_elites > self.num_samples:
            raise ValueError(f'num_elites ({self.num_elites}) must be <= num_samples '
                             f'({self.num_samples})')
        if not (math.isfinite(self.init_std) and self.init_std > 0):
            raise ValueError(f'init_std must be finite and > 0, got {self.init_std!r}')
        if not (math.isfinite(self.min_std) and 0 <= self.min_std <= self.init_std):
            raise ValueError(f'min_std must be in [0, init_std={self.init_std}], '
                             f'got {self.min_std!r}')
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f'temperature must be finite and > 0, got {self.temperature!r}')
        if not 0 <= self.momentum < 1:
            raise ValueError(f'momentum must be in [0, 1), got {self.momentum!r}')
        tr = self.trust_region_l1
        if tr is not None and not (math.isfinite(tr) and tr >= 0):
            raise ValueError(f'trust_region_l1 must be None or finite >= 0, got {tr!r}')
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int) or self.seed < 0):
            raise ValueError(f'seed must be None or an int >= 0, got {self.seed!r}')


def hold_action(step: StepFn, z: torch.Tensor, a: torch.Tensor, steps: int) -> torch.Tensor:
    """The latent ``[Z]`` after holding action ``a`` ``[A]`` for ``steps`` steps from ``z``
    ``[Z]``: where the robot will be when a command planned now takes effect, if the one it
    is executing (``a``) runs on until then. ``steps`` 0 returns ``z``."""
    for _ in range(steps):
        z = step(z[None], a[None])[0]
    return z


@dataclass
class PlanResult:
    """Output of :meth:`LatentPlanner.plan`.

    Attributes:
        actions: Planned sequence ``[H, A]`` (the lower-cost of the final mean and the best
            sample seen).
        first_action: ``actions[0]``, shape ``[A]``; the action to execute now.
        cost: Objective value of ``actions``.
        latents: Predicted latents ``[H, Z]`` along ``actions`` (``latents[t]`` follows
            ``actions[t]``).
        iterations: Refit iterations completed.
        iteration_costs: Lowest sampled cost at each iteration (when cut short, the last
            may come from the part of an iteration scored in time).
        cut_short: The deadline passed before the plan was complete. ``actions`` is then the
            best sequence scored in time (the warm-start mean, cost inf and ``latents``
            ``z0`` repeated, if none was): not a plan to follow.
    """

    actions: torch.Tensor
    first_action: torch.Tensor
    cost: float
    latents: torch.Tensor
    iterations: int
    iteration_costs: List[float] = field(default_factory=list)
    cut_short: bool = False


class _PastDeadline(Exception):
    """The plan's deadline passed inside a rollout (caught by :meth:`LatentPlanner.plan`)."""


def _past(deadline: Optional[float]) -> bool:
    return deadline is not None and time.perf_counter() >= deadline


class LatentPlanner:
    """CEM / MPPI planner over a batched latent dynamics model.

    Args:
        config: Planner hyper-parameters.
        action_dim: Action dimension ``A``.
        bounds: Box constraint on every action; its dimension must equal ``action_dim``.
        device: Device for sampling and rollouts; None follows ``z0`` at plan time.
        dtype: Floating dtype of the actions; None follows ``z0`` at plan time.
    """

    def __init__(self, config: PlannerConfig, action_dim: int, bounds: ActionBounds,
                 device: Optional[Union[str, torch.device]] = None,
                 dtype: Optional[torch.dtype] = None) -> None:
        if action_dim < 1:
            raise ValueError(f'action_dim must be >= 1, got {action_dim}')
        if bounds.dim != action_dim:
            raise ValueError(f'bounds have dimension {bounds.dim}, expected {action_dim}')
        if dtype is not None and not dtype.is_floating_point:
            raise ValueError(f'dtype must be floating point, got {dtype}')
        self.config = config
        self.action_dim = action_dim
        self.bounds = bounds
        self.device = torch.device(device) if device is not None else None
        self.dtype = dtype
        self._gen: Optional[torch.Generator] = None
        self._prev_mean: Optional[torch.Tensor] = None

    def reset(self) -> None:
        """Drop the warm start and re-seed the generator (e.g. at an episode boundary)."""
        self._prev_mean = None
        self._gen = None

    def _generator(self, device: torch.device) -> torch.Generator:
        if self._gen is None or self._gen.device != device:
            self._gen = torch.Generator(device=device)
            if self.config.seed is None:
                self._gen.seed()
            else:
                self._gen.manual_seed(self.config.seed)
        return self._gen

    def _feasible(self, a: torch.Tensor, low: torch.Tensor, high: torch.Tensor,
                  prev: Optional[torch.Tensor]) -> torch.Tensor:
        """Clip ``a [N, H, A]`` to the box and, if enabled, into the per-step L1 ball."""
        a = torch.clamp(a, low, high)
        radius = self.config.trust_region_l1
        if not radius:
            return a
        steps = []
        ref = prev
        for t in range(a.shape[1]):
            a_t = a[:, t]
            if ref is not None:
                # ref and a_t lie in the box and the projection only shrinks each coordinate
                # of a_t - ref, so the result stays in the box; the clamp guards round-off.
                a_t = torch.clamp(ref + project_l1_ball(a_t - ref, radius), low, high)
            steps.append(a_t)
            ref = a_t
        return torch.stack(steps, dim=1)

    def _rollout(self, z0: torch.Tensor, a: torch.Tensor, step: StepFn,
                 deadline: Optional[float] = None) -> torch.Tensor:
        """Roll ``step`` from ``z0 [Z]`` under ``a [N, H, A]``, each action held for
        ``action_repeat`` model steps (``action_repeat / held_steps`` calls of a step that
        holds ``held_steps``, core/model/rollout_student.py); returns the latent after each
        action, ``[N, H, Z]``.
        Raises _PastDeadline before a model step that would start past ``deadline``."""
        n = a.shape[0]
        z = z0.unsqueeze(0).expand(n, -1)
        traj = []
        # A held-action rollout student covers several model steps per call.
        calls = calls_per_action(step, self.config.action_repeat)
        for t in range(a.shape[1]):
            for _ in range(calls):
                if _past(deadline):
                    raise _PastDeadline
                z = step(z, a[:, t])
                if z.ndim != 2 or z.shape[0] != n:
                    raise ValueError(f'step must return [N={n}, Z], got {tuple(z.shape)}')
            traj.append(z)
        return torch.stack(traj, dim=1)

    @staticmethod
    def _evaluate(objective: ObjectiveFn, z_traj: torch.Tensor,
                  a: torch.Tensor) -> torch.Tensor:
        cost = objective(z_traj, a)
        if cost.shape != (a.shape[0],):
            raise ValueError(f'objective must return [N={a.shape[0]}], got '
                             f'{tuple(cost.shape)}')
        # A NaN from a diverging rollout must never win the argmin or poison the refit.
        return torch.nan_to_num(cost, nan=math.inf)

    def _sample_and_score(self, mean: torch.Tensor, std: torch.Tensor, gen: torch.Generator,
                          bounds: tuple, z0: torch.Tensor, step: StepFn,
                          objective: ObjectiveFn, deadline: Optional[float]):
        """Sample ``N`` sequences around ``mean``/``std`` ``[H, A]`` and score them, chunk by
        chunk, until ``deadline``. ``bounds`` is ``(low, high, prev)`` for :meth:`_feasible`.

        Returns:
            The first ``M`` samples ``[M, H, A]`` and their ``cost [M]`` (``M = N`` unless
            the deadline passed first), and ``[C, H, Z]``: the latents of the lowest-cost
            sample of each of the ``C`` scored chunks (None when ``M = 0``).
        """
        n, chunk = self.config.num_samples, self.config.chunk_size
        a = mean.new_empty((n,) + tuple(mean.shape))
        costs, bests = [], []
        for start in range(0, n, chunk):
            if deadline is not None and mean.device.type == 'cuda':
                # Kernels run asynchronously: wait for them so the clock shows real progress.
                torch.cuda.synchronize(mean.device)
            if _past(deadline):
                break
            # Sampling chunk by chunk keeps a late plan from spending its time drawing
            # samples it will never score; one chunk draws what one call always drew.
            eps = torch.randn((min(chunk, n - start),) + tuple(mean.shape), generator=gen,
                              device=mean.device, dtype=mean.dtype)
            part = mean + std * eps
            if start == 0:
                part[0] = mean  # keep the incumbent so the warm start can only help
            part = self._feasible(part, *bounds)
            a[start:start + part.shape[0]] = part
            try:
                z_traj = self._rollout(z0, part, step, deadline)
            except _PastDeadline:
                break
            cost = self._evaluate(objective, z_traj, part)
            costs.append(cost)
            bests.append(z_traj.index_select(0, torch.argmin(cost).view(1)))
        if not costs:
            return a[:0], a.new_empty(0), None
        cost = torch.cat(costs)
        return a[:cost.shape[0]], cost, torch.cat(bests)

    def _refit(self, a: torch.Tensor, cost: torch.Tensor):
        """New (mean, std) ``[H, A]`` from samples ``a [N, H, A]`` and their ``cost [N]``."""
        cfg = self.config
        elite_cost, idx = torch.topk(cost, cfg.num_elites, largest=False)
        elites = a[idx]
        if cfg.method == 'cem':
            w = torch.full_like(elite_cost, 1.0 / cfg.num_elites)
        else:
            # Shift by the minimum so exp() cannot overflow; all-inf costs fall back to uniform.
            logits = -(elite_cost - elite_cost[0]) / cfg.temperature
            logits = torch.nan_to_num(logits, nan=0.0, neginf=-1e30)
            w = torch.softmax(logits, dim=0)
        w = w.view(-1, 1, 1)
        mean = (w * elites).sum(dim=0)
        std = ((w * (elites - mean) ** 2).sum(dim=0)).sqrt()
        return mean, std

    @torch.no_grad()
    def plan(self, z0: torch.Tensor, step: StepFn, objective: ObjectiveFn,
             prev_action: Optional[torch.Tensor] = None,
             deadline: Optional[float] = None) -> PlanResult:
        """Plan an action sequence from latent ``z0``.

        Args:
            z0: Current latent, ``[Z]`` or ``[1, Z]``.
            step: Batched dynamics ``step(z [B, Z], a [B, A]) -> z_next [B, Z]``.
            objective: ``objective(z_traj [N, H, Z], a_traj [N, H, A]) -> cost [N]``, lower
                is better.
            prev_action: Last executed action ``[A]``; the centre of the step-0 trust region.
            deadline: ``time.perf_counter()`` value by which to stop; None: no limit.

        Returns:
            The :class:`PlanResult` (``cut_short`` when the deadline stopped it); its mean
            also warm-starts the next call.
        """
        cfg = self.config
        if z0.ndim == 2 and z0.shape[0] == 1:
            z0 = z0[0]
        if z0.ndim != 1:
            raise ValueError(f'z0 must be [Z] or [1, Z], got {tuple(z0.shape)}')
        device = self.device if self.device is not None else z0.device
        dtype = self.dtype if self.dtype is not None else (
            z0.dtype if z0.dtype.is_floating_point else torch.get_default_dtype())
        z0 = z0.to(device=device)
        gen = self._generator(device)
        low = self.bounds.low.to(device=device, dtype=dtype)
        high = self.bounds.high.to(device=device, dtype=dtype)
        h, n, dim_a = cfg.horizon, cfg.num_samples, self.action_dim
        prev = None
        if prev_action is not None:
            prev = prev_action.to(device=device, dtype=dtype).reshape(dim_a)
            prev = torch.clamp(prev, low, high)

        if self._prev_mean is not None:
            # Warm start (TD-MPC2): shift the last mean by one step, repeat the final action.
            last = self._prev_mean.to(device=device, dtype=dtype)
            mean = torch.cat([last[1:], last[-1:]], dim=0)
        else:
            mean = ((low + high) / 2).expand(h, dim_a).clone()
        # Every refit is a convex combination of feasible sequences, and box and L1-ball
        # constraints are convex, so a feasible start keeps every later mean feasible.
        mean = self._feasible(mean.unsqueeze(0), low, high, prev)[0]
        std = torch.full((h, dim_a), cfg.init_std, device=device, dtype=dtype)

        best_costs, best_actions, best_latents = [], [], []
        done, cut_short = 0, False
        for _ in range(cfg.num_iterations):
            a, cost, chunk_best = self._sample_and_score(mean, std, gen, (low, high, prev), z0,
                                                         step, objective, deadline)
            if cost.numel():
                i_best = torch.argmin(cost).view(1)
                best_costs.append(cost.index_select(0, i_best))
                best_actions.append(a.index_select(0, i_best))
                # The overall argmin is the argmin of its own chunk.
                best_latents.append(chunk_best.index_select(
                    0, torch.div(i_best, cfg.chunk_size, rounding_mode='floor')))
            if cost.numel() < n:
                cut_short = True   # too few samples scored for a sound refit
                break
            new_mean, new_std = self._refit(a, cost)
            mean = cfg.momentum * mean + (1 - cfg.momentum) * new_mean
            std = (cfg.momentum * std + (1 - cfg.momentum) * new_std).clamp_min(cfg.min_std)
            done += 1

        # Guard against round-off pushing the averaged mean a hair outside the constraints.
        mean = self._feasible(mean.unsqueeze(0), low, high, prev)
        self._prev_mean = mean[0]
        iteration_costs = torch.cat(best_costs).tolist() if best_costs else []
        if cut_short:
            if not best_costs:
                return PlanResult(actions=mean[0], first_action=mean[0, 0], cost=math.inf,
                                  latents=z0.expand(h, -1).clone(), iterations=done,
                                  iteration_costs=iteration_costs, cut_short=True)
        else:
            # Rolling out the mean costs H model calls: skipped once the deadline passed.
            z_mean = self._rollout(z0, mean, step)
            best_costs.append(self._evaluate(objective, z_mean, mean))
            best_actions.append(mean)
            best_latents.append(z_mean)

        costs = torch.cat(best_costs)
        actions = torch.cat(best_actions)
        latents = torch.cat(best_latents)
        k = int(torch.argmin(costs).item())
        plan = actions[k]
        return PlanResult(actions=plan, first_action=plan[0], cost=float(costs[k].item()),
                          latents=latents[k], iterations=done,
                          iteration_costs=iteration_costs, cut_short=cut_short)
