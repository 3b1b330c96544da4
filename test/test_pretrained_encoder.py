"""Frozen pretrained encoders (model.encoder.kind dinov2 / vjepa2) through transformers.

The weights cannot be downloaded here, so each test writes a TINY random model of the real
transformers class with ``save_pretrained`` and points a YAML config at it.
"""

import json

import pytest
import torch
import yaml

transformers = pytest.importorskip('transformers', reason='the pretrained encoders need the '
                                   'transformers library (requirements-dev.txt)')

from jepa_world_model.core.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from jepa_world_model.core.config import ConfigError, load_config  # noqa: E402
from jepa_world_model.core.model.pretrained_source import new_world_model  # noqa: E402
from jepa_world_model.core.runtime.inference import WorldModelRuntime  # noqa: E402
from jepa_world_model.core.training.synthetic import SceneSpec  # noqa: E402
from jepa_world_model.core.training.synthetic import generate_episodes as generate  # noqa: E402
from jepa_world_model.core.training.trainer import Trainer  # noqa: E402

from tiny_models import TINY_GANTRY_CONFIG  # noqa: E402

IMAGE_SIZE = 32   # the episodes' frames; the backbones see 64 px (resized inside)


def generate_episodes(count, steps, seed):
    """Generated gantry episodes with IMAGE_SIZE frames."""
    return generate(count, steps, seed, SceneSpec(image_size=IMAGE_SIZE))


def save_tiny_backbone(kind, directory):
    """A tiny random DINOv2 / V-JEPA 2 of the real class, written with save_pretrained."""
    torch.manual_seed(1)
    if kind == 'dinov2':
        config = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=1,
                                           num_attention_heads=2, patch_size=8, image_size=64)
        model = transformers.Dinov2Model(config)
    else:
        config = transformers.VJEPA2Config(hidden_size=32, num_hidden_layers=1,
                                           num_attention_heads=2, patch_size=8, crop_size=64,
                                           frames_per_clip=2, tubelet_size=2,
                                           pred_hidden_size=32, pred_num_hidden_layers=1,
                                           pred_num_attention_heads=2)
        model = transformers.VJEPA2Model(config)
    model.save_pretrained(str(directory))
    return model


def write_config(tmp_path, kind, pretrained, **encoder):
    """A tiny gantry training config whose encoder is the backbone at ``pretrained``, seen at
    64 px (DINOv2 given explicitly; V-JEPA 2 at its crop size, by default)."""
    if kind == 'dinov2':
        encoder.setdefault('image_size', 64)
    data = json.loads(json.dumps(TINY_GANTRY_CONFIG))
    data['model']['encoder'] = dict(kind=kind, pretrained=str(pretrained), **encoder)
    data['loss'] = {'masked_prediction': 0.0, 'future_prediction': 0.0}
    data['optim']['steps'] = 3
    path = tmp_path / 'train.yaml'
    path.write_text(yaml.safe_dump(data))
    return path


