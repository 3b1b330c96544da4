"""The pixel objective's dynamics terms (``loss.objective: pixel``; issue #13 item 5).

Where the JEPA objective regresses the predicted latent onto the EMA target encoder's latent of
the next frame (L1), the pixel objective decodes the predicted latent into the next frame
(core/model/pixel_decoder.py) and takes the MSE to its pixels, normalised as the encoder sees
them (``WorldModel.normalize_image``). The same two terms as the JEPA's, with the same
weights: teacher forcing (from the true z_t, every member) and a rollout of
``loss.rollout_steps`` steps from the members' own predictions.
"""

from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import ExperimentConfig
from ..model.pixel_decoder import PixelDecoder
from ..model.world_model import WorldModel

__all__ = ['new_pixel_decoder', 'pixel_dynamics_losses']


def new_pixel_decoder(config: ExperimentConfig) -> Optional[PixelDecoder]:
    """The decoder a config's objective needs: a PixelDecoder for 'pixel', None for 'jepa'."""
    if config.loss.objective != 'pixel':
        return None
    return PixelDecoder(config.model.latent_dim, config.model.image_size,
                        config.loss.pixel_decoder_width)


def pixel_dynamics_losses(model: WorldModel, decoder: PixelDecoder, z: Tensor, a_norm: Tensor,
                          o: Tensor, rollout_steps: int) -> Dict[str, Tensor]:
    """Teacher-forcing and rollout pixel MSE, and the copy baseline.

    z [B, L, Z] online latents, a_norm [B, L, A], o [B, L, 3, H, W] images in [0, 1].
    Returns ``dynamics_teacher_forcing`` and ``dynamics_rollout`` (scalars with gradient)
    and ``dynamics_relative`` (detached: teacher-forcing MSE over the MSE of copying frame
    t as the prediction of t + 1, the scale-free health number the JEPA run logs too).
    """
    target = WorldModel.normalize_image(o[:, 1:].flatten(0, 1))       # [B*(L-1), 3, H, W]
    z_in, a_in = z[:, :-1].flatten(0, 1), a_norm[:, :-1].flatten(0, 1)
    tf_pred = model.dynamics(z_in, a_in)                              # [E, B*(L-1), Z]
    members = tf_pred.shape[0]
    tf_images = decoder(tf_pred)                                      # [E, B*(L-1), 3, H, W]
    teacher = F.mse_loss(tf_images, target.unsqueeze(0).expand_as(tf_images))
    z_roll = z[:, 0].unsqueeze(0).expand(members, -1, -1)             # [E, B, Z]
    rolled = []
    for k in range(rollout_steps):
        z_roll = model.dynamics.step_members(z_roll, a_norm[:, k])
        rolled.append(z_roll)
    # One decoder pass over every rollout step (one large batch is cheaper than K small).
    roll_images = decoder(torch.stack(rolled, dim=2))                 # [E, B, K, 3, H, W]
    roll_target = WorldModel.normalize_image(o[:, 1:rollout_steps + 1])   # [B, K, 3, H, W]
    rollout = F.mse_loss(roll_images, roll_target.unsqueeze(0).expand_as(roll_images))
    with torch.no_grad():
        copy = F.mse_loss(WorldModel.normalize_image(o[:, :-1].flatten(0, 1)), target)
        relative = teacher.detach() / copy.clamp_min(1e-8)
    return {'dynamics_teacher_forcing': teacher, 'dynamics_rollout': rollout,
            'dynamics_relative': relative}
