"""The pixel objective (loss.objective: pixel), the data fraction (data.episode_fraction) and
the data-efficiency summary's arithmetic (issue #13 item 5; docs/tabletop.md)."""

import math

import pytest
import torch

from jepa_world_model.core.checkpoint import (CheckpointError, load_checkpoint,
                                              load_pixel_decoder, save_checkpoint)
from jepa_world_model.core.config import ConfigError, ExperimentConfig, from_dict
from jepa_world_model.core.model.masks import sample_masks
from jepa_world_model.core.model.pixel_decoder import PixelDecoder
from jepa_world_model.core.training.data import first_episodes
from jepa_world_model.core.training.synthetic import generate_episodes, SceneSpec
from jepa_world_model.core.training.trainer import compute_losses, Trainer

MODEL = dict(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2,
             image_latent_dim=16, proprio_latent_dim=8, predictor_embed_dim=32,
             predictor_num_heads=2, dynamics_hidden_dim=32)


def tiny_config(objective='pixel', **data):
    return from_dict(ExperimentConfig, {
        'model': MODEL, 'loss': {'objective': objective},
        'optim': {'steps': 40, 'batch_size': 8, 'warmup_steps': 1, 'lr': 3e-3},
        'data': dict(synthetic_episodes=6, synthetic_steps=20, **data),
        'train': {'num_threads': 1, 'seed': 0}})


@pytest.fixture(scope='module')
def episodes():
    return generate_episodes(6, 20, seed=0, spec=SceneSpec(image_size=32))


@pytest.mark.parametrize('size', [16, 32, 36, 64])
def test_decoder_output_has_the_image_shape(size):
    decoder = PixelDecoder(latent_dim=10, image_size=size, width=16)
    assert decoder(torch.randn(5, 10)).shape == (5, 3, size, size)
    # Leading dimensions (ensemble members, rollout steps) pass through.
    assert decoder(torch.randn(2, 3, 4, 10)).shape == (2, 3, 4, 3, size, size)


def test_decoder_rejects_bad_sizes():
    with pytest.raises(ValueError, match='image_size'):
        PixelDecoder(latent_dim=10, image_size=2)
    with pytest.raises(ValueError, match='latent_dim'):
        PixelDecoder(latent_dim=0, image_size=32)


def test_bad_objective_and_fraction_are_rejected():
    with pytest.raises(ConfigError, match='objective'):
        tiny_config(objective='pixels')
    for bad in (0.0, -0.5, 1.5, float('nan')):
        with pytest.raises(ConfigError, match='episode_fraction'):
            tiny_config(episode_fraction=bad)
    with pytest.raises(ConfigError, match='scan_sectors'):
        from_dict(ExperimentConfig, {'model': dict(MODEL, scan_sectors=4),
                                     'loss': {'objective': 'pixel'}})
    assert tiny_config().loss.objective == 'pixel'
    assert from_dict(ExperimentConfig, {}).loss.objective == 'jepa'    # the default


def test_first_episodes_takes_the_first_ceil_fraction(episodes):
    items = list(range(10))
    assert first_episodes(items, 0.25) == [0, 1, 2]        # ceil(2.5)
    assert first_episodes(items, 0.3) == [0, 1, 2]         # 0.3 * 10 is 3.0000000000000004
    assert first_episodes(items, 0.01) == [0]              # at least one
    assert first_episodes(items, 1.0) == items
    assert first_episodes(list(range(64)), 0.125) == list(range(8))
    for bad in (0, 1.01, float('inf')):
        with pytest.raises(ValueError, match='fraction'):
            first_episodes(items, bad)
    with pytest.raises(ValueError, match='no episodes'):
        first_episodes([], 0.5)


def test_load_episodes_applies_the_fraction():
    from jepa_world_model.episode_sources import load_episodes
    full, _ = load_episodes(tiny_config())
    part, _ = load_episodes(tiny_config(episode_fraction=0.5))
    assert len(full) == 6 and len(part) == 3
    for a, b in zip(part, full[:3]):
        assert (a.images == b.images).all() and (a.a == b.a).all()


def test_pixel_objective_loss_falls_on_a_fixed_batch(episodes):
    """The decoded next frame improves when trained on one batch, and the JEPA-only terms
    are off (the target encoder's latents are not used)."""
    cfg = tiny_config()
    trainer = Trainer(cfg, episodes)
    batch = trainer.sampler.sample(8, torch.Generator().manual_seed(0))
    masks = sample_masks(8, 4, cfg.mask, torch.Generator().manual_seed(1))
    losses = []
    for _ in range(40):
        terms = compute_losses(trainer.model, batch, masks, cfg, trainer.pixel_decoder)
        trainer.optimizer.zero_grad()
        terms['total'].backward()
        trainer.optimizer.step()
        losses.append(float(terms['dynamics_teacher_forcing'].detach()))
    assert terms['masked_prediction'] == 0 and terms['future_prediction'] == 0
    assert losses[-1] < 0.5 * losses[0], losses
    # Gradient reaches the encoder through the decoder's loss.
    assert trainer.model.encoder.vit.patch_embed.weight.grad is not None
    with pytest.raises(ValueError, match='pixel decoder'):
        compute_losses(trainer.model, batch, masks, cfg, None)


def test_jepa_trainer_has_no_decoder(episodes):
    trainer = Trainer(tiny_config('jepa'), episodes)
    assert trainer.pixel_decoder is None
    assert trainer.train_step()['masked_prediction'] > 0


