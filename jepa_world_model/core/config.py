"""Typed configuration: dataclasses loaded from YAML, unknown keys rejected.

Every default lives here (the model's architecture in ``core/model/model_config.py``) and only
here. A run writes its resolved config next to its outputs (``save_config``), and checkpoints
embed the same JSON, so a model can always be rebuilt. Values are read by the settings engine
(``core/settings_spec.py``: :func:`from_dict`, the same type checks as the nodes' parameters);
each section checks its own rules in ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

from .atomic_files import atomic_write_text
# ModelConfig and its limits, ConfigError and from_dict are imported from here by most users.
from .model.kinematics import kinematics_from_urdf, MAX_URDF_BYTES
from .model.model_config import IMAGE_STATE_SOURCES, MODEL_SIZE_LIMITS, ModelConfig, PATCH_STEMS
from .settings_spec import ConfigError, from_dict, require

__all__ = ['ConfigError', 'from_dict', 'to_dict', 'ModelConfig', 'MODEL_SIZE_LIMITS',
           'PATCH_STEMS', 'IMAGE_STATE_SOURCES', 'MaskConfig', 'LossConfig', 'OptimConfig',
           'BagConfig', 'DataConfig', 'OBJECTIVES', 'TrainConfig', 'ExperimentConfig',
           'RobotDescriptionConfig', 'load_config', 'resolve_robot_description', 'save_config',
           'config_to_json', 'config_from_json']


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
            require(0 < lo <= hi, f'{name} must satisfy 0 < low <= high, got {(lo, hi)}')
        require(self.target_scale[1] <= 1 and self.context_scale[1] <= 1, 'scales must be <= 1')
        require(self.num_target_blocks >= 1, 'num_target_blocks must be >= 1')


#: Training objectives (``loss.objective``).
OBJECTIVES = ('jepa', 'pixel')


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
    image_links: float = 1.0            # goal link positions from the image (model.kinematics)
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
    # The target patch tokens from encoded and predicted z (model.latent_token_decoder).
    latent_tokens: float = 1.0
    stop_gradient: bool = True          # targets from the EMA encoder without gradient
    # What the predictor is trained to predict (issue #13 item 5). 'jepa': the target
    # encoder's latents (the I-JEPA / V-JEPA patch terms and the dynamics terms above).
    # 'pixel': the comparison: a decoder (core/model/pixel_decoder.py) reconstructs the next
    # frame from the predicted latent, MSE on normalised pixels, in the two dynamics terms
    # (teacher forcing, rollout; same weights); the patch terms and the target encoder's
    # forward pass are off. Everything else (VICReg, inverse dynamics, probes) is the same.
    objective: str = 'jepa'
    # Channels of the decoder's first 4 x 4 grid. 32 keeps a tabletop_tiny step of the pixel
    # objective about as long as the JEPA's (measured in docs/results/data_efficiency.json).
    pixel_decoder_width: int = 32

    def __post_init__(self) -> None:
        require(self.objective in OBJECTIVES,
                f'unknown loss.objective {self.objective!r}; use one of {list(OBJECTIVES)}')
        require(self.pixel_decoder_width >= 1, 'pixel_decoder_width must be >= 1')
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float):
                require(value >= 0, f'loss weight {f.name} must be >= 0')
        require(self.rollout_steps >= 1, 'rollout_steps must be >= 1')
        require(self.scan_query_steps >= 0, 'scan_query_steps must be >= 0')


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
        require(self.steps > 0 and self.batch_size > 0, 'steps and batch_size must be > 0')
        require(self.lr > 0 and 0 <= self.min_lr <= self.lr, 'need 0 <= min_lr <= lr, lr > 0')
        require(0 <= self.ema_momentum_start <= self.ema_momentum_end <= 1,
                'need 0 <= ema_momentum_start <= ema_momentum_end <= 1')
        require(self.warmup_steps >= 0, 'warmup_steps must be >= 0')


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
    # Which command labels frame t (bags/command_alignment.py). 'at_or_before': the latest
    # command stamped at or before the frame (a recorder that stamps each command with its
    # frame). 'after_frame': the first one stamped in (frame, frame + window], for a robot
    # that publishes the command computed from a frame a few ms after it (`ros2 bag record`
    # stamps it so); `jepa-world-model inspect` measures the delay and suggests both values.
    action_alignment: str = 'at_or_before'
    action_alignment_window_s: float = 0.0   # after_frame only; > 0, under a frame period
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
        require(self.action_source in ('topic', 'joint_state_delta'),
                f'unknown action_source {self.action_source!r}; use topic or joint_state_delta')
        require(self.action_source != 'topic' or bool(self.action_topic),
                'action_source topic needs an action_topic')
        require(self.action_alignment in ('at_or_before', 'after_frame'),
                f'unknown action_alignment {self.action_alignment!r}; use at_or_before or '
                f'after_frame')
        require(math.isfinite(self.action_alignment_window_s)
                and self.action_alignment_window_s >= 0,
                'action_alignment_window_s must be finite and >= 0')
        require(self.action_alignment == 'after_frame' or self.action_alignment_window_s == 0,
                'action_alignment_window_s applies to action_alignment: after_frame only; '
                'set action_alignment: after_frame or remove the window')
        require(self.action_alignment != 'after_frame' or self.action_alignment_window_s > 0,
                'action_alignment: after_frame needs action_alignment_window_s > 0 (how long '
                'after a frame its command may be stamped; inspect measures it)')
        require(self.stamp_source in ('header', 'receive'),
                f'unknown stamp_source {self.stamp_source!r}; use header or receive')
        require(self.resize_mode in ('center_crop', 'stretch'),
                f'unknown resize_mode {self.resize_mode!r}; use center_crop or stretch')
        require(self.frame_rate >= 0 and self.command_timeout_s >= 0 and self.max_skew_s >= 0,
                'frame_rate, command_timeout_s and max_skew_s must be >= 0')
        require(self.max_gap_s > 0, 'max_gap_s must be > 0')
        require(self.min_episode_length >= 1, 'min_episode_length must be >= 1')


@dataclass
class DataConfig:
    """Where clips come from and how long they are."""

    clip_length: int = 4
    source: str = 'synthetic'           # 'synthetic' or 'rosbag'
    synthetic_episodes: int = 256
    synthetic_steps: int = 32
    synthetic_distractor: str = 'moving'  # 'moving', 'static' or 'none'
    validation_fraction: float = 0.1
    # Train on the first ceil(f * N) of the N episodes read, in their read order (bags in
    # path order, episodes in time), before the validation split: the data-efficiency
    # experiment's "f of the same recordings" (issue #13 item 5). 1: all of them.
    episode_fraction: float = 1.0
    bag: BagConfig = field(default_factory=BagConfig)

    def __post_init__(self) -> None:
        require(self.clip_length >= 2, 'clip_length must be >= 2')
        require(self.source in ('synthetic', 'rosbag'), f'unknown data source {self.source!r}')
        require(self.synthetic_distractor in ('moving', 'static', 'none'),
                f'unknown synthetic_distractor {self.synthetic_distractor!r}')
        require(0 <= self.validation_fraction < 1, 'validation_fraction must be in [0, 1)')
        require(isinstance(self.episode_fraction, (int, float))
                and math.isfinite(self.episode_fraction) and 0 < self.episode_fraction <= 1,
                f'data.episode_fraction must be in (0, 1], got {self.episode_fraction!r}')


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
class RobotDescriptionConfig:
    """The robot's URDF, for image goals aimed at links (``model.kinematics``).

    ``urdf``: a URDF file (relative paths from the config file's folder); '' for none.
    ``base_link``: the frame link positions are in. ``goal_links``: the links image goals are
    read and aimed at (e.g. the end effector; on gymnasium's Pusher ``tips_arm``). When
    ``urdf`` is set, loading the config writes the chain to ``model.kinematics``, so the
    resolved config and every checkpoint carry it and never need the file again.
    """

    urdf: str = ''
    base_link: str = 'base_link'
    goal_links: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        require(not self.urdf or bool(self.goal_links),
                'robot_description.urdf needs goal_links (the links image goals aim at)')


@dataclass
class ExperimentConfig:
    """Everything needed to rebuild a model and rerun its training."""

    model: ModelConfig = field(default_factory=ModelConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    robot_description: RobotDescriptionConfig = field(default_factory=RobotDescriptionConfig)

    def __post_init__(self) -> None:
        require(self.data.clip_length > self.loss.rollout_steps,
                f'data.clip_length ({self.data.clip_length}) must exceed loss.rollout_steps '
                f'({self.loss.rollout_steps})')
        # The pixel objective replaces the latent dynamics targets only; the range read-out's
        # loss is built on those (trainer.scan_loss) and has no pixel counterpart.
        require(self.loss.objective != 'pixel' or not self.model.scan_sectors,
                'loss.objective pixel does not train a range read-out; set '
                'model.scan_sectors: 0')
        if self.model.encoder.is_pretrained:
            # The I-JEPA / V-JEPA patch losses exist to train the encoder; a frozen backbone
            # sees whole frames (its context would contain the masked targets) and cannot
            # learn from them, so they would only fit the adapter to a trivial task.
            require(self.loss.masked_prediction == 0 and self.loss.future_prediction == 0,
                    f'model.encoder.kind {self.model.encoder.kind!r} (frozen) needs '
                    f'loss.masked_prediction: 0 and loss.future_prediction: 0')


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
        config = from_dict(ExperimentConfig, data)
        resolve_robot_description(config, path.parent)
    except ConfigError as exc:
        raise ConfigError(f'{path}: {exc}') from None
    return config


def resolve_robot_description(config: ExperimentConfig, base_dir: str | Path = '.') -> None:
    """Fill ``config.model.kinematics`` from ``config.robot_description`` (nothing when its
    ``urdf`` is empty); a relative URDF path is taken from ``base_dir``.

    Raises:
        ConfigError: The URDF cannot be read or does not hold the links and joints.
    """
    desc = config.robot_description
    if not desc.urdf:
        return
    urdf = Path(base_dir) / desc.urdf
    try:
        if urdf.stat().st_size > MAX_URDF_BYTES:
            raise ConfigError(f'robot_description.urdf {urdf} is larger than {MAX_URDF_BYTES} '
                              'bytes')
        text = urdf.read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f'cannot read robot_description.urdf {urdf}: {exc}') from None
    kinematics = kinematics_from_urdf(text, desc.base_link, desc.goal_links,
                                      config.model.joint_names)
    config.model = dataclasses.replace(config.model, kinematics=kinematics)


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
