"""Mobile-base pose goals, in process (no ROS, no real time).

An ablation harness next to ``jepa-world-model plan-eval`` (the measurement of record,
docs/closed_loop.md): the same seeded tasks (``BaseTaskFactory``) and the base conditions'
planner (CEM 64 x 2 iterations, 8 elites, horizon 8; ``--num-samples`` changes the
samples, the elites follow at 1 in 8; v in [-0.5, 0.8] m/s, w in
[-1.5, 1.5] rad/s, at most 2 m/s^2 and 6 rad/s^2), run between simulator steps by the
planning controller planner_node runs (``core/planning``; its goal check is off: success
is the simulator's). Success: within 0.15 m of the goal within 150 steps and no collision
before.

``--map`` (:attr:`BaseReachOptions.use_map`) scores the goal by the path length on the
room's static map (walls, furniture; ``core/planning/navigation.py``) instead of the straight-line
distance, as planner_node does when it has a ``map``; ``--action-repeat`` holds each
planned action for that many steps. ``--command-delay 1`` applies each command one step
after the frame it was planned from, as over ROS, and by default plans from the previous
command rolled forward one step (planner_node's ``command_delay_steps``; ``--plan-delay 0``
plans from the frame as if there were no delay).

The risk term of a plan, per ``--risk``:

* ``none``: no risk term;
* ``model``: the model's risk probe on the predicted latents (planner_node's risk_weight);
* ``clearance``: the model's range read-out on the predicted latents, penalised below
  ``--min-range`` (planner_node's clearance_weight; models with ``scan_sectors``);
* ``scan``: the base's range scanner as measured now, as obstacle points, against the
  predicted positions (planner_node's obstacle_weight with its ``scan`` input);
* ``oracle``: the simulator's geometry on the *predicted* poses: the same clearance cost
  computed from the true distances to walls, furniture and the people's current positions.
  It asks how far this planner gets with a perfect read-out and the model's own motion.

    jepa-world-model offline-reach --robot mobile_base --risk clearance --risk-weight 20 \
        --map --action-repeat 2 --episodes 30
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict

import numpy as np
import torch

from ...core.planning.command_limits import CommandLimits
from ...core.planning.goals import ObjectiveTerms, pose_goal
from ...core.runtime.inference import WorldModelRuntime
from ...core.planning.navigation import NavigationField
from ...core.planning.objectives import risk_objective
from ...core.planning.planner import PlannerConfig
from ...core.planning import (Command, ControllerSettings, Observation, PlanningController,
                              ScanReading, StaticMap)
from ...node_runs.models import resolve_model
from ...sim.robots import MobileBaseSim
from ..base_tasks import BaseTaskFactory
from ..conditions import ExperimentError
from .options import BaseReachOptions, elites, plan_delay
from .runtime import load_runtime
from .summary import plan_timing, summarise_episodes

__all__ = ['make_controller', 'run_base_reach']

LOW, HIGH = np.array([-0.5, -1.5]), np.array([0.8, 1.5])
ACCELERATION = np.array([2.0, 6.0])         # m/s^2, rad/s^2
CONTROL_DT = 0.1                            # s per simulator step and per plan
MAP_RESOLUTION = 0.05


def oracle_risk(model, sim: MobileBaseSim, min_range: float, margin: float
                ) -> Callable[[torch.Tensor], torch.Tensor]:
    """``risk(z_traj [N, H, Z]) -> [N, H]``: the clearance cost of ``core/planning/scan.py``
    from the true distance of each predicted position to walls, furniture (circumscribed
    circles) and the people where they stand now."""
    circles = torch.as_tensor(sim.obstacle_circles, dtype=torch.float32)

    def risk(z_traj: torch.Tensor) -> torch.Tensor:
        xy = model.probe_pose(z_traj)[..., :2]
        people = torch.as_tensor(sim.people_positions(), dtype=torch.float32)
        wall = sim.ROOM_HALF_EXTENT - xy.abs().amax(-1)
        furniture = (torch.linalg.vector_norm(xy[..., None, :] - circles[:, :2], dim=-1)
                     - circles[:, 2]).amin(-1)
        person = (torch.linalg.vector_norm(xy[..., None, :] - people, dim=-1)
                  - sim.PERSON_RADIUS).amin(-1)
        nearest = torch.minimum(torch.minimum(wall, furniture), person)
        return (torch.relu(min_range - nearest) / margin) ** 2
    return risk


def collision_kind(sim: MobileBaseSim, room: NavigationField, xy: np.ndarray) -> str:
    """'person' when a person is nearer the robot's edge than the walls and furniture (the
    room's static map, ``room``), else 'static'."""
    person = float(np.min(np.linalg.norm(sim.people_positions() - xy, axis=1))) \
        - sim.PERSON_RADIUS
    static = room.static_range(torch.as_tensor(xy, dtype=torch.float32))
    return 'person' if person < float(static) else 'static'