def test_pixel_checkpoint_loads_encodes_and_keeps_its_decoder(episodes, tmp_path):
    cfg = tiny_config()
    trainer = Trainer(cfg, episodes)
    trainer.run(steps=2)
    path = trainer.save(tmp_path / 'pixel.safetensors')
    loaded = load_checkpoint(path)
    assert loaded.config.loss.objective == 'pixel'
    o = torch.rand(3, 3, 32, 32)
    s = torch.from_numpy(episodes[0].s[:3])
    trainer.model.eval()
    z = loaded.model.eval().encode(o, s)
    assert torch.allclose(z, trainer.model.encode(o, s))
    decoder = load_pixel_decoder(loaded)
    trainer.pixel_decoder.eval()
    assert torch.allclose(decoder(z), trainer.pixel_decoder(z))
    # Resuming continues the decoder too.
    resumed = Trainer.resume(path, episodes)
    assert resumed.state.step == 2
    assert torch.equal(resumed.pixel_decoder.project.weight, trainer.pixel_decoder.project.weight)
    # Without the decoder the file still loads as a model (the decoder only trains it).
    bare = save_checkpoint(tmp_path / 'bare.safetensors', loaded.model, loaded.config, 2)
    assert load_checkpoint(bare).pixel_decoder_state is None
    with pytest.raises(CheckpointError, match='no pixel decoder'):
        load_pixel_decoder(load_checkpoint(bare))
    jepa = tiny_config('jepa')
    with pytest.raises(CheckpointError, match='pixel decoder'):
        save_checkpoint(tmp_path / 'x.safetensors', loaded.model, jepa, 2, pixel_decoder=decoder)
    # A decoder of another width does not pass as this config's.
    wrong = PixelDecoder(cfg.model.latent_dim, 32, width=8)
    odd = save_checkpoint(tmp_path / 'odd.safetensors', loaded.model, cfg, 2, pixel_decoder=wrong)
    with pytest.raises(CheckpointError, match='pixel_decoder'):
        load_checkpoint(odd)


def test_matching_fraction_and_r2():
    from jepa_world_model.experiments.data_efficiency_metrics import r2_score
    from jepa_world_model.experiments.data_efficiency_summary import matching_fraction
    fractions = [0.125, 0.25, 0.5, 1.0]
    rising = [1.0, 2.0, 3.0, 4.0]
    # Halfway between 2 and 3 in value: halfway between 0.25 and 0.5 in log2.
    assert math.isclose(matching_fraction(fractions, rising, 2.5, True), 0.25 * math.sqrt(2))
    assert matching_fraction(fractions, rising, 5.0, True) is None
    assert matching_fraction(fractions, rising, 0.5, True) == 0.125
    falling = [4.0, 3.0, 2.0, 1.0]     # an error: lower is better
    assert matching_fraction(fractions, falling, 2.0, False) == 0.5
    assert matching_fraction(fractions, falling, 0.5, False) is None
    truth = torch.randn(50, 2).numpy()
    assert math.isclose(r2_score(truth, truth), 1.0)
    assert abs(r2_score(truth, truth.mean(0, keepdims=True).repeat(50, 0))) < 1e-12


def _fake_run(objective, fraction, seed, block_cm, auc):
    """A run record with only the metrics the summary reads set to known values."""
    return {'objective': objective, 'fraction': fraction, 'seed': seed, 's_per_step': 0.1,
            'object_error_h4_cm': {
                name: {'predicted_cm': block_cm, 'predicted_fit_on_predicted_cm': block_cm,
                       'consequence_cm': block_cm, 'consequence_contact_start_cm': block_cm}
                for name in ('block', 'cube')},
            'grip_auc': {'predicted_plan': {'auc': auc}, 'encoded_close': {'auc': auc}},
            'readout_r2_encoded_xy': {'block': 0.5, 'cube': 0.5, 'distractor': 0.1}}


def test_summary_finds_the_data_multiple_of_made_up_curves():
    """JEPA's error falls 8 -> 4 cm with data, the pixel objective's 10 -> 6 cm: the pixel
    objective never reaches JEPA's 4 cm; JEPA reaches the pixel's 6 cm halfway (in log2)
    between 1/4 and 1/2 of the data. The AUCs are equal, so each matches the other at once."""
    from jepa_world_model.experiments.data_efficiency_summary import summarise, timing
    fractions = [0.125, 0.25, 0.5, 1.0]
    runs = []
    for seed in (0, 1):
        for f, jepa_cm, pixel_cm in zip(fractions, (8, 7, 5, 4), (10, 9, 8, 6)):
            runs.append(_fake_run('jepa', f, seed, jepa_cm + 0.1 * seed, 0.7))
            runs.append(_fake_run('pixel', f, seed, pixel_cm + 0.1 * seed, 0.7))
    summary = summarise(runs, ['jepa', 'pixel'], fractions)
    block = summary['block_error_h4_cm']
    assert block['conditions']['jepa_f1']['mean'] == pytest.approx(4.05)
    multiple = block['data_multiple']
    assert multiple['pixel_fraction_for_jepa_full']['fraction'] is None
    assert multiple['pixel_fraction_for_jepa_full']['bootstrap_share_never'] == 1.0
    assert multiple['jepa_fraction_for_pixel_full']['fraction'] == pytest.approx(
        0.25 * math.sqrt(2), abs=1e-3)
    assert multiple['jepa_fraction_for_pixel_full']['data_multiple'] == pytest.approx(2.83, 0.01)
    auc = summary['grip_auc_predicted_plan']['data_multiple']
    assert auc['pixel_fraction_for_jepa_full']['fraction'] == 0.125
    assert 'data_multiple' not in summary['distractor_r2_encoded']   # no "better" there
    assert summary['block_consequence_h4_contact_start_cm']['data_multiple'][
        'pixel_fraction_for_jepa_full']['fraction'] is None
    assert timing(runs)['pixel_over_jepa'] == 1.0
