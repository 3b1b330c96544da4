"""The real planner, set up as planner_node runs it, and real inputs to plan from.

Settings: the arm's are ``config/ros/planner.yaml``; the mobile base's are planner_node's
defaults with plan-eval's ``risk`` condition (``experiments/conditions.planner_parameters``:
obstacle term on the range scan, the static map, each action held 2 steps, command delay 1),
how plan-eval starts the base's planner_node (there is no base YAML). They build the
controller through planner_node's own mappings (``ros/planner/parameters``:
``planner_config``, ``command_limits``, ``controller_settings``), then the search size under
test replaces num_samples / num_elites / num_iterations / horizon, and ``max_plan_time`` and
the goal tolerance are switched off so that every ``act()`` plans to the end.

Inputs: a :class:`Trace` of observations recorded by running the controller itself in the
in-process simulators (``experiments/arm_tasks``, ``base_tasks``; the goal helpers of
``experiments/offline_reach``): rendered camera frames, joint states or odometry, the real
goal image of each episode, the room's static map and a 360-beam range scan ray-cast in
the scene (the simulator's own scanner has 64 beams; a LaserScan of a real base has more).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import yaml

from jepa_world_model.core.planning import Command, Observation, PlanningController
from jepa_world_model.core.planning.goals import Goal, pose_goal
from jepa_world_model.core.planning.static_map import StaticMap
from jepa_world_model.core.runtime.inference import WorldModelRuntime
from jepa_world_model.experiments.arm_tasks import ArmTaskFactory
from jepa_world_model.experiments.base_tasks import BaseTaskFactory
from jepa_world_model.experiments.conditions import (CONDITIONS, ExperimentOptions,
                                                     planner_parameters)
from jepa_world_model.experiments.offline_reach.arm import episode_goal
from jepa_world_model.experiments.offline_reach.base import observe, room_map
from jepa_world_model.node_runs.models import resolve_model
from jepa_world_model.ros.planner.parameters import (command_limits, controller_settings,
                                                     PARAMS, planner_config,
                                                     PlannerFacts, PlannerSettings,
                                                     validate_updates)
from jepa_world_model.sim.robots import MobileBaseSim

__all__ = ['GOAL_KINDS', 'ROBOT_OF_GOAL', 'SCAN_BEAMS', 'BenchmarkError', 'Search', 'Trace',
           'load_runtime', 'node_settings', 'search_settings', 'build_controller',
           'record_trace', 'settings_summary']

REPO_ROOT = Path(__file__).resolve().parents[2]
PLANNER_YAML = REPO_ROOT / 'config' / 'ros' / 'planner.yaml'
#: The benchmark's goal kinds and the robot (shipped model) each one runs on.
ROBOT_OF_GOAL = {'joint': 'arm', 'image': 'arm', 'pose': 'mobile_base'}
GOAL_KINDS = tuple(ROBOT_OF_GOAL)
#: Beams of the base's range scan: one per degree, as a typical 2D lidar.
SCAN_BEAMS = 360


class BenchmarkError(RuntimeError):
    """The benchmark cannot run as asked (model, settings or goal kind)."""


@dataclass(frozen=True)
class Search:
    """The CEM search under test: ``samples`` x ``horizon`` x ``iterations`` with
    ``elites`` lowest-cost samples per refit."""

    samples: int
    elites: int
    horizon: int = 8
    iterations: int = 3


def load_runtime(goal_kind: str, model: Optional[str], backend: str = 'torch',
                 threads: int = 0) -> Tuple[WorldModelRuntime, str]:
    """The model of ``goal_kind`` and its path: ``model``, else its robot's shipped
    checkpoint, on ``backend`` (planner_node's ``inference_backend``; ``threads``:
    onnxruntime's intra-op threads per session, planner_node's ``num_threads``).

    Raises:
        BenchmarkError: unknown goal kind, or the backend cannot run the model here
            (onnxruntime not installed, an export of other weights). ModelChoiceError: no
            such model file.
    """
    if goal_kind not in ROBOT_OF_GOAL:
        raise BenchmarkError(f'goal must be one of {GOAL_KINDS}, got {goal_kind!r}')
    path = resolve_model(Path(model) if model else None, ROBOT_OF_GOAL[goal_kind])
    try:
        runtime = WorldModelRuntime.from_path(str(path), backend=backend, threads=threads)
    except (ImportError, OSError, ValueError) as exc:
        # make_backend's errors (onnxruntime missing, no or another model's export).
        if backend == 'torch':
            raise
        raise BenchmarkError(f'inference_backend {backend}: {exc}') from exc
    return runtime, str(path)


def node_settings(goal_kind: str, model_path: str) -> Any:
    """planner_node's settings (a ``PlannerSettings``) for ``goal_kind``'s robot: the YAML
    for the arm, plan-eval's ``risk`` condition for the base (pose goals)."""
    if ROBOT_OF_GOAL[goal_kind] == 'arm':
        with open(PLANNER_YAML, encoding='utf-8') as handle:
            values = yaml.safe_load(handle)['/**/planner_node']['ros__parameters']
    else:
        # plan-eval starts the base's planner_node with its defaults and these parameters
        # (the YAML is the arm's: its joint limits would refuse a cmd_vel output).
        base = planner_parameters(ExperimentOptions(robot='mobile_base'), CONDITIONS['risk'],
                                  Path(model_path))
        # Launch-only entries (use_sim_time) are no planner parameters.
        values = {name: value for name, value in base.items() if name in PARAMS}
    values['model_path'] = str(model_path)
    return PlannerSettings().with_updates(values)


