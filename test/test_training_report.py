"""The ``train`` report says whether the latent collapsed, whether goal images will work (the
image read-out's accuracy) and how the model compares with the constant-velocity baseline
next to copy (issue #15 items 4 and 5)."""

import json

import numpy as np
import pytest
import torch
import yaml

from jepa_world_model import cli
from jepa_world_model.commands.train import evaluation_report
from jepa_world_model.core.training.data import Episode
from jepa_world_model.core.training.evaluation import baseline_report, prediction_report
from jepa_world_model.core.training.report_checks import (COLLAPSE_EFFECTIVE_RANK,
                                                          GOAL_IMAGE_MAX_READOUT_ERROR,
                                                          image_readout_report, latent_health)
from tiny_models import tiny_model

pytestmark = pytest.mark.usefixtures('one_torch_thread')
FRAMES = 20


def _episodes(images_of, count=3, seed=0):
    """Episodes of FRAMES 32x32 frames; joint positions and velocities random."""
    rng = np.random.default_rng(seed)
    return [Episode(images=images_of(rng, k), s=rng.normal(size=(FRAMES, 4)).astype(np.float32),
                    a=rng.normal(size=(FRAMES, 2)).astype(np.float32)) for k in range(count)]


def _noise_images(rng, k):
    return rng.integers(0, 256, (FRAMES, 32, 32, 3), dtype=np.uint8)


def _brightness_images(rng, k):
    """Frames that differ only in one number (their grey level): a one-parameter family."""
    level = np.linspace(0, 255, FRAMES).astype(np.uint8)
    return np.broadcast_to(level[:, None, None, None], (FRAMES, 32, 32, 3)).copy()


def test_latent_health_flags_a_rank_below_the_collapse_threshold():
    model = tiny_model()
    healthy = latent_health(model, _episodes(_noise_images))
    assert healthy['effective_rank'] > COLLAPSE_EFFECTIVE_RANK
    assert not healthy['collapsed'] and healthy['warning'] == ''
    # Same images but a constant state, frames varying along one direction only.
    flat = _episodes(_brightness_images)
    for ep in flat:
        ep.s[:] = 0.5
    low = latent_health(model, flat)
    assert low['effective_rank'] < COLLAPSE_EFFECTIVE_RANK and low['collapsed']
    assert 'below the collapse threshold 6' in low['warning']
    assert f'{low["effective_rank"]:.1f}' in low['warning']


def _reading_model(offsets):
    """A tiny model with an image_state_head whose reading is stubbed: the true joint
    positions of the frame (looked up from its grey level) plus ``offsets`` [J]."""
    model = tiny_model(image_state_head=True)
    table = {}

    def read_image_joints(o):
        keys = (o[:, 0, 0, 0] * 255).round().long().tolist()
        return torch.stack([table[k] for k in keys]) + torch.tensor(offsets)
    model.read_image_joints = read_image_joints
    return model, table


def _indexed_episodes(table):
    """Episodes whose frame n has grey level n, so the stub can look up its joints."""
    eps = _episodes(lambda rng, k: np.broadcast_to(
        (np.arange(FRAMES) + k * FRAMES).astype(np.uint8)[:, None, None, None],
        (FRAMES, 32, 32, 3)).copy())
    for k, ep in enumerate(eps):
        for t in range(FRAMES):
            table[k * FRAMES + t] = torch.from_numpy(ep.s[t, :2].copy())
    return eps


def test_image_readout_report_names_the_joints_read_worse_than_the_threshold():
    model, table = _reading_model([0.02, 0.5])
    report = image_readout_report(model, _indexed_episodes(table))
    assert report['frames'] == 3 * FRAMES
    assert report['median_abs_error'] == pytest.approx([0.02, 0.5], abs=1e-6)
    assert report['max_median_error'] == pytest.approx(0.5, abs=1e-6)
    assert report['threshold'] == GOAL_IMAGE_MAX_READOUT_ERROR
    assert not report['goal_images_usable']
    assert 'joint_b 0.500' in report['warning'] and 'joint_a' not in report['warning']
    model, table = _reading_model([0.01, -0.03])
    good = image_readout_report(model, _indexed_episodes(table))
    assert good['goal_images_usable'] and good['warning'] == ''


def test_image_readout_report_needs_the_head():
    with pytest.raises(ValueError, match='no image_state_head'):
        image_readout_report(tiny_model(), _episodes(_noise_images))


def test_prediction_report_gives_the_constant_velocity_baseline_next_to_copy():
    """The constant-velocity errors equal baseline_report's over the same starts (t >= 1)."""
    model, eps = tiny_model(), _episodes(_noise_images)
    horizons = (1, 2, 3, 4, 5)
    report = prediction_report(model, eps, horizons)
    reference = baseline_report(model, eps, horizons)
    for key, ref in (('const_vel_baseline_latent_l1', 'const_vel_latent_l1'),
                     ('const_vel_baseline_joint_abs_error', 'const_vel_joint_abs_error')):
        assert len(report[key]) == len(horizons)
        assert report[key] == pytest.approx(reference[ref], rel=1e-5)
    # Constant velocity extrapolates random states: worse than copy, and growing with h.
    cv, copy = report['const_vel_baseline_joint_abs_error'], report[
        'copy_baseline_joint_abs_error']
    assert all(c > k for c, k in zip(cv, copy)) and cv[-1] > cv[0]


def test_evaluation_report_warns_on_stderr_and_records_each_check(capsys):
    model, table = _reading_model([0.3, 0.0])
    val = _indexed_episodes(table)
    report = evaluation_report(model, _episodes(_noise_images, seed=1), val)
    err = capsys.readouterr().err
    assert report['image_readout']['goal_images_usable'] is False
    assert '[train] warning: goal images will likely miss' in err
    assert 'latent_health' in report and 'const_vel_baseline_latent_l1' in report['prediction']
    assert ('[train] warning: the learned latent' in err) == report['latent_health'][
        'collapsed']


def test_train_writes_the_checks_into_report_json(tmp_path, capsys):
    """`train` of a tiny gantry model with an image head: report.json holds the three."""
    config = {
        'model': {'image_size': 32, 'patch_size': 8, 'embed_dim': 32, 'depth': 1,
                  'num_heads': 2, 'image_latent_dim': 16, 'proprio_latent_dim': 8,
                  'predictor_embed_dim': 32, 'predictor_depth': 1, 'predictor_num_heads': 2,
                  'dynamics_hidden_dim': 32, 'idm_hidden_dim': 16, 'image_state_head': True},
        'data': {'synthetic_episodes': 6, 'synthetic_steps': 12, 'validation_fraction': 0.34},
        'optim': {'steps': 2, 'batch_size': 4, 'warmup_steps': 1},
        'train': {'log_every': 1, 'checkpoint_every': 100, 'num_threads': 1}}
    path = tmp_path / 'tiny.yaml'
    path.write_text(yaml.safe_dump(config))
    assert cli.main(['train', '--config', str(path), '--out', str(tmp_path / 'run')]) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / 'run' / 'report.json').read_text())
    assert set(report['image_readout']['joint_names']) == {'joint_x', 'joint_y'}
    assert report['latent_health']['effective_rank_threshold'] == COLLAPSE_EFFECTIVE_RANK
    assert len(report['prediction']['const_vel_baseline_latent_l1']) == len(
        report['prediction']['horizons'])
