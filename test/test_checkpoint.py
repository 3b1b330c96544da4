"""Checkpoints: exact round trip; corrupt, truncated and mismatched files rejected clearly,
before anything is allocated; writes are atomic and durable."""

import json
import os
import resource
import struct
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import save_file

from jepa_world_model.core import checkpoint as checkpoint_module
from jepa_world_model.core.checkpoint import (CheckpointError, describe, load_checkpoint,
                                              restore_optimizer, save_checkpoint)
from jepa_world_model.core.config import (ExperimentConfig, ModelConfig, config_to_json,
                                          save_config)
from jepa_world_model.core.model.world_model import WorldModel
from tiny_models import save_tiny

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


def _write(path, tensors, config_json):
    save_file(tensors, str(path), metadata={'format': 'jepa_world_model/1',
                                            'config': config_json, 'step': '1'})
    return path


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: kB


def test_small_file_asking_for_a_huge_model_is_refused_before_allocating(saved, tmp_path):
    """A few-KB file whose config describes billions of parameters (within the per-field
    limits) is refused from its header alone: fast, and the process does not grow."""
    _, _, good = saved
    load_checkpoint(good)   # warm-up: the first load initialises torch's kernels
    huge = dict(MODEL.__dict__, image_size=512, patch_size=8, embed_dim=2048, depth=24,
                num_heads=8, predictor_embed_dim=2048, predictor_depth=24,
                dynamics_hidden_dim=8192, dynamics_depth=8, dynamics_ensemble_size=8)
    path = _write(tmp_path / 'huge.safetensors', {'model.state_mean': torch.zeros(4)},
                  config_to_json(ExperimentConfig(model=ModelConfig(**huge))))
    assert path.stat().st_size < 4096
    rss_before, started = _peak_rss_mb(), time.monotonic()
    with pytest.raises(CheckpointError, match=r'huge.safetensors.*above the limit'):
        load_checkpoint(path)
    assert time.monotonic() - started < 2.0
    assert _peak_rss_mb() - rss_before < 100
    # A size beyond a per-field limit is refused by the config check, before any build.
    beyond = dict(json.loads(config_to_json(CFG)))
    beyond['model']['image_size'] = 65536
    path = _write(tmp_path / 'beyond.safetensors', {'model.state_mean': torch.zeros(4)},
                  json.dumps(beyond))
    with pytest.raises(CheckpointError, match='embedded config is invalid.*image_size'):
        load_checkpoint(path)


def test_header_mismatch_is_refused_before_the_model_is_built(saved, tmp_path, monkeypatch):
    """Shapes and dtypes come from the header; a mismatch never builds the real model."""
    model, _, _ = saved
    devices = []
    real = checkpoint_module.WorldModel

    def recording_world_model(cfg):
        devices.append(torch.get_default_device().type)
        return real(cfg)

    monkeypatch.setattr(checkpoint_module, 'WorldModel', recording_world_model)
    tensors = {f'model.{k}': v.contiguous() for k, v in model.state_dict().items()}
    bad_shape = dict(tensors, **{'model.state_mean': torch.zeros(5)})
    path = _write(tmp_path / 'shape.safetensors', bad_shape, config_to_json(CFG))
    with pytest.raises(CheckpointError, match=r"'state_mean' has shape \(5,\).*\(4,\)"):
        load_checkpoint(path)
    bad_dtype = dict(tensors, **{'model.state_std': torch.ones(4, dtype=torch.int64)})
    path = _write(tmp_path / 'dtype.safetensors', bad_dtype, config_to_json(CFG))
    with pytest.raises(CheckpointError, match="'state_std' has dtype I64"):
        load_checkpoint(path)
    stray = dict(tensors, **{'junk.x': torch.zeros(1)})
    path = _write(tmp_path / 'stray.safetensors', stray, config_to_json(CFG))
    with pytest.raises(CheckpointError, match='unexpected tensor.*junk.x'):
        load_checkpoint(path)
    assert devices and set(devices) == {'meta'}
    # A bfloat16 file is fine (a bf16 run saves bf16 weights): loaded, and the model built.
    bf16 = {k: v.to(torch.bfloat16) for k, v in tensors.items()}
    loaded = load_checkpoint(_write(tmp_path / 'bf16.safetensors', bf16, config_to_json(CFG)))
    assert loaded.model.state_mean.dtype == torch.float32 and devices[-1] == 'cpu'


def test_save_fsyncs_file_then_renames_then_fsyncs_directory(saved, tmp_path, monkeypatch):
    """Durable on power loss: data on disk before the rename, the rename on disk after."""
    model, opt, _ = saved
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(('fsync', os.path.isdir(f'/proc/self/fd/{fd}')))
        real_fsync(fd)

    def replace(src, dst):
        events.append(('replace', os.path.basename(str(dst))))
        real_replace(src, dst)

    monkeypatch.setattr(os, 'fsync', fsync)
    monkeypatch.setattr(os, 'replace', replace)
    save_checkpoint(tmp_path / 'durable.safetensors', model, CFG, 3, opt)
    assert events == [('fsync', False), ('replace', 'durable.safetensors'), ('fsync', True)]
    assert load_checkpoint(tmp_path / 'durable.safetensors').step == 3
    events.clear()
    save_config(CFG, tmp_path / 'config.yaml')
    assert events == [('fsync', False), ('replace', 'config.yaml'), ('fsync', True)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['config.yaml', 'durable.safetensors',
                                                          'm.safetensors']


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(saved, tmp_path, monkeypatch):
    model, _, path = saved
    before = path.read_bytes()
    old_config = tmp_path / 'config.yaml'
    old_config.write_text('old: true\n')

    def failing_fsync(fd):
        raise OSError(5, 'Input/output error')

    monkeypatch.setattr(os, 'fsync', failing_fsync)
    with pytest.raises(OSError):
        save_checkpoint(path, model, CFG, 99)
    with pytest.raises(OSError):
        save_config(CFG, old_config)
    assert path.read_bytes() == before and old_config.read_text() == 'old: true\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['config.yaml', path.name]
    monkeypatch.undo()
    # The new file is readable like one written by open(): mode 0o666 less the umask.
    umask = os.umask(0o022)
    os.umask(umask)
    save_config(CFG, old_config)
    assert old_config.stat().st_mode & 0o777 == 0o666 & ~umask
    # Also a checkpoint: safetensors' save_file swaps in its own 0o600 temporary file.
    save_checkpoint(path, model, CFG, 100)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_loading_checks_shapes_without_symbolic_shape_machinery(tmp_path):
    """The shape check builds the model on the meta device; random fills there would import
    torch's symbolic-shape support (~800 modules, +77 MiB resident in every node process).
    A fresh interpreter that loads a checkpoint must not have imported it."""
    path = tmp_path / 'model.safetensors'
    save_tiny(path)
    code = ('import sys\n'
            'from jepa_world_model.core.checkpoint import load_checkpoint\n'
            f'load_checkpoint({str(path)!r})\n'
            "print(sorted(m for m in ('sympy', 'torch.fx.experimental.symbolic_shapes') "
            'if m in sys.modules))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == '[]', out.stdout + out.stderr
