"""The planner's model step (core/model/rollout_step.py): the same predictions as
``WorldModel.predict``/``predict_ensemble`` in float32, bounded error in bfloat16, the
action normalisation folded in, and clear errors for what it cannot compute."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from jepa_world_model.core.model.rollout_step import compute_dtype, RolloutStep
from jepa_world_model.core.planning import ControllerSettings, PlanningController
from jepa_world_model.core.planning.command_limits import CommandLimits
from jepa_world_model.core.planning.planner import PlannerConfig
from jepa_world_model.core.runtime.inference import WorldModelRuntime
from tiny_models import save_tiny


@pytest.fixture(scope='module')
def runtime(tmp_path_factory):
    """A 3-member model whose action statistics are far from (0, 1), so a missing or wrong
    normalisation shows."""
    path = tmp_path_factory.mktemp('rollout_step') / 'model.safetensors'
    save_tiny(path, seed=5, dynamics_ensemble_size=3, dynamics_depth=2)
    rt = WorldModelRuntime.from_path(str(path))
    with torch.no_grad():
        rt.model.action_mean.copy_(torch.linspace(-0.7, 0.4, rt.action_dim))
        rt.model.action_std.copy_(torch.linspace(0.2, 3.0, rt.action_dim))
    return rt


def inputs(rt, n=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, rt.latent_dim, generator=gen),
            2.0 * torch.randn(n, rt.action_dim, generator=gen))


def test_float32_step_equals_the_model(runtime):
    step = RolloutStep(runtime.model)
    z, a = inputs(runtime)
    with torch.inference_mode():
        torch.testing.assert_close(step(z, a), runtime.model.predict(z, a), atol=1e-5,
                                   rtol=1e-5)
        torch.testing.assert_close(step.members(z, a), runtime.model.predict_ensemble(z, a),
                                   atol=1e-5, rtol=1e-5)
    assert step.ensemble_size == 3


def test_the_action_matters_and_is_normalised(runtime):
    """Changing only the action changes the prediction as the model's does (the folded
    normalisation is right, not just the latent path)."""
    step = RolloutStep(runtime.model)
    z, a = inputs(runtime, seed=1)
    a2 = a + 0.5
    with torch.inference_mode():
        moved = step(z, a2) - step(z, a)
        expected = runtime.model.predict(z, a2) - runtime.model.predict(z, a)
    assert float(expected.abs().mean()) > 1e-3
    torch.testing.assert_close(moved, expected, atol=1e-5, rtol=1e-4)


def test_bfloat16_step_is_close_over_a_rollout(runtime):
    """bfloat16 products, float32 latent: an 8-step rollout stays within 5 % of the
    latent's spread of the float32 one, and the output keeps the input dtype."""
    exact, fast = RolloutStep(runtime.model), RolloutStep(runtime.model, torch.bfloat16)
    z, a = inputs(runtime, seed=2)
    ze, zf = z, z
    with torch.inference_mode():
        for _ in range(8):
            ze, zf = exact(ze, a), fast(zf, a)
    assert zf.dtype == torch.float32
    assert float((ze - zf).abs().mean()) < 0.05 * float(ze.std())
    assert not torch.equal(ze, zf)    # it really ran in bfloat16


def test_snapshot_does_not_follow_later_weight_changes(runtime, tmp_path):
    path = tmp_path / 'm.safetensors'
    save_tiny(path, seed=6)
    rt = WorldModelRuntime.from_path(str(path))
    step = RolloutStep(rt.model)
    z, a = inputs(rt)
    with torch.inference_mode():
        before = step(z, a)
        for p in rt.model.dynamics.parameters():
            p.add_(1.0)
        assert torch.equal(step(z, a), before)
        assert not torch.allclose(rt.model.predict(z, a), before)


def test_refuses_members_it_cannot_compute(runtime):
    class Fake(nn.Module):
        def __init__(self, member):
            super().__init__()
            self.cfg, self.action_mean, self.action_std = (runtime.model.cfg,
                                                           runtime.model.action_mean,
                                                           runtime.model.action_std)
            self.dynamics = nn.Module()
            self.dynamics.members = nn.ModuleList([member])

    width = runtime.latent_dim + runtime.action_dim
    with pytest.raises(ValueError, match='Linear, LayerNorm'):
        RolloutStep(Fake(nn.Sequential(nn.Linear(width, 8), nn.ReLU(), nn.LayerNorm(8),
                                       nn.Linear(8, runtime.latent_dim))))
    with pytest.raises(ValueError, match='floating point'):
        RolloutStep(runtime.model, torch.int32)


def test_dtype_names():
    assert compute_dtype('bfloat16') is torch.bfloat16
    with pytest.raises(ValueError, match='rollout_dtype'):
        compute_dtype('float8')
    with pytest.raises(ValueError, match='rollout_dtype'):
        ControllerSettings(rollout_dtype='half')


def test_controller_plans_with_the_chosen_dtype(runtime):
    limits = CommandLimits.create([-1.0], [1.0], [100.0], action_dim=runtime.action_dim)
    settings = ControllerSettings(max_plan_time=None, tolerance=None)
    controller = PlanningController(runtime, PlannerConfig(horizon=3, num_samples=8,
                                                           num_elites=2), limits, settings)
    assert controller._step.compute_dtype == torch.float32
    controller.update(settings=replace(settings, rollout_dtype='bfloat16'))
    assert controller._step.compute_dtype == torch.bfloat16
    assert controller.settings.rollout_dtype == 'bfloat16'
