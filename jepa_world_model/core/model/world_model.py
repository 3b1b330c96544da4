"""The JEPA world model: one module, small methods (the TD-MPC2 layout).

Tensor names: ``o`` image [B, 3, H, W] float in [0, 1]; ``s`` proprio [B, S] in physical units
(joint positions, then velocities, in ``config.joint_names`` order; a continuous joint's
position as (cos q, sin q), so S grows by one per ``config.continuous_joints`` entry:
core/model/state_layout.py); ``a`` action [B, A] in physical units; ``z`` compact latent
[B, Z] = [pooled image part, normalised s, proprio embedding]. Joint positions read back out
(probes, image head) are [..., J] angles, continuous ones in (-pi, pi].

The dynamics are ``z_{t+1} = f(z_t, a_t)``. The proprio state ``s_t`` enters through the proprio
part of ``z_t`` (V-JEPA 2-AC feeds it as a separate token; with one pooled token a slice of the
latent does the same job), so ``f(z_t, a_t)`` is the issue's ``f(z_t, s_t, a_t)``.
"""

from __future__ import annotations

import copy
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from .ema import freeze
from .layers import mlp, TokenReadout
from .link_readout import LinkReadout
from .range_readout import SceneRangeReadout
from .state_layout import joint_positions_from_state, pose_from_state
from .observation_encoder import ObservationEncoder
from .pretrained_backbone import FrozenBackbone
from .token_decoder import LatentTokenDecoder
from .vit import MaskedPredictor, init_weights

# Images are normalised with fixed constants (mean 0.5, std 0.25), not dataset statistics,
# so a camera stream needs no extra metadata.
_IMAGE_MEAN = 0.5
_IMAGE_STD = 0.25


