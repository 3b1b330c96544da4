"""``jepa-world-model info``: print a checkpoint's config, step and parameter counts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..core.checkpoint import describe, load_checkpoint

__all__ = ['add_parser', 'run']


def run(args: argparse.Namespace) -> int:
    """Print ``describe(checkpoint)`` with the model's parameter counts, as JSON."""
    info = describe(args.checkpoint)
    loaded = load_checkpoint(args.checkpoint)
    info['parameters'] = loaded.model.parameter_counts()
    print(json.dumps(info, indent=2))
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``info`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('info', help='print a checkpoint\'s config, step and sizes')
    p.add_argument('--checkpoint', required=True, type=Path)
    p.set_defaults(func=run)
    return p
