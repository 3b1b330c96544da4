"""ONNX export and the onnxruntime backend (core/export/, core/runtime/backends.py).

Parity: the shipped tiny models' graphs, run by onnxruntime at batch 1 and 256, against the
torch modules: float32 within FLOAT32_TOL, the int8 dynamics within INT8_TOL and measurably
different (it is quantised). Then the backend as the nodes use it: WorldModelRuntime and
PlanningController give the torch backend's predictions, and a wrong export, a wrong dtype
or a missing onnxruntime is a clear error.
"""

import json
from pathlib import Path
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

pytest.importorskip('onnxruntime')

from jepa_world_model.cli import main  # noqa: E402
from jepa_world_model.core.checkpoint import load_checkpoint  # noqa: E402
from jepa_world_model.core.export.manifest import (  # noqa: E402
    ExportMismatchError, ExportMissingError, read_manifest)
from jepa_world_model.core.export.onnx_export import export_onnx  # noqa: E402
from jepa_world_model.core.export.onnx_sessions import (  # noqa: E402
    OnnxGraphs, OnnxUnavailableError, open_export)
from jepa_world_model.core.export.parity import parity_report  # noqa: E402
from jepa_world_model.core.planning import ControllerSettings, PlanningController  # noqa: E402
from jepa_world_model.core.planning.command_limits import CommandLimits  # noqa: E402
from jepa_world_model.core.planning.controller import rollout_cost  # noqa: E402
from jepa_world_model.core.planning.planner import PlannerConfig  # noqa: E402
from jepa_world_model.core.runtime.backends import OnnxStep  # noqa: E402
from jepa_world_model.core.runtime.inference import WorldModelRuntime  # noqa: E402
from tiny_models import save_tiny  # noqa: E402

MODELS = Path(__file__).resolve().parents[1] / 'models'
#: Largest |onnxruntime - torch| accepted for a float32 graph (measured: ~3e-6 on the
#: shipped models; docs/deployment.md).
FLOAT32_TOL = 1e-4
#: ... and for the int8 dynamics step on N(0, 1) latents (measured: 0.07 to 0.12).
INT8_TOL = 0.5
ARM = MODELS / 'arm_tiny.safetensors'


@pytest.fixture(scope='module')
def arm_export(tmp_path_factory):
    """The shipped arm model exported once: (directory, checkpoint)."""
    checkpoint = load_checkpoint(ARM)
    directory = tmp_path_factory.mktemp('onnx') / 'arm'
    export_onnx(checkpoint.model, directory, checkpoint.step, str(ARM))
    return directory, checkpoint


def check_parity(report, manifest, model):
    """Every graph of ``manifest`` was compared, with the outputs the model has; float32
    graphs within FLOAT32_TOL, the int8 dynamics within INT8_TOL yet not exact."""
    assert set(report) == set(manifest['graphs'])
    expected = {'encoder': ['z'] + (['image_joints'] if model.image_state_head else [])
                + (['scene'] if model.cfg.scan_source == 'tokens' and model.scan_head
                   else []),
                'target_encoder': ['z'], 'dynamics': ['z_next', 'members'],
                'dynamics_int8': ['z_next', 'members']}
    for graph, outputs in expected.items():
        assert sorted(report[graph]) == sorted(outputs), graph
    for graph, outputs in report.items():
        for output, diff in outputs.items():
            if graph == 'dynamics_int8':
                assert 1e-4 < diff < INT8_TOL, (graph, output, diff)
            else:
                assert diff < FLOAT32_TOL, (graph, output, diff)


@pytest.mark.slow   # the arm model's parity is checked by the export command's test
@pytest.mark.parametrize('name', ['gantry_tiny', 'mobile_base_tiny'])
def test_shipped_models_export_and_match_torch_at_batch_1_and_256(name, tmp_path):
    checkpoint = load_checkpoint(MODELS / f'{name}.safetensors')
    manifest = export_onnx(checkpoint.model, tmp_path / name, checkpoint.step, name)
    report = parity_report(checkpoint.model, tmp_path / name, batches=(1, 256))
    print(name, json.dumps(report, sort_keys=True))   # the figures docs/deployment.md quotes
    check_parity(report, manifest, checkpoint.model)


def test_the_manifest_names_dynamic_batches_and_the_models_fingerprint(arm_export):
    directory, checkpoint = arm_export
    manifest = read_manifest(directory)
    cfg = checkpoint.model.cfg
    assert manifest['opset'] == 17 and manifest['step'] == checkpoint.step
    dynamics = manifest['graphs']['dynamics']
    assert dynamics['inputs'] == {'z': ['batch', cfg.latent_dim], 'a': ['batch', cfg.action_dim]}
    assert dynamics['outputs']['members'] == [cfg.dynamics_ensemble_size, 'batch',
                                              cfg.latent_dim]
    assert manifest['graphs']['readout']['outputs']['state'] == ['batch', cfg.state_dim]
    assert len(manifest['fingerprint']['weights_sha256']) == 64


def test_graphs_of_other_weights_or_no_export_are_refused(arm_export, tmp_path):
    directory, checkpoint = arm_export
    other = load_checkpoint(ARM).model
    with torch.no_grad():
        other.dynamics.members[0][0].bias.add_(1e-3)
    with pytest.raises(ExportMismatchError, match='weights differ'):
        OnnxGraphs(directory, other)
    gantry = load_checkpoint(MODELS / 'gantry_tiny.safetensors').model
    with pytest.raises(ExportMismatchError, match='architecture'):
        OnnxGraphs(directory, gantry)
    with pytest.raises(ExportMissingError, match='export --onnx'):
        OnnxGraphs(tmp_path, checkpoint.model)
    (tmp_path / 'notes.txt').write_text('mine')
    with pytest.raises(OSError, match='not empty'):
        export_onnx(checkpoint.model, tmp_path)
    assert (tmp_path / 'notes.txt').read_text() == 'mine'


