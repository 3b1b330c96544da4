"""The planning controller (``core/planning``) without ROS: where a plan starts under
``command_delay_steps``, what the obstacle term is given, the plan deadline, the goal check,
the command limits against what was sent, the stop command, and goals, maps and settings
that are applied whole or not at all."""

from dataclasses import replace
import time

import numpy as np
import pytest
import torch

from jepa_world_model.core.planning.command_limits import CommandLimits
from jepa_world_model.core.planning.goals import (build_objective, GoalError, joint_state_goal,
                                                  ObjectiveTerms, pose_goal)
from jepa_world_model.core.runtime.inference import WorldModelRuntime
from jepa_world_model.core.planning.planner import PlannerConfig
from jepa_world_model.core.planning import (Command, ControllerSettings, MapGoalError, NoGoalError,
                                            Observation, ObservationError, PlanningController,
                                            ScanReading, StaticMap, Stop)
from tiny_models import save_tiny

SMALL = PlannerConfig(horizon=3, num_samples=8, num_elites=2, num_iterations=1)
BASE_LIMITS = CommandLimits.create([-0.5, -1.0], [0.5, 1.0], [100.0])
RELAXED = ControllerSettings(max_plan_time=10.0, with_poses=True)


@pytest.fixture(scope='module')
def base(tmp_path_factory):
    """A mobile-base-like model: wheel velocities and the odometry pose in s."""
    path = tmp_path_factory.mktemp('controller') / 'base.safetensors'
    save_tiny(path, joint_names=['wheel_left', 'wheel_right'], use_joint_position=False,
              pose_in_state=True)
    return WorldModelRuntime.from_path(str(path))


@pytest.fixture(scope='module')
def arm(tmp_path_factory):
    """An arm-like model with joints joint_a, joint_b (positions and velocities in s)."""
    path = tmp_path_factory.mktemp('controller') / 'arm.safetensors'
    save_tiny(path)
    return WorldModelRuntime.from_path(str(path))


@pytest.fixture(scope='module')
def risky(tmp_path_factory):
    """The arm-like model with a (random) collision risk probe and 3 dynamics members."""
    path = tmp_path_factory.mktemp('controller') / 'risky.safetensors'
    save_tiny(path, seed=3, risk_labels=['collision'], dynamics_ensemble_size=3)
    return WorldModelRuntime.from_path(str(path))


