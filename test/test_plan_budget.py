"""What a plan costs (core/planning/plan_budget.py) and the planner parameter checks that use
it, with the checks configure runs on every value (ros/planner/parameters.py; issue #11 items
4, 6).
"""

from dataclasses import replace
import time

import pytest
import torch

from jepa_world_model.core.planning.plan_budget import measure_rollout_cost, RolloutCost
from jepa_world_model.core.planning.planner import PlannerConfig

try:
    from jepa_world_model.ros.planner.parameters import (PlannerFacts, PlannerSettings,
                                                         validate_updates)
except ImportError:   # the ros-marked tests need it; conftest skips them without rclpy
    pass

FACTS = dict(action_dim=2, joint_names=('joint_a', 'joint_b'))


def test_measure_rollout_cost_fits_fixed_and_per_sample_seconds():
    """A step that sleeps 4 ms + 20 us per sample measures as about that; the samples of a
    plan need per_sample x samples x iterations x horizon x action_repeat."""
    batches = []

    def step(z, a):
        batches.append(z.shape[0])
        time.sleep(0.004 + 20e-6 * z.shape[0])
        return z

    cost = measure_rollout_cost(step, torch.zeros(3), 2, batch=501, repeats=2)
    assert set(batches) == {1, 501}
    assert 0.004 <= cost.fixed < 0.02, cost
    assert 10e-6 < cost.per_sample < 40e-6, cost
    config = PlannerConfig(num_samples=1000, horizon=5, num_iterations=3, action_repeat=2)
    assert RolloutCost(0.1, 1e-6).sample_seconds(config) == pytest.approx(1e-6 * 1000 * 30)
    with pytest.raises(ValueError):
        measure_rollout_cost(step, torch.zeros(3), 2, batch=1)


@pytest.mark.ros
def test_configure_checks_every_value_with_the_runtime_rules():
    """validate_updates({}, settings), as configure calls it, checks the values given at
    start-up, not only later changes: a misspelt or repeated action field of the cmd_vel
    output and a short scan_mount fail with a reason naming the parameter."""
    cmd_vel = replace(PlannerSettings(), output='cmd_vel')
    assert validate_updates({}, cmd_vel, PlannerFacts(**FACTS)) is None
    for fields in (('linaer.x', 'angular.z'), ('linear.x', 'linear.x')):
        reason = validate_updates({}, replace(cmd_vel, action_fields=fields),
                                  PlannerFacts(**FACTS))
        assert reason and 'action_fields' in reason, fields
        assert validate_updates({}, replace(cmd_vel, action_fields=fields)) is not None
    reason = validate_updates({}, replace(PlannerSettings(), scan_mount=(0.0,)))
    assert reason and 'scan_mount' in reason
    # The same rules at a change; fixing the value in the batch makes the batch valid.
    bad = replace(cmd_vel, action_fields=('linaer.x', 'angular.z'))
    assert 'action_fields' in validate_updates({'enabled': False}, bad)
    assert validate_updates({'action_fields': ['linear.x', 'angular.z']}, bad) is None


@pytest.mark.ros
def test_a_search_that_cannot_fit_max_plan_time_is_refused():
    """With the model measured (1 us per sample and step), 100,000 samples x horizon 50 x
    3 iterations (15 s) is refused with the figures; the defaults (1.8 ms) pass, lowering
    max_plan_time below them is refused; without a measurement nothing is refused."""
    facts = PlannerFacts(**FACTS, rollout_cost=RolloutCost(fixed=1e-4, per_sample=1e-6))
    settings = PlannerSettings()
    assert validate_updates({}, settings, facts) is None
    huge = {'num_samples': 100000, 'horizon': 50, 'num_iterations': 3}
    reason = validate_updates(huge, settings, facts)
    assert reason and 'max_plan_time' in reason and '15000 ms' in reason, reason
    assert validate_updates({}, settings.with_updates(huge), facts) == reason
    assert 'max_plan_time' in validate_updates({'max_plan_time': 0.001}, settings, facts)
    assert validate_updates(dict(huge, max_plan_time=20.0), settings, facts) is None
    assert validate_updates(huge, settings, PlannerFacts(**FACTS)) is None
