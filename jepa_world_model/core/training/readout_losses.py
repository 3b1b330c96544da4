"""Losses of the read-outs trained with the model: the range read-out (``model.scan_sectors``)
on encoded and predicted latents or on the scene tokens, the patch tokens decoded from z
(``model.latent_token_decoder``) and the pose probe's wrapped-yaw MSE."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..model.range_readout import sector_ranges
from ..model.state_layout import pose_from_state
from ..model.world_model import WorldModel
from .data import Batch
from .losses import feature_prediction_loss

__all__ = ['scan_loss', 'latent_token_loss', 'pose_loss']


def scan_loss(model: WorldModel, tokens: Tensor, z: Tensor, z_rolled: Tensor,
              batch: Batch, near_weight: float = 1.0) -> Tensor:
    """Range read-out error in units of scan_range_max.

    ``scan_source`` 'latent': on the encoded latents z [B, L, Z] and on the members'
    rollouts z_rolled [E, B, K, Z] (step k predicts frame k + 1). 'tokens': the scene of
    each frame j of a clip (from its patch tokens [B * L, N, D]) queried at the recorded pose
    of every frame k >= j, against frame k's scan: what the planner asks of it along a plan.
    Ranges under half the cap weigh ``near_weight`` times (``loss.scan_near_weight``).
    """
    cfg = model.cfg
    b, length = batch.s.shape[:2]

    def labels(scan: Tensor) -> Tensor:
        """Sector ranges [..., R] in units of the cap."""
        return sector_ranges(scan, cfg.scan_sectors, cfg.scan_range_max) / cfg.scan_range_max

    def error(pred: Tensor, tgt: Tensor) -> Tensor:
        weight = torch.where(tgt < 0.5, near_weight, 1.0)
        return (weight * (pred - tgt) ** 2).sum() / weight.sum()

    if cfg.scan_source == 'tokens' and batch.label_scan is not None:
        # The first frame's scene, queried at the poses of the next K frames.
        scene = model.scan_head.scene(tokens.view(b, length, *tokens.shape[1:])[:, 0])
        pose = pose_from_state(batch.label_s, cfg.state_slices)       # [B, K, 3]
        return error(model.scan_head(scene[:, None], pose), labels(batch.label_scan))
    target = labels(batch.scan)                                       # [B, L, R]
    if cfg.scan_source == 'tokens':
        scene = model.scan_head.scene(tokens).view(b, length, -1)    # [B, L, C]
        pose = pose_from_state(batch.s, cfg.state_slices)             # [B, L, 3]
        j, k = torch.triu_indices(length, length, device=target.device)
        return error(model.scan_head(scene[:, j], pose[:, k]), target[:, k])
    encoded = error(model.predict_ranges(z, normalized=True), target)
    k = z_rolled.shape[2]
    predicted = error(model.predict_ranges(z_rolled, normalized=True),
                      target[:, 1:k + 1].unsqueeze(0).expand(z_rolled.shape[0], -1, -1, -1))
    return 0.5 * (encoded + predicted)


def latent_token_loss(model: WorldModel, z: Tensor, z_rolled: Tensor, target_tokens: Tensor
                      ) -> Tensor:
    """The target encoder's patch tokens decoded from z (core/model/token_decoder.py).

    Half from the encoded latents z [B, L, Z] against their own frames' tokens, half from
    the members' rollouts z_rolled [E, B, K, Z] (step k predicts frame k + 1) against the
    tokens of the frames they predict; target_tokens [B, L, N, D], layer-normed here as the
    patch terms do. So both the encoder and the dynamics are asked to carry them.
    """
    encoded = feature_prediction_loss(model.token_decoder(z), target_tokens)
    k = z_rolled.shape[2]
    future = target_tokens[:, 1:k + 1].unsqueeze(0).expand(z_rolled.shape[0], -1, -1, -1, -1)
    predicted = feature_prediction_loss(model.token_decoder(z_rolled), future)
    return 0.5 * (encoded + predicted)


def pose_loss(pred: Tensor, pose: Tensor) -> Tensor:
    """MSE on x, y and on the wrapped yaw difference. pred, pose [N, 3] (x, y, yaw)."""
    d_yaw = torch.atan2(torch.sin(pred[:, 2] - pose[:, 2]), torch.cos(pred[:, 2] - pose[:, 2]))
    return F.mse_loss(pred[:, :2], pose[:, :2]) + d_yaw.pow(2).mean()
