"""``jepa-world-model fit-risk``: give a trained checkpoint a rollout-trained risk head.

The encoder and dynamics of ``--checkpoint`` are kept; the risk read-out is replaced by an MLP
of ``--hidden`` units trained on predicted latents (``core/risk_head.py``). Training the
whole model again is not needed, which takes minutes instead of the ~10 of a full run. The
bags are read with the checkpoint's own ``data.bag`` settings (topics, flag topics); the
result is a new checkpoint (weights, config with ``model.risk_hidden_dim``, step) and a
JSON report beside it.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
from pathlib import Path
import sys
from typing import Any

import torch

from .core.atomic_files import atomic_write_text
from .core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .core.config import ConfigError
from .core.risk_head import fit_risk_head
from .core.world_model import WorldModel

__all__ = ['add_parser', 'cmd_fit_risk']


def cmd_fit_risk(args: argparse.Namespace) -> int:
    """Fit the rollout risk head; write ``--out`` and ``<out>.report.json``."""
    from .cli import apply_bag_args, load_episodes   # imported late: cli imports this module
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    loaded = load_checkpoint(args.checkpoint)
    cfg = loaded.config
    if not cfg.model.risk_labels:
        raise ConfigError(f'{args.checkpoint} has no model.risk_labels: nothing to fit')
    cfg.model = dataclasses.replace(cfg.model, risk_hidden_dim=args.hidden)
    model = WorldModel(cfg.model)
    state = {k: v for k, v in loaded.model.state_dict().items()
             if not k.startswith('risk_probe.')}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith('risk_probe.') for k in missing):
        raise CheckpointError(f'{args.checkpoint} does not fit: missing {missing}, '
                              f'unexpected {unexpected}')
    model.eval()

    def episodes(paths: Any):
        """The config reading ``paths`` with the checkpoint's topics (a copy per call, so
        the checkpoint records the training bags), and their episodes."""
        read_cfg = copy.deepcopy(cfg)
        apply_bag_args(read_cfg, argparse.Namespace(
            bag=paths, image_topic=None, joint_state_topic=None, action_source=None,
            action_topic=None, action_fields=None, frame_rate=None))
        return read_cfg, load_episodes(read_cfg)[0]

    train_cfg, train = episodes(args.bag)
    validation = episodes(args.validation_bag)[1] if args.validation_bag else []
    report = fit_risk_head(model, train, validation, horizon=args.horizon, epochs=args.epochs,
                           seed=args.seed)
    out = Path(args.out)
    save_checkpoint(out, model, train_cfg, loaded.step)
    report = {'checkpoint': str(out), 'source': str(args.checkpoint), 'hidden': args.hidden,
              'horizon': args.horizon, 'epochs': args.epochs, **report}
    atomic_write_text(out.with_suffix('.report.json'), json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``fit-risk`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('fit-risk', help='replace a checkpoint\'s risk read-out by an MLP '
                       'trained on predicted latents (core/risk_head.py)')
    p.add_argument('--checkpoint', type=Path, required=True)
    p.add_argument('--bag', nargs='+', required=True, metavar='DIR', help='training bags')
    p.add_argument('--validation-bag', nargs='+', metavar='DIR', help='held-out bags (AUC)')
    p.add_argument('--out', type=Path, required=True, help='new checkpoint (.safetensors)')
    p.add_argument('--hidden', type=int, default=64, help='MLP width (> 0)')
    p.add_argument('--horizon', type=int, default=8, help='longest rollout, in model steps')
    p.add_argument('--epochs', type=int, default=30)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1)
    p.set_defaults(func=cmd_fit_risk)
    return p


if __name__ == '__main__':
    sys.exit('use: jepa-world-model fit-risk ...')
