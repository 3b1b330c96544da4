"""The tiny random world model the fast tests share (no ROS needed).

Z = 16 image + 4 state (2 joint positions, 2 velocities) + 8 proprio embedding = 28; builds,
saves and runs in milliseconds.
"""

from pathlib import Path

import torch

from jepa_world_model.core.checkpoint import save_checkpoint
from jepa_world_model.core.config import ExperimentConfig, ModelConfig
from jepa_world_model.core.model.world_model import WorldModel

JOINTS = ['joint_a', 'joint_b']
TINY = dict(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2,
            image_latent_dim=16, proprio_latent_dim=8, joint_names=list(JOINTS), action_dim=2,
            predictor_embed_dim=32, predictor_depth=1, predictor_num_heads=2,
            dynamics_hidden_dim=32, idm_hidden_dim=16)


def tiny_config(**overrides) -> ExperimentConfig:
    """An experiment config whose model is TINY with ``overrides``."""
    return ExperimentConfig(model=ModelConfig(**dict(TINY, **overrides)))


def tiny_model(seed=0, **overrides) -> WorldModel:
    """A seeded random TINY model (``overrides`` change the config), in eval mode."""
    torch.manual_seed(seed)
    return WorldModel(tiny_config(**overrides).model).eval()


def pose_model(**overrides) -> WorldModel:
    """A tiny frozen model with a pose probe that reads (x, y, yaw) = z[..., :3] (set by
    hand), for tests that place predicted poses exactly."""
    m = tiny_model(pose_probe=True, **overrides).requires_grad_(False)
    with torch.no_grad():
        m.pose_probe.weight.zero_()
        m.pose_probe.weight[:, :3] = torch.eye(3)
        m.pose_probe.bias.zero_()
    return m


def save_tiny(path, seed=0, step=0, **overrides):
    """Save a seeded random TINY model to ``path``; return the path."""
    config = tiny_config(**overrides)
    torch.manual_seed(seed)
    return save_checkpoint(path, WorldModel(config.model), config, step=step)


def tiny_base_runtime(folder):
    """A loaded mobile-base-like TINY model (wheel velocities, the odometry pose in s),
    saved under ``folder``."""
    from jepa_world_model.core.runtime.inference import WorldModelRuntime
    path = save_tiny(Path(folder) / 'base.safetensors', joint_names=['wheel_left', 'wheel_right'],
                     use_joint_position=False, pose_in_state=True)
    return WorldModelRuntime.from_path(str(path))


def tiny_base_controller(runtime, settings):
    """A PlanningController of :func:`tiny_base_runtime`'s model with a small, fast search
    (CEM 8 samples, horizon 3, one iteration) and wide command limits."""
    from jepa_world_model.core.planning.command_limits import CommandLimits
    from jepa_world_model.core.planning.controller import PlanningController
    from jepa_world_model.core.planning.planner import PlannerConfig
    return PlanningController(
        runtime, PlannerConfig(horizon=3, num_samples=8, num_elites=2, num_iterations=1),
        CommandLimits.create([-0.5, -1.0], [0.5, 1.0], [100.0]), settings)


#: A YAML training config (as a dict) of a tiny gantry model: `train` runs it in seconds.
TINY_GANTRY_CONFIG = {
    'model': {'image_size': 32, 'patch_size': 8, 'embed_dim': 32, 'depth': 1, 'num_heads': 2,
              'image_latent_dim': 16, 'proprio_latent_dim': 8, 'predictor_embed_dim': 32,
              'predictor_depth': 1, 'predictor_num_heads': 2, 'dynamics_hidden_dim': 32,
              'idm_hidden_dim': 16},
    'data': {'synthetic_episodes': 6, 'synthetic_steps': 12, 'validation_fraction': 0.34},
    'optim': {'steps': 2, 'batch_size': 4, 'warmup_steps': 1},
    'train': {'log_every': 1, 'checkpoint_every': 100, 'num_threads': 1}}