def room_map(sim: MobileBaseSim) -> StaticMap:
    """The room's static map (walls and furniture, 0 or 100 occupancy), as sim_node
    publishes it."""
    occupied, origin = sim.occupancy_grid(MAP_RESOLUTION)
    return StaticMap(np.where(occupied, 100, 0).astype(np.int8), MAP_RESOLUTION,
                     (float(origin[0]), float(origin[1])), 'odom')


def make_controller(runtime: WorldModelRuntime, opts: BaseReachOptions
                    ) -> PlanningController:
    """The base conditions' planner, command limits and objective terms for ``opts``."""
    terms = ObjectiveTerms(
        risk_weight=opts.risk_weight if opts.risk == 'model' else 0.0,
        disagreement_weight=opts.disagreement_weight,
        clearance_weight=opts.risk_weight if opts.risk == 'clearance' else 0.0,
        obstacle_weight=opts.risk_weight if opts.risk == 'scan' else 0.0,
        clearance_min_range=opts.min_range, clearance_margin=opts.margin)
    # tolerance None: success is judged on the simulator's pose, after each step. No plan
    # deadline (max_plan_time None): offline results must not depend on the CPU.
    settings = ControllerSettings(period=CONTROL_DT, command_delay_steps=plan_delay(opts),
                                  terms=terms, tolerance=None, max_plan_time=None,
                                  map_inflation=opts.map_inflation,
                                  people_cost_to_go_every=opts.people_cost_to_go_every,
                                  rollout_dtype=opts.rollout_dtype,
                                  rollout_model=opts.rollout_model)
    config = PlannerConfig(num_samples=opts.num_samples, num_iterations=2,
                           num_elites=elites(opts), horizon=8,
                           action_repeat=opts.action_repeat)
    return PlanningController(runtime, config, CommandLimits.create(LOW, HIGH, ACCELERATION),
                              settings)


def observe(runtime: WorldModelRuntime, sim: MobileBaseSim, obs: Any,
            with_scan: bool) -> Observation:
    """The controller's observation of a simulator step: the frame, the state with the
    odometry pose, and the range scan when the obstacle term needs it."""
    s = runtime.make_state(None, obs.dq, obs.base_pose)
    scan = (ScanReading(0.0, obs.scan, -np.pi, 2 * np.pi / sim.SCAN_BEAMS, 0.0,
                        sim.SCAN_RANGE_MAX) if with_scan else None)
    return Observation(runtime.preprocess(obs.image),
                       torch.as_tensor(s, dtype=torch.float32)[None], np.zeros(0),
                       np.asarray(obs.base_pose, dtype=np.float64), scan)


