"""Which vision encoder makes the patch tokens: the ``model.encoder`` section of a config.

``kind: vit`` (the default) is the small ViT trained from scratch with the JEPA losses
(core/model/vit.py); every config and checkpoint without an ``encoder`` section means it.
``kind: dinov2`` and ``kind: vjepa2`` put a *frozen pretrained* backbone in front of the
world model, the recipe of DINO-WM (Zhou et al. 2024, frozen DINOv2 patch features, a
predictor trained on top) and V-JEPA 2-AC (Assran et al. 2025, frozen V-JEPA 2 encoder, an
action-conditioned predictor trained on top): see core/model/pretrained_backbone.py.

Pure Python: nothing here imports the ``transformers`` library, so configs and checkpoints
can be read and checked without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict

from ..settings_spec import ConfigError, require

__all__ = ['EncoderConfig', 'ENCODER_KINDS', 'PRETRAINED_KINDS', 'BACKBONE_SIZE_LIMITS']

PRETRAINED_KINDS = ('dinov2', 'vjepa2')
ENCODER_KINDS = ('vit',) + PRETRAINED_KINDS
# Bounds on a recorded backbone architecture, checked before anything is built: the largest
# published DINOv2 (ViT-g/14: 1536 wide, 40 layers) and V-JEPA 2 (ViT-g/16 at 384 px) fit.
BACKBONE_SIZE_LIMITS = {'hidden_size': 4096, 'num_hidden_layers': 64, 'num_attention_heads': 64,
                        'patch_size': 64, 'image_size': 1024, 'crop_size': 1024,
                        'mlp_ratio': 16, 'tubelet_size': 16, 'frames_per_clip': 256}
# Keys every recorded backbone architecture must have (both kinds name them the same).
_REQUIRED_KEYS = ('hidden_size', 'num_hidden_layers', 'num_attention_heads', 'patch_size')


@dataclass
class EncoderConfig:
    """The vision encoder in front of the adapter, pool and predictors.

    Attributes:
        kind: 'vit' (from scratch, trained), 'dinov2' or 'vjepa2' (pretrained, frozen).
        pretrained: Where the pretrained weights are: a local directory written by
            ``save_pretrained`` (config.json + model.safetensors) or a hub id
            (``facebook/dinov2-small``) already in the user's Hugging Face cache. Nothing is
            downloaded and nothing is unpickled (safetensors only). Used when a *new* model
            is built for training; a checkpoint carries the weights themselves.
        frozen: The pretrained backbone gets no gradient, stays in eval mode and is left out
            of the optimizer and the EMA. Only ``true`` is implemented (no fine-tuning).
        image_size: Side of the square image the backbone sees [px]; frames are resized to
            it. 0: the backbone's own (224 for DINOv2, the crop size for V-JEPA 2).
        backbone_config: The backbone's architecture (its transformers config, JSON),
            recorded from ``pretrained`` when a new model is built, so that a checkpoint
            rebuilds the backbone without the weights directory. Leave it empty.
    """

    kind: str = 'vit'
    pretrained: str = ''
    frozen: bool = True
    image_size: int = 0
    backbone_config: str = ''

    def __post_init__(self) -> None:
        require(self.kind in ENCODER_KINDS,
                f'encoder.kind must be one of {ENCODER_KINDS}, got {self.kind!r}')
        if self.kind == 'vit':
            require(not self.pretrained and not self.backbone_config and not self.image_size,
                    "encoder.pretrained, image_size and backbone_config apply to the "
                    f"pretrained kinds {PRETRAINED_KINDS}, not to kind 'vit' (the ViT's "
                    'size is model.image_size / patch_size / embed_dim)')
            return
        require(bool(self.pretrained),
                f'encoder.kind {self.kind!r} needs encoder.pretrained: a local directory with '
                'config.json and model.safetensors, or a hub id in your Hugging Face cache')
        require(self.frozen, 'encoder.frozen: false (fine-tuning the pretrained backbone) is '
                             'not implemented; the backbone is always frozen')
        require(0 <= self.image_size <= BACKBONE_SIZE_LIMITS['image_size'],
                f'encoder.image_size must be in [0, {BACKBONE_SIZE_LIMITS["image_size"]}], '
                f'got {self.image_size}')
        if self.backbone_config:
            self._check_backbone()

    @property
    def is_pretrained(self) -> bool:
        """True for the frozen pretrained kinds."""
        return self.kind in PRETRAINED_KINDS

    @property
    def is_resolved(self) -> bool:
        """True once the backbone's architecture and image size are recorded."""
        return bool(self.backbone_config) and self.image_size > 0

    def backbone_dict(self) -> Dict[str, Any]:
        """The recorded architecture as a dict (empty when not recorded yet)."""
        return json.loads(self.backbone_config) if self.backbone_config else {}

    @property
    def hidden_size(self) -> int:
        """Width of the backbone's patch tokens (0 before the architecture is recorded)."""
        return int(self.backbone_dict().get('hidden_size', 0))

    @property
    def patch_size(self) -> int:
        """The backbone's patch side [px] (0 before the architecture is recorded)."""
        return int(self.backbone_dict().get('patch_size', 0))

    @property
    def num_patches(self) -> int:
        """Patch tokens per frame (V-JEPA 2: the frame is one tubelet, so one grid); 0 until
        resolved."""
        if not self.is_resolved:
            return 0
        return (self.image_size // self.patch_size) ** 2

    def _check_backbone(self) -> None:
        """The recorded architecture is a JSON object with bounded sizes, before anything
        is built from it (a checkpoint's config is untrusted input)."""
        try:
            arch = json.loads(self.backbone_config)
        except (ValueError, RecursionError) as exc:
            raise ConfigError(f'encoder.backbone_config is not valid JSON: '
                              f'{str(exc)[:200]}') from None
        require(isinstance(arch, dict), 'encoder.backbone_config must be a JSON object')
        missing = [k for k in _REQUIRED_KEYS if k not in arch]
        require(not missing, f'encoder.backbone_config lacks {missing}')
        for key, limit in BACKBONE_SIZE_LIMITS.items():
            if key not in arch:
                continue
            value = arch[key]
            require(isinstance(value, (int, float)) and not isinstance(value, bool)
                    and 0 < value <= limit,
                    f'encoder.backbone_config {key} must be a number in (0, {limit}], got '
                    f'{value!r}')
        require(isinstance(arch['patch_size'], int),
                f'encoder.backbone_config patch_size must be one integer (square patches), '
                f'got {arch["patch_size"]!r}')
        require(arch['hidden_size'] % arch['num_attention_heads'] == 0,
                'encoder.backbone_config hidden_size must be divisible by num_attention_heads')
        if self.image_size:
            require(self.image_size % arch['patch_size'] == 0,
                    f'encoder.image_size {self.image_size} must be a multiple of the '
                    f'backbone patch size {arch["patch_size"]}')
        if self.kind == 'vjepa2' and self.image_size:
            # V-JEPA 2's rotary positions assume its crop grid: another size misplaces tokens.
            require(self.image_size == arch.get('crop_size'),
                    f'encoder.image_size must be the V-JEPA 2 crop size '
                    f'{arch.get("crop_size")}, got {self.image_size}')
