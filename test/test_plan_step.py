"""One plan of planner_node (``ros/planner_step.py``) without a ROS graph: where the plan
starts under ``command_delay_steps``, what the obstacle term is given, and that a plan stops
at ``max_plan_time`` (message classes only, so marked ``ros``)."""

from dataclasses import replace
import time

import numpy as np
import pytest
import torch

from jepa_world_model.core.goals import build_objective, ObjectiveTerms, pose_goal
from jepa_world_model.core.inference import WorldModelRuntime
from jepa_world_model.core.planner import ActionBounds, LatentPlanner, PlannerConfig
from tiny_models import save_tiny

try:
    from std_msgs.msg import Header

    from jepa_world_model.ros.planner_inputs import Observation, ScanReading
    from jepa_world_model.ros.planner_parameters import PlannerSettings
    from jepa_world_model.ros.planner_step import PlanStep, PlanStop, warm_up
except ImportError:   # the tests need these; they are marked ros and skipped by conftest
    pass

pytestmark = pytest.mark.ros


class RecordingPlanner(LatentPlanner):
    """The real planner, remembering the latent each plan started from and its objective."""

    def plan(self, z0, step, objective, prev_action=None, deadline=None):
        self.starts = getattr(self, 'starts', []) + [z0.clone()]
        self.objectives = getattr(self, 'objectives', []) + [objective]
        return super().plan(z0, step, objective, prev_action, deadline)


@pytest.fixture(scope='module')
def runtime(tmp_path_factory):
    path = tmp_path_factory.mktemp('plan_step') / 'base.safetensors'
    save_tiny(path, joint_names=['wheel_left', 'wheel_right'], use_joint_position=False,
              pose_in_state=True)
    return WorldModelRuntime.from_path(str(path))


def observation(runtime, scan=None):
    rng = np.random.default_rng(0)
    pose = np.array([0.2, -0.1, 0.3])
    state = runtime.make_state(np.zeros(0), np.zeros(2), pose)
    o = runtime.preprocess(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    return Observation(Header(), np.zeros(0), pose, o,
                       torch.as_tensor(state, dtype=torch.float32)[None], scan)


def plan_once(runtime, settings, obs, terms=ObjectiveTerms()):
    planner = RecordingPlanner(PlannerConfig(horizon=3, num_samples=8, num_elites=2,
                                             num_iterations=1), 2,
                               ActionBounds([-0.5, -1.0], [0.5, 1.0]))
    goal = pose_goal(3.0, 0.0)
    objective = build_objective(goal, runtime.model, terms)
    prev = np.array([0.4, -0.6])
    outcome = PlanStep().run(runtime, planner, goal, objective, settings, obs, prev,
                             time.perf_counter(), with_poses=True)
    return planner, outcome, prev


def test_the_plan_starts_where_the_running_command_leaves_the_robot(runtime):
    """command_delay_steps 0: from the frame's latent; 1 and 2: from that latent with the
    command being executed (the previous one) predicted forward once or twice. The planned
    path starts there too."""
    settings = replace(PlannerSettings(), max_plan_time=10.0)
    obs = observation(runtime)
    with torch.inference_mode():
        z = runtime.model.encode(obs.o, obs.s)[0]
    for delay in (0, 1, 2):
        planner, outcome, prev = plan_once(
            runtime, replace(settings, command_delay_steps=delay), obs)
        expected = z
        a = torch.as_tensor(prev, dtype=torch.float32)
        with torch.inference_mode():
            for _ in range(delay):
                expected = runtime.model.predict(expected[None], a[None])[0]
            start_pose = runtime.model.probe_pose(expected).numpy()
        torch.testing.assert_close(planner.starts[0], expected)
        np.testing.assert_allclose(outcome.poses[0], start_pose, rtol=1e-5, atol=1e-6)
        assert outcome.actions.shape == (3, 2)
    assert not torch.allclose(planner.starts[0], z)


def test_the_obstacle_term_gets_the_scan_at_the_frame_pose(runtime):
    """The obstacle term is built from the scan placed at the odometry pose of the frame
    (0.2, -0.1) facing 0.3 rad, whatever the command delay: a single return aimed at the
    position the model predicts for a zero latent costs a plan that stays there
    (0.5 / 0.2)^2 per step more than the goal alone."""
    model = runtime.model
    z_traj = torch.zeros(1, 3, model.cfg.latent_dim)
    with torch.no_grad():
        target = model.probe_pose(z_traj)[0, 0, :2].double().numpy()
    offset = target - np.array([0.2, -0.1])
    scan = ScanReading(0.0, np.array([np.hypot(*offset)], np.float32),
                       float(np.arctan2(offset[1], offset[0]) - 0.3), 0.1, 0.0, 100.0)
    settings = replace(PlannerSettings(), max_plan_time=10.0, command_delay_steps=1)
    terms = ObjectiveTerms(obstacle_weight=1.0, clearance_min_range=0.5,
                           clearance_margin=0.2)
    planner, _, _ = plan_once(runtime, settings, observation(runtime, scan), terms)
    plain = build_objective(pose_goal(3.0, 0.0), model).fn
    a = torch.zeros(1, 3, 2)
    with torch.no_grad():
        extra = planner.objectives[0](z_traj, a) - plain(z_traj, a)
    torch.testing.assert_close(extra, torch.tensor([3 * (0.5 / 0.2) ** 2]),
                               atol=1e-3, rtol=1e-4)
    with pytest.raises(PlanStop, match="no scan"):
        plan_once(runtime, settings, observation(runtime, None), terms)


def huge_planner():
    """50,000 samples x horizon 40 x 3 iterations: seconds of work on the tiny model."""
    return LatentPlanner(PlannerConfig(horizon=40, num_samples=50000, num_elites=16,
                                       num_iterations=3), 2,
                         ActionBounds([-0.5, -1.0], [0.5, 1.0]))


def test_a_huge_plan_stops_as_overrun_at_max_plan_time(runtime):
    """The plan is stopped while it runs, about max_plan_time (0.1 s) after the tick
    started, as an overrun: the node gets its stop back in time to publish the zero
    command, its status and diagnostics (before, the plan ran to its end, seconds)."""
    settings = replace(PlannerSettings(), max_plan_time=0.1)
    goal = pose_goal(3.0, 0.0)
    objective = build_objective(goal, runtime.model, ObjectiveTerms())
    step = PlanStep()
    started = time.perf_counter()
    with pytest.raises(PlanStop) as stop:
        step.run(runtime, huge_planner(), goal, objective, settings, observation(runtime),
                 np.zeros(2), started, with_poses=False)
    elapsed = time.perf_counter() - started
    assert stop.value.status == 'overrun' and stop.value.reason == 'plan_overrun'
    assert 'stopped at max_plan_time' in str(stop.value)
    assert elapsed < 0.1 + 0.6, elapsed
    assert step.plan_ms.summary()['count'] == 1


def test_the_warm_up_plan_stops_at_its_budget(runtime):
    """Configure's warm-up plan of the same huge search ends after its budget."""
    planner = huge_planner()
    started = time.perf_counter()
    warm_up(planner, runtime, budget=0.1)
    assert time.perf_counter() - started < 0.1 + 0.6
