"""``jepa-world-model offline-reach``: the in-process reaching experiments
(``experiments/offline_reach``) behind one sub-command, with every option the former
``benchmarks/offline_*_reach.py`` scripts had, and short real runs with the shipped models.
"""

from dataclasses import fields
import json
import os

import pytest

from jepa_world_model.cli import build_parser, main
from jepa_world_model.commands.offline_reach import (ARM_ONLY, BASE_ONLY, options_for,
                                                     SHARED)
from jepa_world_model.experiments.offline_reach.options import (ArmReachOptions,
                                                                BaseReachOptions, plan_delay)

pytestmark = pytest.mark.usefixtures('one_torch_thread')   # --threads sets it

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(REPO_ROOT, 'models')
# The flags of the two scripts this command replaces (their argparse, before the move).
ARM_SCRIPT_FLAGS = ('--model', '--objective', '--episodes', '--budget', '--tolerance',
                    '--threads')
BASE_SCRIPT_FLAGS = ('--model', '--risk', '--risk-weight', '--min-range', '--margin',
                     '--disagreement-weight', '--map', '--map-inflation', '--action-repeat',
                     '--command-delay', '--plan-delay', '--first-seed', '--episodes',
                     '--budget', '--tolerance', '--threads')


def _parser_flags():
    sub = next(a for a in build_parser()._actions if a.dest == 'command')
    parser = sub.choices['offline-reach']
    return {flag for action in parser._actions for flag in action.option_strings}


def test_every_option_of_the_former_scripts_is_kept():
    flags = _parser_flags()
    missing = [f for f in ARM_SCRIPT_FLAGS + BASE_SCRIPT_FLAGS if f not in flags]
    assert not missing, missing
    # Each option maps onto a field of the robot's options, with the same name.
    assert set(SHARED + ARM_ONLY) <= {f.name for f in fields(ArmReachOptions)}
    assert set(SHARED + BASE_ONLY) <= {f.name for f in fields(BaseReachOptions)}


def test_defaults_are_the_robots_and_given_values_win():
    parse = build_parser().parse_args
    arm = options_for(parse(['offline-reach']))
    assert arm == ArmReachOptions() and (arm.episodes, arm.budget, arm.tolerance) == \
        (30, 80, 0.05)
    base = options_for(parse(['offline-reach', '--robot', 'mobile_base']))
    assert base == BaseReachOptions() and (base.episodes, base.budget, base.tolerance) == \
        (20, 150, 0.15)
    base = options_for(parse(['offline-reach', '--robot', 'mobile_base', '--map',
                              '--risk', 'scan', '--command-delay', '1', '--episodes', '5']))
    assert (base.use_map, base.risk, base.episodes) == (True, 'scan', 5)
    assert plan_delay(base) == 1   # follows --command-delay unless --plan-delay is given
    base = options_for(parse(['offline-reach', '--robot', 'mobile_base', '--command-delay',
                              '1', '--plan-delay', '0']))
    assert plan_delay(base) == 0


@pytest.mark.parametrize('argv, flag', [
    (['--robot', 'arm', '--risk', 'scan'], '--risk'),
    (['--robot', 'arm', '--map'], '--map'),
    (['--robot', 'mobile_base', '--objective', 'latent_l1'], '--objective'),
])
def test_the_other_robots_options_are_refused(argv, flag, capsys):
    assert main(['offline-reach'] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('jepa-world-model offline-reach: error: ' + flag)
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize('argv, message', [
    (['--episodes', '0'], 'episodes must be at least 1, got 0'),
    (['--robot', 'mobile_base', '--budget', '-3'], 'budget must be at least 1, got -3'),
    (['--tolerance', '-0.1'], 'tolerance must be >= 0'),
])
def test_bad_values_are_refused_before_anything_loads(argv, message, capsys):
    assert main(['offline-reach'] + argv) == 2
    assert message in capsys.readouterr().err


def test_a_missing_model_is_one_line(tmp_path, capsys):
    assert main(['offline-reach', '--model', str(tmp_path / 'nope.safetensors')]) == 2
    assert 'model not found' in capsys.readouterr().err


def _report(capsys, argv):
    assert main(['offline-reach'] + argv) == 0
    return json.loads(capsys.readouterr().out)


def test_arm_runs_the_seeded_tasks(capsys):
    model = os.path.join(MODELS, 'arm_tiny.safetensors')
    common = ['--robot', 'arm', '--model', model, '--objective', 'joint_goal',
              '--first-seed', '2', '--episodes', '1', '--budget', '3']
    # Within 100 m the first step succeeds; within 0 m none of the 3 steps does.
    near = _report(capsys, common + ['--tolerance', '100'])
    far = _report(capsys, common + ['--tolerance', '0'])
    assert near['per_episode'][0]['seed'] == 2 and near['first_seed'] == 2
    assert (near['success_rate'], near['per_episode'][0]['steps']) == (1.0, 1)
    assert (far['success_rate'], far['per_episode'][0]['steps']) == (0.0, 3)
    assert 0 < far['per_episode'][0]['min_distance'] < 2.0   # metres, the arm's reach


def test_base_runs_with_the_scan_term_and_the_map(capsys):
    model = os.path.join(MODELS, 'mobile_base_tiny.safetensors')
    report = _report(capsys, ['--robot', 'mobile_base', '--model', model, '--risk', 'scan',
                              '--map', '--command-delay', '1', '--action-repeat', '2',
                              '--episodes', '1', '--budget', '3'])
    assert {k: report[k] for k in ('risk', 'risk_weight', 'map', 'command_delay',
                                   'plan_delay', 'action_repeat', 'episodes')} == \
        {'risk': 'scan', 'risk_weight': 20.0, 'map': True, 'command_delay': 1,
         'plan_delay': 1, 'action_repeat': 2, 'episodes': 1}
    episode = report['per_episode'][0]
    # Three 0.1 s steps at <= 0.8 m/s cannot cover the start distance of a task.
    assert episode['steps'] == 3 and not episode['success']
    assert episode['final_distance'] > 0.15 and episode['stops'] <= 3
