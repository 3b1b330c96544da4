"""World-model API: shapes, determinism, target encoder, errors."""

import pytest
import torch

from jepa_world_model.core.config import ModelConfig
from jepa_world_model.core.model.world_model import WorldModel

CFG = ModelConfig(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2,
                  image_latent_dim=16, proprio_latent_dim=8, predictor_embed_dim=32,
                  predictor_num_heads=2, dynamics_hidden_dim=64, dynamics_ensemble_size=3,
                  pose_probe=True)


def make(seed=0):
    torch.manual_seed(seed)
    return WorldModel(CFG).eval()


def test_shapes_of_every_method():
    model = make()
    b, z_dim = 5, CFG.latent_dim
    o, s, a = torch.rand(b, 3, 32, 32), torch.randn(b, 4), torch.randn(b, 2)
    z = model.encode(o, s)
    assert z.shape == (b, z_dim) == model.encode(o, s, target=True).shape
    assert model.patch_tokens(o).shape == (b, CFG.num_patches, CFG.embed_dim)
    assert model.predict(z, a).shape == (b, z_dim)
    assert model.predict_ensemble(z, a).shape == (3, b, z_dim)
    assert model.rollout(z, torch.randn(b, 6, 2)).shape == (b, 6, z_dim)
    assert model.disagreement(z, a).shape == (b,)
    assert model.inverse_dynamics(z, z).shape == (b, 2)
    assert model.probe_state(z).shape == (b, 4)
    assert model.probe_joint_positions(z).shape == (b, 2)
    assert model.probe_pose(z).shape == (b, 3)
    assert model.image_part(z).shape == (b, CFG.image_latent_dim)


def test_seeded_construction_and_outputs_are_deterministic():
    o, s = torch.rand(2, 3, 32, 32), torch.randn(2, 4)
    assert torch.equal(make(1).encode(o, s), make(1).encode(o, s))
    assert not torch.equal(make(1).encode(o, s), make(2).encode(o, s))


def test_target_encoder_is_frozen_and_starts_equal_to_online():
    model = make()
    assert not any(p.requires_grad for p in model.target_encoder.parameters())
    model.train()
    assert not model.target_encoder.training
    o, s = torch.rand(2, 3, 32, 32), torch.randn(2, 4)
    assert torch.allclose(model.encode(o, s), model.encode(o, s, target=True))


def test_bad_inputs_raise_clear_errors():
    model = make()
    with pytest.raises(ValueError, match=r'\[B, 3, 32, 32\]'):
        model.encode(torch.rand(1, 3, 16, 16), torch.randn(1, 4))
    with pytest.raises(ValueError, match='proprio'):
        model.encode(torch.rand(1, 3, 32, 32), None)


def test_actions_and_states_are_normalised_with_stored_statistics():
    model = make()
    model.set_normalization(torch.tensor([1.0, 2, 3, 4]), torch.tensor([2.0, 2, 2, 0.0]),
                            torch.tensor([0.5, -0.5]), torch.tensor([0.1, 0.2]))
    s = torch.tensor([[3.0, 4, 5, 4]])
    assert torch.allclose(model.normalize_state(s), torch.tensor([[1.0, 1, 1, 0]]))
    assert float(model.state_std[-1]) > 0   # constant channels are floored, never divide by 0
    a = torch.tensor([[0.6, -0.3]])
    assert torch.allclose(model.denormalize_action(model.normalize_action(a)), a)


def test_parameter_counts_are_reported():
    counts = make().parameter_counts()
    assert counts['total_trainable'] == sum(
        v for k, v in counts.items()
        if k not in ('total_trainable', 'target_encoder', 'frozen_backbone'))
    assert counts['target_encoder'] == counts['encoder']
    assert counts['frozen_backbone'] == 0   # the ViT has no pretrained backbone


def test_baseline_report_shapes_and_exact_constant_velocity_on_linear_motion():
    import numpy as np
    from jepa_world_model.core.training.data import Episode
    from jepa_world_model.core.training.evaluation import baseline_report
    model = make()
    t = 12
    q = np.stack([np.linspace(0, 1, t), np.linspace(1, 0, t)], 1).astype(np.float32)
    s = np.concatenate([q, np.gradient(q, axis=0)], 1).astype(np.float32)
    images = (np.random.default_rng(0).random((t, 32, 32, 3)) * 255).astype(np.uint8)
    ep = Episode(images, s, np.zeros((t, 2), np.float32))
    report = baseline_report(model, [ep], horizons=(1, 2, 4))
    assert report['horizons'] == [1, 2, 4]
    # Linear joint motion: the constant-velocity baseline is exact, copying is not.
    assert max(report['const_vel_joint_abs_error']) < 1e-5
    assert min(report['copy_joint_abs_error']) > 0.05
    assert all(np.isfinite(report['model_latent_l1']))