def image(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def base_obs(runtime, scan=None, pose=(0.2, -0.1, 0.3), seed=0):
    pose = np.array(pose)
    state = runtime.make_state(np.zeros(0), np.zeros(2), pose)
    return Observation(runtime.preprocess(image(seed)),
                       torch.as_tensor(state, dtype=torch.float32)[None], np.zeros(0), pose, scan)


def arm_obs(runtime, q, seed=0):
    q = np.asarray(q, dtype=np.float64)
    state = runtime.make_state(q, np.zeros(2))
    return Observation(runtime.preprocess(image(seed)),
                       torch.as_tensor(state, dtype=torch.float32)[None], q, None)


def record_plans(controller):
    """Make ``controller.planner`` remember each plan's start latent and objective."""
    planner, plan = controller.planner, controller.planner.plan
    planner.starts, planner.objectives = [], []

    def recording(z0, step, objective, prev_action=None, deadline=None):
        planner.starts.append(z0.clone())
        planner.objectives.append(objective)
        return plan(z0, step, objective, prev_action, deadline)
    planner.plan = recording
    return planner


def test_the_plan_starts_where_the_running_command_leaves_the_robot(base):
    """command_delay_steps 0: from the frame's latent; 1 and 2: from that latent with the
    command in flight (the one last sent) predicted forward once or twice. The planned path
    starts there too."""
    obs, prev = base_obs(base), np.array([0.4, -0.6])
    with torch.inference_mode():
        z = base.model.encode(obs.o, obs.s)[0]
    for delay in (0, 1, 2):
        controller = PlanningController(base, SMALL, BASE_LIMITS,
                                        replace(RELAXED, command_delay_steps=delay))
        controller.set_goal(pose_goal(3.0, 0.0))
        controller.commanded(prev)
        planner = record_plans(controller)
        command = controller.act(obs)
        expected = z
        a = torch.as_tensor(prev, dtype=torch.float32)
        with torch.inference_mode():
            for _ in range(delay):
                expected = base.model.predict(expected[None], a[None])[0]
            start_pose = base.model.probe_pose(expected).numpy()
        assert isinstance(command, Command), command
        torch.testing.assert_close(planner.starts[0], expected)
        np.testing.assert_allclose(command.poses[0], start_pose, rtol=1e-5, atol=1e-6)
        assert command.poses.shape == (4, 3) and command.velocities.shape == (1, 2)
    assert not torch.allclose(planner.starts[0], z)


def test_the_obstacle_term_gets_the_scan_at_the_frame_pose(base):
    """The obstacle term is built from the scan placed at the odometry pose of the frame
    (0.2, -0.1) facing 0.3 rad, whatever the command delay: a single return aimed at the
    position the model predicts for a zero latent costs a plan that stays there
    (0.5 / 0.2)^2 per step more than the goal alone. Without a scan: a stop."""
    model = base.model
    z_traj = torch.zeros(1, 3, model.cfg.latent_dim)
    with torch.no_grad():
        target = model.probe_pose(z_traj)[0, 0, :2].double().numpy()
    offset = target - np.array([0.2, -0.1])
    scan = ScanReading(0.0, np.array([np.hypot(*offset)], np.float32),
                       float(np.arctan2(offset[1], offset[0]) - 0.3), 0.1, 0.0, 100.0)
    terms = ObjectiveTerms(obstacle_weight=1.0, clearance_min_range=0.5, clearance_margin=0.2)
    controller = PlanningController(base, SMALL, BASE_LIMITS, replace(
        RELAXED, command_delay_steps=1, terms=terms))
    assert controller.set_goal(pose_goal(3.0, 0.0)).terms == ('goal', 'obstacles')
    planner = record_plans(controller)
    assert isinstance(controller.act(base_obs(base, scan)), Command)
    plain = build_objective(pose_goal(3.0, 0.0), model).fn
    a = torch.zeros(1, 3, 2)
    with torch.no_grad():
        extra = planner.objectives[0](z_traj, a) - plain(z_traj, a)
    torch.testing.assert_close(extra, torch.tensor([3 * (0.5 / 0.2) ** 2]),
                               atol=1e-3, rtol=1e-4)
    assert controller.act(base_obs(base, None)) == Stop('stale_inputs', 'scan_stale',
                                                        'the obstacle term has no scan')


HUGE = PlannerConfig(horizon=40, num_samples=50000, num_elites=16, num_iterations=3)


def test_a_huge_plan_stops_as_overrun_at_max_plan_time(base):
    """50,000 samples x horizon 40 x 3 iterations (seconds of work) stop about
    max_plan_time (0.1 s) after the step started, as an overrun."""
    controller = PlanningController(base, HUGE, BASE_LIMITS,
                                    ControllerSettings(max_plan_time=0.1))
    controller.set_goal(pose_goal(3.0, 0.0))
    started = time.perf_counter()
    stop = controller.act(base_obs(base), started)
    elapsed = time.perf_counter() - started
    assert isinstance(stop, Stop) and stop[:2] == ('overrun', 'plan_overrun'), stop
    assert 'stopped at max_plan_time' in stop.message
    assert elapsed < 0.1 + 0.6, elapsed
    assert controller.plan_ms.summary()['count'] == 1


def test_the_warm_up_plan_stops_at_its_budget(base):
    """The warm-up plan of the same huge search ends after its budget."""
    controller = PlanningController(base, HUGE, BASE_LIMITS)
    started = time.perf_counter()
    controller.warm_up(budget=0.1)
    assert time.perf_counter() - started < 0.1 + 0.6


def test_commands_are_held_to_the_limits_against_what_was_sent(base):
    """Each command is within the velocity box and moves at most acceleration_max x period
    from the command last sent: the controller's own, or the one the caller reports."""
    limits = CommandLimits.create([-0.5, -1.0], [0.5, 1.0], [0.5, 2.0])
    controller = PlanningController(base, replace(SMALL, init_std=2.0), limits,
                                    ControllerSettings(period=0.1, max_plan_time=10.0))
    controller.set_goal(pose_goal(3.0, 2.0))
    step, hit = np.array([0.05, 0.2]), set()
    for i, reported in enumerate([None, None, [0.5, -1.0], None, [-0.3, 0.4]]):
        if reported is not None:
            controller.commanded(reported)
        before = controller.previous
        command = controller.act(base_obs(base, seed=i))
        assert isinstance(command, Command), command
        assert np.all(np.abs(command.a - before) <= step + 1e-12), (command.a, before)
        assert np.all(command.a >= limits.velocity_min)
        assert np.all(command.a <= limits.velocity_max)
        np.testing.assert_array_equal(controller.previous, command.a)
        hit.update(command.limits_hit)
    assert 'acceleration' in hit
    with pytest.raises(ValueError, match='finite'):
        controller.commanded([np.nan, 0.0])


def test_a_measured_joint_goal_stops_and_drops_the_warm_start(arm):
    """At the goal (measured joints within goal_joint_tolerance): a goal_reached stop with
    the distance; the warm start is dropped, so the next plan is a fresh controller's."""
    settings = ControllerSettings(max_plan_time=10.0)
    limits = CommandLimits.create([-1.0], [1.0], [100.0], action_dim=2)
    used, fresh = (PlanningController(arm, SMALL, limits, settings) for _ in range(2))
    for controller in (used, fresh):
        controller.set_goal(joint_state_goal([0.5, -0.5]))
    assert isinstance(used.act(arm_obs(arm, [0.0, 0.0])), Command)
    stop = used.act(arm_obs(arm, [0.52, -0.49]))
    assert stop == Stop('goal_reached', '', 'within tolerance (0.020)')
    assert used.last['goal_distance'] == pytest.approx(0.02)
    used.commanded(np.zeros(2))
    after, first = used.act(arm_obs(arm, [0.1, 0.0], 5)), fresh.act(arm_obs(arm, [0.1, 0.0], 5))
    np.testing.assert_array_equal(after.a, first.a)
    assert after.cost == first.cost


def test_the_stop_command_is_zero_and_holds_the_action_joints(arm):
    """stop(q): zero, a trajectory holding each action joint at its measured position (the
    action dims move joint_b, joint_a), and zero becomes the previous command."""
    limits = CommandLimits.create([-1.0], [1.0], [1.0], action_dim=2)
    controller = PlanningController(arm, SMALL, limits, ControllerSettings(
        trajectory=True, action_joints=(1, 0)))
    controller.commanded([0.3, -0.2])
    stop = controller.stop(np.array([0.25, -0.75]))
    np.testing.assert_array_equal(stop.a, [0.0, 0.0])
    np.testing.assert_array_equal(stop.velocities, [[0.0, 0.0]])
    np.testing.assert_array_equal(stop.q_act, [-0.75, 0.25])
    np.testing.assert_array_equal(controller.previous, [0.0, 0.0])
    assert stop.cost is None and stop.poses is None and controller.stop(None).q_act is None


def room(wall_x=None):
    """A 4 m x 4 m map around the origin at 0.1 m cells; a wall across x = ``wall_x``."""
    cells = np.zeros((40, 40), dtype=np.int8)
    if wall_x is not None:
        cells[:30, int((wall_x + 2.0) / 0.1)] = 100
    return StaticMap(cells, 0.1, (-2.0, -2.0), 'odom')


def test_bad_goals_and_maps_keep_the_old_ones(base):
    """A goal that does not fit the model, or lies off the map, is refused and the goal,
    objective and map stay; the map's field is built once per goal, map and map setting."""
    controller = PlanningController(base, SMALL, BASE_LIMITS, RELAXED)
    walled = room(0.5)
    goal = pose_goal(1.0, 0.5)
    objective = controller.set_goal(goal, walled)
    field = controller.navigation
    assert field is not None and float(field.distance(torch.tensor([0.0, 0.5]))) > 1.5
    with pytest.raises(GoalError, match='joint'):
        controller.set_goal(joint_state_goal([0.1, 0.2]))
    with pytest.raises(MapGoalError) as outside:
        controller.set_goal(pose_goal(9.0, 0.0), walled)
    assert outside.value.reason == 'map_goal_outside'
    assert controller.goal is goal and controller.objective is objective
    assert controller.static_map is walled and controller.navigation is field
    controller.update(settings=replace(RELAXED, max_risk=0.5))   # map settings unchanged
    assert controller.navigation is field
    controller.set_map(room())
    assert controller.navigation is not field and controller.static_map is not walled
    controller.update(settings=replace(RELAXED, use_map=False))
    assert controller.navigation is None
    controller.clear_goal()
    with pytest.raises(NoGoalError):
        controller.act(base_obs(base))


def test_updates_are_applied_whole_or_not_at_all(base):
    """Limits that do not fit the model change nothing; an unchanged search keeps its
    planner (and warm start), a changed one gets a new planner."""
    controller = PlanningController(base, SMALL, BASE_LIMITS, RELAXED)
    controller.set_goal(pose_goal(1.0, 0.0))
    planner, objective = controller.planner, controller.objective
    with pytest.raises(ValueError, match='action dims'):
        controller.update(replace(SMALL, horizon=5),
                          CommandLimits.create([-1.0], [1.0], [1.0], action_dim=3))
    assert controller.planner is planner and controller.limits is BASE_LIMITS
    controller.update(replace(SMALL), settings=replace(RELAXED, max_plan_time=5.0))
    assert controller.planner is planner and controller.objective is not objective
    controller.update(replace(SMALL, horizon=5))
    assert controller.planner is not planner and controller.planner.config.horizon == 5
    tighter = CommandLimits.create([-0.2], [0.2], [1.0], action_dim=2)
    controller.update(limits=tighter)
    assert controller.planner.bounds.high.tolist() == [0.2, 0.2]


def test_observations_that_do_not_fit_are_refused(base):
    controller = PlanningController(base, SMALL, BASE_LIMITS, RELAXED)
    with pytest.raises(NoGoalError):
        controller.act(base_obs(base))
    controller.set_goal(pose_goal(1.0, 0.0))
    good = base_obs(base)
    for bad, text in ((good._replace(o=torch.zeros(1, 3, 16, 16)), 'o must be'),
                      (good._replace(s=None), 's must be'),
                      (good._replace(q=np.zeros(5)), 'q must hold'),
                      (good._replace(pose=np.array([0.0, np.nan, 0.0])), 'pose must be')):
        with pytest.raises(ObservationError, match=text):
            controller.act(bad)


@pytest.mark.parametrize('limit, status, reason', [
    ('max_risk', 'risk_too_high', 'plan_risk'),
    ('max_disagreement', 'uncertainty_too_high', 'plan_uncertainty')])
def test_risky_and_uncertain_plans_stop(risky, arm, limit, status, reason):
    """A plan over max_risk or max_disagreement is a stop with its figure; on a model
    without that output the stop is reported unusable."""
    limits = CommandLimits.create([-1.0], [1.0], [10.0], action_dim=2)
    settings = ControllerSettings(max_plan_time=10.0, **{limit: 1e-9})
    controller = PlanningController(risky, SMALL, limits, settings)
    controller.set_goal(joint_state_goal([0.5, -0.5]))
    stop = controller.act(arm_obs(risky, [0.0, 0.0]))
    assert isinstance(stop, Stop) and stop[:2] == (status, reason), stop
    figure = 'risk' if limit == 'max_risk' else 'disagreement'
    assert controller.last[figure] > 1e-9 and controller.unusable_stops() == []
    assert PlanningController(arm, SMALL, limits, settings).unusable_stops() == [figure]


def test_an_extra_cost_is_added_to_the_objective(base):
    """set_goal(extra_cost=...) plans on the goal's objective plus that cost."""
    controller = PlanningController(base, SMALL, BASE_LIMITS, RELAXED)

    def effort(z_traj, a_traj):
        return 7.0 * a_traj.abs().sum((1, 2))
    controller.set_goal(pose_goal(2.0, 1.0), extra_cost=effort)
    planner = record_plans(controller)
    assert isinstance(controller.act(base_obs(base)), Command)
    z = torch.randn(4, 3, base.latent_dim)
    a = torch.randn(4, 3, 2)
    plain = build_objective(pose_goal(2.0, 1.0), base.model).fn
    with torch.no_grad():
        torch.testing.assert_close(planner.objectives[0](z, a), plain(z, a) + effort(z, a))
