"""Typed configuration: dataclasses loaded from YAML, unknown keys rejected.

Every default lives here and only here. A run writes its resolved config next to its outputs
(``save_config``), and checkpoints embed the same JSON, so a model can always be rebuilt.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Type, TypeVar

import yaml

from .atomic_files import atomic_write_text
from .state_layout import state_dim, state_slices


class ConfigError(ValueError):
    """A config file or dict does not match the dataclass schema."""


PATCH_STEMS = ('linear', 'conv')
IMAGE_STATE_SOURCES = ('latent', 'tokens')
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
    proprio_latent_dim: int = 32
    joint_names: List[str] = field(default_factory=lambda: ['joint_x', 'joint_y'])
    # What s holds (core/state_layout.py): joint positions, velocities, odometry pose.
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
    # Per-frame 0/1 labels (Episode extras, e.g. collision, contact) a logistic risk probe
    # learns to predict from z; the planner's risk term (core/goals.py).
    risk_labels: List[str] = field(default_factory=list)
    # 0: the risk probe is linear (logistic) on encoded latents. > 0: an MLP of this width,
    # trained on the latents the dynamics *predict* along rollouts of the recorded actions
    # (core/risk_head.py), so it scores plans on the latents the planner actually sees.
    risk_hidden_dim: int = 0
    # Range read-out: an MLP on z predicts the planar range scan (data.bag.scan_topic) pooled
    # to this many sectors (the nearest return in each) and capped at scan_range_max [m]. It
    # is trained on encoded *and* predicted latents with gradient into the encoder and the
    # dynamics (loss.scan), so the latent carries where walls, furniture and people are
    # relative to the robot; the planner's clearance term reads it. 0: no read-out.
    scan_sectors: int = 0
    scan_range_max: float = 1.0
    # What the range read-out reads (core/scan.py): 'latent', z itself; 'tokens', the frame's
    # patch tokens (where people are now) queried at the pose read from z (where the robot
    # is, or will be along a plan). 'tokens' needs the pose in the state.
    scan_source: str = 'latent'

    def __post_init__(self) -> None:
        self._check_sizes()
        _require(self.risk_hidden_dim >= 0, 'risk_hidden_dim must be >= 0')
        _require(self.scan_sectors >= 0, 'scan_sectors must be >= 0')
        _require(math.isfinite(self.scan_range_max) and self.scan_range_max > 0,
                 'scan_range_max must be finite and > 0')
        _require(self.scan_source in ('latent', 'tokens'),
                 f"scan_source must be 'latent' or 'tokens', got {self.scan_source!r}")
        _require(self.scan_source != 'tokens' or self.pose_in_state,
                 "scan_source 'tokens' needs pose_in_state (the read-out is queried at poses)")
        _require(self.image_state_source in IMAGE_STATE_SOURCES,
                 f'image_state_source must be one of {IMAGE_STATE_SOURCES}, got '
                 f'{self.image_state_source!r}')
        _require(self.patch_stem in PATCH_STEMS,
                 f'patch_stem must be one of {PATCH_STEMS}, got {self.patch_stem!r}')
        _require(self.patch_stem != 'conv' or self.patch_size & (self.patch_size - 1) == 0,
                 f'patch_stem conv needs a power-of-two patch_size, got {self.patch_size}')
        _require(self.image_size % self.patch_size == 0,
                 f'image_size {self.image_size} must be divisible by patch_size {self.patch_size}')
        _require(self.embed_dim % self.num_heads == 0,
                 f'embed_dim {self.embed_dim} must be divisible by num_heads {self.num_heads}')
        _require(self.predictor_embed_dim % self.predictor_num_heads == 0,
                 'predictor_embed_dim must be divisible by predictor_num_heads')
        _require(self.proprio_latent_dim >= 0, 'proprio_latent_dim must be >= 0')
        _require(len(set(self.joint_names)) == len(self.joint_names), 'joint_names must be unique')
        _require(not self.action_names or len(self.action_names) == self.action_dim,
                 'action_names must be empty or have action_dim entries')
        _require(self.proprio_latent_dim == 0 or self.state_dim > 0,
                 'proprio_latent_dim > 0 needs a state (joint_names or pose_in_state)')
        _require(not (self.pose_probe and self.pose_in_state),
                 'pose_probe and pose_in_state exclude each other: with pose_in_state the '
                 'pose is read from the predicted state')
        _require(len(set(self.risk_labels)) == len(self.risk_labels), 'risk_labels must be unique')
        _require(not self.image_state_head or 'position' in self.state_slices,
                 'image_state_head needs joint positions in the state')

    def _check_sizes(self) -> None:
        """Positive sizes within MODEL_SIZE_LIMITS, checked before anything divides by them."""
        for name in ('image_size', 'patch_size', 'embed_dim', 'num_heads', 'depth',
                     'image_latent_dim', 'action_dim', 'predictor_embed_dim',
                     'predictor_depth', 'predictor_num_heads', 'dynamics_hidden_dim',
                     'dynamics_depth', 'dynamics_ensemble_size', 'idm_hidden_dim'):
            _require(getattr(self, name) > 0, f'{name} must be > 0')
        _require(math.isfinite(self.mlp_ratio) and self.mlp_ratio > 0,
                 'mlp_ratio must be finite and > 0')
        for name, limit in MODEL_SIZE_LIMITS.items():
            value = getattr(self, name)
            size = len(value) if isinstance(value, list) else value
            _require(size <= limit, f'{name} {size} is above the limit {limit}')
        # The sine-cosine position embeddings split each width into four parts.
        for name in ('embed_dim', 'predictor_embed_dim'):
            _require(getattr(self, name) % 4 == 0,
                     f'{name} must be divisible by 4, got {getattr(self, name)}')

    @property
    def num_patches(self) -> int:
        """Number of patch tokens per frame."""
        return (self.image_size // self.patch_size) ** 2

    @property
    def state_slices(self) -> Dict[str, slice]:
        """Slices of ``s`` by part ('position', 'velocity', 'pose'); core/state_layout.py."""
        return state_slices(self.use_joint_position, self.use_joint_velocity,
                            self.pose_in_state, len(self.joint_names))

    @property
    def state_dim(self) -> int:
        """Size of the proprio vector ``s`` (core/state_layout.py)."""
        return state_dim(self.use_joint_position, self.use_joint_velocity, self.pose_in_state,
                         len(self.joint_names))

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


@dataclass
class MaskConfig:
    """I-JEPA multi-block masking (Assran et al. 2023, sec. 3): 4 targets, 1 context block."""

    num_target_blocks: int = 4
    target_scale: Tuple[float, float] = (0.15, 0.2)
    target_aspect_ratio: Tuple[float, float] = (0.75, 1.5)
    context_scale: Tuple[float, float] = (0.85, 1.0)
    min_context_patches: int = 4

    def __post_init__(self) -> None:
        for name in ('target_scale', 'target_aspect_ratio', 'context_scale'):
            lo, hi = getattr(self, name)
            _require(0 < lo <= hi, f'{name} must satisfy 0 < low <= high, got {(lo, hi)}')
        _require(self.target_scale[1] <= 1 and self.context_scale[1] <= 1, 'scales must be <= 1')
        _require(self.num_target_blocks >= 1, 'num_target_blocks must be >= 1')


@dataclass
class LossConfig:
    """Weights of each loss term; 0 switches a term off."""

    masked_prediction: float = 1.0      # I-JEPA: masked patches of the same frame
    future_prediction: float = 1.0      # V-JEPA: patches of the next frame
    dynamics_teacher_forcing: float = 1.0  # V-JEPA 2-AC: one step from the true latent
    dynamics_rollout: float = 1.0       # V-JEPA 2-AC: several steps from own predictions
    rollout_steps: int = 3
    variance: float = 1.0               # VICReg variance hinge on per-dim std
    covariance: float = 0.04            # VICReg off-diagonal covariance
    variance_target_std: float = 1.0
    # Predict a_t from the image parts of (z_t, z_t+1): keeps the robot in z. Weight 3 makes the
    # robot appear in the latent after ~300 steps on generated scenes for every seed we tried;
    # at 1.0 that moment varied from ~250 to >800 steps with the initialisation.
    inverse_dynamics: float = 3.0
    image_state: float = 1.0            # joint positions from the image part (image_state_head)
    scan: float = 1.0                   # range read-out on encoded and predicted latents
    # Ranges under half of scan_range_max count this many times in the read-out's error:
    # near returns are rare in exploration data and they are the ones that decide collisions.
    scan_near_weight: float = 1.0
    # scan_source 'tokens': query the scene of each clip's first frame at the recorded poses
    # of this many following frames (their scans are the labels). Within a 4-frame clip the
    # robot moves so little that the read-out can answer from where the image shows the
    # robot and ignore the queried pose; the planner needs the answer to depend on it.
    # 0: the clip's own frames.
    scan_query_steps: int = 0
    probe: float = 1.0                  # probes on detached latents (no effect on the encoder)
    stop_gradient: bool = True          # targets from the EMA encoder without gradient

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float):
                _require(value >= 0, f'loss weight {f.name} must be >= 0')
        _require(self.rollout_steps >= 1, 'rollout_steps must be >= 1')
        _require(self.scan_query_steps >= 0, 'scan_query_steps must be >= 0')


@dataclass
class OptimConfig:
    """AdamW with linear warm-up and cosine decay; EMA momentum ramps linearly."""

    steps: int = 3000
    batch_size: int = 32
    lr: float = 1e-3
    min_lr: float = 1e-5
    warmup_steps: int = 100
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    ema_momentum_start: float = 0.99
    ema_momentum_end: float = 0.999

    def __post_init__(self) -> None:
        _require(self.steps > 0 and self.batch_size > 0, 'steps and batch_size must be > 0')
        _require(self.lr > 0 and 0 <= self.min_lr <= self.lr, 'need 0 <= min_lr <= lr, lr > 0')
        _require(0 <= self.ema_momentum_start <= self.ema_momentum_end <= 1,
                 'need 0 <= ema_momentum_start <= ema_momentum_end <= 1')
        _require(self.warmup_steps >= 0, 'warmup_steps must be >= 0')


@dataclass
class BagConfig:
    """How rosbag2 recordings become episodes (``data.source: rosbag``; docs/datasets.md).

    Joint order, velocity use and image size come from ``model``; this section says where
    the data is and how frames, joint states and commands are aligned.
    """

    paths: List[str] = field(default_factory=list)  # bag dirs, or dirs of bags; --bag overrides
    image_topic: str = '/camera/image_raw'     # sensor_msgs/Image or CompressedImage
    joint_state_topic: str = '/joint_states'
    action_source: str = 'topic'        # 'topic' or 'joint_state_delta' (a[t] = q[t+1] - q[t])
    action_topic: str = '/commands'     # Float64MultiArray, Twist or TwistStamped
    action_fields: List[str] = field(default_factory=list)  # Twist*: e.g. [linear.x, angular.z]
    command_timeout_s: float = 0.0      # an older command counts as zero (stop); 0: held
    stamp_source: str = 'header'        # 'header' (receive time if none) or 'receive'
    frame_rate: float = 0.0             # resample images to this rate (Hz); 0: every image
    resize_mode: str = 'center_crop'    # or 'stretch'
    max_skew_s: float = 0.05            # image <-> nearest joint state
    max_gap_s: float = 0.5              # a longer pause between frames splits the episode
    min_episode_length: int = 2         # the CLI also drops episodes shorter than clip_length
    # Optional labels read into Episode.extras (never model inputs): nav_msgs/Odometry ->
    # 'base_pose' (x, y, yaw; trains the pose probe) and std_msgs/Bool topics -> one 0/1 extra
    # each, named after the topic's last segment (e.g. /collision -> 'collision').
    odometry_topic: str = ''
    flag_topics: List[str] = field(default_factory=list)
    # sensor_msgs/LaserScan -> 'scan' [T, beams] (ranges in m; no return / inf -> range_max):
    # trains the model's range read-out (model.scan_sectors), which the planner's clearance
    # term uses. '' reads no scan.
    scan_topic: str = ''

    def __post_init__(self) -> None:
        _require(self.action_source in ('topic', 'joint_state_delta'),
                 f'unknown action_source {self.action_source!r}; use topic or joint_state_delta')
        _require(self.action_source != 'topic' or bool(self.action_topic),
                 'action_source topic needs an action_topic')
        _require(self.stamp_source in ('header', 'receive'),
                 f'unknown stamp_source {self.stamp_source!r}; use header or receive')
        _require(self.resize_mode in ('center_crop', 'stretch'),
                 f'unknown resize_mode {self.resize_mode!r}; use center_crop or stretch')
        _require(self.frame_rate >= 0 and self.command_timeout_s >= 0 and self.max_skew_s >= 0,
                 'frame_rate, command_timeout_s and max_skew_s must be >= 0')
        _require(self.max_gap_s > 0, 'max_gap_s must be > 0')
        _require(self.min_episode_length >= 1, 'min_episode_length must be >= 1')


@dataclass
class DataConfig:
    """Where clips come from and how long they are."""

    clip_length: int = 4
    source: str = 'synthetic'           # 'synthetic' or 'rosbag'
    synthetic_episodes: int = 256
    synthetic_steps: int = 32
    synthetic_distractor: str = 'moving'  # 'moving', 'static' or 'none'
    validation_fraction: float = 0.1
    bag: BagConfig = field(default_factory=BagConfig)

    def __post_init__(self) -> None:
        _require(self.clip_length >= 2, 'clip_length must be >= 2')
        _require(self.source in ('synthetic', 'rosbag'), f'unknown data source {self.source!r}')
        _require(self.synthetic_distractor in ('moving', 'static', 'none'),
                 f'unknown synthetic_distractor {self.synthetic_distractor!r}')
        _require(0 <= self.validation_fraction < 1, 'validation_fraction must be in [0, 1)')


@dataclass
class TrainConfig:
    """Run-level settings."""

    seed: int = 0
    device: str = 'cpu'
    dtype: str = 'float32'
    num_threads: int = 0                # 0 = leave torch's default
    log_every: int = 50
    checkpoint_every: int = 500


@dataclass
class ExperimentConfig:
    """Everything needed to rebuild a model and rerun its training."""

    model: ModelConfig = field(default_factory=ModelConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        _require(self.data.clip_length > self.loss.rollout_steps,
                 f'data.clip_length ({self.data.clip_length}) must exceed loss.rollout_steps '
                 f'({self.loss.rollout_steps})')


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


T = TypeVar('T')


def from_dict(cls: Type[T], data: Optional[Dict[str, Any]], where: str = '') -> T:
    """Build dataclass ``cls`` from a (nested) dict, rejecting unknown keys and wrong types."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f'{where or cls.__name__}: expected a mapping, '
                          f'got {type(data).__name__}')
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f'{where or cls.__name__}: unknown key(s) {unknown}; '
                          f'allowed: {sorted(known)}')
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f'{where}.{name}' if where else name)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f'{where or cls.__name__}: {exc}') from None


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if origin in (list, List):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f'{where}: expected a list, got {value!r}')
        return [_coerce(args[0], v, f'{where}[{i}]') for i, v in enumerate(value)]
    if origin in (tuple, Tuple):
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f'{where}: expected a list of {len(args)} values, got {value!r}')
        return tuple(_coerce(a, v, f'{where}[{i}]') for i, (a, v) in enumerate(zip(args, value)))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f'{where}: expected true/false, got {value!r}')
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f'{where}: expected an integer, got {value!r}')
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f'{where}: expected a number, got {value!r}')
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f'{where}: expected a string, got {value!r}')
        return value
    raise ConfigError(f'{where}: unsupported config type {hint!r}')


