"""Latency of one :meth:`LatentPlanner.plan` call with an MLP dynamics model on CPU.

The step function is a residual MLP predictor shaped like the world model's dynamics
(``z_next = z + MLP([z, a])``, two hidden layers). Prints one JSON object with the median and
90th-percentile wall time per plan for every (method, threads) pair. Target: <= 50 ms per plan
for CEM with 256 samples x horizon 8 x 3 iterations on 2 threads.

Example:
    python benchmarks/bench_planner.py --threads 2 1
"""

import argparse
import json
import os
import statistics
import sys
import time
from typing import Dict, List

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from jepa_world_model.core.planning.objectives import latent_goal_objective  # noqa: E402
from jepa_world_model.core.planning.planner import (  # noqa: E402
    ActionBounds, LatentPlanner, PlannerConfig)


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


def time_plans(planner: LatentPlanner, step: ResidualMLPStep, z0: torch.Tensor,
               z_goal: torch.Tensor, warmup: int, repeats: int) -> Dict[str, float]:
    """Plan ``warmup + repeats`` times (warm-started) and summarise the timed ones in ms."""
    objective = latent_goal_objective(z_goal, p=1)
    times = []
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        res = planner.plan(z0, step, objective)
        elapsed = time.perf_counter() - t0
        if i >= warmup:
            times.append(elapsed * 1e3)
    times.sort()
    return {'median_ms': round(statistics.median(times), 3),
            'p90_ms': round(times[min(len(times) - 1, int(0.9 * len(times)))], 3),
            'min_ms': round(times[0], 3), 'final_cost': round(res.cost, 4)}


def main() -> None:
    """Parse arguments, run the benchmark grid and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--latent-dim', type=int, default=128)
    parser.add_argument('--action-dim', type=int, default=4)
    parser.add_argument('--hidden', type=int, default=256)
    parser.add_argument('--layers', type=int, default=2)
    parser.add_argument('--samples', type=int, default=256)
    parser.add_argument('--elites', type=int, default=32)
    parser.add_argument('--horizon', type=int, default=8)
    parser.add_argument('--iterations', type=int, default=3)
    parser.add_argument('--threads', type=int, nargs='+', default=[2, 1])
    parser.add_argument('--methods', nargs='+', default=['cem', 'mppi'],
                        choices=['cem', 'mppi'])
    parser.add_argument('--trust-region-l1', type=float, default=None)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=50)
    args = parser.parse_args()

    torch.manual_seed(0)
    step = ResidualMLPStep(args.latent_dim, args.action_dim, args.hidden, args.layers).eval()
    for p in step.parameters():
        p.requires_grad_(False)
    z0 = torch.randn(args.latent_dim)
    z_goal = torch.randn(args.latent_dim)
    bounds = ActionBounds([-1.0] * args.action_dim, [1.0] * args.action_dim)

    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for method in args.methods:
            cfg = PlannerConfig(method=method, horizon=args.horizon, num_samples=args.samples,
                                num_iterations=args.iterations,
                                num_elites=min(args.elites, args.samples),
                                trust_region_l1=args.trust_region_l1, seed=0)
            planner = LatentPlanner(cfg, args.action_dim, bounds)
            stats = time_plans(planner, step, z0, z_goal, args.warmup, args.repeats)
            results.append({'method': method, 'threads': threads, **stats})

    print(json.dumps({
        'benchmark': 'latent_planner_plan', 'torch': torch.__version__, 'device': 'cpu',
        'latent_dim': args.latent_dim, 'action_dim': args.action_dim, 'hidden': args.hidden,
        'layers': args.layers, 'samples': args.samples, 'horizon': args.horizon,
        'iterations': args.iterations, 'trust_region_l1': args.trust_region_l1,
        'repeats': args.repeats, 'target_ms': 50.0, 'results': results}, indent=2))


if __name__ == '__main__':
    main()
