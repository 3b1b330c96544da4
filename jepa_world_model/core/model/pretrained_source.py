"""Where a pretrained backbone comes from, and building a new world model around it.

``encoder.pretrained`` names a local directory written by ``save_pretrained`` or a hub id
already in the user's Hugging Face cache; nothing is downloaded (``local_files_only``) and
only safetensors weights are read (``use_safetensors``): nothing is unpickled.

Checkpoints are self-contained: the frozen backbone's weights are saved in them with the rest
of the model (``backbone.*`` tensors) and its architecture in the embedded config
(``encoder.backbone_config``), so a robot loads a checkpoint without the weights directory or
a hub cache, and the loader checks every backbone tensor's name and shape before allocating
(core/checkpoint.py). The weights directory is read only here, when a *new* model is built
for training.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from .encoder_config import EncoderConfig
from .model_config import ModelConfig
from .pretrained_backbone import (IMAGENET_MEAN, IMAGENET_STD, PretrainedEncoderError,
                                  architecture_keys, transformers_classes)
from .world_model import WorldModel

__all__ = ['BackboneSource', 'find_weights_dir', 'read_backbone_source', 'resolve_encoder',
           'load_backbone_weights', 'new_world_model']

# DINOv2's preprocessing crops 224 px (its config's image_size, 518, is the pretraining
# resolution of the position embeddings, which are interpolated to any grid).
_DINOV2_IMAGE_SIZE = 224
_PREPROCESSOR_FILES = ('preprocessor_config.json', 'video_preprocessor_config.json')


@dataclasses.dataclass
class BackboneSource:
    """What a weights directory says about its backbone."""

    directory: Path
    architecture: Dict[str, Any]
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    image_size: int


def find_weights_dir(pretrained: str) -> Path:
    """The directory holding ``config.json`` for a local path or a cached hub id.

    Raises:
        PretrainedEncoderError: no such directory, or the hub id is not in the local cache.
    """
    path = Path(pretrained).expanduser()
    if path.is_dir():
        if not (path / 'config.json').is_file():
            raise PretrainedEncoderError(f'encoder.pretrained {pretrained}: no config.json in '
                                         f'that directory (write it with save_pretrained)')
        return path
    if path.is_absolute() or pretrained.startswith(('.', '~')) or path.exists():
        raise PretrainedEncoderError(f'encoder.pretrained {pretrained}: no such directory')
    try:
        from huggingface_hub import try_to_load_from_cache
        from huggingface_hub.errors import HFValidationError
    except ImportError:
        raise PretrainedEncoderError('reading a hub id needs huggingface_hub (installed with '
                                     'transformers)') from None
    try:
        cached = try_to_load_from_cache(pretrained, 'config.json')   # never downloads
    except HFValidationError as exc:
        raise PretrainedEncoderError(f'encoder.pretrained {pretrained!r} is neither a '
                                     f'directory nor a hub id: {exc}') from None
    if not isinstance(cached, str):
        raise PretrainedEncoderError(
            f'encoder.pretrained {pretrained}: not a directory, and not in the Hugging Face '
            f'cache (HF_HUB_CACHE); download it once where there is a network, e.g. '
            f'`hf download {pretrained}`, or give the directory')
    return Path(cached).parent


def _read_json(path: Path) -> Dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError) as exc:
        raise PretrainedEncoderError(f'{path}: not readable JSON: {exc}') from None
    if not isinstance(data, dict):
        raise PretrainedEncoderError(f'{path}: expected a JSON object')
    return data


def read_backbone_source(kind: str, pretrained: str) -> BackboneSource:
    """Architecture, normalisation and native image size of the backbone at ``pretrained``.

    Raises:
        PretrainedEncoderError: missing directory/cache entry, a backbone of another kind.
    """
    directory = find_weights_dir(pretrained)
    config = _read_json(directory / 'config.json')
    if config.get('model_type') != kind:
        raise PretrainedEncoderError(
            f'encoder.pretrained {pretrained} holds a {config.get("model_type")!r} model, not '
            f'encoder.kind {kind!r}')
    config_class, _ = transformers_classes(kind)
    keys = architecture_keys(config_class)
    architecture = {k: v for k, v in config.items() if k in keys}
    processor: Dict[str, Any] = {}
    for name in _PREPROCESSOR_FILES:
        if (directory / name).is_file():
            processor = _read_json(directory / name)
            break
    crop = processor.get('crop_size')
    if isinstance(crop, dict):
        crop = crop.get('height')
    if kind == 'vjepa2':
        image_size = int(architecture.get('crop_size', 0))
    else:
        image_size = int(crop) if isinstance(crop, int) and crop > 0 else _DINOV2_IMAGE_SIZE
    mean = tuple(float(v) for v in processor.get('image_mean', IMAGENET_MEAN))
    std = tuple(float(v) for v in processor.get('image_std', IMAGENET_STD))
    return BackboneSource(directory, architecture, mean, std, image_size)


def resolve_encoder(cfg: ModelConfig) -> Optional[BackboneSource]:
    """Record the backbone's architecture (and image size, when 0) in ``cfg.encoder``.

    A config that already records an architecture must match the weights. Returns the
    source, or None for ``kind: vit``.
    """
    enc = cfg.encoder
    if not enc.is_pretrained:
        return None
    source = read_backbone_source(enc.kind, enc.pretrained)
    recorded = json.dumps(source.architecture, sort_keys=True)
    if enc.backbone_config and enc.backbone_dict() != source.architecture:
        raise PretrainedEncoderError(
            f'encoder.backbone_config does not match the model at {enc.pretrained}; remove '
            f'backbone_config from the config to record that model')
    # A new EncoderConfig runs the checks on the recorded architecture.
    cfg.encoder = EncoderConfig(kind=enc.kind, pretrained=enc.pretrained, frozen=enc.frozen,
                                image_size=enc.image_size or source.image_size,
                                backbone_config=recorded)
    return source


def load_backbone_weights(model: WorldModel, source: BackboneSource) -> None:
    """Copy the pretrained weights at ``source`` into ``model.backbone`` (strict).

    Raises:
        PretrainedEncoderError: no safetensors weights, or weights that do not fit.
    """
    directory = source.directory
    if not any(directory.glob('*.safetensors')):
        raise PretrainedEncoderError(
            f'{directory}: no .safetensors weights (this package reads only safetensors, '
            f'nothing is unpickled; convert with save_pretrained(safe_serialization=True))')
    kind = model.cfg.encoder.kind
    _, model_class = transformers_classes(kind)
    try:
        loaded = model_class.from_pretrained(str(directory), local_files_only=True,
                                             use_safetensors=True)
    except (OSError, ValueError) as exc:
        raise PretrainedEncoderError(f'{directory}: the {kind} weights do not load: '
                                     f'{exc}') from None
    state = (loaded if kind == 'dinov2' else loaded.encoder).state_dict()
    try:
        model.backbone.model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise PretrainedEncoderError(f'{directory}: weights do not fit the recorded '
                                     f'architecture: {exc}') from None
    model.backbone.set_normalization(source.mean, source.std)


def new_world_model(cfg: ModelConfig) -> WorldModel:
    """A new (untrained) world model; with a pretrained encoder, its backbone is read from
    ``cfg.encoder.pretrained`` and its architecture recorded in ``cfg`` (changed in place),
    which the run's config and checkpoints then carry."""
    source = resolve_encoder(cfg)
    model = WorldModel(cfg)
    if source is not None:
        load_backbone_weights(model, source)
    return model
