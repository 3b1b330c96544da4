"""The world model's architecture (:class:`ModelConfig`, the ``model:`` section of a training
config) and the size limits a config or checkpoint must respect.

Loaded and saved with the rest of the config (``core/config.py``); values are type-checked by
the settings engine (``core/settings_spec.py``) and checked here in ``__post_init__``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Dict, List

from ..settings_spec import require
from .encoder_config import EncoderConfig
from .joint_angles import JointAngleCoding
from .kinematics import KinematicsConfig
from .state_layout import state_dim, state_slices

__all__ = ['ModelConfig', 'MODEL_SIZE_LIMITS', 'PATCH_STEMS', 'IMAGE_STATE_SOURCES',
           'IMAGE_POOLS']

PATCH_STEMS = ('linear', 'conv')
IMAGE_STATE_SOURCES = ('latent', 'tokens')
IMAGE_POOLS = ('attention', 'grid', 'keypoints')
# Upper bounds on a model's sizes, far above anything this package trains (its models have
# ~1 M parameters): a config, or a checkpoint's embedded one, asking for more is refused
# before anything is built. Without them a 2 KB checkpoint could make a node allocate
# gigabytes. The total parameter count is bounded in core/checkpoint.py.
MODEL_SIZE_LIMITS = {
    'image_size': 1024, 'num_patches': 4096, 'embed_dim': 4096, 'predictor_embed_dim': 4096,
    'depth': 48, 'predictor_depth': 48, 'dynamics_depth': 16, 'dynamics_ensemble_size': 16,
    'mlp_ratio': 16, 'image_latent_dim': 4096, 'proprio_latent_dim': 4096,
    'dynamics_hidden_dim': 16384, 'idm_hidden_dim': 16384, 'risk_hidden_dim': 16384,
    'joint_names': 256, 'action_dim': 256, 'risk_labels': 64, 'scan_sectors': 4096,
}


@dataclass
class ModelConfig:
    """Architecture of the world model (encoder, predictors, probes)."""

    image_size: int = 64
    patch_size: int = 8
    # 'linear': one strided convolution per patch (ViT). 'conv': a stack of stride-2 3x3
    # convolutions down to the patch grid (Xiao et al. 2021, early convolutions): on the arm
    # it located the links several times better than the linear stem at equal training time.
    patch_stem: str = 'linear'
    embed_dim: int = 128
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 2.0
    # The compact latent the dynamics predictor and planner work on: pooled image part + proprio
    # part. One pooled token instead of 64 patch tokens is ~100x cheaper per planning step.
    image_latent_dim: int = 64
    # How the patch tokens become the image part of z. 'attention': a few learned queries
    # attend over all tokens (compact, but small objects drop out: on the tabletop the
    # pooled latent read the block no better than its mean position, docs/tabletop.md).
    # 'grid': every patch keeps image_latent_dim / num_patches channels of its own, flattened
    # in grid order, so *where* something is stays in z (the spatial latent of DINO-WM, cut
    # down to a few channels per patch so the dynamics stay one MLP).
    # 'keypoints': image_latent_dim / 3 spatial-softmax keypoints, each its expected place on
    # the patch grid and one feature (core/model/keypoint_pool.py): where things are, compact.
    image_pool: str = 'attention'
    proprio_latent_dim: int = 32
    joint_names: List[str] = field(default_factory=lambda: ['joint_x', 'joint_y'])
    # Joints without limits (URDF type="continuous": wheels, turntables, wrist rolls): their
    # angle enters s as (cos q, sin q) and every position read-out returns atan2 in (-pi, pi]
    # (core/model/joint_angles.py); goals on them wrap. A subset of joint_names.
    continuous_joints: List[str] = field(default_factory=list)
    # What s holds (core/model/state_layout.py): joint positions, velocities, odometry pose.
    use_joint_position: bool = True
    use_joint_velocity: bool = True
    pose_in_state: bool = False
    action_dim: int = 2
    action_names: List[str] = field(default_factory=list)
    predictor_embed_dim: int = 64
    predictor_depth: int = 2
    predictor_num_heads: int = 4
    dynamics_hidden_dim: int = 256
    dynamics_depth: int = 2
    dynamics_ensemble_size: int = 1
    idm_hidden_dim: int = 128
    pose_probe: bool = False            # linear (x, y, yaw) read-out; not with pose_in_state
    # A head that predicts the joint positions from the image part of z alone, trained with
    # gradient into the encoder (loss.image_state): makes the *visual* latent encode the
    # robot's configuration, which goal-image planning needs (the image of a goal has no s).
    image_state_head: bool = False
    # What the image_state_head reads. 'latent': the pooled image part of z (so predicted
    # latents can be read too). 'tokens': the patch tokens, projected and flattened, which
    # keeps where each link is; on the arm the pooled 32-D part left joint 3 unread (median
    # error 0.64 rad), a spatial read-out is what a small CNN regressor needs to reach 0.1.
    image_state_source: str = 'latent'
    # A decoder from z (encoded or predicted) to the frame's target patch tokens, trained with
    # gradient into the encoder and the dynamics (loss.latent_tokens;
    # core/model/token_decoder.py): the compact latent must keep what the tokens hold, e.g.
    # where the objects are, not only the robot that the state already gives.
    latent_token_decoder: bool = False
    # Per-frame 0/1 labels (Episode extras, e.g. collision, contact) a logistic risk probe
    # learns to predict from z; the planner's risk term (core/planning/goals.py).
    risk_labels: List[str] = field(default_factory=list)
    # 0: the risk probe is linear (logistic) on encoded latents. > 0: an MLP of this width,
    # trained on the latents the dynamics *predict* along rollouts of the recorded actions
    # (core/model/risk_head.py), so it scores plans on the latents the planner actually sees.
    risk_hidden_dim: int = 0
    # Range read-out: an MLP on z predicts the planar range scan (data.bag.scan_topic) pooled
    # to this many sectors (the nearest return in each) and capped at scan_range_max [m]. It
    # is trained on encoded *and* predicted latents with gradient into the encoder and the
    # dynamics (loss.scan), so the latent carries where walls, furniture and people are
    # relative to the robot; the planner's clearance term reads it. 0: no read-out.
    scan_sectors: int = 0
    scan_range_max: float = 1.0
    # What the range read-out reads (core/model/range_readout.py): 'latent', z itself;
    # 'tokens', the frame's patch tokens (where people are now) queried at the pose read from
    # z (where the robot is, or will be along a plan). 'tokens' needs the pose in the state.
    scan_source: str = 'latent'
    # The vision encoder (core/model/encoder_config.py): the from-scratch ViT above (default)
    # or a frozen pretrained DINOv2 / V-JEPA 2 backbone with a trained adapter to embed_dim.
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    # The URDF chain to a few goal links (core/model/kinematics.py; filled by `train` from the
    # training config's robot_description). When set, an image head also reads the goal
    # links' positions from images and image goals are aimed in metres at those links (the
    # part of the arm a camera shows) instead of at joint angles it may not show.
    kinematics: KinematicsConfig = field(default_factory=KinematicsConfig)

    def __post_init__(self) -> None:
        self._check_sizes()
        require(self.risk_hidden_dim >= 0, 'risk_hidden_dim must be >= 0')
        require(self.scan_sectors >= 0, 'scan_sectors must be >= 0')
        require(math.isfinite(self.scan_range_max) and self.scan_range_max > 0,
                'scan_range_max must be finite and > 0')
        require(self.scan_source in ('latent', 'tokens'),
                f"scan_source must be 'latent' or 'tokens', got {self.scan_source!r}")
        require(self.scan_source != 'tokens' or self.pose_in_state,
                "scan_source 'tokens' needs pose_in_state (the read-out is queried at poses)")
        require(self.image_state_source in IMAGE_STATE_SOURCES,
                f'image_state_source must be one of {IMAGE_STATE_SOURCES}, got '
                f'{self.image_state_source!r}')
        require(self.image_pool in IMAGE_POOLS,
                f'image_pool must be one of {IMAGE_POOLS}, got {self.image_pool!r}')
        require(self.image_pool != 'grid' or self.image_latent_dim % self.num_patches == 0,
                f'image_pool grid needs image_latent_dim ({self.image_latent_dim}) to be a '
                f'multiple of the number of patches ({self.num_patches})')
        require(self.image_pool != 'keypoints' or self.image_latent_dim % 3 == 0,
                f'image_pool keypoints needs image_latent_dim ({self.image_latent_dim}) to be a '
                'multiple of 3 (x, y and a feature per keypoint)')
        require(self.image_pool != 'keypoints'
                or math.isqrt(self.num_patches) ** 2 == self.num_patches,
                'image_pool keypoints needs a square patch grid')
        require(self.patch_stem in PATCH_STEMS,
                f'patch_stem must be one of {PATCH_STEMS}, got {self.patch_stem!r}')
        require(self.patch_stem != 'conv' or self.patch_size & (self.patch_size - 1) == 0,
                f'patch_stem conv needs a power-of-two patch_size, got {self.patch_size}')
        require(self.image_size % self.patch_size == 0,
                f'image_size {self.image_size} must be divisible by patch_size {self.patch_size}')
        require(self.embed_dim % self.num_heads == 0,
                f'embed_dim {self.embed_dim} must be divisible by num_heads {self.num_heads}')
        require(self.predictor_embed_dim % self.predictor_num_heads == 0,
                'predictor_embed_dim must be divisible by predictor_num_heads')
        require(self.proprio_latent_dim >= 0, 'proprio_latent_dim must be >= 0')
        require(len(set(self.joint_names)) == len(self.joint_names), 'joint_names must be unique')
        unknown = [name for name in self.continuous_joints if name not in self.joint_names]
        require(not unknown, f'continuous_joints {unknown} are not in joint_names '
                f'{list(self.joint_names)}')
        require(len(set(self.continuous_joints)) == len(self.continuous_joints),
                'continuous_joints must be unique')
        require(not self.continuous_joints or self.use_joint_position,
                'continuous_joints need use_joint_position (they change how positions enter s)')
        require(not self.action_names or len(self.action_names) == self.action_dim,
                'action_names must be empty or have action_dim entries')
        require(self.proprio_latent_dim == 0 or self.state_dim > 0,
                'proprio_latent_dim > 0 needs a state (joint_names or pose_in_state)')
        require(not (self.pose_probe and self.pose_in_state),
                'pose_probe and pose_in_state exclude each other: with pose_in_state the '
                'pose is read from the predicted state')
        require(len(set(self.risk_labels)) == len(self.risk_labels), 'risk_labels must be unique')
        require(not self.image_state_head or 'position' in self.state_slices,
                'image_state_head needs joint positions in the state')
        if self.kinematics.enabled:
            missing = [n for n in self.kinematics.moving_joints() if n not in self.joint_names]
            require(not missing, f'kinematics joints {missing} are not in joint_names')
            require('position' in self.state_slices,
                    'kinematics needs joint positions in the state')

    def _check_sizes(self) -> None:
        """Positive sizes within MODEL_SIZE_LIMITS, checked before anything divides by them."""
        for name in ('image_size', 'patch_size', 'embed_dim', 'num_heads', 'depth',
                     'image_latent_dim', 'action_dim', 'predictor_embed_dim',
                     'predictor_depth', 'predictor_num_heads', 'dynamics_hidden_dim',
                     'dynamics_depth', 'dynamics_ensemble_size', 'idm_hidden_dim'):
            require(getattr(self, name) > 0, f'{name} must be > 0')
        require(math.isfinite(self.mlp_ratio) and self.mlp_ratio > 0,
                'mlp_ratio must be finite and > 0')
        for name, limit in MODEL_SIZE_LIMITS.items():
            value = getattr(self, name)
            size = len(value) if isinstance(value, list) else value
            require(size <= limit, f'{name} {size} is above the limit {limit}')
        # The sine-cosine position embeddings split each width into four parts.
        for name in ('embed_dim', 'predictor_embed_dim'):
            require(getattr(self, name) % 4 == 0,
                    f'{name} must be divisible by 4, got {getattr(self, name)}')

    @property
    def num_patches(self) -> int:
        """Number of patch tokens per frame (a pretrained encoder's grid: encoder_config.py)."""
        if self.encoder.is_pretrained:
            return self.encoder.num_patches
        return (self.image_size // self.patch_size) ** 2

    @property
    def state_slices(self) -> Dict[str, slice]:
        """Slices of ``s`` by part ('position', 'velocity', 'pose'); core/model/state_layout.py."""
        return state_slices(self.use_joint_position, self.use_joint_velocity,
                            self.pose_in_state, len(self.joint_names),
                            len(self.continuous_joints))

    @property
    def joint_coding(self) -> JointAngleCoding:
        """Which joints are continuous; codes and decodes their positions (cos, sin)."""
        return JointAngleCoding.of(self.joint_names, self.continuous_joints)

    @property
    def state_dim(self) -> int:
        """Size of the proprio vector ``s`` (core/model/state_layout.py)."""
        return state_dim(self.use_joint_position, self.use_joint_velocity, self.pose_in_state,
                         len(self.joint_names), len(self.continuous_joints))

    @property
    def has_pose(self) -> bool:
        """True when the model outputs a base pose (pose probe or pose in the state)."""
        return self.pose_probe or self.pose_in_state

    @property
    def latent_dim(self) -> int:
        """Size of ``z`` = [image part, normalised s, proprio embedding]."""
        if not self.state_dim:
            return self.image_latent_dim
        return self.image_latent_dim + self.state_dim + self.proprio_latent_dim
