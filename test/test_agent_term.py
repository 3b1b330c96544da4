"""The agent term (core/planning/agent_term.py, plan_agents.py): planned positions against
predicted people at the same time.

The model is a stand-in whose latent *is* the pose (``probe_pose(z) = z[..., :3]``), so every
planned position is known exactly; scans are ray-cast analytically (scan_scenes.py).
"""

import math

import numpy as np
import pytest
import torch

from jepa_world_model.core.planning.agent_term import (AgentPaths, agent_clearance,
                                                       agent_proximity_cost, agents_at_times,
                                                       plan_step_times)
from jepa_world_model.core.planning.goals import build_objective, pose_goal
from jepa_world_model.core.planning.objective_terms import ObjectiveTerms
from jepa_world_model.core.planning.observation import Observation, ScanReading
from jepa_world_model.core.planning.plan_agents import PlanAgents
from scan_scenes import ANGLE_MIN, cast, INCREMENT, RADIUS

MIN_RANGE, MARGIN = 0.35, 0.1
TIMES = (0.5, 1.0, 1.5, 2.0)


class PoseModel:
    """Latent [..., 3] = (x, y, yaw): the planned positions are the latents."""

    has_pose = True

    def probe_pose(self, z):
        return z[..., :3]


def straight_plan(start, velocity, step_times):
    """[1, H, 3] positions of a base moving at constant ``velocity`` (vx, vy) from start."""
    t = torch.as_tensor(step_times, dtype=torch.float32)[:, None]
    xy = torch.tensor(start, dtype=torch.float32) + t * torch.tensor(velocity)
    return torch.cat([xy, torch.zeros(len(step_times), 1)], dim=-1)[None]


def walker(now, velocity, spread_per_s=0.0):
    """A forecast of one person walking at constant velocity: (now, times, positions, spread)."""
    times = np.asarray(TIMES)
    now = np.asarray([now], dtype=float)
    positions = now[:, None, :] + times[None, :, None] * np.asarray(velocity)[None, None]
    return now, times, positions, spread_per_s * times[None]


def test_step_times_follow_delay_and_action_repeat():
    assert np.allclose(plan_step_times(3, 2, 1, 0.1), [0.3, 0.5, 0.7])
    assert np.allclose(plan_step_times(2, 1, 0, 0.5), [0.5, 1.0])
    with pytest.raises(ValueError):
        plan_step_times(0, 1, 0, 0.1)


def test_forecast_is_interpolated_between_its_horizons_and_held_after_the_last():
    now, times, positions, spread = walker((0.0, 0.0), (1.0, 0.0), spread_per_s=0.2)
    paths = agents_at_times(now, times, positions, spread, [0.0, 0.25, 0.75, 2.0, 3.0, -1.0])
    assert paths.positions.shape == (1, 6, 2) and paths.spread.shape == (1, 6)
    assert np.allclose(paths.positions[0, :, 0].numpy(), [0.0, 0.25, 0.75, 2.0, 2.0, 0.0],
                       atol=1e-6)
    assert np.allclose(paths.spread[0].numpy(), [0.0, 0.05, 0.15, 0.4, 0.4, 0.0], atol=1e-6)
    with pytest.raises(ValueError):
        agents_at_times(now, (1.0, 0.5, 1.5, 2.0), positions, spread, [0.5])


def crossing_costs(person_start_x):
    """Cost of a plan that crosses the line y = 0 at x = 0 at t = 1 s, against a person
    walking along y = 0 at 1 m/s who starts at ``person_start_x`` (so is at x = 0 at
    t = -person_start_x)."""
    steps = plan_step_times(8, 2, 1, 0.1)                    # the base conditions' timing
    plan = straight_plan((0.0, -0.6), (0.0, 0.6), steps)    # at (0, 0) at t = 1 s
    term = agent_clearance(PoseModel(), MIN_RANGE, MARGIN, weight=20.0, spread_scale=1.0)
    paths = agents_at_times(*walker((person_start_x, 0.0), (1.0, 0.0), 0.1), steps)
    return float(term(paths)(plan, torch.zeros(1, 8, 2))[0])


def test_crossing_where_the_person_will_be_then_costs_more_than_crossing_behind_them():
    meets = crossing_costs(-1.0)       # the person reaches x = 0 at t = 1 s, with the robot
    behind = crossing_costs(1.0)       # the person was at x = 0 at t = -1 s: gone by then
    assert meets > 1.0                 # contact band: the shortfall is more than the margin
    assert behind == 0.0
    # Both people are 1 m from the crossing now: a term on where they stand now cannot tell
    # the two apart, the time-indexed one can.


def test_the_margin_grows_with_the_forecast_spread():
    plan = torch.tensor([[[0.0, 0.5, 0.0]]])                 # 0.5 m from the person
    certain = AgentPaths(torch.tensor([[[0.0, 0.0]]]), torch.tensor([[0.0]]))
    unsure = AgentPaths(torch.tensor([[[0.0, 0.0]]]), torch.tensor([[0.3]]))
    assert float(agent_proximity_cost(plan[..., :2], certain, MIN_RANGE, MARGIN, 1.0)) == 0.0
    cost = float(agent_proximity_cost(plan[..., :2], unsure, MIN_RANGE, MARGIN, 1.0))
    assert cost == pytest.approx(((MIN_RANGE + 0.3 - 0.5) / MARGIN) ** 2, rel=1e-5)
    assert float(agent_proximity_cost(plan[..., :2], unsure, MIN_RANGE, MARGIN, 0.0)) == 0.0


