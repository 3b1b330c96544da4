"""Export a world model's deployable graphs to ONNX: encoder, target encoder, dynamics
ensemble step and read-outs (graphs.py), plus ``manifest.json`` (manifest.py) and an int8
dynamics graph (quantize.py) when onnxruntime is installed.

Exporter: ``torch.onnx.export(..., dynamo=False)``, the TorchScript-based exporter. In torch
2.13 the default (``dynamo=True``) needs the ``onnxscript`` package, a further dependency,
while the TorchScript exporter ships with torch and exports every module here (scaled dot
product attention, LayerNorm, GELU) at opset 17 with a dynamic batch dimension; the parity
test (test/test_onnx_export.py) checks its graphs against torch.

Opset 17: the first with a LayerNormalization operator (one node instead of a dozen), read
by onnxruntime >= 1.13 and TensorRT >= 8.6 (JetPack 6), the documented next step
(docs/deployment.md).

Graphs are written to a temporary directory beside the destination and renamed into place,
so a reader (a node exporting to a cache at configure) never sees half an export.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
import secrets
import shutil
from typing import Any, Dict, Optional
import warnings

import torch
from torch import nn

from .graphs import example_inputs, graph_modules
from .manifest import MANIFEST_FORMAT, MANIFEST_NAME, model_fingerprint, write_manifest

__all__ = ['OPSET', 'export_onnx', 'INT8_DYNAMICS']

OPSET = 17
#: File name of the int8 dynamics graph (quantize.py), listed in the manifest when written.
INT8_DYNAMICS = 'dynamics_int8'


def _shapes(names, tensors, dynamic_batch: Dict[str, int]) -> Dict[str, list]:
    """``{name: shape}`` with the dynamic axis written as ``'batch'``."""
    out = {}
    for name, tensor in zip(names, tensors):
        shape: list = list(tensor.shape)
        shape[dynamic_batch[name]] = 'batch'
        out[name] = shape
    return out


def _export_graph(module: nn.Module, name: str, model: nn.Module, path: Path,
                  opset: int) -> Dict[str, Any]:
    """Write one graph to ``path``; its manifest entry (file, inputs, outputs)."""
    inputs = example_inputs(model, name)
    with torch.no_grad():
        outputs = module(*inputs)
    # The batch is axis 0 everywhere except the members output [E, B, Z].
    axes = {n: 0 for n in module.input_names + module.output_names}
    if 'members' in axes:
        axes['members'] = 1
    with warnings.catch_warnings():
        # The TorchScript exporter warns that it is deprecated and that traced shapes are
        # constants; the batch axis is declared dynamic and the parity test runs two batches.
        warnings.simplefilter('ignore')
        torch.onnx.export(module, inputs, str(path), input_names=module.input_names,
                          output_names=module.output_names, opset_version=opset,
                          dynamic_axes={n: {axis: 'batch'} for n, axis in axes.items()},
                          do_constant_folding=True, dynamo=False)
    return {'file': path.name,
            'inputs': _shapes(module.input_names, inputs, axes),
            'outputs': _shapes(module.output_names, outputs, axes)}


def export_onnx(model: nn.Module, directory: str | Path, step: int = 0,
                checkpoint: str = '', opset: int = OPSET, int8: bool = True
                ) -> Dict[str, Any]:
    """Write the model's ONNX graphs and ``manifest.json`` to ``directory``.

    Args:
        model: A :class:`~..model.world_model.WorldModel` (any device/dtype: a float32 CPU
            copy is exported).
        directory: Where to write: created, or replaced when it holds an earlier export
            (any other non-empty directory is refused).
        step: The checkpoint's training step (for the manifest).
        checkpoint: Where the model came from (for the manifest and error messages).
        opset: ONNX opset.
        int8: Also write the dynamically quantised dynamics graph (needs onnxruntime; it is
            skipped, and the manifest says so, when onnxruntime is not installed).

    Returns:
        The manifest written.

    Raises:
        OSError: The directory cannot be written, or holds other files.
        RuntimeError: torch cannot export a module.
    """
    directory = Path(directory)
    if directory.is_dir() and any(directory.iterdir()) \
            and not (directory / MANIFEST_NAME).is_file():
        # Replacing it would delete the user's other files.
        raise OSError(f'{directory} is not empty and holds no ONNX export: choose an empty '
                      'or new directory')
    fingerprint = model_fingerprint(model)
    model = copy.deepcopy(model).to(device='cpu', dtype=torch.float32).eval()
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f'.{directory.name}.{secrets.token_hex(4)}.tmp'
    tmp.mkdir()
    try:
        graphs = {name: _export_graph(module, name, model, tmp / f'{name}.onnx', opset)
                  for name, module in graph_modules(model).items()}
        int8_note: Optional[str] = None
        if int8:
            int8_note = _quantized_dynamics(tmp, graphs)
        cfg = model.cfg
        manifest = {
            'format': MANIFEST_FORMAT, 'opset': opset, 'step': int(step),
            'checkpoint': str(checkpoint), 'exporter': f'torch.onnx (TorchScript) '
            f'torch {torch.__version__}', 'fingerprint': fingerprint, 'graphs': graphs,
            'model': {'latent_dim': cfg.latent_dim, 'state_dim': cfg.state_dim,
                      'action_dim': cfg.action_dim, 'image_size': cfg.image_size,
                      'ensemble_size': cfg.dynamics_ensemble_size,
                      'joint_names': list(cfg.joint_names),
                      'risk_labels': list(cfg.risk_labels)},
        }
        if int8_note:
            manifest['int8_skipped'] = int8_note
        write_manifest(tmp, manifest)
        _replace_directory(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _quantized_dynamics(directory: Path, graphs: Dict[str, Any]) -> Optional[str]:
    """Add the int8 dynamics graph to ``graphs``; why it was skipped, or None."""
    try:
        from .quantize import quantize_dynamics
    except ImportError as exc:
        return f'onnxruntime is not installed ({exc})'
    path = quantize_dynamics(directory / graphs['dynamics']['file'],
                             directory / f'{INT8_DYNAMICS}.onnx')
    graphs[INT8_DYNAMICS] = dict(graphs['dynamics'], file=path.name)
    return None


def _replace_directory(new: Path, directory: Path) -> None:
    """Move the finished export ``new`` to ``directory``, replacing an older export there."""
    if directory.exists():
        old = directory.parent / f'.{directory.name}.{secrets.token_hex(4)}.old'
        os.replace(directory, old)
        os.replace(new, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, directory)
