"""What s holds (core/model/state_layout.py), the pose read out of s, and the risk probe refit."""

import math

import numpy as np
import pytest
import torch

from jepa_world_model.core.config import ConfigError, ModelConfig
from jepa_world_model.core.training.data import Episode
from jepa_world_model.core.model.probes import refit_probes
from jepa_world_model.core.model.state_layout import (assemble_state, planar_pose, pose_from_state,
                                                      state_slices)
from jepa_world_model.core.model.world_model import WorldModel

BASE = dict(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2,
            image_latent_dim=16, proprio_latent_dim=8, predictor_embed_dim=32,
            predictor_num_heads=2, dynamics_hidden_dim=32, idm_hidden_dim=16,
            joint_names=['wheel_left_joint', 'wheel_right_joint'])


def base_config(**overrides):
    """A mobile-base layout: wheel velocities and the odometry pose, no wheel angles."""
    kwargs = dict(BASE, use_joint_position=False, pose_in_state=True)
    kwargs.update(overrides)
    return ModelConfig(**kwargs)


def test_layouts_and_dims():
    assert state_slices(True, True, False, 3) == {'position': slice(0, 3),
                                                  'velocity': slice(3, 6)}
    assert state_slices(False, True, True, 2) == {'velocity': slice(0, 2), 'pose': slice(2, 6)}
    assert state_slices(True, False, False, 0) == {}
    cfg = base_config()
    assert cfg.state_dim == 6 and cfg.has_pose
    assert cfg.latent_dim == 16 + 6 + 8
    assert ModelConfig(**BASE).state_dim == 4 and not ModelConfig(**BASE).has_pose


def test_assemble_state_encodes_yaw_without_wrap_and_round_trips():
    slices = state_slices(False, True, True, 2)
    pose = np.array([[1.0, -2.0, math.pi - 0.01], [1.1, -2.0, -math.pi + 0.01]])
    s = assemble_state(slices, None, np.array([[0.5, 0.4], [0.5, 0.4]]), pose)
    assert s.shape == (2, 6) and s.dtype == np.float32
    # Across the +-pi wrap the encoded yaw barely changes (cos/sin), unlike the raw angle.
    assert np.abs(s[1, 4:] - s[0, 4:]).max() < 0.03
    back = pose_from_state(torch.from_numpy(s).double(), slices).numpy()
    assert np.allclose(back[:, :2], pose[:, :2], atol=1e-5)
    assert np.allclose(np.angle(np.exp(1j * (back[:, 2] - pose[:, 2]))), 0.0, atol=1e-5)


@pytest.mark.parametrize('kwargs, message', [
    (dict(position=None, velocity=np.zeros(2), pose=None), 'base pose'),
    (dict(position=None, velocity=np.zeros(3), pose=np.zeros(3)), 'velocities have 3'),
    (dict(position=None, velocity=np.zeros(2), pose=np.zeros(2)), r'\(x, y, yaw\)'),
])
def test_assemble_state_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        assemble_state(state_slices(False, True, True, 2), **kwargs)
    with pytest.raises(ValueError, match='positions'):
        assemble_state(state_slices(True, False, False, 2), None, None, None)


def test_config_rejects_pose_probe_with_pose_in_state():
    with pytest.raises(ConfigError, match='exclude'):
        base_config(pose_probe=True)


def test_planar_pose_from_a_quaternion():
    class P:
        x, y, z = 1.0, 2.0, 0.0

    class Q:
        yaw = 2.5
        x, y, z, w = 0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)
    assert np.allclose(planar_pose(P, Q), [1.0, 2.0, 2.5])


def test_pose_is_read_from_the_state_part_of_z():
    """With pose_in_state, probe_pose decodes the (refitted) state probe: exact on encoded
    frames, because z carries the normalised s."""
    torch.manual_seed(0)
    model = WorldModel(base_config()).eval()
    rng = np.random.default_rng(0)
    t = 30
    pose = np.stack([rng.uniform(-2, 2, t), rng.uniform(-2, 2, t), rng.uniform(-3, 3, t)], 1)
    s = assemble_state(model.cfg.state_slices, None, rng.normal(size=(t, 2)), pose)
    ep = Episode(images=rng.integers(0, 256, (t, 32, 32, 3), dtype=np.uint8), s=s,
                 a=rng.normal(size=(t, 2)).astype(np.float32))
    model.set_normalization(torch.from_numpy(s.mean(0)), torch.from_numpy(s.std(0)),
                            torch.zeros(2), torch.ones(2))
    scores = refit_probes(model, [ep])
    assert scores['state_probe_r2'] > 0.999
    with torch.no_grad():
        o = torch.from_numpy(ep.images).permute(0, 3, 1, 2).float() / 255
        got = model.probe_pose(model.encode(o, torch.from_numpy(s))).numpy()
    assert np.abs(got[:, :2] - pose[:, :2]).max() < 0.01
    assert np.abs(np.angle(np.exp(1j * (got[:, 2] - pose[:, 2])))).max() < 0.01
    with pytest.raises(ValueError, match='no joint positions'):
        model.probe_joint_positions(torch.zeros(1, model.cfg.latent_dim))


def test_risk_probe_refit_separates_events_from_free_motion():
    """Frames whose image shows a bright patch are 'collisions'; the logistic risk probe,
    fitted on frozen latents, gives them a far higher probability than the others."""
    torch.manual_seed(0)
    cfg = ModelConfig(**dict(BASE, risk_labels=['collision']))
    model = WorldModel(cfg).eval()
    rng = np.random.default_rng(1)
    t = 80
    images = rng.integers(0, 60, (t, 32, 32, 3), dtype=np.uint8)
    flag = (np.arange(t) % 4 == 0).astype(np.float32)
    images[flag > 0, 8:24, 8:24] = 255
    ep = Episode(images=images, s=rng.normal(size=(t, 4)).astype(np.float32),
                 a=np.zeros((t, 2), np.float32), extras={'collision': flag})
    scores = refit_probes(model, [ep])
    assert scores['risk_collision_mean_p_event'] > 0.8
    assert scores['risk_collision_mean_p_free'] < 0.2
    with torch.no_grad():
        o = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
        p = model.probe_risk(model.encode(o, torch.from_numpy(ep.s)))[:, 0].numpy()
    assert p.shape == (t,) and p[flag > 0].min() > p[flag == 0].max() - 0.5
    with pytest.raises(ValueError, match='no risk probe'):
        WorldModel(ModelConfig(**BASE)).probe_risk(torch.zeros(1, cfg.latent_dim))