def frozen_state(kind, reference):
    """The reference model's tensors as the world model's backbone holds them."""
    module = reference if kind == 'dinov2' else reference.encoder
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize('kind', ['dinov2', 'vjepa2'])
def test_train_save_load_round_trip_keeps_the_backbone_frozen(tmp_path, kind):
    reference = save_tiny_backbone(kind, tmp_path / 'weights')
    config = load_config(write_config(tmp_path, kind, tmp_path / 'weights'))
    episodes = generate_episodes(6, 12, seed=0)
    trainer = Trainer(config, episodes, out_dir=tmp_path / 'run')
    model = trainer.model
    # The backbone holds the pretrained weights, and the optimizer none of them.
    expected = frozen_state(kind, reference)
    for key, value in model.backbone.model.state_dict().items():
        assert torch.equal(value, expected[key]), key
    optimized = {id(p) for group in trainer.optimizer.param_groups for p in group['params']}
    assert not optimized & {id(p) for p in model.backbone.parameters()}
    counts = model.parameter_counts()
    assert counts['frozen_backbone'] == sum(p.numel() for p in model.backbone.parameters()) > 0
    assert counts['total_trainable'] == sum(
        p.numel() for group in trainer.optimizer.param_groups for p in group['params'])
    assert model.cfg.encoder.image_size == 64 and model.cfg.num_patches == 64
    adapter_before = [p.detach().clone() for p in model.encoder.adapter.parameters()]

    history = trainer.run()
    assert len(history) == 3 and all(torch.isfinite(torch.tensor(h['total'])) for h in history)
    assert not model.backbone.training
    for key, value in model.backbone.model.state_dict().items():
        assert torch.equal(value, expected[key]), f'{key} changed in training'
    assert any(not torch.equal(a, b.detach()) for a, b in
               zip(adapter_before, model.encoder.adapter.parameters())), 'adapter not trained'

    # The checkpoint is self-contained: it loads with the weights directory gone.
    for item in (tmp_path / 'weights').iterdir():
        item.unlink()
    loaded = load_checkpoint(tmp_path / 'run' / 'checkpoint.safetensors')
    assert json.loads(loaded.config.model.encoder.backbone_config)['hidden_size'] == 32
    o = torch.rand(3, 3, IMAGE_SIZE, IMAGE_SIZE)
    s = torch.randn(3, model.cfg.state_dim)
    model.eval()
    loaded.model.eval()
    with torch.no_grad():
        assert torch.allclose(model.encode(o, s), loaded.model.encode(o, s), atol=1e-6)
    assert torch.equal(loaded.model.backbone.image_std, model.backbone.image_std)
    # The nodes' runtime (inference mode, both encoders) gives the trained model's latents.
    runtime = WorldModelRuntime.from_path(tmp_path / 'run' / 'checkpoint.safetensors')
    rgb = (torch.rand(IMAGE_SIZE, IMAGE_SIZE, 3) * 255).to(torch.uint8)
    result = runtime.step(rgb.numpy(), s[0].numpy(), torch.zeros(2).numpy(), horizon=2)
    o_rgb = rgb.permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(result.z), model.encode(o_rgb, s[:1])[0],
                              atol=1e-5)
        assert torch.allclose(torch.from_numpy(result.z_obs),
                              model.encode(o_rgb, s[:1], target=True)[0], atol=1e-5)