def test_cost_is_per_sample_and_step_nearest_agent_counts_and_nobody_costs_nothing():
    xy = torch.zeros(5, 3, 2)
    xy[1, 2] = torch.tensor([2.0, 0.0])                      # sample 1, step 2: at agent 1
    agents = AgentPaths(torch.tensor([[[9.0, 9.0]] * 3, [[2.0, 0.0]] * 3]), torch.zeros(2, 3))
    cost = agent_proximity_cost(xy, agents, MIN_RANGE, MARGIN, 1.0)
    assert cost.shape == (5, 3)
    assert float(cost[1, 2]) == pytest.approx((MIN_RANGE / MARGIN) ** 2)
    assert float(cost.sum()) == pytest.approx(float(cost[1, 2]))
    empty = AgentPaths(torch.zeros(0, 3, 2), torch.zeros(0, 3))
    assert torch.equal(agent_proximity_cost(xy, empty, MIN_RANGE, MARGIN, 1.0),
                       torch.zeros(5, 3))
    with pytest.raises(ValueError):
        agent_proximity_cost(torch.zeros(5, 4, 2), agents, MIN_RANGE, MARGIN, 1.0)


def test_the_objective_has_the_agent_term_only_when_weighted_and_needs_the_agents():
    model = PoseModel()
    model.cfg = None
    goal = pose_goal(1.0, 0.0)
    plain = build_objective(goal, model, ObjectiveTerms())
    assert not plain.needs_agents and 'agents' not in plain.terms
    weighted = build_objective(goal, model, ObjectiveTerms(agent_weight=5.0))
    assert weighted.needs_agents and 'agents' in weighted.terms
    with pytest.raises(ValueError, match='agent term'):
        weighted.at()
    z = torch.zeros(2, 1, 3)
    z[1, 0, :2] = torch.tensor([0.5, 0.0])                   # sample 1 steps onto the agent
    agents = AgentPaths(torch.tensor([[[0.5, 0.0]]]), torch.zeros(1, 1))
    with_agents = weighted.at(agents=agents)(z, torch.zeros(2, 1, 2))
    without = plain.fn(z, torch.zeros(2, 1, 2))
    # The default clearance_min_range 0.32 m and margin 0.1 m, at distance 0.
    assert float(with_agents[1] - without[1]) == pytest.approx(5.0 * (0.32 / 0.1) ** 2,
                                                               rel=1e-4)
    assert float(with_agents[0] - without[0]) == pytest.approx(0.0, abs=1e-6)


class Settings:
    """The ControllerSettings fields PlanAgents reads."""
    use_map, map_occupied_threshold, scan_mount = False, 50, (0.0, 0.0, 0.0)
    command_delay_steps, model_step_period = 1, 0.1


class Config:
    horizon, action_repeat = 8, 2


def test_plan_agents_track_a_walker_in_the_scans_and_place_them_at_the_plan_times():
    agents, model, pose = PlanAgents(), PoseModel(), (0.0, 0.0, 0.0)
    paths = None
    for k in range(15):
        person = (-1.0 + 0.05 * k, 1.0, RADIUS)              # 0.5 m/s along x
        scan = ScanReading(0.1 * k, cast(pose, [person]), ANGLE_MIN, INCREMENT, 0.05, 10.0)
        obs = Observation(torch.zeros(1, 3, 8, 8), None, np.zeros(0), np.array(pose), scan,
                          stamp=0.1 * k)
        paths = agents.for_plan(model, torch.zeros(3), obs, Settings(), Config(), None)
        agents.after_plan(model, torch.zeros(8, 3))
    assert paths.positions.shape == (1, 8, 2)
    # Constant velocity (no learned model): at the last plan step (1.7 s) x = -0.3 + 0.85.
    times = plan_step_times(8, 2, 1, 0.1)
    expected_x = -1.0 + 0.05 * 14 + 0.5 * times
    assert np.allclose(paths.positions[0, :, 0].numpy(), expected_x, atol=0.08)
    assert np.all(np.diff(paths.spread[0].numpy()) > 0)
    # The same scan again is not observed twice; no scan: None (the controller stops).
    again = agents.for_plan(model, torch.zeros(3), obs, Settings(), Config(), None)
    assert torch.allclose(again.positions, paths.positions)
    assert agents.for_plan(model, torch.zeros(3), obs._replace(scan=None), Settings(),
                           Config(), None) is None
    assert math.isfinite(float(paths.spread.sum()))


def test_plan_agents_leave_what_the_controllers_map_holds_to_the_map():
    from jepa_world_model.core.planning.static_map import StaticMap
    resolution, n = 0.05, 100                                   # 5 m x 5 m around the origin
    centres = -2.5 + (np.arange(n) + 0.5) * resolution
    x, y = np.meshgrid(centres, centres)
    pillar = (1.0, 1.0, RADIUS)
    grid = np.where(np.hypot(x - pillar[0], y - pillar[1]) < RADIUS, 100, 0).astype(np.int8)
    room = StaticMap(grid, resolution, (-2.5, -2.5), 'odom')
    model, pose = PoseModel(), (0.0, 0.0, 0.0)

    def tracked(static_map, use_map=True):
        agents, settings = PlanAgents(), Settings()
        settings.use_map = use_map
        paths = None
        for k in range(6):
            scan = ScanReading(0.1 * k, cast(pose, [pillar], walls=False), ANGLE_MIN,
                               INCREMENT, 0.05, 10.0)
            obs = Observation(torch.zeros(1, 3, 8, 8), None, np.zeros(0), np.array(pose),
                              scan, stamp=0.1 * k)
            paths = agents.for_plan(model, torch.zeros(3), obs, settings, Config(), static_map)
        return paths.positions.shape[0]

    assert tracked(None) == 1                 # without a map a pillar looks like a person
    assert tracked(room) == 0                 # the map explains it
    assert tracked(room, use_map=False) == 1