def to_dict(config: Any) -> Dict[str, Any]:
    """Plain-dict form of a config dataclass (tuples become lists, for YAML/JSON)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def load_config(path: str | Path) -> ExperimentConfig:
    """Load an ExperimentConfig from YAML; missing sections keep their defaults."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except OSError as exc:
        raise ConfigError(f'cannot read config {path}: {exc}') from None
    except UnicodeDecodeError as exc:   # a binary file (e.g. a checkpoint given by mistake)
        raise ConfigError(f'config {path} is not a UTF-8 text (YAML) file: {exc.reason} at '
                          f'byte {exc.start}') from None
    except yaml.YAMLError as exc:
        raise ConfigError(f'config {path} is not valid YAML: {_yaml_problem(exc)}') from None
    try:
        return from_dict(ExperimentConfig, data)
    except ConfigError as exc:
        raise ConfigError(f'{path}: {exc}') from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """'<problem> (line L, column C)' from a YAML error, on one line."""
    problem = getattr(exc, 'problem', None) or getattr(exc, 'reason', None) or str(exc)
    mark = getattr(exc, 'problem_mark', None)
    where = f' (line {mark.line + 1}, column {mark.column + 1})' if mark is not None else ''
    return ' '.join(f'{problem}{where}'.split())


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (what a run actually used), atomically."""
    atomic_write_text(path, yaml.safe_dump(to_dict(config), sort_keys=False))


def config_to_json(config: ExperimentConfig) -> str:
    """Compact JSON, as embedded in checkpoint metadata."""
    return json.dumps(to_dict(config), sort_keys=True)


def config_from_json(text: str) -> ExperimentConfig:
    """Inverse of ``config_to_json``."""
    try:
        data = json.loads(text)
    # ValueError also covers JSONDecodeError and integers of more than 4300 digits;
    # RecursionError: arrays or objects nested thousands deep.
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f'embedded config is not valid JSON: '
                          f'{type(exc).__name__}: {str(exc)[:200]}') from None
    return from_dict(ExperimentConfig, data)