def test_vjepa2_sees_a_frame_as_one_tubelet_and_dinov2_drops_its_cls_token(tmp_path):
    for kind in ('dinov2', 'vjepa2'):
        reference = save_tiny_backbone(kind, tmp_path / kind).eval()
        config = load_config(write_config(tmp_path, kind, tmp_path / kind))
        model = new_world_model(config.model).eval()
        o = torch.rand(2, 3, 64, 64)   # already the backbone's size: no resize
        x = (o - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
            [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        with torch.no_grad():
            if kind == 'dinov2':
                want = reference(pixel_values=x).last_hidden_state[:, 1:]
            else:
                clip = torch.stack([x, x], dim=1)           # [B, tubelet 2, 3, 64, 64]
                want = reference(pixel_values_videos=clip, skip_predictor=True).last_hidden_state
            got = model.backbone(o)
        assert got.shape == (2, 64, 32)
        assert torch.allclose(got, want, atol=1e-5), kind


def test_the_second_encoder_reuses_the_backbone_pass_of_the_same_frames(tmp_path, monkeypatch):
    save_tiny_backbone('dinov2', tmp_path / 'w')
    config = load_config(write_config(tmp_path, 'dinov2', tmp_path / 'w', image_size=0)).model
    model = new_world_model(config)
    assert config.encoder.image_size == 224 and config.num_patches == 28 ** 2  # DINOv2's own
    calls = []
    forward = model.backbone.model.forward
    monkeypatch.setattr(model.backbone.model, 'forward',
                        lambda *a, **k: calls.append(1) or forward(*a, **k))
    o = torch.rand(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    model.patch_tokens(o)
    model.patch_tokens(o, target=True)
    assert len(calls) == 1
    o.mul_(0.5)             # the same tensor, changed in place: encoded again
    model.patch_tokens(o)
    assert len(calls) == 2
    with torch.no_grad():   # new weights: encoded again
        next(model.backbone.model.parameters()).add_(1.0)
    model.patch_tokens(o)
    assert len(calls) == 3
    with torch.inference_mode():   # as the nodes run: no version counter, never reused
        frame = torch.rand(1, 3, IMAGE_SIZE, IMAGE_SIZE)
        first = model.encode(frame, torch.zeros(1, model.cfg.state_dim))
        assert torch.equal(first, model.encode(frame, torch.zeros(1, model.cfg.state_dim)))
    assert len(calls) == 5


def use_hub_cache(monkeypatch, cache):
    """Point huggingface_hub at ``cache`` (a fake HF_HUB_CACHE) for this test."""
    import huggingface_hub.constants
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_CACHE', str(cache))


def test_a_hub_id_is_read_from_the_local_hub_cache(tmp_path, monkeypatch):
    cache = tmp_path / 'hub'
    repo = cache / 'models--tiny-org--tiny-dinov2'
    (repo / 'refs').mkdir(parents=True)
    (repo / 'refs' / 'main').write_text('0123abcd')
    reference = save_tiny_backbone('dinov2', repo / 'snapshots' / '0123abcd')
    use_hub_cache(monkeypatch, cache)
    config = load_config(write_config(tmp_path, 'dinov2', 'tiny-org/tiny-dinov2'))
    model = new_world_model(config.model)
    expected = frozen_state('dinov2', reference)
    assert all(torch.equal(v, expected[k]) for k, v in model.backbone.model.state_dict().items())


def test_clear_errors_for_missing_weights_wrong_kind_and_pickle_files(tmp_path, monkeypatch):
    use_hub_cache(monkeypatch, tmp_path / 'empty_hub')
    episodes = generate_episodes(6, 12, seed=0)
    missing = load_config(write_config(tmp_path, 'dinov2', tmp_path / 'nowhere'))
    with pytest.raises(ConfigError, match='no such directory'):
        Trainer(missing, episodes)
    not_cached = load_config(write_config(tmp_path, 'dinov2', 'nobody/no-such-model'))
    with pytest.raises(ConfigError, match='not in the Hugging Face cache'):
        Trainer(not_cached, episodes)
    save_tiny_backbone('vjepa2', tmp_path / 'vj')
    wrong_kind = load_config(write_config(tmp_path, 'dinov2', tmp_path / 'vj'))
    with pytest.raises(ConfigError, match="holds a 'vjepa2' model, not encoder.kind 'dinov2'"):
        Trainer(wrong_kind, episodes)
    (tmp_path / 'vj' / 'model.safetensors').rename(tmp_path / 'vj' / 'pytorch_model.bin')
    pickled = load_config(write_config(tmp_path, 'vjepa2', tmp_path / 'vj'))
    with pytest.raises(ConfigError, match='no .safetensors weights'):
        Trainer(pickled, episodes)


def test_config_rules_for_pretrained_encoders(tmp_path):
    path = write_config(tmp_path, 'dinov2', tmp_path)
    data = yaml.safe_load(path.read_text())
    cases = [({'kind': 'clip', 'pretrained': 'x'}, 'encoder.kind must be one of'),
             ({'kind': 'dinov2'}, 'needs encoder.pretrained'),
             ({'kind': 'dinov2', 'pretrained': 'x', 'frozen': False}, 'not implemented'),
             ({'kind': 'dinov2', 'pretrained': 'x', 'colour': 1},
              r"unknown key\(s\) \['colour'\]"),
             ({'kind': 'vit', 'pretrained': 'x'}, "not to kind 'vit'"),
             ({'kind': 'dinov2', 'pretrained': 'x', 'backbone_config': json.dumps(
                 {'hidden_size': 10 ** 6, 'num_hidden_layers': 1, 'num_attention_heads': 1,
                  'patch_size': 8})}, 'hidden_size must be a number in')]
    for encoder, message in cases:
        data['model']['encoder'] = encoder
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(ConfigError, match=message):
            load_config(path)
    data['model']['encoder'] = {'kind': 'dinov2', 'pretrained': 'x'}
    data['loss'] = {}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match='masked_prediction: 0 and loss.future_prediction: 0'):
        load_config(path)


def test_a_checkpoint_with_a_wrongly_shaped_backbone_tensor_is_refused(tmp_path):
    save_tiny_backbone('dinov2', tmp_path / 'w')
    config = load_config(write_config(tmp_path, 'dinov2', tmp_path / 'w'))
    trainer = Trainer(config, generate_episodes(6, 12, seed=0))
    path = trainer.save(tmp_path / 'ok.safetensors')
    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(str(path), framework='pt') as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        metadata = f.metadata()
    tensors.pop('model.backbone.model.layernorm.weight')
    save_file(tensors, str(tmp_path / 'bad.safetensors'), metadata=metadata)
    with pytest.raises(CheckpointError, match='missing tensor.*backbone.model.layernorm'):
        load_checkpoint(tmp_path / 'bad.safetensors')
