"""``jepa-world-model export``: a training checkpoint without its optimizer state, the file
a robot ships (``--out``; ``core.checkpoint.export_model``), and/or the model's ONNX graphs
for onnxruntime, TensorRT and other runtimes (``--onnx DIR``; core/export/,
docs/deployment.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..core.checkpoint import export_model, load_checkpoint

__all__ = ['add_parser', 'run']


def run(args: argparse.Namespace) -> int:
    """Write ``args.out`` and/or ``args.onnx`` from ``args.checkpoint``; CheckpointError,
    OSError and ImportError (onnx/onnxruntime missing) go to the CLI."""
    if args.out is None and args.onnx is None:
        sys.stderr.write('jepa-world-model export: error: give --out FILE (weights without '
                         'optimizer state) and/or --onnx DIR (ONNX graphs)\n')
        return 2
    if args.out is not None:
        if args.out.resolve() == args.checkpoint.resolve():
            raise OSError(f'--out must differ from --checkpoint ({args.out}): exporting '
                          'overwrites the only copy of the training state')
        args.out.parent.mkdir(parents=True, exist_ok=True)
        out = export_model(args.checkpoint, args.out)
        print(f'wrote {out} (from {args.checkpoint}, without its optimizer state)')
    if args.onnx is not None:
        _export_onnx(args)
    return 0


def _export_onnx(args: argparse.Namespace) -> None:
    from ..core.export.onnx_export import export_onnx
    from ..core.export.onnx_sessions import OnnxUnavailableError
    checkpoint = load_checkpoint(args.checkpoint)
    manifest = export_onnx(checkpoint.model, args.onnx, checkpoint.step,
                           str(args.checkpoint), opset=args.opset)
    graphs = ', '.join(sorted(manifest['graphs']))
    print(f'wrote {args.onnx} (opset {manifest["opset"]}: {graphs}; manifest.json)')
    if 'int8_skipped' in manifest:
        print(f'no int8 dynamics graph: {manifest["int8_skipped"]}')
    try:
        from ..core.export.parity import parity_report
        report = parity_report(checkpoint.model, args.onnx)
    except OnnxUnavailableError as exc:
        print(f'parity not checked: {exc}')
        return
    # The largest |onnxruntime - torch| of each output on random inputs at batch 1 and 256.
    print('max abs difference onnxruntime vs torch (batch 1 and 256):')
    print(json.dumps(report, indent=2, sort_keys=True))


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``export`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('export', help='copy a training checkpoint without its optimizer '
                       'state, for shipping, and/or export its ONNX graphs '
                       '(docs/models.md, docs/deployment.md)')
    p.add_argument('--checkpoint', required=True, type=Path,
                   help='training checkpoint, e.g. runs/arm_tiny/checkpoint.safetensors')
    p.add_argument('--out', type=Path,
                   help='file to write, e.g. models/arm_tiny.safetensors')
    p.add_argument('--onnx', type=Path, metavar='DIR',
                   help='directory for the ONNX graphs (encoder, target encoder, dynamics, '
                   'read-outs, int8 dynamics) and manifest.json; needs `pip install .[onnx]`')
    p.add_argument('--opset', type=int, default=17, help='ONNX opset (default 17)')
    p.set_defaults(func=run)
    return p