def test_the_runtime_predicts_the_same_with_onnxruntime_as_with_torch(arm_export):
    directory, _ = arm_export
    runtimes = {name: WorldModelRuntime.from_path(ARM, backend=name, onnx_dir=str(directory),
                                                  threads=1)
                for name in ('torch', 'onnxruntime', 'onnxruntime_int8')}
    rng = np.random.default_rng(0)
    results = {name: [] for name in runtimes}
    for i in range(4):
        rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        s = runtimes['torch'].make_state(rng.uniform(-1, 1, 3), rng.normal(size=3))
        a = rng.uniform(-1, 1, 3)
        for name, runtime in runtimes.items():
            results[name].append(runtime.step(rgb, s, a, horizon=8, stamp=0.1 * i,
                                              step_period=0.1, a_applied=a))
    assert runtimes['onnxruntime'].backend.name == 'onnxruntime'
    assert runtimes['onnxruntime'].encode_counts()['encodes'] == 8   # 4 frames x 2 encoders
    worst = {}
    for name in ('onnxruntime', 'onnxruntime_int8'):
        pairs = list(zip(results['torch'], results[name]))
        worst[name] = max(float(np.abs(t.positions - o.positions).max()) for t, o in pairs)
        assert max(float(np.abs(t.z_obs - o.z_obs).max()) for t, o in pairs) < FLOAT32_TOL
        assert pairs[-1][1].surprise_raw == pytest.approx(pairs[-1][0].surprise_raw, rel=0.05)
    print('runtime max |positions - torch|:', worst)
    assert worst['onnxruntime'] < FLOAT32_TOL
    assert 1e-5 < worst['onnxruntime_int8'] < 0.1   # rad, 8 steps of int8 dynamics


def test_the_planner_steps_through_onnxruntime(arm_export):
    directory, _ = arm_export
    runtime = WorldModelRuntime.from_path(ARM, backend='onnxruntime', onnx_dir=str(directory))
    torch_runtime = WorldModelRuntime.from_path(ARM)
    limits = CommandLimits.create([-1.0] * 3, [1.0] * 3, [100.0])
    config = PlannerConfig(horizon=3, num_samples=16, num_elites=4, num_iterations=1)
    controller = PlanningController(runtime, config, limits, ControllerSettings())
    step = controller._step
    assert isinstance(step, OnnxStep)
    reference = torch_runtime.backend.rollout_step()
    gen = torch.Generator().manual_seed(1)
    z, a = torch.randn(256, runtime.latent_dim, generator=gen), torch.rand(256, 3, generator=gen)
    assert float((step(z, a) - reference(z, a)).abs().max()) < FLOAT32_TOL
    assert float((step.members(z, a) - reference.members(z, a)).abs().max()) < FLOAT32_TOL
    assert rollout_cost(runtime) is not None
    with pytest.raises(ValueError, match='needs inference_backend torch'):
        PlanningController(runtime, config, limits, ControllerSettings(rollout_dtype='bfloat16'))


def test_the_node_loader_reports_backend_problems_as_a_failed_configure(
        arm_export, tmp_path, monkeypatch):
    pytest.importorskip('rclpy')
    from jepa_world_model.ros.common.model_loading import load_runtime, ModelLoadError
    directory, _ = arm_export

    def settings(**kw):
        return SimpleNamespace(**dict(dict(
            model_path=str(ARM), num_threads=0, device='cpu', dtype='float32',
            inference_backend='onnxruntime', onnx_dir=str(directory)), **kw))
    assert load_runtime(settings()).backend.name == 'onnxruntime'
    other = tmp_path / 'other'
    export_onnx(load_checkpoint(save_tiny(tmp_path / 'tiny.safetensors')).model, other,
                int8=False)
    with pytest.raises(ModelLoadError, match='exported from another model'):
        load_runtime(settings(onnx_dir=str(other)))
    with pytest.raises(ModelLoadError, match='float32 on the CPU'):
        load_runtime(settings(dtype='bfloat16'))
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)   # as if it were not installed
    with pytest.raises(ModelLoadError, match=r'pip install \.\[onnx\]'):
        load_runtime(settings())


def test_without_onnx_dir_the_export_is_made_once_into_the_cache(tmp_path, monkeypatch):
    path = save_tiny(tmp_path / 'tiny.safetensors', dynamics_ensemble_size=2)
    model = load_checkpoint(path).model
    first = open_export(model, cache_root=tmp_path / 'cache')
    stamp = (first.directory / 'manifest.json').stat().st_mtime_ns
    second = open_export(model, cache_root=tmp_path / 'cache')
    assert second.directory == first.directory
    assert (second.directory / 'manifest.json').stat().st_mtime_ns == stamp   # reused
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(OnnxUnavailableError, match='inference_backend torch'):
        open_export(model, cache_root=tmp_path / 'cache')


def test_the_export_command_writes_the_graphs_and_prints_their_parity(tmp_path, capsys):
    """The shipped arm model (image joint head, risk, 3 members) at batch 1 and 256."""
    out = tmp_path / 'onnx'
    assert main(['export', '--checkpoint', str(ARM), '--onnx', str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(printed[printed.index('{'):])
    print('arm_tiny', json.dumps(report, sort_keys=True))
    manifest = read_manifest(out)
    assert manifest['checkpoint'] == str(ARM)
    check_parity(report, manifest, load_checkpoint(ARM).model)
    assert main(['export', '--checkpoint', str(ARM)]) == 2
    assert '--onnx DIR' in capsys.readouterr().err
