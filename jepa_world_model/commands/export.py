"""``jepa-world-model export``: a training checkpoint without its optimizer state, the file
a robot ships (``core.checkpoint.export_model``; docs/models.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.checkpoint import export_model

__all__ = ['add_parser', 'run']


def run(args: argparse.Namespace) -> int:
    """Write ``args.out`` from ``args.checkpoint``; CheckpointError/OSError go to the CLI."""
    if args.out.resolve() == args.checkpoint.resolve():
        raise OSError(f'--out must differ from --checkpoint ({args.out}): exporting '
                      'overwrites the only copy of the training state')
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out = export_model(args.checkpoint, args.out)
    print(f'wrote {out} (from {args.checkpoint}, without its optimizer state)')
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``export`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('export', help='copy a training checkpoint without its optimizer '
                       'state, for shipping (docs/models.md)')
    p.add_argument('--checkpoint', required=True, type=Path,
                   help='training checkpoint, e.g. runs/arm_tiny/checkpoint.safetensors')
    p.add_argument('--out', required=True, type=Path,
                   help='file to write, e.g. models/arm_tiny.safetensors')
    p.set_defaults(func=run)
    return p
