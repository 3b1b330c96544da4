"""The synthetic mode: :meth:`LatentPlanner.plan` with a residual-MLP stand-in for the
dynamics (``z_next = z + MLP([z, a])``) and an L1 latent goal, no encoder, no real
objective, no limits. Kept for contrast with the real planner: what the search alone costs.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

import torch
from torch import nn

from jepa_world_model.core.planning.objectives import latent_goal_objective
from jepa_world_model.core.planning.planner import ActionBounds, LatentPlanner, PlannerConfig

from .grid import summarise_ms

__all__ = ['ResidualMLPStep', 'run_synthetic']


class ResidualMLPStep(nn.Module):
    """Dynamics stand-in: ``z_next = z + MLP(concat(z, a))``."""

    def __init__(self, latent_dim: int, action_dim: int, hidden: int, layers: int) -> None:
        super().__init__()
        dims = [latent_dim + action_dim] + [hidden] * layers
        blocks: List[nn.Module] = []
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            blocks += [nn.Linear(d_in, d_out), nn.GELU()]
        blocks.append(nn.Linear(dims[-1], latent_dim))
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Predict ``z_next [B, Z]`` from ``z [B, Z]`` and ``a [B, A]``."""
        return z + self.net(torch.cat([z, a], dim=-1))


def run_synthetic(args: Any) -> Dict[str, Any]:
    """Every (samples, threads, method) of ``args``; median / p99 per plan."""
    torch.manual_seed(0)
    step = ResidualMLPStep(args.latent_dim, args.action_dim, args.hidden, args.layers).eval()
    for p in step.parameters():
        p.requires_grad_(False)
    z0, z_goal = torch.randn(args.latent_dim), torch.randn(args.latent_dim)
    bounds = ActionBounds([-1.0] * args.action_dim, [1.0] * args.action_dim)
    objective = latent_goal_objective(z_goal, p=1)
    previous = torch.get_num_threads()
    results = []
    try:
        for threads in args.threads:
            torch.set_num_threads(threads)
            for samples in args.samples:
                for method in args.methods:
                    config = PlannerConfig(method=method, horizon=args.horizon,
                                           num_samples=samples,
                                           num_iterations=args.iterations,
                                           num_elites=max(1, samples // 8),
                                           trust_region_l1=args.trust_region_l1, seed=0)
                    planner = LatentPlanner(config, args.action_dim, bounds)
                    times = []
                    for i in range(args.warmup + args.repeats):
                        start = time.perf_counter()
                        planner.plan(z0, step, objective)
                        if i >= args.warmup:
                            times.append(time.perf_counter() - start)
                    results.append({'method': method, 'samples': samples, 'threads': threads,
                                    **summarise_ms(times)})
    finally:
        torch.set_num_threads(previous)
    return {'mode': 'synthetic', 'latent_dim': args.latent_dim,
            'action_dim': args.action_dim, 'hidden': args.hidden, 'layers': args.layers,
            'horizon': args.horizon, 'iterations': args.iterations,
            'trust_region_l1': args.trust_region_l1, 'results': results}
