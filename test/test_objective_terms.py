"""Registered trajectory terms (core/planning/terms): the smoothness term, and the registry
that makes a new term one module plus its weight (docs/architecture.md)."""

import pytest
import torch

from jepa_world_model.core.planning.goals import build_objective, GoalError, joint_state_goal
from jepa_world_model.core.planning.objective_terms import ObjectiveTerms
from jepa_world_model.core.planning.objectives import sum_objectives
from jepa_world_model.core.planning.planner import ActionBounds, LatentPlanner, PlannerConfig
from jepa_world_model.core.planning.terms import TRAJECTORY_TERMS, trajectory_term
from jepa_world_model.core.planning.terms.smoothness import smoothness_objective
from tiny_models import tiny_model

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def total_variation(a):
    """sum_t ||a_t - a_{t-1}||^2 of a plan [H, A]."""
    return float(((a[1:] - a[:-1]) ** 2).sum())


def test_smoothness_cost_is_the_weighted_squared_change_of_the_command():
    a = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]],     # changes 1 then 4: 5
                      [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]])    # constant: 0
    cost = smoothness_objective(None, 3.0)(torch.zeros(2, 3, 4), a)
    assert cost.tolist() == pytest.approx([15.0, 0.0])


def test_a_registered_term_is_added_only_with_a_positive_weight():
    model = tiny_model(0).requires_grad_(False)
    goal = joint_state_goal([0.1, -0.1])
    assert build_objective(goal, model).terms == ('goal',)
    off = build_objective(goal, model, ObjectiveTerms(weights=(('smoothness', 0.0),)))
    assert off.terms == ('goal',)
    on = build_objective(goal, model, ObjectiveTerms(weights=(('smoothness', 2.0),)))
    assert on.terms == ('goal', 'smoothness') and on.skipped == ()
    z = torch.zeros(4, 3, model.cfg.latent_dim)
    a = torch.randn(4, 3, model.cfg.action_dim, generator=torch.Generator().manual_seed(0))
    expected = off.fn(z, a) + smoothness_objective(model, 2.0)(z, a)
    torch.testing.assert_close(on.fn(z, a), expected)
    for bad in ((('smoothness', -1.0),), (('wobble', 1.0),)):
        with pytest.raises(GoalError, match='term weights'):
            build_objective(goal, model, ObjectiveTerms(weights=bad))


def test_registry_refuses_taken_or_bad_names():
    assert 'smoothness' in TRAJECTORY_TERMS
    for name in ('smoothness', 'risk', 'Bad-Name', ''):
        with pytest.raises(ValueError):
            trajectory_term(name, 'x')


def test_planning_with_smoothness_gives_smoother_plans_that_still_reach():
    """On z_next = z + a toward a goal 1.5 away in 6 steps, the smoothness term lowers the
    plan's squared command changes severalfold and the plan still reaches the goal."""
    target = torch.tensor([1.5, -1.0])

    def step(z, a):
        return z + a

    def goal_cost(z_traj, a_traj):
        return ((z_traj[:, -1] - target) ** 2).sum(-1) * 10.0

    def plan(weight, seed):
        torch.manual_seed(seed)
        planner = LatentPlanner(PlannerConfig(horizon=6, num_samples=256, num_elites=16,
                                              num_iterations=6), 2,
                                ActionBounds([-1.0, -1.0], [1.0, 1.0]))
        objective = sum_objectives([(1.0, goal_cost),
                                    (1.0, smoothness_objective(None, weight))])
        return planner.plan(torch.zeros(2), step, objective).actions

    plain = [plan(0.0, s) for s in range(4)]
    smooth = [plan(2.0, s) for s in range(4)]
    tv_plain = sum(total_variation(a) for a in plain) / 4
    tv_smooth = sum(total_variation(a) for a in smooth) / 4
    assert tv_smooth < 0.3 * tv_plain, (tv_smooth, tv_plain)
    for a in smooth:
        assert float(torch.linalg.vector_norm(a.sum(0) - target)) < 0.3
