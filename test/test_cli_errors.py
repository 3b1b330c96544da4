"""The command line: every failure is one line on stderr with a non-zero exit, never a
traceback; ``evaluate`` works for every shipped model and on bags; run outputs are written
atomically.

Failures run the real console script in a subprocess (what a user sees). Successful runs
call ``cli.main`` in-process, which saves a torch import per case.
"""

import json
import os
from pathlib import Path
import subprocess
import sys

import pytest
from safetensors import safe_open
from safetensors.torch import save_file
import yaml

from jepa_world_model import cli
from tiny_models import save_tiny, TINY_GANTRY_CONFIG

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name('jepa-world-model')
GANTRY = ['joint_x', 'joint_y']

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def run_cli(*argv, timeout=120):
    """The console script (or ``python -m``) with ``argv``; returns the CompletedProcess."""
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, '-m', 'jepa_world_model.cli']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run(cmd + [str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def assert_one_line_error(proc, *fragments):
    """Non-zero exit, exactly one line on stderr, no traceback, and the fragments in it."""
    assert proc.returncode not in (0, None), proc.stderr
    assert 'Traceback' not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A tiny checkpoint of a robot nothing generates, the same with a broken embedded
    config, and a bag of the gantry without /collision and /contact."""
    root = tmp_path_factory.mktemp('cli')
    other = save_tiny(root / 'other_robot.safetensors')
    with safe_open(str(other), framework='pt') as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        metadata = dict(f.metadata(), config='{"model": {"depth": 2,')
    save_file(tensors, str(root / 'bad_json.safetensors'), metadata=metadata)
    from jepa_world_model.bags.recording import GantryRobot, make_policy, record
    from jepa_world_model.bags.writer import RecorderTopics
    robot = GantryRobot(image_size=32)
    record(robot, lambda seed: make_policy('random', robot, seed), root / 'gantry_bag', 2, 12,
           RecorderTopics(), start_ns=10 ** 18)
    return root


def test_evaluate_a_robot_that_cannot_be_generated_asks_for_bag(files):
    assert_one_line_error(run_cli('evaluate', '--checkpoint', files / 'other_robot.safetensors'),
                          'pass --bag')


def test_info_with_broken_embedded_config_json(files):
    assert_one_line_error(run_cli('info', '--checkpoint', files / 'bad_json.safetensors'),
                          'bad_json.safetensors', 'not valid JSON')


def test_train_with_a_binary_config(tmp_path):
    assert_one_line_error(run_cli('train', '--config', ROOT / 'models' / 'arm_tiny.safetensors',
                                  '--out', tmp_path / 'run'), 'arm_tiny.safetensors', 'YAML')


def test_train_resume_with_another_robots_checkpoint(files, tmp_path):
    """Refused before any data is read or generated, naming what differs."""
    (tmp_path / 'run').mkdir()
    (tmp_path / 'run' / 'checkpoint.safetensors').write_bytes(
        (files / 'other_robot.safetensors').read_bytes())
    assert_one_line_error(run_cli('train', '--config',
                                  ROOT / 'config' / 'train' / 'gantry_tiny.yaml',
                                  '--out', tmp_path / 'run', '--resume'),
                          'cannot resume', 'joint_names')


def test_evaluate_on_a_missing_bag_and_bad_arguments(files):
    gantry = ROOT / 'models' / 'gantry_tiny.safetensors'
    assert_one_line_error(run_cli('evaluate', '--checkpoint', gantry, '--bag',
                                  files / 'no_such_bag'), 'no_such_bag')


@pytest.mark.parametrize('model', ['arm_tiny', 'mobile_base_tiny'])
def test_evaluate_shipped_simulated_robots_on_generated_episodes(model, capsys):
    """The arm and base checkpoints are evaluated on a temporary simulator recording (this
    used to fail inside the gantry's episode generator)."""
    assert cli.main(['evaluate', '--checkpoint', str(ROOT / 'models' / f'{model}.safetensors'),
                     '--episodes', '1', '--steps', '12']) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['generated']['robot'] == model.replace('_tiny', '')
    assert report['episodes'] == 1 and len(report['prediction']['model_latent_l1']) == 4
    assert set(report['surprise']) == {'collision', 'contact'}


def test_evaluate_on_bag_without_collision_and_contact_topics(files, tmp_path, capsys):
    """`evaluate --bag`: a bag without the flag topics still evaluates, surprise left out."""
    ckpt = save_tiny(tmp_path / 'gantry.safetensors', joint_names=GANTRY)
    assert cli.main(['evaluate', '--checkpoint', str(ckpt), '--bag',
                     str(files / 'gantry_bag')]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['episodes'] == 2 and report['prediction']['horizons'] == [1, 2, 4, 8]
    assert report['surprise'] == {} and report['flags_absent'] == ['/collision', '/contact']


def test_train_writes_config_checkpoint_and_report_atomically(tmp_path, monkeypatch, capsys):
    """Every output of `train` lands by fsync + rename, never by writing in place."""
    config = tmp_path / 'tiny.yaml'
    config.write_text(yaml.safe_dump(TINY_GANTRY_CONFIG))
    replaced, real_replace = [], os.replace

    def replace(src, dst):
        replaced.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, 'replace', replace)
    assert cli.main(['train', '--config', str(config), '--out', str(tmp_path / 'run')]) == 0
    capsys.readouterr()
    assert {'config.yaml', 'checkpoint.safetensors', 'report.json'} <= set(replaced)
    assert json.loads((tmp_path / 'run' / 'report.json').read_text())['step'] == 2
    assert not [p for p in (tmp_path / 'run').iterdir() if p.name.endswith('.tmp')]


def test_node_commands_report_their_failures_and_interrupts_in_one_line(tmp_path, capsys):
    """`plan-eval` and `demo` (commands/node_runs.py): their own errors exit 2, Ctrl-C 130,
    each with one line; any other exception is left to cli.main's handler."""
    from jepa_world_model.commands.node_runs import exit_status
    assert cli.main(['plan-eval', '--set', 'horizon', '--out', str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["jepa-world-model plan-eval: error: --set needs NAME=VALUE, got 'horizon'"]

    def interrupted():
        raise KeyboardInterrupt

    assert exit_status('demo', interrupted, (ValueError,)) == 130
    assert capsys.readouterr().err.strip() == '[demo] interrupted: all nodes stopped'
    assert exit_status('demo', lambda: None, (ValueError,)) == 0
    with pytest.raises(KeyError):
        exit_status('demo', lambda: {}['missing'], (ValueError,))
