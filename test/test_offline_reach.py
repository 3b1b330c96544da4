"""``jepa-world-model offline-reach``: the in-process reaching experiments
(``experiments/offline_reach``) behind one sub-command, with every option the former
``benchmarks/offline_*_reach.py`` scripts had, and short real runs with the shipped models.
"""

from dataclasses import fields
import json
import os

import pytest
import torch

from jepa_world_model.cli import build_parser, main
from jepa_world_model.commands.offline_reach import (ARM_ONLY, BASE_ONLY, command_for,
                                                     options_for, SHARED, sweep_options)
from jepa_world_model.experiments.offline_reach.options import (ArmReachOptions,
                                                                BaseReachOptions, elites,
                                                                plan_delay)
from jepa_world_model.experiments.conditions import ExperimentError

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


# -- the planner's samples (issue #16: quality per unit of compute) ---------------------------

@pytest.mark.parametrize('argv, message', [
    (['--num-samples', '1'], 'num_samples must be at least 2, got 1'),
    (['--num-samples', '64', '0'], 'num_samples must be at least 2, got 0'),
    (['--num-samples', '8', '--num-elites', '9'], 'num_elites must be in 1..num_samples (8)'),
    (['--robot', 'mobile_base', '--num-elites', '0'], 'num_elites must be in 1..'),
])
def test_bad_sample_counts_are_refused_before_anything_runs(argv, message, capsys):
    assert main(['offline-reach'] + argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_samples_default_to_the_shipped_planners_and_elites_keep_their_ratio():
    parse = build_parser().parse_args
    arm, base = options_for(parse(['offline-reach'])), \
        options_for(parse(['offline-reach', '--robot', 'mobile_base']))
    # planner.yaml's 64 (8 elites) for the arm, plan-eval's 64 (8 elites) for the base.
    assert (arm.num_samples, elites(arm), base.num_samples, elites(base)) == (64, 8, 64, 8)
    points = sweep_options(parse(['offline-reach', '--num-samples', '64', '1024']))
    assert [(o.num_samples, elites(o)) for o in points] == [(64, 8), (1024, 128)]
    given = sweep_options(parse(['offline-reach', '--num-samples', '64', '--num-elites', '5']))
    assert [(o.num_samples, elites(o)) for o in given] == [(64, 5)]
    assert elites(ArmReachOptions(num_samples=2)) == 1   # never below one elite


@pytest.mark.parametrize('robot, objective_or_risk', [('arm', 'joint_goal'),
                                                      ('mobile_base', 'scan')])
def test_samples_and_elites_reach_the_controllers_planner(robot, objective_or_risk):
    from jepa_world_model.core.runtime.inference import WorldModelRuntime
    from jepa_world_model.experiments.offline_reach import arm, base
    runtime = WorldModelRuntime.from_path(os.path.join(MODELS, f'{robot}_tiny.safetensors'))
    for samples, given_elites, expected_elites in ((48, None, 6), (300, 7, 7)):
        if robot == 'arm':
            opts = ArmReachOptions(num_samples=samples, num_elites=given_elites,
                                   objective=objective_or_risk)
            config = arm.make_controller(runtime, opts).planner.config
        else:
            opts = BaseReachOptions(num_samples=samples, num_elites=given_elites,
                                    risk=objective_or_risk, action_repeat=2)
            config = base.make_controller(runtime, opts).planner.config
        assert (config.num_samples, config.num_elites) == (samples, expected_elites)
        # The rest of the robot's planner is untouched.
        assert config.num_iterations == (3 if robot == 'arm' else 2) and config.horizon == 8


@pytest.mark.parametrize('robot', ['arm', 'mobile_base'])
def test_rollout_dtype_reaches_the_controller(robot):
    """--rollout-dtype sets the controller's rollout_dtype (its model step runs in it), is
    written back by command_for; an unknown dtype is refused."""
    from jepa_world_model.core.runtime.inference import WorldModelRuntime
    from jepa_world_model.experiments.offline_reach import arm, base
    parse = build_parser().parse_args
    [opts] = sweep_options(parse(['offline-reach', '--robot', robot,
                                  '--rollout-dtype', 'bfloat16']))
    runtime = WorldModelRuntime.from_path(os.path.join(MODELS, f'{robot}_tiny.safetensors'))
    controller = (arm if robot == 'arm' else base).make_controller(runtime, opts)
    assert controller.settings.rollout_dtype == 'bfloat16'
    assert controller._step.compute_dtype == torch.bfloat16
    assert '--rollout-dtype bfloat16' in command_for(robot, opts)
    with pytest.raises(ExperimentError, match='rollout_dtype must be one of'):
        ArmReachOptions(rollout_dtype='float8')


def test_command_for_reproduces_the_options():
    parse = build_parser().parse_args
    argv = ['offline-reach', '--robot', 'mobile_base', '--risk', 'scan', '--map',
            '--min-range', '0.35', '--command-delay', '1', '--num-samples', '256']
    [opts] = sweep_options(parse(argv))
    line = command_for('mobile_base', opts)
    assert line == ('jepa-world-model offline-reach --robot mobile_base --risk scan '
                    '--min-range 0.35 --map --command-delay 1 --num-samples 256')
    # Parsing the printed line back gives the same options.
    assert sweep_options(parse(line.split()[1:])) == [opts]
    assert command_for('arm', ArmReachOptions()) == \
        'jepa-world-model offline-reach --robot arm --num-samples 64'


def test_several_sample_counts_run_in_turn_and_carry_their_summary(capsys):
    model = os.path.join(MODELS, 'arm_tiny.safetensors')
    report = _report(capsys, ['--robot', 'arm', '--model', model, '--objective', 'joint_goal',
                              '--episodes', '1', '--budget', '2', '--tolerance', '100',
                              '--num-samples', '16', '32'])
    points = report['points']
    assert [(p['num_samples'], p['num_elites']) for p in points] == [(16, 2), (32, 4)]
    for p in points:
        assert p['command'].endswith(f'--num-samples {p["num_samples"]}')
        summary = p['summary']
        assert (summary['successes'], summary['episodes'], summary['mean_steps_to_goal']) \
            == (1, 1, 1.0)
        assert summary['mean_plan_ms'] > 0 and summary['wilson95'][1] == 1.0
