"""The distilled rollout model (issue #16 item 2): the frozen step computes what the module
computes, held-action students stand for k teacher steps and the planner calls them once per
action, files are checked against the loaded model before anything is allocated, and a few
hundred distillation steps measurably shrink the error against the teacher."""

import os

import pytest
import torch

from jepa_world_model.core.checkpoint import load_checkpoint
from jepa_world_model.core.model.rollout_step import RolloutStep
from jepa_world_model.core.model.rollout_student import (calls_per_action, RolloutStudent,
                                                         StudentStep)
from jepa_world_model.core.model.rollout_student_file import (load_student, RolloutModelError,
                                                              save_student)
from jepa_world_model.core.planning.plan_budget import measure_rollout_cost
from jepa_world_model.core.planning.planner import ActionBounds, LatentPlanner, PlannerConfig
from jepa_world_model.core.training.rollout_distillation import (DistillConfig, distil_rollout,
                                                                 rollout_errors, teacher_rollout)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARM = os.path.join(REPO_ROOT, 'models', 'arm_tiny.safetensors')
GANTRY = os.path.join(REPO_ROOT, 'models', 'gantry_tiny.safetensors')

pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def arm():
    return load_checkpoint(ARM).model.eval()


def _random_student(teacher, held_steps=1, hidden=32, seed=0):
    torch.manual_seed(seed)
    student = RolloutStudent.for_teacher(teacher, hidden, 2, held_steps)
    with torch.no_grad():   # a non-zero output layer, so the test sees the whole network
        student.net[-1].weight.normal_(0, 0.1)
        student.net[-1].bias.normal_(0, 0.1)
    return student.eval()


