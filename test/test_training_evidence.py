"""Evidence that the JEPA objectives learn the robot, not just the salient distractor.

One real training run on generated gantry scenes (a 2-DoF robot plus a large bouncing
distractor) is shared by the tests in this module; a deliberately broken run shows collapse.
Thresholds and measured values are recorded in docs/world_model.md.
"""

import json
import os

import numpy as np
import pytest
import torch

from jepa_world_model.core.config import from_dict, ExperimentConfig
from jepa_world_model.core.training.evaluation import prediction_report, probe_report
from jepa_world_model.core.training.metrics import effective_rank
from jepa_world_model.core.training.report_checks import COLLAPSE_EFFECTIVE_RANK
from jepa_world_model.core.training.synthetic import SceneSpec, generate_episodes
from jepa_world_model.core.training.trainer import Trainer

# The shared training run takes a few minutes on 2 cores; the default per-test timeout is 300 s.
pytestmark = pytest.mark.timeout(1200)
STEPS = int(os.environ.get('JWM_TEST_TRAIN_STEPS', '1000'))
MODEL = dict(image_size=64, patch_size=8, embed_dim=64, depth=2, num_heads=4,
             image_latent_dim=32, proprio_latent_dim=16, predictor_embed_dim=64)


def config(steps, **loss):
    return from_dict(ExperimentConfig, {
        'model': MODEL, 'loss': loss, 'data': {'clip_length': 4},
        'optim': {'steps': steps, 'batch_size': 32, 'lr': 0.002, 'warmup_steps': 20},
        'train': {'seed': 0, 'log_every': 25}})


@pytest.fixture(scope='module')
def data():
    spec = SceneSpec(image_size=64)
    return (generate_episodes(160, 32, seed=0, spec=spec),
            generate_episodes(30, 32, seed=1, spec=spec))


@pytest.fixture(scope='module')
def trained(data):
    torch.set_num_threads(2)
    train, _ = data
    trainer = Trainer(config(STEPS), train)
    trainer.run()
    return trainer


def _record(name, value):
    """Append measured figures to $JWM_EVIDENCE_OUT (JSON lines) for docs/world_model.md."""
    path = os.environ.get('JWM_EVIDENCE_OUT')
    if path:
        with open(path, 'a') as f:
            f.write(json.dumps({name: value}) + '\n')


def _early_late(history, key):
    values = [h[key] for h in history]
    return np.mean(values[:2]), np.mean(values[-3:])


@pytest.mark.slow
def test_training_lowers_the_loss_terms(trained):
    hist = trained.state.history
    keys = ('step', 'total', 'inverse_dynamics', 'dynamics_relative', 'effective_rank')
    _record('history', [{k: h[k] for k in keys} for h in hist])
    for key in ('total', 'masked_prediction', 'future_prediction', 'inverse_dynamics',
                'variance', 'probe', 'dynamics_relative'):
        early, late = _early_late(hist, key)
        assert late < early, f'{key}: {early:.4f} -> {late:.4f}'
    # The action-conditioned predictor beats "nothing changes" on training batches.
    assert _early_late(hist, 'dynamics_relative')[1] < 0.9


@pytest.mark.slow
def test_latents_do_not_collapse(trained, data):
    _, test = data
    report = probe_report(trained.model, test[:15], test[15:], image_only=False)
    _record('healthy_run_learned_part', report)
    assert report['std_mean'] > 0.5
    assert report['effective_rank'] > COLLAPSE_EFFECTIVE_RANK   # 6, of 48 dimensions


@pytest.mark.slow
def test_probes_find_the_robot_and_its_motion_direction(trained, data):
    train, test = data
    report = probe_report(trained.model, train[:60], test, image_only=True)
    print('probe report (image part of z):', report)
    _record('probes_image_part', report)
    assert report['robot_pos_r2'] > 0.9
    assert report['direction_accuracy'] >= 0.95
    assert report['direction_samples_test'] > 200
    # The distractor is visible too (it is the biggest thing in the image); we report it.
    assert np.isfinite(report['distractor_pos_r2'])


