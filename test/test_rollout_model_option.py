"""``rollout_model``, the planner's choice of rollout model (issue #16 item 2): empty keeps the
dynamics ensemble; a student file runs the search's rollouts (planner_node's parameter,
offline-reach's and bench_planner's ``--rollout-model``, all through
core/runtime/planning_step.py); a student of another model or one whose held steps do not
divide ``action_repeat`` is refused with the reason before anything plans."""

from dataclasses import replace
import json
import os

import pytest
import torch

from jepa_world_model.cli import main
from jepa_world_model.core.model.rollout_step import RolloutStep
from jepa_world_model.core.model.rollout_student import RolloutStudent, StudentStep
from jepa_world_model.core.model.rollout_student_file import RolloutModelError, save_student
from jepa_world_model.core.planning import ControllerSettings, PlanningController
from jepa_world_model.core.planning.command_limits import CommandLimits
from jepa_world_model.core.planning.controller import rollout_cost
from jepa_world_model.core.planning.planner import PlannerConfig
from jepa_world_model.core.runtime.inference import WorldModelRuntime

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARM = os.path.join(REPO_ROOT, 'models', 'arm_tiny.safetensors')
GANTRY = os.path.join(REPO_ROOT, 'models', 'gantry_tiny.safetensors')

pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def runtime():
    return WorldModelRuntime.from_path(ARM)


@pytest.fixture(scope='module')
def students(runtime, tmp_path_factory):
    """An arm student for 1 and for 2 held steps, and one whose teacher is another file."""
    folder = tmp_path_factory.mktemp('students')
    torch.manual_seed(0)
    out = {}
    for name, held, teacher in (('one', 1, ARM), ('two', 2, ARM), ('other', 1, GANTRY)):
        student = RolloutStudent.for_teacher(runtime.model, 16, 1, held)
        out[name] = str(save_student(folder / f'{name}.safetensors', student, teacher, {}))
    return out


def _controller(runtime, rollout_model, action_repeat=1):
    config = PlannerConfig(num_samples=8, num_elites=2, horizon=2, num_iterations=1,
                           action_repeat=action_repeat)
    limits = CommandLimits.create([-1.0], [1.0], [3.0], action_dim=runtime.action_dim)
    return PlanningController(runtime, config, limits, ControllerSettings(
        tolerance=None, max_plan_time=None, rollout_model=rollout_model))


def test_empty_keeps_the_ensemble_and_a_file_runs_the_student(runtime, students):
    assert isinstance(_controller(runtime, '')._step, RolloutStep)
    controller = _controller(runtime, students['two'], action_repeat=2)
    assert isinstance(controller._step, StudentStep) and controller._step.held_steps == 2
    # The command-delay roll-forward counts single model steps: the teacher's.
    assert isinstance(controller._hold_step, RolloutStep)
    assert rollout_cost(runtime, 'float32', students['two']).held_steps == 2
    assert rollout_cost(runtime, 'float32', '').held_steps == 1


def test_bad_students_are_refused(runtime, students):
    with pytest.raises(RolloutModelError, match='distilled from another model'):
        _controller(runtime, students['other'])
    with pytest.raises(ValueError, match='not a multiple'):
        _controller(runtime, students['two'], action_repeat=3)
    controller = _controller(runtime, students['two'], action_repeat=2)
    with pytest.raises(ValueError, match='not a multiple'):   # and nothing changes
        controller.update(planner=replace(controller.planner.config, action_repeat=1))
    assert controller.planner.config.action_repeat == 2
    controller.update(settings=replace(controller.settings, rollout_model=''),
                      planner=replace(controller.planner.config, action_repeat=1))
    assert isinstance(controller._step, RolloutStep)


def test_offline_reach_runs_and_reports_the_student(students, capsys):
    argv = ['offline-reach', '--robot', 'arm', '--model', ARM, '--objective', 'joint_goal',
            '--episodes', '1', '--budget', '2', '--tolerance', '100', '--num-samples', '8',
            '--rollout-model', students['one']]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['rollout_model'] == students['one']
    assert f'--rollout-model {students["one"]}' in report['command']
    assert main(argv[:-1] + [students['other']]) == 2
    assert 'distilled from another model' in capsys.readouterr().err


@pytest.mark.ros
def test_planner_node_parameter(students):
    from jepa_world_model.core.planning.plan_budget import RolloutCost
    from jepa_world_model.ros.planner.parameter_table import PARAMS
    from jepa_world_model.ros.planner.parameters import (PlannerFacts, PlannerSettings,
                                                         validate_updates)
    spec = PARAMS['rollout_model']
    assert spec.default == '' and spec.applies == 'configure'
    assert spec.core == 'controller.rollout_model'
    facts = PlannerFacts(3, ('joint1', 'joint2', 'joint3'),
                         RolloutCost(fixed=1e-4, per_sample=1e-8, held_steps=2))
    settings = PlannerSettings().with_updates({'action_repeat': 2})
    assert validate_updates({}, settings, facts) is None
    reason = validate_updates({'action_repeat': 3}, settings, facts)
    assert reason and 'action_repeat 3' in reason and 'rollout_model' in reason