def test_refit_probes_recovers_joint_positions_linearly_present_in_z():
    import numpy as np
    from jepa_world_model.core.training.data import Episode
    from jepa_world_model.core.model.probes import refit_probes
    model = make()
    rng = np.random.default_rng(0)
    eps = []
    for _ in range(4):
        s = rng.uniform(-1, 1, (20, 4)).astype(np.float32)
        images = (rng.random((20, 32, 32, 3)) * 255).astype(np.uint8)
        eps.append(Episode(images, s, np.zeros((20, 2), np.float32)))
    z = model.encode(torch.rand(3, 3, 32, 32), torch.randn(3, 4))
    before = model.probe_state(z).clone()
    scores = refit_probes(model, eps)
    # The proprio slice of z is a smooth embedding of s: a linear read-out gets most of it.
    assert scores['state_probe_r2'] > 0.8
    assert not torch.allclose(before, model.probe_state(z))


def test_image_state_head_trains_the_visual_latent():
    """With image_state_head, a loss reads joint positions from the image part alone and its
    gradient reaches the encoder (so the visual latent must encode the robot's pose). Without
    the head the term is absent (zero). (What it buys is measured on the arm model:
    docs/models.md, image-part joint read-out.)"""
    import dataclasses
    from jepa_world_model.core.config import ExperimentConfig, from_dict
    from jepa_world_model.core.training.synthetic import generate_episodes, SceneSpec
    from jepa_world_model.core.training.trainer import Trainer
    model_cfg = dict(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2,
                     image_latent_dim=16, proprio_latent_dim=8, predictor_embed_dim=32,
                     predictor_num_heads=2, dynamics_hidden_dim=32, image_state_head=True)
    cfg = from_dict(ExperimentConfig, {
        'model': model_cfg, 'optim': {'steps': 2, 'batch_size': 8, 'warmup_steps': 1},
        'train': {'num_threads': 1, 'seed': 0}})
    episodes = generate_episodes(6, 20, seed=0, spec=SceneSpec(image_size=32))
    trainer = Trainer(cfg, episodes)
    first = trainer.train_step()
    assert first['image_state'] > 0
    head = trainer.model.image_state_head
    assert all(p.grad is not None for p in head.parameters())
    assert trainer.model.encoder.vit.patch_embed.weight.grad is not None
    before = trainer.model.encoder.vit.patch_embed.weight.detach().clone()
    trainer.train_step()
    assert not torch.equal(before, trainer.model.encoder.vit.patch_embed.weight)
    z = torch.zeros(3, trainer.model.cfg.latent_dim)
    assert trainer.model.image_joint_positions(z).shape == (3, 2)
    plain = Trainer(dataclasses.replace(cfg, model=dataclasses.replace(
        cfg.model, image_state_head=False)), episodes)
    assert plain.train_step()['image_state'] == 0.0


def test_conv_stem_tokens_and_masked_patches_stay_hidden():
    """patch_stem conv: same token grid as the linear stem; with a context mask, pixels of
    dropped patches cannot change the kept tokens (the conv's receptive field crosses patch
    borders, so they are zeroed first), while without a mask they do."""
    import dataclasses
    from jepa_world_model.core.config import ConfigError
    cfg = dataclasses.replace(CFG, patch_stem='conv')
    torch.manual_seed(0)
    model = WorldModel(cfg).eval()
    vit = model.encoder.vit
    o = torch.rand(2, 3, 32, 32)
    assert vit(o).shape == (2, 16, 32)
    keep = torch.tensor([[0, 1, 4], [2, 3, 15]])
    changed = o.clone()
    changed[:, :, 16:24, 8:16] += 1.0          # patch (row 2, col 1) = index 9: dropped
    with torch.no_grad():
        assert torch.equal(vit(o, keep), vit(changed, keep))
        assert not torch.allclose(vit(o), vit(changed))
        z = model.encode(o, torch.zeros(2, cfg.state_dim))
    assert z.shape == (2, cfg.latent_dim)
    with pytest.raises(ConfigError, match='patch_stem'):
        dataclasses.replace(CFG, patch_stem='resnet')
    with pytest.raises(ConfigError, match='power-of-two'):
        ModelConfig(image_size=36, patch_size=6, patch_stem='conv')


