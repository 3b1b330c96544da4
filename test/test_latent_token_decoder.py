"""model.latent_token_decoder: the target patch tokens decoded from encoded and predicted z
(core/model/token_decoder.py, loss.latent_tokens; docs/tabletop.md)."""

import pytest
import torch

from jepa_world_model.core.checkpoint import load_checkpoint
from jepa_world_model.core.config import ExperimentConfig, from_dict
from jepa_world_model.core.model.masks import sample_masks
from jepa_world_model.core.model.token_decoder import LatentTokenDecoder
from jepa_world_model.core.training.synthetic import generate_episodes, SceneSpec
from jepa_world_model.core.training.trainer import compute_losses, LOSS_TERMS, Trainer

MODEL = dict(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2,
             image_latent_dim=16, proprio_latent_dim=8, predictor_embed_dim=32,
             predictor_num_heads=2, dynamics_hidden_dim=32, idm_hidden_dim=32)


def tiny_config(decoder=True, weight=1.0):
    return from_dict(ExperimentConfig, {
        'model': dict(MODEL, latent_token_decoder=decoder),
        'loss': {'latent_tokens': weight},
        'optim': {'steps': 40, 'batch_size': 8, 'warmup_steps': 1, 'lr': 3e-3},
        'data': dict(synthetic_episodes=6, synthetic_steps=20),
        'train': {'num_threads': 1, 'seed': 0}})


@pytest.fixture(scope='module')
def episodes():
    return generate_episodes(6, 20, seed=0, spec=SceneSpec(image_size=32))


def test_decoder_gives_a_token_per_patch_for_any_leading_shape():
    decoder = LatentTokenDecoder(latent_dim=10, num_patches=16, token_dim=8, hidden=12)
    assert decoder(torch.randn(5, 10)).shape == (5, 16, 8)
    assert decoder(torch.randn(2, 3, 4, 10)).shape == (2, 3, 4, 16, 8)
    # The same z gives different tokens at different patches (the position embedding).
    tokens = decoder(torch.randn(1, 10))[0]
    assert (tokens[0] - tokens[5]).abs().max() > 1e-4
    with pytest.raises(ValueError, match='square grid'):
        LatentTokenDecoder(latent_dim=10, num_patches=12, token_dim=8, hidden=12)


def test_token_loss_falls_and_reaches_the_encoder_and_the_dynamics(episodes):
    cfg = tiny_config()
    trainer = Trainer(cfg, episodes)
    model = trainer.model
    batch = trainer.sampler.sample(8, torch.Generator().manual_seed(0))
    masks = sample_masks(8, 4, cfg.mask, torch.Generator().manual_seed(1))
    # Only this term: its gradient alone must reach the pool and the dynamics.
    terms = compute_losses(model, batch, masks, cfg)
    trainer.optimizer.zero_grad()
    terms['latent_tokens'].backward()
    assert model.encoder.pool.out[1].weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.dynamics.parameters())
    losses = []
    for _ in range(40):
        terms = compute_losses(model, batch, masks, cfg)
        trainer.optimizer.zero_grad()
        terms['latent_tokens'].backward()
        trainer.optimizer.step()
        losses.append(float(terms['latent_tokens'].detach()))
    assert losses[-1] < 0.7 * losses[0], losses


def test_without_the_decoder_the_term_is_zero_and_total_leaves_it_out(episodes):
    cfg = tiny_config(decoder=False)
    trainer = Trainer(cfg, episodes)
    assert trainer.model.token_decoder is None
    assert float(trainer.train_step()['latent_tokens']) == 0.0
    weighted = tiny_config(weight=0.0)
    trainer = Trainer(weighted, episodes)
    batch = trainer.sampler.sample(4, torch.Generator().manual_seed(0))
    masks = sample_masks(4, 4, weighted.mask, torch.Generator().manual_seed(1))
    terms = compute_losses(trainer.model, batch, masks, weighted)
    assert float(terms['latent_tokens'].detach()) > 0   # computed, but weighted 0 in total
    rest = sum(getattr(weighted.loss, n) * terms[n] for n in LOSS_TERMS
               if n != 'latent_tokens')
    torch.testing.assert_close(terms['total'], rest)


def test_checkpoint_keeps_the_decoder(episodes, tmp_path):
    trainer = Trainer(tiny_config(), episodes)
    trainer.run(steps=2)
    path = trainer.save(tmp_path / 'decoder.safetensors')
    loaded = load_checkpoint(path)
    assert loaded.config.model.latent_token_decoder
    z = torch.randn(3, loaded.model.cfg.latent_dim)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model.token_decoder(z),
                                   trainer.model.token_decoder(z))