def test_bench_planner_times_the_ensemble_and_the_student(students, tmp_path, capsys):
    import sys
    sys.path.insert(0, os.path.join(REPO_ROOT, 'benchmarks'))
    import bench_planner
    out = tmp_path / 'bench.json'
    argv = ['--goal', 'joint', '--samples', '16', '--threads', '1', '--repeats', '2',
            '--warmup', '1', '--breakdown-repeats', '1', '--trace-seeds', '1',
            '--trace-steps', '2', '--rollout-model', 'ensemble', students['one'],
            '--out', str(out)]
    assert bench_planner.main(argv) == 0
    capsys.readouterr()
    [goal] = json.loads(out.read_text())['goals']
    got = [c['rollout_model'] for c in goal['configurations']]
    assert got == ['ensemble', students['one']]
    for config in goal['configurations']:
        assert config['median_ms'] > 0
        assert config['breakdown']['rollout_calls_per_act'] == \
            config['expected_rollout_calls_per_act'] == 32


def test_the_quality_summary_pairs_a_student_with_its_ensemble():
    from jepa_world_model.experiments import backend_quality
    command = ('jepa-world-model offline-reach --robot arm --objective joint_goal '
               '--rollout-model models/arm_tiny_rollout.safetensors --num-samples 256')
    plain = 'jepa-world-model offline-reach --robot arm --objective joint_goal --num-samples 256'
    assert backend_quality.strip_backend(command) == plain
    assert backend_quality._backend_of(command) == 'torch+arm_tiny_rollout.safetensors'
    assert backend_quality._backend_of(plain) == 'torch'


def test_a_bare_file_name_is_found_beside_the_model(tmp_path):
    from jepa_world_model.core.runtime.planning_step import resolve_rollout_model
    teacher = tmp_path / 'models' / 'robot.safetensors'
    teacher.parent.mkdir()
    (teacher.parent / 'robot_rollout.safetensors').write_bytes(b'x')
    found = resolve_rollout_model('robot_rollout.safetensors', teacher)
    assert found == teacher.parent / 'robot_rollout.safetensors'
    # Paths with a folder are taken as given, found or not.
    given = resolve_rollout_model('elsewhere/robot_rollout.safetensors', teacher)
    assert given.as_posix() == 'elsewhere/robot_rollout.safetensors'
    assert str(resolve_rollout_model('missing.safetensors', teacher)) == 'missing.safetensors'


def test_auto_takes_the_student_beside_the_model_only_when_it_fits(runtime, students, tmp_path,
                                                                   caplog):
    import shutil
    from jepa_world_model.core.runtime.planning_step import planning_step, student_path_for
    folder = tmp_path / 'models'
    folder.mkdir()
    teacher = folder / 'arm_tiny.safetensors'
    shutil.copyfile(ARM, teacher)
    copy = WorldModelRuntime.from_path(str(teacher))
    assert isinstance(planning_step(copy, rollout_model='auto'), RolloutStep)   # none there
    shutil.copyfile(students['two'], student_path_for(teacher))
    step = planning_step(copy, rollout_model='auto', action_repeat=2)
    assert isinstance(step, StudentStep) and step.source == str(student_path_for(teacher))
    # Its 2 held steps do not divide action_repeat 1: the ensemble plans, and says why.
    assert isinstance(planning_step(copy, rollout_model='auto', action_repeat=1), RolloutStep)
    assert 'action_repeat is 1' in caplog.text
    told = []   # a node passes its ROS logger: the reason goes there instead
    planning_step(copy, rollout_model='auto', action_repeat=1, warn=told.append)
    assert len(told) == 1 and 'action_repeat is 1' in told[0]
    shutil.copyfile(students['other'], student_path_for(teacher))   # another model's
    assert isinstance(planning_step(copy, rollout_model='auto'), RolloutStep)
    assert 'distilled from another model' in caplog.text
    controller = _controller(copy, 'auto')
    assert controller.rollout_source == 'the dynamics ensemble'


def test_distill_rollout_command_writes_a_student_of_the_model(tmp_path, capsys):
    from jepa_world_model.core.model.rollout_student_file import read_student_metadata
    out = tmp_path / 'arm_student.safetensors'
    argv = ['distill-rollout', '--robot', 'arm', '--checkpoint', ARM, '--out', str(out),
            '--episodes', '1', '--steps-per-episode', '4', '--steps', '3', '--batch', '4',
            '--horizon', '2', '--eval-samples', '8', '--hidden', '8']
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['start_latents'] == 5 and report['settings']['hidden'] == 8
    meta = read_student_metadata(out)
    assert meta['architecture']['hidden'] == 8 and meta['teacher_file'] == 'arm_tiny.safetensors'
    assert meta['distillation']['command'].startswith('jepa-world-model distill-rollout')
    runtime = WorldModelRuntime.from_path(ARM)
    assert _controller(runtime, str(out)).rollout_source == str(out)
    # The base's two actions do not fit the arm's model: one line, status 2.
    assert main(argv[:2] + ['mobile_base'] + argv[3:]) == 2
    assert 'actions' in capsys.readouterr().err
