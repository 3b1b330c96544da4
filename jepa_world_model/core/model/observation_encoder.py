"""(o, s) -> z: patch tokens, a pool (attention, grid or keypoints) and proprio embedding.

With ``encoder.kind: vit`` the patch tokens come from the from-scratch ViT held here. With a
pretrained kind they come from the frozen backbone, which the world model holds *outside*
this module (core/model/pretrained_backbone.py): the EMA target encoder is a copy of this
module, and a copy of a frozen backbone would only double its memory. A small trained
:class:`TokenAdapter` here takes the backbone's tokens to ``embed_dim``, so everything after
it (pool, latent, read-outs) is the same for every kind.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from .keypoint_pool import KeypointPool
from .layers import mlp
from .model_config import ModelConfig
from .vit import AttentionPool, GridPool, ViTEncoder

__all__ = ['ObservationEncoder', 'TokenAdapter']


class TokenAdapter(nn.Module):
    """Backbone tokens [B, N, D_in] -> [B, N, D]: LayerNorm, Linear, GELU, Linear.

    The LayerNorm puts every backbone's features on one scale (DINOv2's last layer has a few
    very large channels); the rest is trained with the world model.
    """

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, dim), nn.GELU(),
                                 nn.Linear(dim, dim))

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens [B, N, D_in] -> [B, N, D]."""
        return self.net(tokens)


def _make_pool(cfg: ModelConfig) -> nn.Module:
    """The module that turns patch tokens into the image part of z (``cfg.image_pool``)."""
    if cfg.image_pool == 'grid':
        return GridPool(cfg.embed_dim, cfg.num_patches, cfg.image_latent_dim)
    if cfg.image_pool == 'keypoints':
        return KeypointPool(cfg.embed_dim, cfg.num_patches, cfg.image_latent_dim)
    return AttentionPool(cfg.embed_dim, cfg.num_heads, cfg.image_latent_dim)


class ObservationEncoder(nn.Module):
    """(o, s) -> z. Holds the ViT (or the adapter), the attention pool and the proprio MLP."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.encoder.is_pretrained:
            self.adapter = TokenAdapter(cfg.encoder.hidden_size, cfg.embed_dim)
        else:
            self.vit = ViTEncoder(cfg.image_size, cfg.patch_size, cfg.embed_dim, cfg.depth,
                                  cfg.num_heads, cfg.mlp_ratio, stem=cfg.patch_stem)
        self.pool = _make_pool(cfg)
        self.state_dim = cfg.state_dim
        self.proprio = (mlp(cfg.state_dim, 2 * cfg.proprio_latent_dim, cfg.proprio_latent_dim, 1)
                        if cfg.state_dim and cfg.proprio_latent_dim else None)

    def latent_from_tokens(self, tokens: Tensor, s_norm: Optional[Tensor]) -> Tensor:
        """tokens [B, N, D], s_norm [B, S] (normalised) or None -> z [B, Z]."""
        z_img = self.pool(tokens)
        if not self.state_dim:
            return z_img
        if s_norm is None:
            raise ValueError('this model needs the proprio state s')
        # The normalised state itself is part of z (V-JEPA 2-AC feeds the state as its own
        # token): predicted latents then carry predicted joint states linearly, and the
        # embedding next to it gives the dynamics a non-linear view of the same state.
        parts = [z_img, s_norm] + ([self.proprio(s_norm)] if self.proprio is not None else [])
        return torch.cat(parts, dim=-1)