def run_episode(controller: PlanningController, factory: BaseTaskFactory, sim: MobileBaseSim,
                room: NavigationField, static_map: StaticMap, seed: int,
                opts: BaseReachOptions) -> dict:
    """One seeded episode; returns success, first collision step, steps, final distance.
    ``room``: the room's static map as a field, to say what a collision hit."""
    runtime = controller.runtime
    task = factory.make_task(seed)
    extra = (risk_objective(oracle_risk(runtime.model, sim, opts.min_range, opts.margin),
                            opts.risk_weight) if opts.risk == 'oracle' else None)
    controller.reset()
    built = controller.set_goal(pose_goal(task.goal_xy[0], task.goal_xy[1]),
                                static_map if opts.use_map else None, extra)
    if built.skipped:
        raise ExperimentError(f'the model cannot provide the {built.skipped} term(s)')
    obs = sim.reset(seed)
    collided, hit, plan_s, stops = None, None, [], 0
    distance = float('inf')
    for step in range(1, opts.budget + 1):
        started = time.perf_counter()
        running = controller.previous          # the command the robot is executing
        with_scan = opts.risk == 'scan' or opts.people_cost_to_go_every > 0
        outcome = controller.act(observe(runtime, sim, obs, with_scan), started)
        plan_s.append(time.perf_counter() - started)
        if not isinstance(outcome, Command):
            stops += 1
            outcome = controller.stop()
        # With a delay the robot runs the previous command while this one is planned.
        obs = sim.step(running if opts.command_delay else outcome.a)
        if obs.collision and collided is None:
            collided, hit = step, collision_kind(sim, room, obs.base_pose[:2])
        distance = float(np.linalg.norm(np.asarray(obs.base_pose[:2]) - task.goal_xy))
        if distance <= opts.tolerance:
            break
    return {'seed': seed, 'success': bool(distance <= opts.tolerance and collided is None),
            'first_collision_step': collided, 'collided_with': hit, 'steps': step,
            'final_distance': distance,
            'straight_line_free': bool(task.straight_line_free), 'stops': stops,
            **plan_timing(plan_s)}


def run_base_reach(opts: BaseReachOptions) -> Dict[str, Any]:
    """Run the episodes; the report (settings, success and collision counts, every episode).

    Raises:
        ExperimentError: a model without what the risk term needs, or an
            ``inference_backend`` that cannot run here (:func:`.runtime.load_runtime`).
        ModelChoiceError: no such model file, or the shipped one is not installed.
    """
    model = resolve_model(opts.model, 'mobile_base')
    runtime = load_runtime(model, opts)
    factory = BaseTaskFactory()
    sim = MobileBaseSim(image_size=runtime.image_size, control_dt=CONTROL_DT)
    static_map = room_map(sim)
    # Only its static_range is read (what a collision hit): any goal, no inflation.
    room = NavigationField(static_map.occupancy >= 50, MAP_RESOLUTION, static_map.origin,
                           (0.0, 0.0), 0.0)
    controller = make_controller(runtime, opts)
    try:
        episodes = [run_episode(controller, factory, sim, room, static_map, seed, opts)
                    for seed in range(opts.first_seed, opts.first_seed + opts.episodes)]
    finally:
        sim.close()
        factory.close()
    return {'model': str(model), 'inference_backend': opts.inference_backend,
            'rollout_dtype': opts.rollout_dtype, 'rollout_model': opts.rollout_model,
            'num_samples': opts.num_samples,
            'num_elites': elites(opts), 'risk': opts.risk,
            'risk_weight': opts.risk_weight if opts.risk != 'none' else 0.0,
            'min_range': opts.min_range, 'map': opts.use_map,
            'map_inflation': opts.map_inflation,
            'people_cost_to_go_every': opts.people_cost_to_go_every,
            'action_repeat': opts.action_repeat,
            'command_delay': opts.command_delay, 'plan_delay': plan_delay(opts),
            'disagreement_weight': opts.disagreement_weight,
            'first_seed': opts.first_seed,
            'episodes': len(episodes),
            'success_rate': sum(e['success'] for e in episodes) / len(episodes),
            'collision_episodes': sum(e['first_collision_step'] is not None
                                      for e in episodes),
            'collisions_with_people': sum(e['collided_with'] == 'person' for e in episodes),
            'summary': summarise_episodes(episodes), 'per_episode': episodes}
