"""A frozen pretrained vision backbone (DINOv2 or V-JEPA 2) through ``transformers``.

The recipe of DINO-WM (Zhou et al. 2024, "DINO-WM: World Models on Pre-trained Visual
Features enable Zero-shot Planning") and V-JEPA 2-AC (Assran et al. 2025, "V-JEPA 2:
Self-Supervised Video Models Enable Understanding, Prediction and Planning", sec. 3): the
pretrained encoder is kept frozen and only the action-conditioned predictor is trained on its
patch features. Here the backbone's tokens pass a small trained adapter
(core/model/observation_encoder.py) to the predictor's width, so the pool, the latent, the
dynamics, the probes, the planner and the nodes are those of the from-scratch ViT.

The architecture is built from the config recorded in ``model.encoder.backbone_config``
(random weights); core/model/pretrained_source.py loads the real weights into a new model,
and checkpoints carry them. ``transformers`` is imported only when such a backbone is built.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..settings_spec import ConfigError
from .encoder_config import EncoderConfig

__all__ = ['FrozenBackbone', 'PretrainedEncoderError', 'transformers_classes',
           'architecture_keys', 'IMAGENET_MEAN', 'IMAGENET_STD']

# Both backbones were pretrained on images normalised with the ImageNet statistics (their
# preprocessor configs say so); a weights directory that names others overrides these.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PretrainedEncoderError(ConfigError):
    """A pretrained encoder cannot be built or loaded (library, weights or architecture)."""


def transformers_classes(kind: str) -> Tuple[type, type]:
    """(config class, model class) of a pretrained kind, from the installed transformers.

    Raises:
        PretrainedEncoderError: transformers is not installed, or the kind is unknown.
    """
    try:
        import transformers
    except ImportError:
        raise PretrainedEncoderError(
            f'encoder.kind {kind!r} needs the transformers library: pip install '
            "'jepa_world_model[pretrained]' (or pip install transformers)") from None
    if kind == 'dinov2':
        return transformers.Dinov2Config, transformers.Dinov2Model
    if kind == 'vjepa2':
        return transformers.VJEPA2Config, transformers.VJEPA2Model
    raise PretrainedEncoderError(f'no pretrained backbone of kind {kind!r}')


def architecture_keys(config_class: type) -> frozenset:
    """The architecture arguments of a transformers config class: its keyword-only
    ``__init__`` parameters, less private ones (generic ones such as ``id2label`` are not
    architecture and are not keyword-only)."""
    params = inspect.signature(config_class.__init__).parameters.values()
    return frozenset(p.name for p in params
                     if p.kind == p.KEYWORD_ONLY and not p.name.startswith('_'))


def _build_module(enc: EncoderConfig) -> nn.Module:
    """The backbone's modules with random weights, from the recorded architecture."""
    config_class, model_class = transformers_classes(enc.kind)
    arch: Dict[str, Any] = enc.backbone_dict()
    unknown = sorted(set(arch) - architecture_keys(config_class))
    if unknown:
        raise PretrainedEncoderError(
            f'encoder.backbone_config has keys {unknown} that {config_class.__name__} of the '
            f'installed transformers does not take')
    try:
        if enc.kind == 'dinov2':
            return model_class(config_class(**arch))
        # Only V-JEPA 2's encoder: its masked-prediction predictor is not needed, the world
        # model trains its own action-conditioned one (as V-JEPA 2-AC does). Built on its own,
        # the encoder would fall back to eager attention: ask for torch's fused SDPA, as
        # from_pretrained does.
        from transformers.models.vjepa2.modeling_vjepa2 import VJEPA2Encoder
        return VJEPA2Encoder(config_class(**arch, attn_implementation='sdpa'))
    except (TypeError, ValueError, _strict_dataclass_error()) as exc:
        raise PretrainedEncoderError(f'encoder.backbone_config does not build a '
                                     f'{config_class.__name__}: {exc}') from None


def _strict_dataclass_error() -> type:
    """The error huggingface_hub's validated config dataclasses raise (TypeError before
    they existed)."""
    try:
        from huggingface_hub.errors import StrictDataclassError
    except ImportError:
        return TypeError
    return StrictDataclassError


class FrozenBackbone(nn.Module):
    """Images -> the pretrained backbone's patch tokens, without gradient.

    Resizes frames to ``encoder.image_size``, normalises them with the backbone's own
    mean/std (buffers, saved in checkpoints) and drops DINOv2's CLS token. V-JEPA 2 encodes
    video: each frame is repeated into a clip of ``tubelet_size`` frames (2 in every
    published model), the length of one tubelet, so a frame gives one grid of tokens.
    """

    def __init__(self, enc: EncoderConfig) -> None:
        super().__init__()
        if not enc.is_resolved:
            raise PretrainedEncoderError(
                f'encoder.kind {enc.kind!r}: the backbone architecture is not recorded yet; '
                'build new models with core.model.pretrained_source.new_world_model, which '
                'reads it from encoder.pretrained')
        self.kind, self.image_size = enc.kind, enc.image_size
        self.tubelet = int(enc.backbone_dict().get('tubelet_size', 1))
        self.model = _build_module(enc)
        self.register_buffer('image_mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer('image_std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        super().train(False)
        # (frames, their version, the weights' version, tokens) of the last call: training
        # asks for the same frames' tokens from the online and the EMA target encoder, and a
        # frozen backbone gives both the same features, so it runs once per batch.
        self._memo: Optional[Tuple[Tensor, int, int, Tensor]] = None

    def train(self, mode: bool = True) -> 'FrozenBackbone':
        """Stays in eval mode (no dropout or drop-path): the backbone is frozen."""
        return super().train(False)

    def _apply(self, fn, *args, **kwargs):
        self._memo = None   # moved or cast: cached tokens have the old device/dtype
        return super()._apply(fn, *args, **kwargs)

    def _weights_version(self) -> int:
        # Every in-place write (load_state_dict copies in place) bumps a tensor's version.
        return sum(p._version for p in self.model.parameters())

    def forward(self, o: Tensor) -> Tensor:
        """o [B, 3, H, W] in [0, 1] -> patch tokens [B, N, D_backbone] (no gradient)."""
        # Tensors made under torch.inference_mode have no version counter: never memoised.
        remember = not o.is_inference()
        memo, version = self._memo, self._weights_version()
        if (remember and memo is not None and memo[0] is o and memo[1] == o._version
                and memo[2] == version):
            return memo[3]
        x = o.to(self.image_mean.dtype)
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode='bilinear',
                              align_corners=False, antialias=True)
        x = (x - self.image_mean) / self.image_std
        with torch.no_grad():
            if self.kind == 'dinov2':
                tokens = self.model(pixel_values=x).last_hidden_state[:, 1:]    # drop CLS
            else:
                clip = x.unsqueeze(1).expand(-1, self.tubelet, -1, -1, -1)      # [B, T, 3, S, S]
                tokens = self.model(pixel_values_videos=clip).last_hidden_state
        self._memo = (o, o._version, version, tokens) if remember else None
        return tokens

    def set_normalization(self, mean: Tuple[float, ...], std: Tuple[float, ...]) -> None:
        """The backbone's per-channel image mean/std (3 values each, in [0, 1] units)."""
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise PretrainedEncoderError(f'image mean/std must be 3 values (std > 0), got '
                                         f'{mean} / {std}')
        with torch.no_grad():
            self.image_mean.copy_(torch.tensor(mean).view(1, 3, 1, 1))
            self.image_std.copy_(torch.tensor(std).view(1, 3, 1, 1))