class DynamicsEnsemble(nn.Module):
    """E residual MLPs: z_{t+1} = z_t + g_e([z_t, a_t]). E > 1 gives epistemic disagreement."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.members = nn.ModuleList(
            mlp(cfg.latent_dim + cfg.action_dim, cfg.dynamics_hidden_dim, cfg.latent_dim,
                cfg.dynamics_depth) for _ in range(cfg.dynamics_ensemble_size))

    def forward(self, z: Tensor, a_norm: Tensor) -> Tensor:
        """z [B, Z], a_norm [B, A] -> [E, B, Z]."""
        x = torch.cat([z, a_norm], dim=-1)
        return torch.stack([z + g(x) for g in self.members])

    def step_members(self, z: Tensor, a_norm: Tensor) -> Tensor:
        """Each member advances its own latent. z [E, B, Z], a_norm [B, A] -> [E, B, Z]."""
        return torch.stack([z[e] + g(torch.cat([z[e], a_norm], dim=-1))
                            for e, g in enumerate(self.members)])


class WorldModel(nn.Module):
    """JEPA world model with EMA target encoder, predictors and probes."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # A frozen pretrained backbone (encoder.kind dinov2 / vjepa2), shared by the online and
        # the target encoder (core/model/observation_encoder.py); None for the ViT.
        self.backbone = FrozenBackbone(cfg.encoder) if cfg.encoder.is_pretrained else None
        self.encoder = ObservationEncoder(cfg)
        self.masked_predictor = MaskedPredictor(
            cfg.image_size // cfg.patch_size, cfg.embed_dim, cfg.predictor_embed_dim,
            cfg.predictor_depth, cfg.predictor_num_heads, cfg.mlp_ratio, max_time_offset=1)
        self.dynamics = DynamicsEnsemble(cfg)
        # Inverse dynamics reads only the image part of z, so the *visual* encoder must see the
        # robot move (calibration.md: without it the ViT tracked the static target instead).
        self.inverse_dynamics_head = mlp(2 * cfg.image_latent_dim, cfg.idm_hidden_dim,
                                         cfg.action_dim, 1)
        self.image_state_head: Optional[nn.Module] = None
        if cfg.image_state_head:
            width = cfg.joint_coding.width   # coded positions: (cos, sin) if continuous
            self.image_state_head = (
                TokenReadout(cfg.num_patches, cfg.embed_dim, cfg.idm_hidden_dim, width)
                if cfg.image_state_source == 'tokens' else
                mlp(cfg.image_latent_dim, cfg.idm_hidden_dim, width, 1))
        # Goal links by forward kinematics and read from images (link_readout.py).
        self.link_readout: Optional[LinkReadout] = (
            LinkReadout(cfg) if cfg.kinematics.enabled else None)
        # Probes train on detached latents: they read z out, they never shape it.
        self.state_probe = nn.Linear(cfg.latent_dim, cfg.state_dim) if cfg.state_dim else None
        self.pose_probe = nn.Linear(cfg.latent_dim, 3) if cfg.pose_probe else None
        # Read-out of contact/collision labels, fitted on frozen latents: logistic on encoded
        # latents (probes.py), or an MLP on predicted ones (risk_head.py, risk_hidden_dim > 0).
        self.risk_probe: Optional[nn.Module] = None
        if cfg.risk_labels:
            self.risk_probe = (mlp(cfg.latent_dim, cfg.risk_hidden_dim, len(cfg.risk_labels), 1)
                               if cfg.risk_hidden_dim else
                               nn.Linear(cfg.latent_dim, len(cfg.risk_labels)))
        # Range read-out (scan.py): trained with gradient into the encoder and the dynamics,
        # so it is part of the representation, not a probe.
        self.scan_head: Optional[nn.Module] = None
        if cfg.scan_sectors:
            self.scan_head = (
                SceneRangeReadout(cfg.num_patches, cfg.embed_dim, cfg.idm_hidden_dim,
                                  cfg.scan_sectors) if cfg.scan_source == 'tokens' else
                mlp(cfg.latent_dim, cfg.idm_hidden_dim, cfg.scan_sectors, 2))
        self.token_decoder: Optional[nn.Module] = (
            LatentTokenDecoder(cfg.latent_dim, cfg.num_patches, cfg.embed_dim, cfg.idm_hidden_dim)
            if cfg.latent_token_decoder else None)
        init_weights(self.encoder.vit if self.backbone is None else self.encoder.adapter)
        init_weights(self.masked_predictor)
        self.target_encoder = freeze(copy.deepcopy(self.encoder))
        # Normalisation statistics, fitted on the training data and saved in checkpoints.
        self.register_buffer('state_mean', torch.zeros(cfg.state_dim))
        self.register_buffer('state_std', torch.ones(cfg.state_dim))
        self.register_buffer('action_mean', torch.zeros(cfg.action_dim))
        self.register_buffer('action_std', torch.ones(cfg.action_dim))

    def train(self, mode: bool = True) -> 'WorldModel':
        """Like nn.Module.train, but the EMA target encoder always stays in eval mode."""
        super().train(mode)
        self.target_encoder.eval()
        return self

    # -- normalisation ---------------------------------------------------------------------
    def set_normalization(self, s_mean: Tensor, s_std: Tensor, a_mean: Tensor,
                          a_std: Tensor) -> None:
        """Store proprio/action statistics; stds are floored so constant channels are safe."""
        with torch.no_grad():
            self.state_mean.copy_(s_mean)
            self.state_std.copy_(s_std.clamp_min(1e-3))
            self.action_mean.copy_(a_mean)
            self.action_std.copy_(a_std.clamp_min(1e-3))

    def normalize_state(self, s: Tensor) -> Tensor:
        """s [..., S] physical -> normalised."""
        return (s - self.state_mean) / self.state_std

    def normalize_action(self, a: Tensor) -> Tensor:
        """a [..., A] physical -> normalised."""
        return (a - self.action_mean) / self.action_std

    def denormalize_action(self, a_norm: Tensor) -> Tensor:
        """a_norm [..., A] -> physical units."""
        return a_norm * self.action_std + self.action_mean

    @staticmethod
    def normalize_image(o: Tensor) -> Tensor:
        """o [B, 3, H, W] in [0, 1] -> zero-centred network input."""
        return (o - _IMAGE_MEAN) / _IMAGE_STD

    # -- encoding --------------------------------------------------------------------------
    def patch_tokens(self, o: Tensor, keep_idx: Optional[Tensor] = None,
                     target: bool = False) -> Tensor:
        """o [B, 3, H, W] in [0, 1] -> patch tokens [B, N or K, D] (online or EMA target)."""
        enc = self.target_encoder if target else self.encoder
        if self.backbone is None:
            return enc.vit(self.normalize_image(o), keep_idx)
        if keep_idx is not None:
            raise ValueError('a frozen pretrained backbone sees whole frames: masked prediction '
                             '(keep_idx) needs encoder.kind vit')
        return enc.adapter(self.backbone(o))

    def encode(self, o: Tensor, s: Optional[Tensor] = None, target: bool = False) -> Tensor:
        """Observation to latent.

        Args:
            o: [B, 3, H, W] float image in [0, 1], H = W = config.image_size.
            s: [B, S] proprio in physical units (required when config.state_dim > 0).
            target: use the EMA target encoder (no gradient flows through it).

        Returns:
            z: [B, Z] with Z = config.latent_dim.
        """
        return self._tokens_and_latent(o, s, target)[1]

    def latent_from_tokens(self, tokens: Tensor, s: Optional[Tensor], target: bool = False
                           ) -> Tensor:
        """z [B, Z] from one encoder's patch tokens [B, N, D] (:meth:`patch_tokens`) and
        s [B, S] in physical units (None for models without a state)."""
        enc = self.target_encoder if target else self.encoder
        s_norm = None if s is None or not self.cfg.state_dim else self.normalize_state(s)
        return enc.latent_from_tokens(tokens, s_norm)

    def _tokens_and_latent(self, o: Tensor, s: Optional[Tensor], target: bool = False
                           ) -> Tuple[Tensor, Tensor]:
        """One encoder pass: (patch tokens [B, N, D], z [B, Z]) of o [B, 3, H, W], s [B, S]."""
        self._check_image(o)
        tokens = self.patch_tokens(o, target=target)
        return tokens, self.latent_from_tokens(tokens, s, target)

    def learned_part(self, z: Tensor) -> Tensor:
        """z without the normalised-state slice: what the encoder learns (and could collapse).

        z [..., Z] -> [..., image_latent_dim + proprio_latent_dim].
        """
        if not self.cfg.state_dim:
            return z
        start = self.cfg.image_latent_dim
        return torch.cat([z[..., :start], z[..., start + self.cfg.state_dim:]], dim=-1)

    def image_part(self, z: Tensor) -> Tensor:
        """z [..., Z] -> the pooled-image slice [..., image_latent_dim]."""
        return z[..., :self.cfg.image_latent_dim]

    # -- dynamics --------------------------------------------------------------------------
    def predict(self, z: Tensor, a: Tensor) -> Tensor:
        """One step of the action-conditioned dynamics (ensemble mean).

        Args:
            z: [B, Z] latent at time t.
            a: [B, A] action at time t, physical units.

        Returns:
            [B, Z] predicted latent at t + 1.
        """
        return self.predict_ensemble(z, a).mean(dim=0)

    def predict_ensemble(self, z: Tensor, a: Tensor) -> Tensor:
        """Every ensemble member's prediction. z [B, Z], a [B, A] -> [E, B, Z]."""
        return self.dynamics(z, self.normalize_action(a))

    def rollout(self, z: Tensor, a: Tensor) -> Tensor:
        """Autoregressive rollout. z [B, Z], a [B, H, A] -> predicted latents [B, H, Z]."""
        out = []
        for t in range(a.shape[1]):
            z = self.predict(z, a[:, t])
            out.append(z)
        return torch.stack(out, dim=1)

    def disagreement(self, z: Tensor, a: Tensor) -> Tensor:
        """Epistemic uncertainty: std across ensemble members, mean over Z. -> [B]."""
        preds = self.predict_ensemble(z, a)
        if preds.shape[0] < 2:
            return torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        return preds.std(dim=0).mean(dim=-1)

    def inverse_dynamics(self, z: Tensor, z_next: Tensor) -> Tensor:
        """Predict the normalised action between two latents. [B, Z] x2 -> [B, A]."""
        return self.inverse_dynamics_head(
            torch.cat([self.image_part(z), self.image_part(z_next)], dim=-1))

    # -- probes ----------------------------------------------------------------------------
    def image_joint_positions(self, z: Tensor, normalized: bool = False) -> Tensor:
        """Joint positions read from the image part of z alone (``image_state_head`` with
        ``image_state_source`` 'latent'; see :meth:`read_image_joints` for any source).

        z [..., Z] -> [..., J], physical units, continuous joints in (-pi, pi]
        (``normalized``: the normalised coded positions [..., J + C] the head is trained on).
        """
        if self.image_state_head is None or self.cfg.image_state_source != 'latent':
            raise ValueError('this model has no image_state_head on the latent')
        return self._joints_from_head(self.image_state_head(self.image_part(z)), normalized)

    def joints_from_tokens(self, tokens: Tensor, normalized: bool = False) -> Tensor:
        """Joint positions from patch tokens [B, N, D] (``image_state_source`` 'tokens').

        -> [B, J], physical units, continuous joints in (-pi, pi] (``normalized``: the
        normalised coded positions [B, J + C]).
        """
        if self.image_state_head is None or self.cfg.image_state_source != 'tokens':
            raise ValueError('this model has no image_state_head on the patch tokens')
        return self._joints_from_head(self.image_state_head(tokens), normalized)

    def read_image_joints(self, o: Tensor) -> Tensor:
        """Joint positions the robot shows in images ``o`` [B, 3, H, W] in [0, 1], read by
        the ``image_state_head`` from the online encoder (no proprio input). -> [B, J]."""
        s = (torch.zeros(o.shape[0], self.cfg.state_dim, dtype=o.dtype, device=o.device)
             if self.cfg.state_dim else None)
        return self.encode_with_image_joints(o, s)[1]

    def encode_with_image_joints(self, o: Tensor, s: Optional[Tensor] = None
                                 ) -> Tuple[Tensor, Tensor]:
        """:meth:`encode` (online encoder) and :meth:`read_image_joints` from one ViT pass.

        o [B, 3, H, W] in [0, 1], s [B, S] -> (z [B, Z], joint reading [B, J]). The reading
        does not depend on ``s``: the head sees the patch tokens or the image part of z.
        """
        if self.image_state_head is None:
            raise ValueError('this model has no image_state_head')
        tokens, z = self._tokens_and_latent(o, s)
        return z, self.image_joints_from(tokens, z)

    def image_joints_from(self, tokens: Tensor, z: Tensor, normalized: bool = False) -> Tensor:
        """The head's joint reading of a frame from its patch tokens [B, N, D] and its latent
        z [B, Z], whichever of the two ``image_state_source`` names. -> [B, J]."""
        if self.cfg.image_state_source == 'tokens':
            return self.joints_from_tokens(tokens, normalized)
        return self.image_joint_positions(z, normalized)

    def _joints_from_head(self, q_norm: Tensor, normalized: bool) -> Tensor:
        """Head output [..., J + C] (normalised, coded) -> [..., J], or itself."""
        if normalized:
            return q_norm
        part = self.cfg.state_slices['position']
        return self.cfg.joint_coding.decode(q_norm * self.state_std[part]
                                            + self.state_mean[part])

    def link_positions(self, q: Tensor) -> Tensor:
        """Goal link positions by forward kinematics: q [..., J] -> [..., L, 3] (metres, in
        ``kinematics.base_link``)."""
        return self._links().positions(q)

    def encode_with_image_links(self, o: Tensor, s: Optional[Tensor] = None
                                ) -> Tuple[Tensor, Tensor]:
        """:meth:`encode` and the goal links' positions read from the frame alone, in one
        encoder pass: o [B, 3, H, W] in [0, 1], s [B, S] -> (z [B, Z], links [B, L, 3])."""
        self._links()
        tokens, z = self._tokens_and_latent(o, s)
        return z, self.image_links_from(tokens, z)

    def image_links_from(self, tokens: Tensor, z: Tensor, normalized: bool = False) -> Tensor:
        """The link reading of frames from their tokens [B, N, D] and latents z [B, Z] ->
        [B, L, 3] (``normalized``: [B, 3L], the training scale)."""
        readout = self._links()
        return readout.read(tokens if readout.source == 'tokens' else self.image_part(z),
                            normalized)

    def _links(self) -> LinkReadout:
        if self.link_readout is None:
            raise ValueError('this model has no kinematics (model.kinematics.goal_links)')
        return self.link_readout

    def probe_state(self, z: Tensor) -> Tensor:
        """Joint positions (then velocities) decoded from z. z [..., Z] -> s [..., S] physical."""
        if self.state_probe is None:
            raise ValueError('this model has no proprio state (joint_names is empty)')
        return self.state_probe(z) * self.state_std + self.state_mean

    def probe_joint_positions(self, z: Tensor) -> Tensor:
        """z [..., Z] -> joint positions [..., J] (joint_names order; continuous: atan2)."""
        slices = self.cfg.state_slices
        if 'position' not in slices:
            raise ValueError('this model has no joint positions in its state')
        return joint_positions_from_state(self.probe_state(z), slices, self.cfg.joint_coding)

    @property
    def has_pose(self) -> bool:
        """True when :meth:`probe_pose` works (pose probe, or pose in the state)."""
        return self.cfg.has_pose

    def probe_pose(self, z: Tensor) -> Tensor:
        """Base pose (x, y, yaw) decoded from z. z [..., Z] -> [..., 3].

        With ``pose_in_state`` the pose is read from the state part of z (cos/sin yaw, so it
        never wraps); otherwise the linear pose probe reads it.
        """
        if self.cfg.pose_in_state:
            return pose_from_state(self.probe_state(z), self.cfg.state_slices)
        if self.pose_probe is None:
            raise ValueError('this model has no base pose (model.pose_probe / pose_in_state)')
        return self.pose_probe(z)

    def probe_risk(self, z: Tensor) -> Tensor:
        """Probability of each ``config.risk_labels`` event. z [..., Z] -> [..., K] in [0, 1]."""
        if self.risk_probe is None:
            raise ValueError('this model has no risk probe (model.risk_labels is empty)')
        return torch.sigmoid(self.risk_probe(z))

    def predict_ranges(self, z: Tensor, scene: Optional[Tensor] = None,
                       normalized: bool = False) -> Tensor:
        """Sector ranges of the planar scan at the state z. z [..., Z] -> [..., R] in metres,
        in (0, scan_range_max) (``normalized``: divided by scan_range_max).

        ``scan_source`` 'tokens' also needs the ``scene`` code [..., C] of the frame whose
        surroundings are meant (:meth:`encode_with_scene`), broadcast against z's batch: the
        read-out is queried at the pose read from z.
        """
        if self.scan_head is None:
            raise ValueError('this model has no range read-out (model.scan_sectors is 0)')
        if self.cfg.scan_source == 'tokens':
            if scene is None:
                raise ValueError("scan_source 'tokens' reads ranges in a scene: pass the "
                                 'scene code of encode_with_scene')
            ranges = self.scan_head(scene, self.probe_pose(z))
        else:
            ranges = torch.sigmoid(self.scan_head(z))
        return ranges if normalized else ranges * self.cfg.scan_range_max

    def encode_with_scene(self, o: Tensor, s: Optional[Tensor] = None
                          ) -> Tuple[Tensor, Tensor]:
        """:meth:`encode` and the range read-out's scene code from one ViT pass.

        o [B, 3, H, W] in [0, 1], s [B, S] -> (z [B, Z], scene [B, C]); models with
        ``scan_source`` 'tokens' only.
        """
        if self.scan_head is None or self.cfg.scan_source != 'tokens':
            raise ValueError("encode_with_scene needs scan_source 'tokens'")
        tokens, z = self._tokens_and_latent(o, s)
        return z, self.scan_head.scene(tokens)

    # -- utilities -------------------------------------------------------------------------
    def _check_image(self, o: Tensor) -> None:
        size = self.cfg.image_size
        if o.dim() != 4 or o.shape[1] != 3 or o.shape[2] != size or o.shape[3] != size:
            raise ValueError(f'expected images [B, 3, {size}, {size}], got {tuple(o.shape)}')

    def parameter_counts(self) -> dict:
        """Trainable parameters per component (the target encoder is counted separately)."""
        def count(m: Optional[nn.Module]) -> int:
            return 0 if m is None else sum(p.numel() for p in m.parameters())
        counts = {
            'encoder': count(self.encoder),
            'masked_predictor': count(self.masked_predictor),
            'dynamics': count(self.dynamics),
            'inverse_dynamics': count(self.inverse_dynamics_head),
            'image_state': count(self.image_state_head),
            'image_links': count(self.link_readout),
            'scan': count(self.scan_head),
            'probes': (count(self.state_probe) + count(self.pose_probe)
                       + count(self.risk_probe)),
            'target_encoder': count(self.target_encoder),
            'frozen_backbone': count(self.backbone),
        }
        counts['total_trainable'] = sum(v for k, v in counts.items()
                                        if k not in ('target_encoder', 'frozen_backbone'))
        return counts

    def __repr__(self) -> str:
        counts = self.parameter_counts()
        return (f'WorldModel(latent_dim={self.cfg.latent_dim}, '
                f'patches={self.cfg.num_patches}, params={counts["total_trainable"]:,})')
