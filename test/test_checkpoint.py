"""Checkpoints: exact round trip; corrupt, truncated and mismatched files rejected clearly."""

import json
import struct

import pytest
import torch
from safetensors.torch import save_file

from jepa_world_model.core.checkpoint import (CheckpointError, describe, load_checkpoint,
                                              restore_optimizer, save_checkpoint)
from jepa_world_model.core.config import ExperimentConfig, ModelConfig, config_to_json
from jepa_world_model.core.world_model import WorldModel

MODEL = ModelConfig(image_size=16, patch_size=8, embed_dim=16, depth=1, num_heads=2,
                    image_latent_dim=8, proprio_latent_dim=4, predictor_embed_dim=16,
                    predictor_num_heads=2, dynamics_hidden_dim=32)
CFG = ExperimentConfig(model=MODEL)


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = WorldModel(MODEL)
    model.set_normalization(torch.rand(4), torch.rand(4) + 0.5, torch.rand(2), torch.rand(2) + 1)
    opt = torch.optim.AdamW(model.parameters())
    model.encode(torch.rand(2, 3, 16, 16), torch.rand(2, 4)).sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path / 'm.safetensors', model, CFG, 42, opt)
    return model, opt, path


def test_round_trip_is_exact(saved):
    model, opt, path = saved
    loaded = load_checkpoint(path)
    assert loaded.step == 42 and loaded.config == CFG
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.model.state_dict()[key]), key
    o, s = torch.rand(3, 3, 16, 16), torch.rand(3, 4)
    model.eval()
    assert torch.equal(model.encode(o, s), loaded.model.eval().encode(o, s))
    opt2 = torch.optim.AdamW(loaded.model.parameters())
    restore_optimizer(opt2, loaded.optimizer_state)
    before, after = opt.state_dict()['state'], opt2.state_dict()['state']
    assert sorted(before) == sorted(after)
    for i in before:
        assert torch.equal(before[i]['exp_avg'], after[i]['exp_avg'])
        assert torch.equal(before[i]['exp_avg_sq'], after[i]['exp_avg_sq'])
    assert describe(path)['step'] == 42


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CheckpointError, match='not found.*nope.safetensors'):
        load_checkpoint(tmp_path / 'nope.safetensors')


def test_truncated_and_corrupt_files_are_rejected(saved, tmp_path):
    _, _, path = saved
    data = path.read_bytes()
    truncated = tmp_path / 'truncated.safetensors'
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='truncated.safetensors'):
        load_checkpoint(truncated)
    garbage = tmp_path / 'garbage.safetensors'
    garbage.write_bytes(b'\x00' * 64)
    with pytest.raises(CheckpointError, match='garbage.safetensors'):
        load_checkpoint(garbage)
    # Valid header length, flipped header bytes: still an error, never a crash.
    header_len = struct.unpack('<Q', data[:8])[0]
    flipped = bytearray(data)
    flipped[8:8 + header_len] = b'{' * header_len
    bad_header = tmp_path / 'bad_header.safetensors'
    bad_header.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match='bad_header'):
        load_checkpoint(bad_header)


def test_mismatched_shapes_name_the_key(saved, tmp_path):
    model, _, _ = saved
    other = ExperimentConfig(model=ModelConfig(**{**MODEL.__dict__, 'image_latent_dim': 12}))
    tensors = {f'model.{k}': v.contiguous() for k, v in model.state_dict().items()}
    path = tmp_path / 'mismatch.safetensors'
    save_file(tensors, str(path), metadata={'format': 'jepa_world_model/1',
                                            'config': config_to_json(other), 'step': '1'})
    with pytest.raises(CheckpointError, match=r"mismatch.safetensors.*'encoder.pool.out.1.weight'"
                                              r'.*shape'):
        load_checkpoint(path)


def test_missing_and_unexpected_tensors_and_bad_metadata(saved, tmp_path):
    model, _, _ = saved
    tensors = {f'model.{k}': v.contiguous() for k, v in model.state_dict().items()}
    meta = {'format': 'jepa_world_model/1', 'config': config_to_json(CFG), 'step': '1'}
    dropped = dict(tensors)
    dropped.pop('model.state_mean')
    save_file(dropped, str(tmp_path / 'missing.safetensors'), metadata=meta)
    with pytest.raises(CheckpointError, match="missing tensor.*state_mean"):
        load_checkpoint(tmp_path / 'missing.safetensors')
    extra = dict(tensors, **{'model.bogus': torch.zeros(1)})
    save_file(extra, str(tmp_path / 'extra.safetensors'), metadata=meta)
    with pytest.raises(CheckpointError, match='unexpected tensor.*bogus'):
        load_checkpoint(tmp_path / 'extra.safetensors')
    save_file(tensors, str(tmp_path / 'nometa.safetensors'))
    with pytest.raises(CheckpointError, match='format'):
        load_checkpoint(tmp_path / 'nometa.safetensors')
    bad_cfg = dict(meta, config=json.dumps({'model': {'depth': -1}}))
    save_file(tensors, str(tmp_path / 'badcfg.safetensors'), metadata=bad_cfg)
    with pytest.raises(CheckpointError, match='embedded config is invalid'):
        load_checkpoint(tmp_path / 'badcfg.safetensors')
    nan = dict(tensors)
    nan['model.state_mean'] = torch.full_like(nan['model.state_mean'], float('nan'))
    save_file(nan, str(tmp_path / 'nan.safetensors'), metadata=meta)
    with pytest.raises(CheckpointError, match='NaN'):
        load_checkpoint(tmp_path / 'nan.safetensors')


def test_export_drops_optimizer_state_and_keeps_weights(saved, tmp_path):
    from jepa_world_model.core.checkpoint import export_model
    model, _, path = saved
    out = export_model(path, tmp_path / 'shipped.safetensors')
    loaded = load_checkpoint(out)
    assert loaded.optimizer_state is None and loaded.step == 42
    assert out.stat().st_size < path.stat().st_size
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.model.state_dict()[key]), key
