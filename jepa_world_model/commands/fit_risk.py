"""``jepa-world-model fit-risk``: replace a checkpoint's risk read-out by an MLP trained on
predicted latents; the work is :func:`jepa_world_model.risk_refit.refit_risk_head`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from ..risk_refit import refit_risk_head

__all__ = ['add_parser', 'run']


def run(args: argparse.Namespace) -> int:
    """Fit the rollout risk head; write ``--out`` and ``<out>.report.json``, print the report."""
    torch.set_num_threads(args.threads)
    report = refit_risk_head(args.checkpoint, args.bag, args.validation_bag, args.out,
                             hidden=args.hidden, horizon=args.horizon, epochs=args.epochs,
                             seed=args.seed)
    print(json.dumps(report, indent=2))
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``fit-risk`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('fit-risk', help='replace a checkpoint\'s risk read-out by an MLP '
                       'trained on predicted latents (core/model/risk_head.py)')
    p.add_argument('--checkpoint', type=Path, required=True)
    p.add_argument('--bag', nargs='+', required=True, metavar='DIR', help='training bags')
    p.add_argument('--validation-bag', nargs='+', metavar='DIR', help='held-out bags (AUC)')
    p.add_argument('--out', type=Path, required=True, help='new checkpoint (.safetensors)')
    p.add_argument('--hidden', type=int, default=64, help='MLP width (> 0)')
    p.add_argument('--horizon', type=int, default=8, help='longest rollout, in model steps')
    p.add_argument('--epochs', type=int, default=30)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1)
    p.set_defaults(func=run)
    return p
