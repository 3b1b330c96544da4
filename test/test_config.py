"""Typed config: YAML loading, unknown keys rejected, validation, round trips."""

from pathlib import Path

import pytest

from jepa_world_model.core.config import (ConfigError, ExperimentConfig, ModelConfig,
                                          config_from_json, config_to_json, from_dict,
                                          load_config, save_config)

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_valid_and_derived_sizes_follow():
    cfg = ExperimentConfig()
    assert cfg.model.num_patches == (cfg.model.image_size // cfg.model.patch_size) ** 2
    assert cfg.model.state_dim == 2 * len(cfg.model.joint_names)
    m = cfg.model
    assert m.latent_dim == m.image_latent_dim + m.state_dim + m.proprio_latent_dim


def test_shipped_training_config_loads():
    cfg = load_config(ROOT / 'config' / 'train' / 'gantry_tiny.yaml')
    assert cfg.model.image_size == 64 and cfg.model.joint_names == ['joint_x', 'joint_y']


@pytest.mark.parametrize('data, fragment', [
    ({'model': {'imagesize': 32}}, 'unknown key'),
    ({'optimiser': {}}, 'unknown key'),
    ({'model': {'image_size': '64'}}, 'expected an integer'),
    ({'model': {'image_size': 60, 'patch_size': 8}}, 'divisible'),
    ({'loss': {'variance': -1.0}}, 'must be >= 0'),
    ({'model': {'joint_names': ['a', 'a']}}, 'unique'),
    ({'mask': {'target_scale': [0.3, 0.1]}}, 'low <= high'),
    ({'data': {'clip_length': 3}, 'loss': {'rollout_steps': 3}}, 'must exceed'),
    ({'train': {'seed': True}}, 'expected an integer'),
    ({'model': 5}, 'expected a mapping'),
    # Zero widths used to divide by zero (ZeroDivisionError, not a ConfigError).
    ({'model': {'num_heads': 0}}, 'num_heads must be > 0'),
    ({'model': {'predictor_num_heads': 0}}, 'predictor_num_heads must be > 0'),
    ({'model': {'patch_size': 0}}, 'patch_size must be > 0'),
    # Sizes no model here needs are refused before anything is built from them.
    ({'model': {'image_size': 65536, 'patch_size': 8}}, 'image_size 65536 is above the limit'),
    ({'model': {'image_size': 1024, 'patch_size': 8}}, 'num_patches 16384 is above the limit'),
    ({'model': {'depth': 1000}}, 'depth 1000 is above the limit'),
    ({'model': {'dynamics_ensemble_size': 10 ** 6}}, 'dynamics_ensemble_size'),
    ({'model': {'joint_names': [f'j{i}' for i in range(1000)]}}, 'joint_names 1000 is above'),
    ({'model': {'mlp_ratio': 0.0}}, 'mlp_ratio must be finite and > 0'),
    ({'model': {'embed_dim': 6, 'num_heads': 2}}, 'embed_dim must be divisible by 4'),
])
def test_bad_values_are_rejected_with_a_reason(data, fragment):
    with pytest.raises(ConfigError, match=fragment):
        from_dict(ExperimentConfig, data)


def test_yaml_round_trip_and_errors_name_the_file(tmp_path):
    cfg = from_dict(ExperimentConfig, {'model': {'embed_dim': 32, 'num_heads': 2},
                                       'optim': {'steps': 7}})
    path = tmp_path / 'c.yaml'
    save_config(cfg, path)
    assert load_config(path) == cfg
    assert config_from_json(config_to_json(cfg)) == cfg
    bad = tmp_path / 'bad.yaml'
    bad.write_text('model:\n  depthh: 2\n')
    with pytest.raises(ConfigError, match='bad.yaml.*depthh'):
        load_config(bad)
    with pytest.raises(ConfigError, match='cannot read'):
        load_config(tmp_path / 'missing.yaml')


def test_model_config_without_joints_has_image_only_latent():
    cfg = ModelConfig(joint_names=[], proprio_latent_dim=0)
    assert cfg.state_dim == 0 and cfg.latent_dim == cfg.image_latent_dim
