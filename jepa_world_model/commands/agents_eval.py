"""``jepa-world-model agents-eval``: train the agent predictor on simulated episodes and
evaluate it against constant velocity and no-change on held-out ones
(:mod:`jepa_world_model.experiments.agent_prediction`; docs/agents.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import shlex
import sys
from typing import Any

__all__ = ['add_parser', 'run']


def run(args: argparse.Namespace) -> int:
    """Build, train, evaluate; write ``--out``, the figure and ``--model-out``."""
    import torch
    from ..core.agents.training import FitSettings
    from ..experiments import agent_prediction
    torch.set_num_threads(args.threads)
    if not 0 < args.episodes_scale <= 1 or args.train_stride < 1 or args.members < 1:
        sys.stderr.write('jepa-world-model agents-eval: error: --episodes-scale must be in '
                         '(0, 1], --train-stride and --members >= 1\n')
        return 2
    splits = {name: list(seeds)[:max(1, int(len(seeds) * args.episodes_scale))]
              for name, seeds in agent_prediction.SPLITS.items()}
    fit = FitSettings(members=args.members, epochs=args.epochs, seed=args.seed)
    # Every option spelled out, so the recorded command reruns the same evaluation.
    command = ('jepa-world-model agents-eval ' + ' '.join(shlex.quote(str(v)) for v in (
        '--out', args.out, '--model-out', args.model_out, '--cache', args.cache, '--steps',
        args.steps, '--episodes-scale', args.episodes_scale, '--members', args.members,
        '--epochs', args.epochs, '--train-stride', args.train_stride, '--seed', args.seed,
        '--threads', args.threads)))
    report = agent_prediction.run(
        args.out, args.model_out, args.cache, args.steps, fit, command=command,
        train_stride=args.train_stride, splits=splits,
        progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps({k: report[k] for k in ('counts', 'tracking_test', 'coverage')},
                     indent=1))
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``agents-eval`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('agents-eval', help='train and evaluate the agent (people) predictor '
                       'on simulated episodes (docs/agents.md)')
    p.add_argument('--out', type=Path, default=Path('docs/results/agent_prediction.json'))
    p.add_argument('--model-out', type=Path,
                   default=Path('models/mobile_base_agents.safetensors'))
    p.add_argument('--cache', type=Path, default=Path('outputs/agents/cache'),
                   help='per-episode sample cache (reused across runs)')
    p.add_argument('--steps', type=int, default=600, help='control periods per episode')
    p.add_argument('--episodes-scale', type=float, default=1.0,
                   help='share of each split\'s seeds to use (a quick run: 0.1)')
    p.add_argument('--members', type=int, default=5, help='ensemble size')
    p.add_argument('--epochs', type=int, default=40)
    p.add_argument('--train-stride', type=int, default=3,
                   help='train on every n-th 0.1 s step (neighbours are near copies)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1)
    p.set_defaults(func=run)
    return p
