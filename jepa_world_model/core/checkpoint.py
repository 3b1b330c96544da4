"""Checkpoints: safetensors weights + the resolved config + the step. Nothing is unpickled.

One file holds the model (``model.*`` tensors), for a pixel-objective run its pixel decoder
(``pixel_decoder.*``, core/model/pixel_decoder.py; not part of the model, which loads and runs
without it) and, for training checkpoints, the optimizer moments (``optim.*``). The metadata
header carries the config as JSON, the step and a format version. Every failure raises
``CheckpointError`` naming the file and the offending key/shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch
from torch import nn
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch.overrides import TorchFunctionMode

from .atomic_files import atomic_writer
from .safetensors_header import read_header_metadata, read_tensor_header
from .config import ConfigError, ExperimentConfig, config_from_json, config_to_json
from .model.pixel_decoder import PixelDecoder
from .model.world_model import WorldModel

FORMAT = 'jepa_world_model/1'
#: Prefix of the pixel decoder's tensors (loss.objective pixel).
DECODER_PREFIX = 'pixel_decoder.'
# At most this many numbers in a model's tensors (its EMA target encoder included): 1 GB of
# float32, ~200 times the largest model this package ships. Checked on the meta device.
MAX_MODEL_ELEMENTS = 250_000_000
# A frozen pretrained backbone (``backbone.*``) is bounded on its own: V-JEPA 2's smallest
# published encoder (ViT-L/16) has 0.3 G numbers, its largest (ViT-g) about 1 G.
MAX_BACKBONE_ELEMENTS = 1_100_000_000
# safetensors dtypes a floating-point model tensor may be stored in (bfloat16 runs save bf16).
FLOAT_DTYPES = frozenset({'F16', 'BF16', 'F32', 'F64'})


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
    # The pixel decoder's weights (loss.objective pixel), without the prefix; None otherwise.
    pixel_decoder_state: Optional[Dict[str, torch.Tensor]] = None


def save_checkpoint(path: str | Path, model: WorldModel, config: ExperimentConfig, step: int,
                    optimizer: Optional[torch.optim.Optimizer] = None,
                    pixel_decoder: Optional[nn.Module] = None) -> Path:
    """Write model weights (+ optimizer moments, + the pixel decoder's weights) atomically:
    a crash, even a power cut, never leaves half a file (core/atomic_files.py: temporary
    file, fsync, rename, fsync of the directory)."""
    path = Path(path)
    if pixel_decoder is not None and config.loss.objective != 'pixel':
        raise CheckpointError(f'{path}: a pixel decoder given for loss.objective '
                              f'{config.loss.objective!r}')
    tensors = {f'model.{k}': v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if pixel_decoder is not None:
        tensors.update({f'{DECODER_PREFIX}{k}': v.detach().contiguous().cpu()
                        for k, v in pixel_decoder.state_dict().items()})
    if optimizer is not None:
        tensors.update(_flatten_optimizer(optimizer))
    metadata = {'format': FORMAT, 'config': config_to_json(config), 'step': str(int(step))}
    with atomic_writer(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
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
    metadata = read_header_metadata(path, FORMAT, CheckpointError, 'checkpoint')
    for key in ('config', 'step'):
        if key not in metadata:
            raise CheckpointError(f'{path}: metadata key {key!r} is missing')
    return metadata


def load_checkpoint(path: str | Path, device: torch.device | str = 'cpu',
                    dtype: torch.dtype = torch.float32,
                    max_elements: int = MAX_MODEL_ELEMENTS) -> LoadedCheckpoint:
    """Rebuild the model from its embedded config and load the weights strictly.

    Nothing is allocated for the model before the file has been checked against it: the
    embedded config must be valid and within its size limits (core/config.py), the model it
    describes is built on the ``meta`` device (shapes only) and must hold at most
    ``max_elements`` numbers, and the safetensors header must list exactly its tensors, with
    their shapes and floating-point dtypes. Only then is the model built and the data read.

    Raises:
        CheckpointError: missing file, unreadable/truncated data, bad metadata, a config too
            large, or any missing, unexpected or wrongly shaped tensor (the message names the
            key and both shapes).
    """
    path = Path(path)
    metadata = read_metadata(path)
    config = _embedded_config(path, metadata)
    try:
        step = int(metadata['step'])
    except ValueError:
        raise CheckpointError(f'{path}: metadata "step" is not an integer: '
                              f'{metadata["step"]!r}') from None
    expected = _expected_tensors(path, config, max_elements)
    _check_header(path, expected, read_tensor_header(path, CheckpointError))
    try:
        with safe_open(str(path), framework='pt') as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f'{path}: tensor data unreadable (truncated?): {exc}') from None
    model_tensors = {k[len('model.'):]: v for k, v in tensors.items() if k.startswith('model.')}
    optim_tensors = {k: v for k, v in tensors.items() if k.startswith('optim.')}
    decoder_tensors = {k[len(DECODER_PREFIX):]: v for k, v in tensors.items()
                       if k.startswith(DECODER_PREFIX)}
    for key, tensor in {**model_tensors, **decoder_tensors}.items():
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f'{path}: tensor {key!r} contains NaN or inf')
    model = WorldModel(config.model)
    model.load_state_dict(model_tensors, strict=True)
    model.to(device=device, dtype=dtype)
    return LoadedCheckpoint(model, config, step, optim_tensors or None, path,
                            decoder_tensors or None)


def load_pixel_decoder(loaded: LoadedCheckpoint) -> PixelDecoder:
    """The pixel decoder of a pixel-objective checkpoint, weights loaded, in eval mode.

    Raises:
        CheckpointError: the checkpoint was trained with another objective.
    """
    if loaded.pixel_decoder_state is None:
        raise CheckpointError(f'{loaded.path}: no pixel decoder (loss.objective '
                              f'{loaded.config.loss.objective!r})')
    decoder = _pixel_decoder_for(loaded.config)
    decoder.load_state_dict(loaded.pixel_decoder_state, strict=True)
    return decoder.eval()


def _pixel_decoder_for(config: ExperimentConfig) -> PixelDecoder:
    return PixelDecoder(config.model.latent_dim, config.model.image_size,
                        config.loss.pixel_decoder_width)


def _embedded_config(path: Path, metadata: Dict[str, str]) -> ExperimentConfig:
    """The config in the metadata header, validated (sizes included) without building."""
    try:
        return config_from_json(metadata['config'])
    except ConfigError as exc:
        raise CheckpointError(f'{path}: embedded config is invalid: {exc}') from None


class _ShapesOnly(TorchFunctionMode):
    """Leaves meta tensors uninitialised: random fills on the meta device run torch's
    Python reference kernels, whose first use imports its symbolic-shape machinery (~800
    modules, +77 MiB resident in every process that loads a checkpoint; measured). Only
    shapes are needed here."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, '__name__', '') in _RANDOM_FILLS:
            # torch.nn.init passes the tensor by keyword, Tensor methods as self.
            target = args[0] if args else kwargs.get('tensor')
            if isinstance(target, torch.Tensor) and target.is_meta:
                return target
        return func(*args, **kwargs)


_RANDOM_FILLS = {'normal_', 'uniform_', 'trunc_normal_', 'kaiming_uniform_',
                 'kaiming_normal_', 'xavier_uniform_', 'xavier_normal_', 'orthogonal_'}


def _expected_tensors(path: Path, config: ExperimentConfig,
                      max_elements: int) -> Dict[str, Tuple[Tuple[int, ...], torch.dtype]]:
    """Name -> (shape, dtype) of every model tensor the config implies, from a model built
    on the meta device: no memory is allocated for its weights."""
    try:
        with torch.device('meta'), _ShapesOnly():
            state = WorldModel(config.model).state_dict()
    except (ValueError, RuntimeError) as exc:   # a combination the config checks let through
        raise CheckpointError(f'{path}: the embedded config does not build a model: '
                              f'{exc}') from None
    backbone = sum(t.numel() for k, t in state.items() if k.startswith('backbone.'))
    if backbone > MAX_BACKBONE_ELEMENTS:
        raise CheckpointError(f'{path}: the embedded config describes a pretrained backbone '
                              f'of {backbone:,} numbers, above the limit of '
                              f'{MAX_BACKBONE_ELEMENTS:,}; refusing to build it')
    total = sum(t.numel() for t in state.values()) - backbone
    if total > max_elements:
        raise CheckpointError(f'{path}: the embedded config describes a model of {total:,} '
                              f'numbers, above the limit of {max_elements:,}; refusing to '
                              f'build it')
    expected = {f'model.{k}': (tuple(t.shape), t.dtype) for k, t in state.items()}
    if config.loss.objective == 'pixel':
        with torch.device('meta'), _ShapesOnly():
            decoder = _pixel_decoder_for(config).state_dict()
        expected.update({f'{DECODER_PREFIX}{k}': (tuple(t.shape), t.dtype)
                         for k, t in decoder.items()})
    return expected


def _check_header(path: Path, expected: Dict[str, Tuple[Tuple[int, ...], torch.dtype]],
                  found: Dict[str, Tuple[Tuple[int, ...], str]]) -> None:
    """The header's model tensors are exactly the expected ones, shapes and dtypes included;
    other tensors may only be optimizer moments (``optim.<index>.<name>``) and, for a
    pixel-objective config, the pixel decoder's (optional, shapes checked)."""
    # The decoder is optional: it trains the model and is not needed to run it.
    missing = sorted(k[len('model.'):] for k in set(expected) - set(found)
                     if k.startswith('model.'))
    if missing:
        raise CheckpointError(f'{path}: missing tensor(s) {missing[:5]}'
                              f'{" ..." if len(missing) > 5 else ""}')
    unexpected = sorted(k for k in found if k not in expected and not _is_optim_key(k))
    if unexpected:
        unexpected = [k[len('model.'):] if k.startswith('model.') else k for k in unexpected]
        raise CheckpointError(f'{path}: unexpected tensor(s) {unexpected[:5]}'
                              f'{" ..." if len(unexpected) > 5 else ""}')
    for key, (shape, dtype) in expected.items():
        if key not in found:
            continue
        got_shape, got_dtype = found[key]
        name = key[len('model.'):] if key.startswith('model.') else key
        if got_shape != shape:
            raise CheckpointError(f'{path}: tensor {name!r} has shape {got_shape}, the config '
                                  f'expects {shape}')
        if dtype.is_floating_point and got_dtype not in FLOAT_DTYPES:
            raise CheckpointError(f'{path}: tensor {name!r} has dtype {got_dtype}, expected '
                                  f'one of {sorted(FLOAT_DTYPES)}')


def _is_optim_key(key: str) -> bool:
    parts = key.split('.', 2)
    return len(parts) == 3 and parts[0] == 'optim' and parts[1].isdigit() and bool(parts[2])


def checkpoint_config(path: str | Path) -> ExperimentConfig:
    """The validated config embedded in a checkpoint, read from its header (no weights)."""
    path = Path(path)
    return _embedded_config(path, read_metadata(path))


def describe(path: str | Path) -> Dict[str, object]:
    """Summary for ``jepa-world-model info``: step, config and tensor count, no weights loaded.

    The config is shown as stored (older files lack newer keys), once it is known to parse
    and validate.
    """
    path = Path(path)
    metadata = read_metadata(path)
    _embedded_config(path, metadata)
    try:
        step = int(metadata['step'])
    except ValueError:
        raise CheckpointError(f'{path}: metadata "step" is not an integer: '
                              f'{metadata["step"]!r}') from None
    return {'path': str(path), 'step': step, 'config': json.loads(metadata['config']),
            'num_tensors': len(read_tensor_header(path, CheckpointError))}


def export_model(src: str | Path, dst: str | Path) -> Path:
    """Copy a training checkpoint without its optimizer state (what a robot needs to ship)."""
    loaded = load_checkpoint(src)
    decoder = (load_pixel_decoder(loaded) if loaded.pixel_decoder_state is not None else None)
    return save_checkpoint(dst, loaded.model, loaded.config, loaded.step,
                           pixel_decoder=decoder)
