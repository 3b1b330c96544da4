"""``--inference-backend`` of ``jepa-world-model offline-reach`` and
``benchmarks/bench_planner.py`` (issue #16: does int8 planning keep success, how fast is it):
the choices are core/runtime's backends, the chosen backend runs the controller's plans, it
is written back in the command and the reports, and what cannot run is a clear error.
Tiny runs of the shipped models; the ONNX exports go to a temporary cache.
"""

import json
import os
import sys

import pytest
import torch

from jepa_world_model.cli import build_parser, main
from jepa_world_model.commands.offline_reach import command_for, sweep_options
from jepa_world_model.core.runtime.backend_names import BACKENDS
from jepa_world_model.core.runtime import backends as backends_module
from jepa_world_model.experiments.offline_reach.options import ArmReachOptions

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(REPO_ROOT, 'models')
ARM = os.path.join(MODELS, 'arm_tiny.safetensors')
sys.path.insert(0, os.path.join(REPO_ROOT, 'benchmarks'))

import bench_planner  # noqa: E402

pytest.importorskip('onnxruntime')
pytestmark = pytest.mark.usefixtures('one_torch_thread', 'onnx_cache')


@pytest.fixture(scope='module')
def onnx_cache(tmp_path_factory):
    """Exports made by the runs below go here, once for the module (not ~/.cache)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('JWM_ONNX_CACHE', str(tmp_path_factory.mktemp('onnx_cache')))
        yield


def _choices(parser, flag):
    action = next(a for a in parser._actions if flag in a.option_strings)
    return tuple(action.choices)


def test_the_choices_are_the_runtimes_backends():
    assert BACKENDS is backends_module.BACKENDS   # one declaration
    sub = next(a for a in build_parser()._actions if a.dest == 'command')
    assert _choices(sub.choices['offline-reach'], '--inference-backend') == BACKENDS
    assert bench_planner.parse_args([]).inference_backend == ['torch']
    assert bench_planner.parse_args(['--inference-backend', *BACKENDS]).inference_backend \
        == list(BACKENDS)


def test_bfloat16_rollouts_on_onnxruntime_are_refused_before_anything_loads(capsys):
    assert main(['offline-reach', '--inference-backend', 'onnxruntime',
                 '--rollout-dtype', 'bfloat16']) == 2
    assert 'rollout_dtype bfloat16 needs inference_backend torch' in capsys.readouterr().err


def test_an_unknown_backend_is_refused(capsys):
    with pytest.raises(SystemExit) as stop:
        main(['offline-reach', '--inference-backend', 'tensorrt'])
    assert stop.value.code == 2 and 'invalid choice' in capsys.readouterr().err


def test_the_int8_backend_runs_the_controllers_plans():
    """The controller's model step is the int8 dynamics graph: near torch's step on encoded
    latents, yet not equal to it (a float32 step would be within 1e-5)."""
    from jepa_world_model.experiments.offline_reach import arm
    from jepa_world_model.experiments.offline_reach.runtime import load_runtime
    [opts] = sweep_options(build_parser().parse_args(
        ['offline-reach', '--inference-backend', 'onnxruntime_int8', '--num-samples', '16']))
    assert opts.inference_backend == 'onnxruntime_int8'
    assert '--inference-backend onnxruntime_int8' in command_for('arm', opts)
    runtime = load_runtime(ARM, opts)
    controller = arm.make_controller(runtime, opts)
    assert runtime.backend.name == 'onnxruntime_int8'
    assert isinstance(controller._step, backends_module.OnnxStep)
    reference = load_runtime(ARM, ArmReachOptions())
    torch.manual_seed(0)
    o = torch.rand(4, 3, runtime.image_size, runtime.image_size)
    s = torch.zeros(4, runtime.model.cfg.state_dim)
    a = torch.rand(4, runtime.action_dim) * 2 - 1
    with torch.inference_mode():
        z = reference.encoder.encode(o, s)
        torch_next = reference.backend.rollout_step()(z, a)
        int8_next = controller._step(z, a)
    relative = float((int8_next - torch_next).norm() / (torch_next - z).norm())
    assert 1e-5 < relative < 0.2, relative


def test_offline_reach_reports_its_backend(capsys):
    argv = ['offline-reach', '--robot', 'arm', '--model', ARM, '--objective', 'joint_goal',
            '--episodes', '1', '--budget', '2', '--tolerance', '100', '--num-samples', '16',
            '--inference-backend', 'onnxruntime_int8']
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['inference_backend'] == 'onnxruntime_int8'
    assert '--inference-backend onnxruntime_int8' in report['command']
    assert report['summary']['successes'] == 1 and report['summary']['mean_plan_ms'] > 0


def test_a_backend_that_cannot_run_is_one_line(monkeypatch, capsys):
    from jepa_world_model.core.export import onnx_sessions

    def missing():
        raise onnx_sessions.OnnxUnavailableError('no onnxruntime here (test)')
    monkeypatch.setattr(onnx_sessions, 'import_onnxruntime', missing)
    assert main(['offline-reach', '--model', ARM, '--episodes', '1',
                 '--inference-backend', 'onnxruntime']) == 2
    err = capsys.readouterr().err
    assert 'inference_backend onnxruntime' in err and 'no onnxruntime here' in err
    assert len(err.splitlines()) == 1


def test_bench_planner_times_each_backend_with_the_load(tmp_path, capsys):
    out = tmp_path / 'bench.json'
    argv = ['--goal', 'joint', '--samples', '16', '--threads', '1', '--repeats', '2',
            '--warmup', '1', '--breakdown-repeats', '1', '--trace-seeds', '1',
            '--trace-steps', '2', '--rollout-dtype', 'float32', 'bfloat16',
            '--inference-backend', 'torch', 'onnxruntime_int8', '--out', str(out)]
    assert bench_planner.main(argv) == 0
    capsys.readouterr()
    [goal] = json.loads(out.read_text())['goals']
    got = [(c['inference_backend'], c['rollout_dtype']) for c in goal['configurations']]
    # bfloat16 rollouts are torch's only: that pair is not timed.
    assert got == [('torch', 'float32'), ('onnxruntime_int8', 'float32'),
                   ('torch', 'bfloat16')]
    for config in goal['configurations']:
        assert config['median_ms'] > 0
        assert len(config['load_average']['before']) == 3
        assert config['breakdown']['rollout_calls_per_act'] == 32
    assert set(goal['backend_load_s']) == {'onnxruntime_int8/1'}
    assert goal['backend_load_s']['onnxruntime_int8/1'] > 0
