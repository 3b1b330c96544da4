"""Where the goal links are: from joint positions (forward kinematics) and from an image.

A model with ``kinematics`` (core/model/kinematics.py) has both views of the same quantity,
the positions [L, 3] of a few links in the base frame:

* ``positions(q)``: exact, from the (predicted or measured) joint positions through the URDF
  chain; what the planner scores predicted latents with.
* ``read(features)``: read from a frame alone (its patch tokens or the image part of z), by a
  head trained on ``positions(q)`` of the recorded joints; what a goal image is read with.

Training the head on positions instead of angles asks the image only for what it shows: a
link's place, not the angle of a roll joint that turns a round link in place. Positions are
normalised per coordinate with statistics of the training frames (saved in checkpoints), so
the loss has the scale of the joint read-out's. Pure PyTorch, no ROS.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .kinematics import ForwardKinematics
from .layers import mlp, TokenReadout

__all__ = ['LinkReadout']


class LinkReadout(nn.Module):
    """Goal link positions by forward kinematics and by an image head.

    Args:
        cfg: The model config (``kinematics`` enabled); the head reads what
            ``image_state_source`` names ('tokens' or 'latent').
    """

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.fk = ForwardKinematics(cfg.kinematics, cfg.joint_names)
        self.num_links = len(cfg.kinematics.goal_links)
        width = 3 * self.num_links
        self.source = cfg.image_state_source
        self.head = (TokenReadout(cfg.num_patches, cfg.embed_dim, cfg.idm_hidden_dim, width)
                     if self.source == 'tokens' else
                     mlp(cfg.image_latent_dim, cfg.idm_hidden_dim, width, 1))
        self.register_buffer('link_mean', torch.zeros(width))
        self.register_buffer('link_std', torch.ones(width))

    def positions(self, q: Tensor) -> Tensor:
        """q [..., J] joint positions (physical, model order) -> link positions [..., L, 3]."""
        return self.fk(q)

    def set_normalization(self, q: Tensor) -> None:
        """Fit the per-coordinate mean and std of ``positions(q)`` over frames q [N, J];
        stds floored at 1 mm so a link that never moves is safe."""
        with torch.no_grad():
            p = self.positions(q.to(self.link_mean)).flatten(-2)            # [N, 3L]
            self.link_mean.copy_(p.mean(0))
            self.link_std.copy_(p.std(0, unbiased=False).clamp_min(1e-3))

    def target(self, q: Tensor) -> Tensor:
        """The head's training target: q [..., J] -> normalised positions [..., 3L]."""
        return (self.positions(q).flatten(-2) - self.link_mean) / self.link_std

    def read(self, features: Tensor, normalized: bool = False) -> Tensor:
        """Head reading of frames: patch tokens [B, N, D] ('tokens') or image parts of z
        [B, Zi] ('latent') -> positions [B, L, 3] in metres (``normalized``: [B, 3L], the
        scale it is trained at)."""
        out = self.head(features)
        if normalized:
            return out
        return (out * self.link_std + self.link_mean).unflatten(-1, (self.num_links, 3))
