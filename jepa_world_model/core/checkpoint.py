"""Checkpoints: safetensors weights + the resolved config + the step. Nothing is unpickled.

One file holds the model (``model.*`` tensors) and, for training checkpoints, the optimizer
moments (``optim.*``). The metadata header carries the config as JSON, the step and a format
version. Every failure raises ``CheckpointError`` naming the file and the offending key/shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .config import ConfigError, ExperimentConfig, config_from_json, config_to_json
from .world_model import WorldModel

FORMAT = 'jepa_world_model/1'


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, truncated or does not match the model."""


@dataclass
class LoadedCheckpoint:
    """What ``load_checkpoint`` returns."""

    model: WorldModel
    config: ExperimentConfig
    step: int
    optimizer_state: Optional[Dict[str, torch.Tensor]]
    path: Path


def save_checkpoint(path: str | Path, model: WorldModel, config: ExperimentConfig, step: int,
                    optimizer: Optional[torch.optim.Optimizer] = None) -> Path:
    """Write model weights (+ optimizer moments) atomically: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f'model.{k}': v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if optimizer is not None:
        tensors.update(_flatten_optimizer(optimizer))
    metadata = {'format': FORMAT, 'config': config_to_json(config), 'step': str(int(step))}
    tmp = path.with_name(path.name + '.tmp')
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(path)
    return path


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> Dict[str, torch.Tensor]:
    out = {}
    for i, state in optimizer.state_dict()['state'].items():
        for key, value in state.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            out[f'optim.{i}.{key}'] = tensor.detach().contiguous().cpu()
    return out


def restore_optimizer(optimizer: torch.optim.Optimizer, flat: Dict[str, torch.Tensor]) -> None:
    """Load moments written by ``save_checkpoint`` into an optimizer built for the same model."""
    state = optimizer.state_dict()
    per_param: Dict[int, Dict[str, torch.Tensor]] = {}
    for name, tensor in flat.items():
        _, index, key = name.split('.', 2)
        per_param.setdefault(int(index), {})[key] = tensor
    known = {i for group in state['param_groups'] for i in group['params']}
    unknown = sorted(set(per_param) - known)
    if unknown:
        raise CheckpointError(f'optimizer state names parameters {unknown[:5]} that the '
                              f'optimizer does not have')
    state['state'] = {i: per_param[i] for i in sorted(per_param)}
    optimizer.load_state_dict(state)


def read_metadata(path: str | Path) -> Dict[str, str]:
    """The checkpoint's metadata header, validated."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint not found: {path}')
    try:
        with safe_open(str(path), framework='pt') as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f'{path}: not a readable safetensors file (corrupt or '
                              f'truncated?): {exc}') from None
    if metadata.get('format') != FORMAT:
        raise CheckpointError(f'{path}: metadata "format" is {metadata.get("format")!r}, '
                              f'expected {FORMAT!r}')
    for key in ('config', 'step'):
        if key not in metadata:
            raise CheckpointError(f'{path}: metadata key {key!r} is missing')
    return metadata


def load_checkpoint(path: str | Path, device: torch.device | str = 'cpu',
                    dtype: torch.dtype = torch.float32) -> LoadedCheckpoint:
    """Rebuild the model from its embedded config and load the weights strictly.

    Raises:
        CheckpointError: missing file, unreadable/truncated data, bad metadata, or any missing,
            unexpected or wrongly shaped tensor (the message names the key and both shapes).
    """
    path = Path(path)
    metadata = read_metadata(path)
    try:
        config = config_from_json(metadata['config'])
    except ConfigError as exc:
        raise CheckpointError(f'{path}: embedded config is invalid: {exc}') from None
    try:
        step = int(metadata['step'])
    except ValueError:
        raise CheckpointError(f'{path}: metadata "step" is not an integer: '
                              f'{metadata["step"]!r}') from None
    try:
        with safe_open(str(path), framework='pt') as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f'{path}: tensor data unreadable (truncated?): {exc}') from None
    model_tensors = {k[len('model.'):]: v for k, v in tensors.items() if k.startswith('model.')}
    optim_tensors = {k: v for k, v in tensors.items() if k.startswith('optim.')}
    model = WorldModel(config.model)
    _check_state(path, model.state_dict(), model_tensors)
    model.load_state_dict(model_tensors, strict=True)
    model.to(device=device, dtype=dtype)
    return LoadedCheckpoint(model, config, step, optim_tensors or None, path)


def _check_state(path: Path, expected: Dict[str, torch.Tensor],
                 found: Dict[str, torch.Tensor]) -> None:
    missing = sorted(set(expected) - set(found))
    if missing:
        raise CheckpointError(f'{path}: missing tensor(s) {missing[:5]}'
                              f'{" ..." if len(missing) > 5 else ""}')
    unexpected = sorted(set(found) - set(expected))
    if unexpected:
        raise CheckpointError(f'{path}: unexpected tensor(s) {unexpected[:5]}'
                              f'{" ..." if len(unexpected) > 5 else ""}')
    for key, tensor in expected.items():
        if tuple(found[key].shape) != tuple(tensor.shape):
            raise CheckpointError(f'{path}: tensor {key!r} has shape {tuple(found[key].shape)}, '
                                  f'the config expects {tuple(tensor.shape)}')
        if not torch.isfinite(found[key]).all():
            raise CheckpointError(f'{path}: tensor {key!r} contains NaN or inf')


def describe(path: str | Path) -> Dict[str, object]:
    """Summary for ``jepa-world-model info``: step, config and tensor count, no weights loaded."""
    metadata = read_metadata(path)
    with safe_open(str(path), framework='pt') as f:
        keys = list(f.keys())
    return {'path': str(path), 'step': int(metadata['step']),
            'config': json.loads(metadata['config']), 'num_tensors': len(keys)}


def export_model(src: str | Path, dst: str | Path) -> Path:
    """Copy a training checkpoint without its optimizer state (what a robot needs to ship)."""
    loaded = load_checkpoint(src)
    return save_checkpoint(dst, loaded.model, loaded.config, loaded.step)