@pytest.mark.slow
def test_predictor_beats_the_copy_baseline_at_horizons_1_to_5(trained, data):
    _, test = data
    report = prediction_report(trained.model, test, horizons=(1, 2, 3, 4, 5))
    print('prediction report:', report)
    _record('prediction', report)
    for h, m, c in zip(report['horizons'], report['model_latent_l1'],
                       report['copy_baseline_latent_l1']):
        assert m < c, f'horizon {h}: model {m:.4f} vs copy {c:.4f}'


@pytest.mark.slow
def test_broken_configuration_collapses(data):
    """No EMA/stop-gradient, no VICReg, no inverse dynamics: the latent collapses."""
    torch.set_num_threads(2)
    train, test = data
    broken = Trainer(config(150, stop_gradient=False, variance=0.0, covariance=0.0,
                            inverse_dynamics=0.0), train[:40])
    broken.run()
    report = probe_report(broken.model, test[:15], test[15:], image_only=True)
    print('collapsed run:', report)
    _record('broken_run', report)
    assert report['std_mean'] < 0.05 or report['effective_rank'] < 2.0


def small_run(steps):
    """A config for a few-step run of a small model, and 6 generated episodes."""
    small = dict(MODEL, embed_dim=32, depth=1, num_heads=2, predictor_embed_dim=32,
                 predictor_num_heads=2, image_size=32, patch_size=8)
    cfg = from_dict(ExperimentConfig, {'model': small,
                                       'optim': {'steps': steps, 'batch_size': 4},
                                       'train': {'log_every': 1}})
    return cfg, generate_episodes(6, 8, seed=5, spec=SceneSpec(image_size=32))


def test_resumed_training_matches_uninterrupted(tmp_path):
    cfg, eps = small_run(6)
    straight = Trainer(cfg, eps)
    straight.run()
    first = Trainer(cfg, eps)
    first.run(steps=3)
    first.save(tmp_path / 'ckpt.safetensors')
    resumed = Trainer.resume(tmp_path / 'ckpt.safetensors', eps)
    resumed.run()
    assert resumed.state.step == straight.state.step == 6
    for key, value in straight.model.state_dict().items():
        assert torch.allclose(value, resumed.model.state_dict()[key], atol=1e-6), key


def test_effective_rank_counts_equally_used_directions():
    z = torch.cat([torch.eye(4), -torch.eye(4)])      # centred, 4 equal singular values
    assert effective_rank(z) == pytest.approx(4.0, rel=1e-6)
    assert effective_rank(torch.ones(8, 4)) == 0.0      # fully collapsed


def test_resume_can_extend_a_finished_run_and_keeps_normalisation(tmp_path):
    """``Trainer.resume(steps=N)`` continues a finished run to N steps in all, on new data
    too, without refitting the normalisation statistics; fewer steps than done is an error."""
    cfg, eps = small_run(3)
    first = Trainer(cfg, eps)
    first.run()
    first.save(tmp_path / 'ckpt.safetensors')
    stats = first.model.state_mean.clone()
    more = generate_episodes(6, 8, seed=9, spec=SceneSpec(image_size=32))
    done = Trainer.resume(tmp_path / 'ckpt.safetensors', eps + more)
    done.run()
    assert done.state.step == 3                       # already finished: nothing to do
    extended = Trainer.resume(tmp_path / 'ckpt.safetensors', eps + more, steps=5)
    extended.run()
    assert extended.state.step == 5 and extended.config.optim.steps == 5
    assert torch.equal(extended.model.state_mean, stats)
    with pytest.raises(ValueError, match='below the checkpoint step'):
        Trainer.resume(tmp_path / 'ckpt.safetensors', eps, steps=2)