def _starts(teacher, n, seed):
    """Latents of the scale the teacher works at: random ones rolled a few teacher steps."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, teacher.cfg.latent_dim, generator=gen)
    a = torch.rand(n, 3, teacher.cfg.action_dim, generator=gen) * 2 - 1
    return teacher_rollout(RolloutStep(teacher), z, a, 1)[:, -1]


def test_frozen_step_equals_module(arm):
    student = _random_student(arm)
    student.action_mean.fill_(0.2)
    student.action_std.fill_(0.7)   # the folded normalisation must match the module's
    z, a = torch.randn(64, arm.cfg.latent_dim), torch.rand(64, arm.cfg.action_dim) * 2 - 1
    with torch.no_grad():
        expected = student(z, a)
    got = StudentStep(student)(z, a)
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(got, z, atol=1e-3)   # the step moves z
    bf16 = StudentStep(student, torch.bfloat16)(z, a)
    assert bf16.dtype == torch.float32 and torch.allclose(bf16, expected, atol=0.1)


def test_held_action_semantics():
    class Counting:
        held_steps = 2

        def __init__(self):
            self.calls = 0

        def __call__(self, z, a):
            self.calls += 1
            return z + a.sum(-1, keepdim=True)

    step = Counting()
    assert calls_per_action(step, 2) == 1 and calls_per_action(step, 4) == 2
    with pytest.raises(ValueError, match='not a multiple'):
        calls_per_action(step, 3)
    assert calls_per_action(lambda z, a: z, 3) == 3   # a plain step is one model step
    config = PlannerConfig(num_samples=4, num_elites=2, horizon=3, num_iterations=1,
                           action_repeat=4, seed=0)
    planner = LatentPlanner(config, 1, ActionBounds([-1.0], [1.0]))
    z0, a = torch.zeros(2), torch.ones(4, 3, 1)
    traj = planner._rollout(z0, a, step)
    # action_repeat 4 = two calls of a 2-step student per action: 3 x 2 calls, each +1.
    assert step.calls == 6
    assert torch.equal(traj[:, :, 0], torch.tensor([[2.0, 4.0, 6.0]] * 4))
    cost = measure_rollout_cost(step, z0, 1, batch=8, repeats=1)
    assert cost.held_steps == 2 and cost.model_steps(config) == 1 * 3 * 2


def test_file_round_trip_and_checks(arm, tmp_path):
    student = _random_student(arm, held_steps=2)
    path = save_student(tmp_path / 's.safetensors', student, ARM, {'steps': 0})
    loaded, meta = load_student(path, arm, ARM)
    assert meta['architecture']['held_steps'] == 2 and meta['distillation'] == {'steps': 0}
    z, a = torch.randn(8, arm.cfg.latent_dim), torch.rand(8, arm.cfg.action_dim)
    with torch.no_grad():
        assert torch.equal(loaded(z, a), student(z, a))
    with pytest.raises(RolloutModelError, match='distilled from another model'):
        load_student(path, arm, GANTRY)   # another teacher file
    gantry = load_checkpoint(GANTRY).model
    wrong_dims = save_student(tmp_path / 'w.safetensors', student, GANTRY, {})
    with pytest.raises(RolloutModelError, match='latent_dim|action_dim'):
        load_student(wrong_dims, gantry, GANTRY)
    data = path.read_bytes()
    truncated = tmp_path / 't.safetensors'
    truncated.write_bytes(data[:len(data) - 100])
    with pytest.raises(RolloutModelError, match='truncated|unreadable'):
        load_student(truncated, arm, ARM)
    with pytest.raises(RolloutModelError, match='format'):
        load_student(ARM, arm, ARM)   # a checkpoint is not a student
    with pytest.raises(RolloutModelError, match='not found'):
        load_student(tmp_path / 'missing.safetensors', arm, ARM)


def test_distillation_reduces_error(arm):
    starts = _starts(arm, 200, seed=1)
    low, high = -torch.ones(arm.cfg.action_dim), torch.ones(arm.cfg.action_dim)
    config = DistillConfig(hidden=48, steps=150, batch=32, horizon=4, lr=3e-3, seed=0,
                           eval_samples=256)
    student, report = distil_rollout(arm, starts, low, high, config)
    before, after = report['held_out_untrained'], report['held_out']
    assert before['one_step_vs_increment'] == pytest.approx(1.0)   # starts as the identity
    # At least 30 % below the identity's error, one call and the whole horizon.
    assert after['one_step_vs_increment'] < 0.7 * before['one_step_vs_increment']
    assert after['horizon_vs_increment'] < 0.7 * before['horizon_vs_increment']
    # The report is the held-out measurement, not a training figure: measure it again.
    fresh = _starts(arm, 64, seed=2)
    a = torch.rand(64, 4, arm.cfg.action_dim) * 2 - 1
    again = rollout_errors(student, arm, fresh, a, 1)
    assert again['one_step_vs_increment'] < 0.75


def test_held_distillation_targets_two_teacher_steps(arm):
    starts = _starts(arm, 200, seed=3)
    low, high = -torch.ones(arm.cfg.action_dim), torch.ones(arm.cfg.action_dim)
    config = DistillConfig(hidden=48, held_steps=2, steps=150, batch=32, horizon=4, lr=3e-3,
                           eval_samples=256)
    student, report = distil_rollout(arm, starts, low, high, config)
    assert report['held_out']['one_step_vs_increment'] < 0.7
    z, a = starts[:32], torch.rand(32, arm.cfg.action_dim) * 2 - 1
    teacher = RolloutStep(arm)
    two = teacher(teacher(z, a), a)
    with torch.no_grad():
        pred = student(z, a)
    # Closer to two teacher steps than to one: it learned the composed map.
    to_two = (pred - two).norm(dim=-1).mean()
    to_one = (pred - teacher(z, a)).norm(dim=-1).mean()
    assert to_two < 0.9 * to_one, (float(to_two), float(to_one))


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match='held_steps'):
        DistillConfig(held_steps=0)
    with pytest.raises(ValueError, match='lr'):
        DistillConfig(lr=float('nan'))
    with pytest.raises(ValueError, match='gaussian_fraction'):
        DistillConfig(gaussian_fraction=1.5)
