"""Loss terms, all in latent space (no pixel decoder anywhere).

* ``feature_prediction_loss``: I-JEPA / V-JEPA regression onto layer-normed target features.
* ``vicreg_variance_loss`` and ``vicreg_covariance_loss``: anti-collapse regulariser
  (Bardes et al. 2022), as used by PLDM and eb_jepa.
* ``latent_l1``: V-JEPA 2-AC's L1 teacher-forcing and rollout losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def feature_prediction_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error to layer-normed targets. pred, target [..., D] -> scalar.

    Layer-normalising the targets (I-JEPA, V-JEPA) removes a trivial scale shortcut.
    """
    target = F.layer_norm(target, target.shape[-1:])
    return F.mse_loss(pred, target)


def latent_l1(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error between predicted and target latents, [..., Z] -> scalar."""
    return (pred - target).abs().mean()


def vicreg_variance_loss(z: Tensor, target_std: float = 1.0, eps: float = 1e-4) -> Tensor:
    """Hinge on each dimension's std across the batch. z [B, Z] -> scalar."""
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(target_std - std).mean()


def vicreg_covariance_loss(z: Tensor) -> Tensor:
    """Sum of squared off-diagonal covariances divided by Z. z [B, Z] -> scalar."""
    n, d = z.shape
    z = z - z.mean(dim=0)
    cov = (z.T @ z) / max(n - 1, 1)                     # [Z, Z]
    off = cov - torch.diag(torch.diag(cov))
    return off.pow(2).sum() / d
