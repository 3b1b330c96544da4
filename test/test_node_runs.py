"""``jepa_world_model.node_runs``: what the demo and the experiments share to run nodes as
child processes (environment, ``--ros-args``, bounded shutdown) and to pick their model.

No ROS needed: the child processes here are plain Python scripts.
"""

import os
import random
import signal
import sys
import time

import pytest

from jepa_world_model.node_runs import models
from jepa_world_model.node_runs.models import (check_model, ModelChoiceError, resolve_model,
                                               SHIPPED_MODELS)
from jepa_world_model.node_runs.processes import (child_environment, join_domain,
                                                  NodeProcess, ros_arguments)
from tiny_models import JOINTS, save_tiny

READY_TIMEOUT_S = 20.0
# A child that says it is ready, then stops on SIGINT (Python's KeyboardInterrupt, set
# explicitly: a child of a background shell inherits SIGINT ignored) or, 'stubborn',
# ignores SIGINT and SIGTERM.
CHILD = '''
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
if sys.argv[1:] == ['stubborn']:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print('ready', flush=True)
time.sleep(60)
'''


def test_process_environment_and_arguments():
    env = child_environment({'PATH': '/bin'}, random.Random(0))
    assert 1 <= int(env['ROS_DOMAIN_ID']) <= 101 and env['OMP_NUM_THREADS'] == '1'
    assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    assert child_environment({'ROS_DOMAIN_ID': '7'})['ROS_DOMAIN_ID'] == '7'
    args = ros_arguments('/demo', {'rate_hz': 10.0, 'autostart': True, 'seed': 3,
                                   'action_fields': ['linear.x', 'angular.z']})
    assert args == ['--ros-args', '-r', '__ns:=/demo', '-p', 'rate_hz:=10.0',
                    '-p', 'autostart:=true', '-p', 'seed:=3',
                    '-p', 'action_fields:=[linear.x,angular.z]']


def test_join_domain_copies_only_the_dds_scope():
    env = child_environment({'PATH': '/bin'}, random.Random(1))
    mine = {'PATH': '/usr/bin'}
    join_domain(env, mine)
    assert mine == {'PATH': '/usr/bin', 'ROS_DOMAIN_ID': env['ROS_DOMAIN_ID'],
                    'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}


def _start(tmp_path, name, mode):
    (tmp_path / 'child_script.py').write_text(CHILD)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = NodeProcess(name, 'child_script', [mode], env, tmp_path / f'{name}.log')
    deadline = time.monotonic() + READY_TIMEOUT_S
    while 'ready' not in proc.log_tail() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.running() and proc.log_tail() == 'ready', proc.log_tail()
    return proc


def test_stop_escalates_from_sigint_to_sigkill_within_its_bounds(tmp_path):
    obliging = _start(tmp_path, 'obliging', 'obliging')
    stubborn = _start(tmp_path, 'stubborn', 'stubborn')
    try:
        started = time.monotonic()
        assert obliging.stop(timeout=5.0) == -signal.SIGINT   # KeyboardInterrupt, first try
        assert stubborn.stop(timeout=0.5) == -signal.SIGKILL
        # SIGINT and SIGTERM each waited 0.5 s for the stubborn child, then SIGKILL.
        assert time.monotonic() - started < 5.0
    finally:
        for proc in (obliging, stubborn):
            if proc.running():
                proc.proc.kill()
    assert not obliging.running() and not stubborn.running()
    assert obliging.argv[:3] == [sys.executable, '-m', 'child_script']


def test_missing_default_model_explains_how_to_train_it(tmp_path, monkeypatch):
    missing = tmp_path / 'models' / SHIPPED_MODELS['arm'].file
    monkeypatch.setattr(models, 'default_model_path', lambda name: missing)
    monkeypatch.setattr(models, 'model_search_paths', lambda name: [missing])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelChoiceError) as info:
        resolve_model(None)
    text = str(info.value)
    assert str(missing) in text and 'record --robot arm' in text
    assert 'train --bag bags/arm --config config/train/arm_tiny.yaml' in text
    assert '--model' not in text.splitlines()[-1]   # no trained run here to point at
    trained = tmp_path / 'runs' / 'arm_tiny' / 'checkpoint.safetensors'
    trained.parent.mkdir(parents=True)
    trained.touch()
    with pytest.raises(ModelChoiceError, match='rerun with --model runs/arm_tiny/'):
        resolve_model(None)
    with pytest.raises(ModelChoiceError, match='model not found'):
        resolve_model(tmp_path / 'nope.safetensors')


def test_check_model_refuses_another_robots_model(tmp_path):
    path = save_tiny(tmp_path / 'tiny.safetensors', step=7)
    facts = check_model(path, tuple(JOINTS), 2, 'arm')
    assert facts == {'path': str(path), 'step': 7, 'joints': JOINTS, 'action_dim': 2,
                     'image_size': 32}
    with pytest.raises(ModelChoiceError,
                       match='(?s)the mobile_base needs.*record --robot mobile_base'):
        check_model(path, ('wheel_left_joint', 'wheel_right_joint'), 2, 'mobile_base')
    with pytest.raises(ModelChoiceError, match='3 velocity actions'):
        check_model(path, tuple(JOINTS), 3, 'arm')
    (tmp_path / 'junk.safetensors').write_bytes(b'not a checkpoint')
    with pytest.raises(ModelChoiceError, match='cannot use'):
        check_model(tmp_path / 'junk.safetensors', tuple(JOINTS), 2, 'arm')
