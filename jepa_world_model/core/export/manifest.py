"""The manifest of an ONNX export (``manifest.json`` beside the graphs) and the fingerprint
that ties the graphs to the weights they were exported from.

The manifest says, for each graph file: its input and output names and shapes (``'batch'``
for the dynamic batch dimension, ``'members'`` is fixed: the ensemble size), and for the
export as a whole: the opset, the exporter, the model config and a fingerprint of the model.

Fingerprint: sha256 of the model's config JSON (``config_sha256``) and of every tensor of its
state dict in float32, in key order (``weights_sha256``). Graphs are accepted for a loaded
model only when both match (:func:`check_matches`): same architecture with other weights
(a later checkpoint of the same run) is refused, not silently run. Pure Python/torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Dict

import torch
from torch import nn

from ..atomic_files import atomic_write_text

__all__ = ['MANIFEST_NAME', 'MANIFEST_FORMAT', 'ExportMismatchError', 'ExportMissingError',
           'model_fingerprint', 'write_manifest', 'read_manifest', 'check_matches']

MANIFEST_NAME = 'manifest.json'
MANIFEST_FORMAT = 'jepa_world_model.onnx/1'


class ExportMissingError(FileNotFoundError):
    """The directory holds no (readable, complete) ONNX export."""


class ExportMismatchError(ValueError):
    """The exported graphs were made from another model than the one loaded."""


def model_fingerprint(model: nn.Module) -> Dict[str, str]:
    """``{'config_sha256', 'weights_sha256'}`` of a :class:`~..model.world_model.WorldModel`."""
    config = json.dumps(json.loads(json.dumps(dataclasses.asdict(model.cfg))), sort_keys=True)
    weights = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        weights.update(key.encode())
        # float32 whatever the load dtype: the export always runs in float32.
        data = tensor.detach().to(device='cpu', dtype=torch.float32).contiguous()
        weights.update(str(tuple(data.shape)).encode())
        weights.update(data.numpy().tobytes())
    return {'config_sha256': hashlib.sha256(config.encode()).hexdigest(),
            'weights_sha256': weights.hexdigest()}


def write_manifest(directory: Path, manifest: Dict[str, Any]) -> Path:
    """Write ``manifest`` as ``directory/manifest.json`` (atomically)."""
    path = Path(directory) / MANIFEST_NAME
    atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=True) + '\n')
    return path


def read_manifest(directory: str | Path) -> Dict[str, Any]:
    """The manifest of an export directory, its graph files checked to exist.

    Raises:
        ExportMissingError: No manifest, not JSON, another format, or a listed graph file
            is missing.
    """
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise ExportMissingError(f'{directory} holds no ONNX export ({MANIFEST_NAME} missing; '
                                 'write one with `jepa-world-model export --onnx DIR`)') from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ExportMissingError(f'cannot read {path}: {exc}') from None
    if not isinstance(manifest, dict) or manifest.get('format') != MANIFEST_FORMAT:
        found = manifest.get('format') if isinstance(manifest, dict) else type(manifest)
        raise ExportMissingError(f'{path} is not a {MANIFEST_FORMAT} manifest (format '
                                 f'{found!r})')
    for name, graph in manifest.get('graphs', {}).items():
        if not (directory / graph['file']).is_file():
            raise ExportMissingError(f'{directory}: graph {name!r} file {graph["file"]} is '
                                     'missing')
    return manifest


def check_matches(manifest: Dict[str, Any], model: nn.Module, directory: Path) -> None:
    """Raise :class:`ExportMismatchError` unless ``manifest`` was exported from ``model``."""
    mine = model_fingerprint(model)
    theirs = manifest.get('fingerprint', {})
    if theirs == mine:
        return
    what = ('architecture (model config)' if theirs.get('config_sha256') !=
            mine['config_sha256'] else 'weights')
    raise ExportMismatchError(
        f'the ONNX graphs in {directory} were exported from another model than the one '
        f'loaded: its {what} differ (export: step {manifest.get("step")}, '
        f'{manifest.get("checkpoint")}). Export this checkpoint again with '
        '`jepa-world-model export --onnx DIR --checkpoint CKPT`, or leave onnx_dir empty to '
        'export it at configure')