def search_settings(settings: Any, search: Search) -> Any:
    """``settings`` with the search size of ``search``."""
    return settings.with_updates({'num_samples': search.samples, 'num_elites': search.elites,
                                  'num_iterations': search.iterations,
                                  'horizon': search.horizon})


def build_controller(runtime: WorldModelRuntime, settings: Any) -> PlanningController:
    """The controller planner_node's configure step builds from ``settings``, with no plan
    deadline and no goal check (every ``act()`` plans to the end).

    Raises:
        BenchmarkError: planner_node would refuse ``settings`` for this model.
    """
    facts = PlannerFacts(runtime.action_dim, tuple(runtime.joint_names), None, settings.output)
    problem = validate_updates({}, settings, facts)
    if problem:
        raise BenchmarkError(f'planner_node would refuse these settings: {problem}')
    controller = controller_settings(settings, facts, 1.0 / settings.plan_rate_hz,
                                     runtime.has_pose)
    return PlanningController(runtime, planner_config(settings),
                              command_limits(settings, runtime.action_dim),
                              replace(controller, max_plan_time=None, tolerance=None))


def settings_summary(settings: Any) -> Dict[str, Any]:
    """The settings that shape a plan's cost, for the JSON."""
    names = ('method', 'horizon', 'num_samples', 'num_elites', 'num_iterations',
             'action_repeat', 'command_delay_steps', 'trust_region_l1', 'output',
             'risk_weight', 'disagreement_weight', 'clearance_weight', 'obstacle_weight',
             'smoothness_weight', 'use_map', 'map_inflation')
    out = {name: getattr(settings, name) for name in names if hasattr(settings, name)}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


@dataclass
class Trace:
    """Observations to plan from, in the order they were seen.

    Attributes:
        goal_kind: 'joint', 'image' or 'pose'.
        goals: ``{episode: goal}``.
        episodes: [T] the episode of each observation.
        observations: [T] the observations.
        static_map: The room's map (pose goals), or None.
    """

    goal_kind: str
    goals: Dict[int, Goal] = field(default_factory=dict)
    episodes: List[int] = field(default_factory=list)
    observations: List[Observation] = field(default_factory=list)
    static_map: Optional[StaticMap] = None

    def add(self, episode: int, observation: Observation) -> None:
        """Keep ``observation`` unless its frame repeats the last one kept (a robot at rest:
        a camera never repeats a frame exactly, and the encoder would serve it from its
        cache)."""
        if self.observations and torch.equal(self.observations[-1].o, observation.o):
            return
        self.episodes.append(episode)
        self.observations.append(observation)


def record_trace(goal_kind: str, runtime: WorldModelRuntime, controller: PlanningController,
                 seeds: List[int], steps: int) -> Trace:
    """Run ``controller`` for ``steps`` control steps of each seeded episode in the simulator
    and keep what it planned from.

    Raises:
        BenchmarkError: an image goal on a model without an ``image_state_head``.
    """
    if goal_kind == 'pose':
        return _base_trace(runtime, controller, seeds, steps)
    if goal_kind == 'image' and runtime.model.image_state_head is None:
        raise BenchmarkError('image goals are benchmarked in joint units (planner_node on the '
                             'shipped arm): the model needs an image_state_head')
    return _arm_trace(goal_kind, runtime, controller, seeds, steps)


def _arm_trace(goal_kind: str, runtime: WorldModelRuntime, controller: PlanningController,
               seeds: List[int], steps: int) -> Trace:
    trace = Trace(goal_kind)
    factory = ArmTaskFactory(image_size=runtime.image_size,
                             control_dt=controller.settings.period)
    try:
        for seed in seeds:
            task = factory.make_task(seed)   # renders the goal image for image goals
            objective = 'joint_units' if goal_kind == 'image' else 'joint_goal'
            trace.goals[seed] = episode_goal(runtime, task, objective)
            controller.reset()
            controller.set_goal(trace.goals[seed])
            sim_obs = factory.sim.reset(seed)
            for _ in range(steps):
                s = torch.as_tensor(runtime.make_state(sim_obs.q, sim_obs.dq),
                                    dtype=torch.float32)[None]
                obs = Observation(runtime.preprocess(sim_obs.image), s,
                                  np.asarray(sim_obs.q, dtype=np.float64), None)
                trace.add(seed, obs)
                sim_obs = factory.sim.step(_command(controller, obs).a)
    finally:
        factory.close()
    return trace


def _base_trace(runtime: WorldModelRuntime, controller: PlanningController,
                seeds: List[int], steps: int) -> Trace:
    trace = Trace('pose')
    factory = BaseTaskFactory(control_dt=controller.settings.period)
    sim = MobileBaseSim(image_size=runtime.image_size, control_dt=controller.settings.period)
    sim.SCAN_BEAMS = SCAN_BEAMS   # read by scan(), scan_angles() and observe()
    try:
        trace.static_map = room_map(sim)
        for seed in seeds:
            task = factory.make_task(seed)
            trace.goals[seed] = pose_goal(float(task.goal_xy[0]), float(task.goal_xy[1]))
            controller.reset()
            controller.set_goal(trace.goals[seed], trace.static_map)
            sim_obs = sim.reset(seed)
            for _ in range(steps):
                obs = observe(runtime, sim, sim_obs, True)
                trace.add(seed, obs)
                # planner_node's command takes effect a step later (command_delay_steps 1):
                # the robot runs the previous one meanwhile.
                running = controller.previous
                _command(controller, obs)
                sim_obs = sim.step(running)
    finally:
        sim.close()
        factory.close()
    return trace


def _command(controller: PlanningController, obs: Observation) -> Command:
    """The controller's command for ``obs``, or its stop command."""
    outcome = controller.act(obs)
    return outcome if isinstance(outcome, Command) else controller.stop(obs.q)