@pytest.mark.parametrize('source', ['tokens', 'latent'])
def test_encode_with_image_joints_is_encode_plus_read_image_joints(source):
    """One encoder pass gives the same latent as encode() and the same reading as
    read_image_joints(), whatever the proprio state."""
    import dataclasses
    torch.manual_seed(0)
    model = WorldModel(dataclasses.replace(CFG, image_state_head=True,
                                           image_state_source=source)).eval()
    o, s = torch.rand(3, 3, 32, 32), torch.randn(3, CFG.state_dim)
    with torch.no_grad():
        z, q = model.encode_with_image_joints(o, s)
        torch.testing.assert_close(z, model.encode(o, s))
        torch.testing.assert_close(q, model.read_image_joints(o))
    assert q.shape == (3, len(CFG.joint_names))
    with pytest.raises(ValueError, match='no image_state_head'):
        make().encode_with_image_joints(o, s)


def test_grid_pool_keeps_each_patch_in_its_own_channels():
    """image_pool grid: z's image part is every patch's own C channels in grid order, so a
    change of one patch's token moves only that patch's slice; the size must divide."""
    import dataclasses
    from jepa_world_model.core.config import ConfigError
    cfg = dataclasses.replace(CFG, image_pool='grid', image_latent_dim=2 * CFG.num_patches)
    torch.manual_seed(0)
    model = WorldModel(cfg).eval()
    o, s = torch.rand(3, 3, 32, 32), torch.randn(3, 4)
    z = model.encode(o, s)
    assert z.shape == (3, cfg.latent_dim) and cfg.latent_dim == 32 + CFG.latent_dim - 16
    tokens = model.patch_tokens(o)
    changed = tokens.clone()
    changed[:, 5] += torch.randn(CFG.embed_dim)     # not a constant: LayerNorm removes that
    with torch.no_grad():
        a, b = model.encoder.pool(tokens), model.encoder.pool(changed)
    moved = (a - b).abs().amax(0) > 1e-6
    assert moved.nonzero().flatten().tolist() == [10, 11]      # patch 5, channels 0 and 1
    assert model.rollout(z, torch.randn(3, 4, 2)).shape == (3, 4, cfg.latent_dim)
    with pytest.raises(ConfigError, match='multiple of the number of patches'):
        dataclasses.replace(CFG, image_pool='grid', image_latent_dim=20)
    with pytest.raises(ConfigError, match='image_pool'):
        dataclasses.replace(CFG, image_pool='mean')


def test_keypoint_pool_locates_a_patch_that_stands_out():
    """image_pool keypoints: a keypoint whose score picks one patch reports that patch's place
    on the grid (x to the right, y down, from the centre), and moves with it; the latent is
    3 numbers per keypoint; sizes that do not fit are refused."""
    import dataclasses
    from jepa_world_model.core.config import ConfigError
    from jepa_world_model.core.model.keypoint_pool import KeypointPool
    pool = KeypointPool(dim=4, num_patches=16, out_dim=6).eval()
    with torch.no_grad():
        pool.score.weight.zero_()
        pool.score.bias.zero_()
        pool.score.weight[0, 0] = 20.0          # keypoint 0 scores channel 0
    for patch, expected in ((5, (-0.5, -0.5)), (15, (1.5, 1.5)), (3, (1.5, -1.5))):
        tokens = torch.zeros(2, 16, 4)
        tokens[:, patch, 0] = 1.0
        with torch.no_grad():
            out = pool(tokens).reshape(2, 2, 3)
        torch.testing.assert_close(out[:, 0, :2], torch.tensor([expected, expected]),
                                   atol=1e-3, rtol=0)
        torch.testing.assert_close(out[:, 1, :2], torch.zeros(2, 2), atol=1e-6, rtol=0)
        assert pool.attention(tokens)[0, patch, 0] > 0.99
    cfg = dataclasses.replace(CFG, image_pool='keypoints', image_latent_dim=12)
    torch.manual_seed(0)
    model = WorldModel(cfg).eval()
    o, s = torch.rand(3, 3, 32, 32), torch.randn(3, 4)
    z = model.encode(o, s)
    assert z.shape == (3, cfg.latent_dim) and torch.isfinite(z).all()
    assert model.rollout(z, torch.randn(3, 4, 2)).shape == (3, 4, cfg.latent_dim)
    with pytest.raises(ConfigError, match='multiple of 3'):
        dataclasses.replace(CFG, image_pool='keypoints', image_latent_dim=16)
    with pytest.raises(ValueError, match='square grid'):
        KeypointPool(dim=4, num_patches=12, out_dim=6)
