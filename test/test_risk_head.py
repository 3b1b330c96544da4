"""The rollout-trained risk head (core/model/risk_head.py) and the ``fit-risk`` command."""

import json

import numpy as np
import pytest
import torch

from jepa_world_model.core.training.data import Episode
from jepa_world_model.core.model.risk_head import fit_risk_head, ranking_auc, rollout_risk_data
from tiny_models import tiny_model


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def episodes(n, seed, t=24):
    """Episodes whose 'collision' flag is on while a bright square is in view; the flag of
    frame t + h depends on what happens after frame t, so only rollouts can learn it."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        images = rng.integers(0, 60, (t, 32, 32, 3), dtype=np.uint8)
        flag = np.zeros(t, np.float32)
        start = rng.integers(2, t - 5)
        flag[start:start + 4] = 1
        images[flag > 0, 8:24, 8:24] = 255
        out.append(Episode(images=images, s=rng.normal(size=(t, 4)).astype(np.float32),
                           a=rng.normal(size=(t, 2)).astype(np.float32),
                           extras={'collision': flag}))
    return out


def test_ranking_auc_matches_pairwise_counting():
    rng = np.random.default_rng(0)
    score = torch.from_numpy(rng.integers(0, 5, 60).astype(np.float64))   # many ties
    label = torch.from_numpy(rng.random(60) < 0.3)
    pos, neg = score[label].numpy(), score[~label].numpy()
    diff = pos[:, None] - neg[None, :]
    expected = np.mean(diff > 0) + 0.5 * np.mean(diff == 0)
    assert ranking_auc(score, label) == pytest.approx(expected)
    assert np.isnan(ranking_auc(score, torch.zeros(60, dtype=torch.bool)))


def test_rollout_data_pairs_each_predicted_latent_with_the_flag_it_predicts():
    model = tiny_model(risk_labels=['collision'], risk_hidden_dim=16).requires_grad_(False)
    eps = episodes(2, 0, t=10)
    z, y, h = rollout_risk_data(model, eps, horizon=3)
    # per episode: h = 0..3 give 10, 9, 8, 7 latents
    assert z.shape == (2 * 34, model.cfg.latent_dim) and y.shape == (68, 1)
    assert torch.equal(torch.bincount(h), torch.tensor([20, 18, 16, 14]))
    first = eps[0].extras['collision']
    torch.testing.assert_close(y[10:19, 0], torch.from_numpy(first[1:]))   # h = 1 of ep 0
    with torch.no_grad():   # the h = 1 latents are the dynamics' one-step predictions
        from jepa_world_model.core.training.evaluation import encode_episode
        z0 = encode_episode(model, eps[0], target=True)
        expected = model.predict(z0[:-1], torch.from_numpy(eps[0].a[:-1]))
    torch.testing.assert_close(z[10:19], expected)
    with pytest.raises(ValueError, match='risk label'):
        rollout_risk_data(model, [Episode(eps[0].images, eps[0].s, eps[0].a)], 2)


def test_fit_risk_head_learns_the_event_and_generalises():
    """After the fit, held-out rollout latents of event frames score above the others."""
    model = tiny_model(risk_labels=['collision'], risk_hidden_dim=32).requires_grad_(False)
    report = fit_risk_head(model, episodes(12, 1), episodes(6, 2), horizon=2, epochs=40)
    assert report['collision_train_auc'] > 0.9
    assert report['collision_validation_auc'] > 0.8
    assert report['collision_validation_positives'] > 0
    with pytest.raises(ValueError, match='MLP risk head'):
        fit_risk_head(tiny_model(risk_labels=['collision']), episodes(1, 0))


def test_refit_probes_uses_the_rollout_fit_for_an_mlp_head():
    from jepa_world_model.core.model.probes import refit_probes
    model = tiny_model(risk_labels=['collision'], risk_hidden_dim=16)
    scores = refit_probes(model, episodes(4, 3))
    assert 'risk_head_collision_train_auc' in scores
    assert 'risk_collision_mean_p_event' not in scores


def test_fit_risk_command_replaces_only_the_risk_head(tmp_path):
    """``jepa-world-model fit-risk`` on a recorded bag: new checkpoint, same encoder and
    dynamics weights, an MLP risk head, a JSON report."""
    pytest.importorskip('rosbags')
    from jepa_world_model.cli import main
    from jepa_world_model.core.checkpoint import load_checkpoint
    bag = tmp_path / 'bag'
    config = tmp_path / 'arm.yaml'
    config.write_text(json.dumps({'model': {
        'image_size': 32, 'patch_size': 8, 'embed_dim': 32, 'depth': 1, 'num_heads': 2,
        'image_latent_dim': 16, 'proprio_latent_dim': 8, 'predictor_embed_dim': 32,
        'predictor_num_heads': 2, 'dynamics_hidden_dim': 32,
        'joint_names': ['joint1', 'joint2', 'joint3'], 'action_dim': 3,
        'risk_labels': ['collision']},
        'data': {'source': 'rosbag', 'bag': {
            'image_topic': '/camera/image_raw', 'joint_state_topic': '/joint_states',
            'action_source': 'topic', 'action_topic': '/commands',
            'flag_topics': ['/collision', '/contact']}},
        'optim': {'steps': 2, 'batch_size': 4}, 'train': {'num_threads': 1}}))
    assert main(['record', '--robot', 'arm', '--out', str(bag), '--episodes', '3',
                 '--steps', '12', '--config', str(config)]) == 0
    held_out = tmp_path / 'held_out'
    assert main(['record', '--robot', 'arm', '--out', str(held_out), '--episodes', '2',
                 '--steps', '12', '--seed', '7', '--config', str(config)]) == 0
    run = tmp_path / 'run'
    assert main(['train', '--config', str(config), '--bag', str(bag), '--out', str(run)]) == 0
    out = tmp_path / 'risk.safetensors'
    assert main(['fit-risk', '--checkpoint', str(run / 'checkpoint.safetensors'), '--bag',
                 str(bag), '--validation-bag', str(held_out), '--out', str(out), '--hidden', '16',
                 '--epochs', '2', '--horizon', '3']) == 0
    before = load_checkpoint(run / 'checkpoint.safetensors').model.state_dict()
    after = load_checkpoint(out)
    assert after.config.model.risk_hidden_dim == 16
    assert after.config.data.bag.paths == [str(bag.resolve())]   # the bags it was fitted on
    state = after.model.state_dict()
    for key, value in before.items():
        if not key.startswith('risk_probe.'):
            assert torch.equal(state[key], value), key
    report = json.loads(out.with_suffix('.report.json').read_text())
    assert report['hidden'] == 16 and 'collision_train_auc' in report
    assert 'collision_validation_auc' in report
